//! What the README's snippets use without defining it: the reader's own types and values, stand-ins
//! with just the traits the snippets need. Nothing from cm-mcp is here: its names must come from
//! `cm_mcp::prelude`, as the README says.
#![allow(dead_code)]

use serde::{Deserialize, Serialize};

/// A database handle (`State<Db>`, the startup hook's value).
pub struct Db;

impl Db {
    pub async fn connect(_mode: &cm_mcp::Mode) -> anyhow::Result<Db> {
        Ok(Db)
    }

    /// A chart (PNG) and a JSON document.
    pub async fn report(&self) -> (Vec<u8>, String) {
        (Vec::new(), "{}".into())
    }

    /// Whether a room is free.
    pub async fn is_free(&self, _room: &str) -> bool {
        true
    }

    /// Books a room.
    pub async fn book(&self, _room: &str, _name: &str) {}

    /// A document's text.
    pub async fn document(&self, _uri: &str) -> String {
        String::new()
    }
}

/// The reader's configuration (`.state(Config::from_env()?)`).
pub struct Config;

impl Config {
    pub fn from_env() -> anyhow::Result<Config> {
        Ok(Config)
    }
}

/// A row, as a tool argument and as a result.
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
pub struct Row {
    pub id: i64,
}

/// A resource template's result.
#[derive(Serialize, schemars::JsonSchema)]
pub struct TableInfo {
    pub name: String,
}

/// The "function runs again" snippet's form.
#[derive(Deserialize, schemars::JsonSchema)]
pub struct Booking {
    pub name: String,
}

/// Elicitation's single-select.
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
pub enum RoomKind {
    Single,
    Double,
}

/// Elicitation's multi-select.
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
pub enum Extra {
    Breakfast,
    Parking,
}

/// Completion's enum argument.
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
pub enum TravelClass {
    Economy,
    Business,
}

/// `#[serde(default = "two")]`.
pub fn two() -> u32 {
    2
}

/// The testing snippet's `server()`.
pub fn server() -> cm_mcp::Server {
    cm_mcp::Server::new("readme")
}
