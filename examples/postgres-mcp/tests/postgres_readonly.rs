//! Read-only by construction, against a real PostgreSQL: a corpus of attacks, each run through
//! `execute_sql`'s code path, with a fingerprint of the whole database (every table's rows, sequences,
//! schema objects, large objects, roles and privileges, prepared transactions, advisory locks) taken
//! before and after each one.
//!
//! The corpus runs twice: connected as a role that owns every object (it could write, alter, drop and
//! grant anything outside a read-only transaction), and connected as the superuser. A superuser can
//! reach outside any SQL sandbox through functions that open their own connections or files (dblink,
//! lo_export, ...): those attacks run only as the owner, which is the deployment the README asks for.

mod common;

use cm_test_support::TIMEOUT;
use common::{TestDb, admin_or_skip};
use postgres_mcp::{Config, Database, DatabaseTarget, QueryError};

const FIXTURE: &str = include_str!("fixtures/postgres.sql");

/// How an attack must end.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Expect {
    /// Refused before it ran (several statements, or a statement that returns no rows).
    Refused,
    /// Run, and stopped by the database with an error whose message holds one of these: the reason
    /// the attack was stopped, so that an error for any other reason (a typo, a missing object)
    /// does not count.
    Error(&'static [&'static str]),
    /// Either way (it may run, harmlessly); only the fingerprint matters.
    Any,
}

/// A write the read-only transaction stopped (SQLSTATE 25006, as the server words it).
const READ_ONLY: &[&str] = &["Refused by the database: this server is read-only"];
/// An attempt to switch the transaction to read-write (25001).
const STAYS_READ_ONLY: &[&str] = &["ERROR 25001: cannot set transaction read-write mode"];
/// A transaction ended inside a procedure the call runs (2D000).
const NO_COMMIT: &[&str] = &["ERROR 2D000: invalid transaction termination"];
/// Not allowed to the role the server connects as (42501).
const NOT_ALLOWED: &[&str] = &["ERROR 42501: permission denied"];
/// dblink refuses a non-superuser a connection without a password: 2F003 where the server asks for
/// none (trust), 08001 where it asks for one the connection string does not give.
const NO_PASSWORD: &[&str] = &["ERROR 2F003: password is required", "ERROR 08001: "];

struct Attack {
    sql: String,
    expect: Expect,
    /// Runs only when the server is not connected as a superuser.
    owner_only: bool,
    /// The extension whose functions the attack calls: without it the attack would fail with
    /// "function does not exist" and prove nothing.
    needs: Option<&'static str>,
}

