//! `postgres-mcp`: serves the database the environment names (PostgreSQL, or the embedded demo).
//! `postgres-mcp --help` lists the flags; the README lists the environment.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Loads `.env`; an invalid `PG_*` value stops here with an error naming the variable.
    let config = postgres_mcp::Config::from_env()?;
    postgres_mcp::server(config, postgres_mcp::Database::unconfigured())
        .run()
        .await
}
