//! cm-bench: a load generator for any MCP server (streamable HTTP with or without sessions, and
//! stdio), and the suite that compares cm-mcp with a bare rmcp server and Python FastMCP, and
//! postgres-mcp with the seed's Postgres server on a real PostgreSQL.
//!
//! The clients here are deliberately minimal (raw JSON-RPC over one HTTP/1.1 connection per client,
//! or newline-delimited JSON over a child's pipes) so that the load generator spends far less CPU per
//! call than the servers it measures; every run reports both, so that claim is checked each time.

pub mod client;
pub mod load;
pub mod postgres;
pub mod procinfo;
pub mod report;
pub mod servers;
pub mod stats;
pub mod suite;