fn attacks(db_name: &str, large_object: u32, marker_file: &str) -> Vec<Attack> {
    use Expect::*;
    let a = |sql: &str, expect: Expect| Attack {
        sql: sql.to_string(),
        expect,
        owner_only: false,
        needs: None,
    };
    let mut list = vec![
        // Leaving the read-only transaction.
        a("COMMIT; DELETE FROM transfers", Refused),
        a("ROLLBACK; DROP TABLE transfers", Refused),
        a("SELECT 1; COMMIT; UPDATE accounts SET balance = 0", Refused),
        a("END; TRUNCATE accounts CASCADE", Refused),
        a("COMMIT", Refused),
        a("COMMIT AND CHAIN", Refused),
        a("ROLLBACK TO SAVEPOINT cm_mcp_declare", Refused),
        a("RELEASE SAVEPOINT cm_mcp_declare", Refused),
        a("PREPARE TRANSACTION 'cm_mcp_escape'", Refused),
        // Switching the transaction to read-write.
        a("SET TRANSACTION READ WRITE", Refused),
        a(
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
            Refused,
        ),
        a(
            "SELECT set_config('transaction_read_only', 'off', false)",
            Error(STAYS_READ_ONLY),
        ),
        a(
            "SELECT set_config('transaction_read_only', 'off', true), write_audit('after set_config')",
            Error(STAYS_READ_ONLY),
        ),
        a("SELECT sneaky_read_write()", Error(STAYS_READ_ONLY)),
        // A session default that, if it leaked into the next call, would matter: the next attacks run
        // after it on the same pool.
        a(
            "SELECT set_config('default_transaction_read_only', 'off', false)",
            Any,
        ),
        // Plain and disguised writes.
        a(
            "INSERT INTO accounts (owner) VALUES ('mallory') RETURNING id",
            Error(READ_ONLY),
        ),
        a(
            "/* just a comment */ DELETE FROM transfers RETURNING *",
            Error(READ_ONLY),
        ),
        a(
            "UPDATE accounts SET balance = 1e6 RETURNING balance",
            Error(READ_ONLY),
        ),
        a(
            "WITH gone AS (DELETE FROM transfers RETURNING *) SELECT count(*) FROM gone",
            Error(READ_ONLY),
        ),
        a(
            "WITH moved AS (UPDATE accounts SET balance = balance + 1 RETURNING id) SELECT * FROM moved",
            Error(READ_ONLY),
        ),
        a(
            "MERGE INTO accounts a USING (SELECT 1 AS id) s ON a.id = s.id WHEN MATCHED THEN UPDATE SET balance = 0",
            Refused,
        ),
        a("SELECT * INTO stolen FROM accounts", Refused),
        a("SELECT * FROM accounts FOR UPDATE", Error(READ_ONLY)),
        a("SELECT * FROM accounts FOR SHARE NOWAIT", Error(READ_ONLY)),
        // Sequences.
        a("SELECT nextval('accounts_id_seq')", Error(READ_ONLY)),
        a("SELECT setval('standalone_seq', 1000)", Error(READ_ONLY)),
        // Functions and procedures that write.
        a("SELECT write_audit('from a select')", Error(READ_ONLY)),
        a("SELECT wipe_accounts()", Error(READ_ONLY)),
        a("CALL reset_balances()", Refused),
        a("CALL reset_balances_out(NULL)", Error(READ_ONLY)),
        a("CALL commit_inside(NULL)", Error(NO_COMMIT)),
        a("DO $$ BEGIN DELETE FROM transfers; END $$", Refused),
        a(
            "DO $$ BEGIN SET TRANSACTION READ WRITE; DELETE FROM transfers; END $$",
            Refused,
        ),
        // Large objects: PostgreSQL before 16 lets a read-only transaction write them, so these may
        // run; the transaction is always rolled back, which undoes them.
        a("SELECT lo_create(0)", Any),
        a("SELECT lo_from_bytea(0, 'x')", Any),
        a(&format!("SELECT lo_unlink({large_object})"), Any),
        a(&format!("SELECT lo_put({large_object}, 0, 'EVIL')"), Any),
        a(
            &format!("SELECT lo_truncate(lo_open({large_object}, 131072), 0)"),
            Any,
        ),
        // COPY, in and out of the server.
        a("COPY accounts FROM STDIN", Refused),
        a("COPY accounts FROM '/etc/hostname'", Refused),
        a(&format!("COPY (SELECT 1) TO '{marker_file}'"), Refused),
        a(
            &format!("COPY (SELECT 1) TO PROGRAM 'touch {marker_file}'"),
            Refused,
        ),
        // DDL, privileges, roles.
        a("CREATE TABLE evil (x integer)", Refused),
        a("CREATE TEMP TABLE evil AS SELECT 1", Refused),
        a("DROP TABLE transfers", Refused),
        a("ALTER TABLE accounts ADD COLUMN evil integer", Refused),
        a("TRUNCATE accounts CASCADE", Refused),
        a("CREATE INDEX evil_idx ON accounts (balance)", Refused),
        a("COMMENT ON TABLE accounts IS 'evil'", Refused),
        a("GRANT ALL ON accounts TO PUBLIC", Refused),
        a("REVOKE SELECT ON accounts FROM PUBLIC", Refused),
        a("CREATE ROLE cm_mcp_evil SUPERUSER LOGIN", Refused),
        a(
            "ALTER ROLE CURRENT_USER SET default_transaction_read_only = off",
            Refused,
        ),
        a(
            &format!("ALTER DATABASE {db_name} SET default_transaction_read_only = off"),
            Refused,
        ),
        a("SET ROLE postgres", Refused),
        a("RESET SESSION AUTHORIZATION", Refused),
        a("SELECT set_config('role', 'postgres', false)", Any),
        // Maintenance and locks.
        a("VACUUM FULL accounts", Refused),
        a("ANALYZE accounts", Refused),
        a("CLUSTER accounts USING accounts_pkey", Refused),
        a("REINDEX TABLE accounts", Refused),
        a("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE", Refused),
        a("SELECT pg_advisory_lock(4242)", Any),
        a(
            "SELECT pg_advisory_lock_shared(4243), pg_try_advisory_lock(4244)",
            Any,
        ),
        a("NOTIFY cm_mcp_channel, 'x'", Refused),
        // Allowed read-only; a notification is sent at commit, and there is none.
        a("SELECT pg_notify('cm_mcp_channel', 'x')", Any),
        a("LISTEN cm_mcp_channel", Refused),
        a(
            "DECLARE held CURSOR WITH HOLD FOR SELECT * FROM accounts",
            Refused,
        ),
        a("PREPARE evil AS DELETE FROM transfers", Refused),
        a("EXPLAIN ANALYZE DELETE FROM transfers", Error(READ_ONLY)),
        a(
            "EXPLAIN (ANALYZE, FORMAT JSON) INSERT INTO audit (note) VALUES ('explained')",
            Error(READ_ONLY),
        ),
        a(
            "EXPLAIN ANALYZE SELECT write_audit('explained select')",
            Error(READ_ONLY),
        ),
        a("SELECT txid_current()", Any),
        a("DISCARD ALL", Refused),
        a("CHECKPOINT", Refused),
        a("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", Refused),
    ];
    // Escapes through functions that act outside this connection: a superuser can use them whatever
    // the transaction says, so they run only as the owner role.
    let owner_only = |sql: String, expect: Expect| Attack {
        sql,
        expect,
        owner_only: true,
        needs: None,
    };
    let dblink = |sql: String| Attack {
        needs: Some("dblink"),
        ..owner_only(sql, Error(NO_PASSWORD))
    };
    list.push(dblink(format!(
        "SELECT dblink_exec('host=127.0.0.1 port=5432 dbname={db_name} user=postgres', 'DELETE FROM transfers')"
    )));
    list.push(dblink(format!(
        "SELECT * FROM dblink('dbname={db_name}', 'DELETE FROM transfers RETURNING 1') AS t(x integer)"
    )));
    list.push(owner_only(
        format!("SELECT lo_export({large_object}, '{marker_file}')"),
        Error(NOT_ALLOWED),
    ));
    list.push(owner_only(
        format!("SELECT pg_catalog.pg_read_file('{marker_file}')"),
        Error(NOT_ALLOWED),
    ));
    list.push(owner_only(
        "SELECT set_config('role', 'postgres', false), write_audit('as postgres')".into(),
        Error(NOT_ALLOWED),
    ));
    list
}

