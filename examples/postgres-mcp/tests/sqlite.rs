//! The SQLite backend: the demo's data and schema resources, and the attack corpus with a fingerprint
//! of the database file and of every file in its directory.

use std::path::Path;

use postgres_mcp::{Config, ConnectorUrl, Database, DatabaseTarget, QueryError};
use serde_json::json;

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A copy of the demo database as a file of its own, served through `SQLITE_PATH`.
fn demo_copy(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("shop.sqlite");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(postgres_mcp::sqlite::DEMO_SQL).unwrap();
    path
}

fn open(path: Option<&Path>, max_rows: usize) -> Database {
    let path = path.map(|p| p.display().to_string());
    let mut settings = Config::from_vars(path.as_deref().map(|p| ("SQLITE_PATH", p))).unwrap();
    settings.pg.max_rows = max_rows;
    settings.pg.query_timeout_ms = 300;
    let target = DatabaseTarget::resolve(&settings, &ConnectorUrl::Local(None)).unwrap();
    Database::open(settings, target)
}

/// Every file under `dir` with its bytes.
fn fingerprint(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn demo_serves_real_data() {
    let db = open(None, 1000);
    let status = db.status();
    assert!(status.connected && status.error.is_none(), "{status:?}");
    assert_eq!(status.backend, "sqlite");

    let result = db
        .execute("SELECT c.name, count(o.id) AS orders FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id ORDER BY c.id LIMIT 3")
        .await
        .unwrap();
    assert_eq!(result.row_count, 3);
    assert_eq!(result.rows[0]["name"], "Ada Lovelace");
    assert!(result.rows[0]["orders"].is_i64());
    assert_eq!(result.database, "sqlite");

    let result = db
        .execute("SELECT customers.id, is_active, price, attributes FROM customers, products WHERE customers.id = 4 AND products.id = 1")
        .await
        .unwrap();
    let row = serde_json::Value::Object(result.rows[0].clone());
    assert_eq!(
        row,
        json!({"id": 4, "is_active": false, "price": 89.9, "attributes": {"layout": "ISO", "switches": "brown"}})
    );
    let result = db
        .execute("SELECT x'cafe' AS blob, NULL AS empty, 'delete me' AS note")
        .await
        .unwrap();
    assert_eq!(
        serde_json::Value::Object(result.rows[0].clone()),
        json!({"blob": "yv4=", "empty": null, "note": "delete me"})
    );

    let schemas = db.schemas().await.unwrap();
    assert_eq!(
        schemas.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "main.customers",
            "main.order_items",
            "main.orders",
            "main.products"
        ]
    );
    assert_eq!(
        serde_json::to_value(&schemas["main.customers"][5]).unwrap(),
        json!({"column": "is_active", "type": "BOOLEAN", "nullable": false, "default": "TRUE"})
    );
    let items = db.table("order_items").await.unwrap();
    assert_eq!(items.primary_key, ["order_id", "product_id"]);
    assert_eq!(items.foreign_keys.len(), 2);
    let orders = db.table("main.orders").await.unwrap();
    assert_eq!(orders.estimated_row_count, Some(24));
    assert!(
        orders
            .indexes
            .iter()
            .any(|i| i.name == "orders_customer_id_idx" && i.columns == ["customer_id"])
    );
    assert!(matches!(
        db.table("nope").await,
        Err(QueryError::NotFound(_))
    ));
}

#[tokio::test]
async fn limit_timeout_and_one_statement() {
    let db = open(None, 5);
    let result = db.execute("SELECT * FROM order_items").await.unwrap();
    assert_eq!((result.row_count, result.truncated), (5, true));
    let note = result.note.expect("a note on a truncated result");
    assert!(note.contains("more than 5 rows"), "{note}");
    let error = db
        .execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, QueryError::Timeout(m) if m.contains("300 ms")),
        "{error:?}"
    );
    let error = db.execute("SELECT 1; SELECT 2").await.unwrap_err();
    assert!(
        matches!(&error, QueryError::Refused(m) if m.contains("one SQL statement")),
        "{error:?}"
    );
    assert_eq!(
        db.execute("SELECT 1 AS one;").await.unwrap().rows[0]["one"],
        1
    );
}

