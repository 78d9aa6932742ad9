//! `postgres-mcp`: serves the database the environment names (PostgreSQL, or the embedded demo).
//! `postgres-mcp --help` lists the flags; the README lists the environment.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `run` loads `.env` too, but the connector's id (`PG_CONNECTOR_ID`) is read when the server is built.
    let _ = dotenvy::dotenv_override();
    postgres_mcp::server(postgres_mcp::Database::unconfigured())
        .run()
        .await
}