/// Everything about the database an attack could change, as text lines to compare.
async fn fingerprint(admin: &tokio_postgres::Client, db_name: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let tables = admin
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND n.nspname NOT LIKE 'pg\\_%'
              ORDER BY 1",
            &[],
        )
        .await
        .expect("list tables");
    for table in tables {
        let name: String = table.get(0);
        let rows: Option<String> = admin
            .query_one(
                &format!("SELECT string_agg(t::text, ' | ' ORDER BY t::text) FROM {name} t"),
                &[],
            )
            .await
            .expect("read a table")
            .get(0);
        lines.push(format!("table {name}: {}", rows.unwrap_or_default()));
    }
    let queries: &[(&str, &str)] = &[
        (
            "sequences",
            "SELECT string_agg(format('%s.%s=%s/%s', schemaname, sequencename, last_value, increment_by), ', ' ORDER BY 1) FROM pg_sequences",
        ),
        (
            "relations",
            "SELECT string_agg(format('%s.%s:%s:%s:%s:%s', n.nspname, c.relname, c.relkind, c.relowner::regrole, c.relacl, c.relfilenode), ', ' ORDER BY n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'",
        ),
        (
            "columns",
            "SELECT string_agg(format('%s.%s:%s', attrelid::regclass, attname, atttypid::regtype), ', ' ORDER BY attrelid, attnum) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND attnum > 0",
        ),
        (
            "functions",
            "SELECT string_agg(format('%s:%s:%s:%s', p.oid::regprocedure, p.proowner::regrole, p.proacl, md5(p.prosrc)), ', ' ORDER BY 1) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')",
        ),
        (
            "namespaces",
            "SELECT string_agg(format('%s:%s:%s', nspname, nspowner::regrole, nspacl), ', ' ORDER BY nspname) FROM pg_namespace",
        ),
        (
            "types",
            "SELECT string_agg(format('%s:%s', t.oid::regtype, t.typowner::regrole), ', ' ORDER BY 1) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public'",
        ),
        (
            "constraints",
            "SELECT string_agg(format('%s:%s', conname, pg_get_constraintdef(oid)), ', ' ORDER BY conname) FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
        ),
        (
            "triggers, rules, policies",
            "SELECT (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal) || '/' || (SELECT count(*) FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public') || '/' || (SELECT count(*) FROM pg_policy)",
        ),
        (
            "comments",
            "SELECT string_agg(format('%s:%s', objoid, description), ', ' ORDER BY objoid) FROM pg_description d WHERE objoid >= 16384",
        ),
        (
            "extensions",
            "SELECT string_agg(extname || ' ' || extversion, ', ' ORDER BY extname) FROM pg_extension",
        ),
        (
            "large objects",
            "SELECT string_agg(format('%s:%s', m.oid, m.lomowner::regrole), ', ' ORDER BY m.oid) FROM pg_largeobject_metadata m",
        ),
        (
            "large object data",
            "SELECT string_agg(format('%s/%s:%s', loid, pageno, md5(data)), ', ' ORDER BY loid, pageno) FROM pg_largeobject",
        ),
        // Other tests create and drop their own roles meanwhile: those are left out.
        (
            "roles",
            "SELECT string_agg(format('%s:%s%s%s%s%s', rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolbypassrls), ', ' ORDER BY rolname) FROM pg_roles WHERE rolname NOT LIKE 'cm\\_pg\\_test%' OR rolname LIKE current_database() || '%'",
        ),
        (
            "role members",
            "SELECT string_agg(format('%s>%s', roleid::regrole, member::regrole), ', ' ORDER BY 1) FROM pg_auth_members",
        ),
        (
            "role and database settings",
            "SELECT string_agg(format('%s/%s:%s', setdatabase, setrole, setconfig), ', ' ORDER BY 1) FROM pg_db_role_setting",
        ),
        (
            "databases",
            "SELECT string_agg(format('%s:%s:%s', datname, datdba::regrole, datacl), ', ' ORDER BY datname) FROM pg_database WHERE datname NOT LIKE 'cm\\_pg\\_test%' OR datname = current_database()",
        ),
        (
            "default privileges",
            "SELECT count(*)::text FROM pg_default_acl",
        ),
        (
            "prepared transactions",
            "SELECT count(*)::text FROM pg_prepared_xacts",
        ),
    ];
    for (label, sql) in queries {
        let value: Option<String> = admin
            .query_one(*sql, &[])
            .await
            .unwrap_or_else(|e| panic!("fingerprint {label}: {e}"))
            .get(0);
        lines.push(format!("{label}: {}", value.unwrap_or_default()));
    }
    // Locks and listeners are held by sessions, not stored: a lock left behind by a call would stay
    // with the pooled connection.
    let locks: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
              WHERE a.datname = $1 AND a.application_name = 'postgres-mcp'
                AND (l.locktype = 'advisory' OR l.mode LIKE '%Exclusive%' AND l.locktype = 'relation')",
            &[&db_name],
        )
        .await
        .expect("locks")
        .get(0);
    lines.push(format!("locks held by the server: {locks}"));
    lines
}

