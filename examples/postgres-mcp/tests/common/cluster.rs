//! A PostgreSQL instance of one test's own, which the test may stop and start: a database restart
//! cannot be tested on the shared server at 127.0.0.1:5432 without failing every other test using it.
//!
//! It is a fresh cluster (`initdb`, trust authentication) in a temporary directory, listening on a
//! free port of 127.0.0.1 only (its Unix socket in that directory), run with `pg_ctl`. PostgreSQL
//! refuses to run as root, and tests often run as root in containers: then every command runs as the
//! `postgres` user through `runuser`, and the directory is handed to that user.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
};

use cm_test_support::{TIMEOUT, service_missing};
use tokio::process::Command;

/// A private PostgreSQL cluster, stopped and removed when dropped.
pub struct Cluster {
    bin: PathBuf,
    /// Holds the data directory, the socket and the server's log.
    dir: tempfile::TempDir,
    /// Whether commands run as the `postgres` user (this process is root).
    as_postgres: bool,
    /// The TCP port it listens on (127.0.0.1).
    pub port: u16,
}

impl Cluster {
    /// Creates and starts a cluster; `None` (after reporting the skip, or failing under CI) when
    /// the PostgreSQL server binaries are not installed or cannot be run here.
    pub async fn start_or_skip(test: &str) -> Option<Cluster> {
        const SERVICE: &str = "the PostgreSQL server binaries (initdb, pg_ctl)";
        let Some(bin) = server_bin_dir() else {
            service_missing(
                test,
                SERVICE,
                "no initdb in /usr/lib/postgresql/*/bin nor in `pg_config --bindir` (apt-get install postgresql)",
            );
            return None;
        };
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("cm-pg-cluster-")
            .tempdir()
            .expect("create a directory for the cluster");
        if as_postgres {
            let owned = std::process::Command::new("chown")
                .arg("postgres")
                .arg(dir.path())
                .status();
            if !owned.is_ok_and(|s| s.success()) {
                service_missing(
                    test,
                    SERVICE,
                    "running as root, and there is no `postgres` user to run PostgreSQL as",
                );
                return None;
            }
        }
        // A free port: bound and released at once. PostgreSQL binds it with SO_REUSEADDR, so only
        // another listener taking it in between can fail the start, which then says so.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cluster = Cluster {
            bin,
            dir,
            as_postgres,
            port,
        };
        let data = cluster.data_dir();
        let init = cluster
            .run(
                "initdb",
                &[
                    "-D",
                    &data,
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
            )
            .await;
        if let Err(error) = init {
            service_missing(test, SERVICE, format!("initdb failed: {error}"));
            return None;
        }
        cluster.start().await;
        Some(cluster)
    }

    fn data_dir(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// Starts the server and waits until it accepts connections (`pg_ctl start -w`).
    pub async fn start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        let started = self
            .run(
                "pg_ctl",
                &[
                    "start",
                    "-w",
                    "-D",
                    &self.data_dir(),
                    "-l",
                    &log,
                    "-o",
                    &options,
                ],
            )
            .await;
        if let Err(error) = started {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("pg_ctl start failed: {error}\nserver log:\n{log}");
        }
    }

    /// Stops the server as a restart does (`pg_ctl stop -m fast`): running queries are cancelled,
    /// every backend is terminated, and no connection is accepted until [`Cluster::start`].
    pub async fn stop(&self) {
        self.run(
            "pg_ctl",
            &["stop", "-w", "-m", "fast", "-D", &self.data_dir()],
        )
        .await
        .unwrap_or_else(|error| panic!("pg_ctl stop failed: {error}"));
    }

    /// A key=value DSN as the superuser `postgres` on the database `postgres`.
    pub fn dsn(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=5",
            self.port
        )
    }

    /// Runs one of the server's programs (as `postgres` when root), bounded by [`TIMEOUT`].
    async fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let output = tokio::time::timeout(TIMEOUT, command.output())
            .await
            .map_err(|_| format!("{program} did not finish within {TIMEOUT:?}"))?
            .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} exited with {}: {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Synchronous: a drop cannot await. Immediate: nothing of the cluster is kept.
        let data = self.data_dir();
        let pg_ctl = self.bin.join("pg_ctl");
        let mut command = if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(pg_ctl);
            c
        } else {
            std::process::Command::new(pg_ctl)
        };
        let _ = command
            .args(["stop", "-w", "-m", "immediate", "-D", &data])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The directory of `initdb` and `pg_ctl`: Debian's newest `/usr/lib/postgresql/<major>/bin`, or
/// what `pg_config --bindir` says.
fn server_bin_dir() -> Option<PathBuf> {
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major: u32 = entry.file_name().to_str()?.parse().ok()?;
            Some((major, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_server(bin))
        .max_by_key(|(major, _)| *major)
        .map(|(_, bin)| bin);
    debian.or_else(|| {
        let output = std::process::Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()?;
        let bin = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
        has_server(&bin).then_some(bin)
    })
}

fn has_server(bin: &Path) -> bool {
    bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}