/// How the server stops an attack: SQLite reports the statement writes, it holds several
/// statements, it returns no rows, or the authorizer denies it. An error for any other reason (a
/// table that is not there, a typo) means the attack never reached its target and proves nothing.
const STOPPED: &[&str] = &[
    "this server is read-only",
    "runs one SQL statement per call",
    "this statement returns none",
    "not authorized",
];

#[tokio::test]
async fn attack_corpus_changes_nothing() {
    let dir = scratch_dir("sqlite-attacks");
    let path = demo_copy(&dir);
    let db = open(Some(&path), 1000);
    let other = dir.join("other.sqlite");
    let other = other.display();
    let attacks = [
        "DELETE FROM order_items".to_string(),
        "DELETE FROM order_items RETURNING *".into(),
        "INSERT INTO customers (id, name, email, country, signed_up) VALUES (99, 'm', 'm@x', 'XX', '2024-01-01') RETURNING id".into(),
        "UPDATE products SET price = 0 RETURNING id".into(),
        "REPLACE INTO products (id, name, category, price) VALUES (1, 'x', 'y', 0)".into(),
        "WITH x AS (SELECT 1) DELETE FROM orders".into(),
        "SELECT 1; DELETE FROM orders".into(),
        "DROP TABLE order_items".into(),
        "CREATE TABLE evil (x)".into(),
        "CREATE TEMP TABLE evil (x)".into(),
        "CREATE INDEX evil ON orders (status)".into(),
        "ALTER TABLE orders ADD COLUMN evil".into(),
        "CREATE TRIGGER evil AFTER INSERT ON orders BEGIN DELETE FROM orders; END".into(),
        format!("ATTACH DATABASE '{other}' AS other"),
        format!("ATTACH DATABASE '{other}' AS other; CREATE TABLE other.t (x)"),
        "DETACH DATABASE main".into(),
        "PRAGMA query_only = 0".into(),
        "PRAGMA journal_mode = WAL".into(),
        "PRAGMA user_version = 7".into(),
        "PRAGMA writable_schema = 1".into(),
        "PRAGMA wal_checkpoint(TRUNCATE)".into(),
        "VACUUM".into(),
        format!("VACUUM INTO '{other}'"),
        "REINDEX".into(),
        "ANALYZE".into(),
        "BEGIN IMMEDIATE".into(),
        "COMMIT".into(),
        "SAVEPOINT s".into(),
        "SELECT load_extension('/tmp/evil')".into(),
        "INSERT INTO orders SELECT id + 100, customer_id, ordered_at, status FROM orders".into(),
    ];
    let before = fingerprint(&dir);
    for sql in &attacks {
        let outcome = db.execute(sql).await;
        let error = match &outcome {
            Ok(result) => panic!("`{sql}` ran: {result:?}"),
            Err(error) => error.to_string(),
        };
        assert!(
            STOPPED.iter().any(|reason| error.contains(reason)),
            "`{sql}` failed for another reason than the server stopping it: {error}"
        );
        assert!(
            fingerprint(&dir) == before,
            "`{sql}` changed the database directory ({outcome:?})"
        );
        assert_eq!(
            db.execute("SELECT count(*) AS n FROM order_items")
                .await
                .unwrap()
                .rows[0]["n"],
            52,
            "the server broke after `{sql}`"
        );
    }
    // PRAGMA reads are queries and work.
    let tables = db
        .execute("SELECT name FROM pragma_table_list WHERE schema = 'main' ORDER BY name")
        .await
        .unwrap();
    let names: Vec<&str> = tables
        .rows
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "customers",
            "order_items",
            "orders",
            "products",
            "sqlite_schema"
        ]
    );
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}