fn settings_for(dsn: &str) -> Config {
    let mut settings = Config::from_vars([("PG_DSN", dsn)]).expect("settings");
    settings.pg.query_timeout_ms = 5000;
    // Every round trip of a call is bounded by the shared TIMEOUT (the server's own command
    // timeout): a hang fails the call with a message instead of stalling the test.
    settings.pg.command_timeout_s = TIMEOUT.as_secs();
    settings
}

async fn open(dsn: &str) -> Database {
    let settings = settings_for(dsn);
    let target = DatabaseTarget::resolve(&settings, &postgres_mcp::ConnectorUrl::Local(None))
        .expect("resolve");
    let db = Database::open(settings, target);
    assert!(
        db.wait_connected(TIMEOUT).await,
        "the server never connected: {:?}",
        db.status()
    );
    db
}

/// SQLSTATEs of an attack that never reached its target: the function, table, object or schema it
/// names is missing, so its failure proves nothing about the server.
const PREMISE_MISSING: &[&str] = &["42883", "42P01", "42704", "42703", "3F000"];

/// Runs the corpus against a server connected as `user`, skipping the attacks that need an extension
/// in `missing`; returns how many ran.
async fn run_corpus(test: &TestDb, user: &str, superuser: bool, missing: &[&str]) -> usize {
    let large_object: u32 = test
        .admin_on_db()
        .await
        .query_one("SELECT min(oid) FROM pg_largeobject_metadata", &[])
        .await
        .expect("the fixture's large object")
        .get(0);
    let marker = std::env::temp_dir().join(format!("{}_{user}_escaped", test.name));
    let marker_file = marker.display().to_string();
    let _ = std::fs::remove_file(&marker);
    let db = open(&test.dsn_as(user)).await;
    let fingerprint_client = test.admin_on_db().await;
    let before = fingerprint(&fingerprint_client, &test.name).await;
    let mut ran = 0;
    let mut mismatches = Vec::new();
    for attack in attacks(&test.name, large_object, &marker_file) {
        if attack.owner_only && superuser || attack.needs.is_some_and(|e| missing.contains(&e)) {
            continue;
        }
        ran += 1;
        let outcome = db.execute(&attack.sql).await;
        let after = fingerprint(&fingerprint_client, &test.name).await;
        let changed: Vec<String> = before
            .iter()
            .zip(&after)
            .filter(|(b, a)| b != a)
            .map(|(b, a)| format!("  before: {b}\n  after:  {a}"))
            .collect();
        assert!(
            changed.is_empty() && before.len() == after.len(),
            "as {user}: `{}` changed the database ({outcome:?}):\n{}",
            attack.sql,
            changed.join("\n")
        );
        assert!(
            !marker.exists(),
            "as {user}: `{}` wrote a file on the server",
            attack.sql
        );
        if let Err(QueryError::Database(message)) = &outcome
            && PREMISE_MISSING
                .iter()
                .any(|code| message.contains(&format!(" {code}: ")))
        {
            mismatches.push(format!(
                "as {user}: `{}` never reached its target, so it proves nothing: {message}",
                attack.sql
            ));
            continue;
        }
        match (attack.expect, &outcome) {
            (Expect::Refused, Err(QueryError::Refused(_))) => {}
            (Expect::Error(reasons), Err(QueryError::Database(message)))
                if reasons.iter().any(|reason| message.contains(reason)) => {}
            (Expect::Any, Ok(_) | Err(QueryError::Database(_) | QueryError::Refused(_))) => {}
            (expect, outcome) => mismatches.push(format!(
                "as {user}: `{}` should end {expect:?}, got {outcome:?}",
                attack.sql
            )),
        }
        // The server still answers after every attack, still read-only.
        let check = db
            .execute("SELECT current_setting('transaction_read_only') AS ro, count(*) AS n FROM accounts")
            .await
            .unwrap_or_else(|e| panic!("as {user}: the server broke after `{}`: {e}", attack.sql));
        assert_eq!(check.rows[0]["ro"], "on");
        assert_eq!(check.rows[0]["n"], 3);
    }
    db.close();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    ran
}

