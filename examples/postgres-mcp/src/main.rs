//! `postgres-mcp`: serves the database the environment names (PostgreSQL, or the embedded demo).
//! `postgres-mcp --help` lists the flags; the README lists the environment.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    postgres_mcp::server(postgres_mcp::Database::unconfigured())
        .run()
        .await
}