/// Creates each of `extensions` in the test database when the server has it; returns those it does
/// not have.
async fn install_extensions(test: &TestDb, extensions: &[&'static str]) -> Vec<&'static str> {
    let superuser = test.admin_on_db().await;
    let mut missing = Vec::new();
    for &extension in extensions {
        let available: bool = superuser
            .query_one(
                "SELECT count(*) > 0 FROM pg_available_extensions WHERE name = $1",
                &[&extension],
            )
            .await
            .expect("list the server's extensions")
            .get(0);
        if available {
            superuser
                .batch_execute(&format!("CREATE EXTENSION {extension}"))
                .await
                .unwrap_or_else(|e| panic!("create the extension {extension}: {e:?}"));
        } else {
            missing.push(extension);
        }
    }
    missing
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_corpus_changes_nothing() {
    let Some(admin) = admin_or_skip("attack_corpus_changes_nothing").await else {
        return;
    };
    let test = TestDb::create(admin, true, &[], FIXTURE).await;
    test.run(|test| async move {
        let needs: Vec<&'static str> = attacks("", 0, "")
            .iter()
            .filter_map(|attack| attack.needs)
            .collect();
        let mut extensions = needs.clone();
        extensions.sort();
        extensions.dedup();
        let missing = install_extensions(&test, &extensions).await;
        if !missing.is_empty() {
            let skipped = needs.iter().filter(|e| missing.contains(e)).count();
            // Under CI a missing premise fails the test; off CI the skip is reported where
            // `cargo test` shows it, and the attacks that need it are left out, not counted.
            cm_test_support::service_missing(
                &format!("attack_corpus_changes_nothing ({skipped} attacks)"),
                &format!("the PostgreSQL extensions {missing:?} at 127.0.0.1:5432"),
                "install the contrib package of the server's version (e.g. `apt-get install postgresql-contrib`)",
            );
        }
        let owner = test.owner.clone().expect("an owned database");
        let as_owner = run_corpus(&test, &owner, false, &missing).await;
        let as_superuser = run_corpus(&test, "postgres", true, &missing).await;
        eprintln!(
            "{as_owner} attacks as the owner, {as_superuser} as the superuser: nothing changed"
        );
    })
    .await;
}
