//! A real Prometheus server scraping a test's server, and its HTTP query API: what an operator's
//! Prometheus would see of `/metrics`, read back as an operator reads it.
//!
//! The machine's `prometheus` binary (Debian package `prometheus`, which `.ci/run` installs) runs
//! in the foreground with its data in a temporary directory, scraping the targets every 500 ms;
//! it is killed when the [`Prometheus`] is dropped.

use std::{
    net::{Ipv4Addr, TcpListener},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::Value;

use crate::{TIMEOUT, service_missing};

/// A Prometheus server of the test's own.
pub struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

/// The machine's `prometheus`, or why there is none: a test that needs it returns early off CI
/// (with the skip printed) and fails under CI.
pub fn prometheus_or_skip(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("prometheus"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        service_missing(
            test,
            "Prometheus (the `prometheus` binary)",
            "not on PATH; install it with `apt-get install -y prometheus`",
        );
    }
    found
}

impl Prometheus {
    /// Starts `binary` scraping `targets` (`host:port`, path `/metrics`) every 500 ms, and waits
    /// until it is ready.
    pub async fn scraping(binary: &PathBuf, targets: &[String]) -> Prometheus {
        let dir = tempfile::tempdir().expect("a directory for Prometheus");
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\nscrape_configs:\n  - job_name: mcp\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("its log");
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let prometheus = Prometheus {
            child,
            port,
            _dir: dir,
            http: reqwest::Client::new(),
        };
        let ready = format!("http://127.0.0.1:{port}/-/ready");
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            if let Ok(response) = prometheus.http.get(&ready).send().await
                && response.status().is_success()
            {
                return prometheus;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "Prometheus was not ready within {TIMEOUT:?}; its log:\n{}",
                prometheus.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What Prometheus wrote.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// `GET /api/v1/query?query=..`: the result vector (`data.result`); a query Prometheus refuses
    /// panics with its error.
    pub async fn query(&self, query: &str) -> Vec<Value> {
        let url = format!("http://127.0.0.1:{}/api/v1/query", self.port);
        let body: Value = self
            .http
            .get(url)
            .query(&[("query", query)])
            .send()
            .await
            .expect("query Prometheus")
            .json()
            .await
            .expect("Prometheus answers JSON");
        assert_eq!(body["status"], "success", "query `{query}` failed: {body}");
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The single number `query` evaluates to, once it equals `expected` (polled, bounded by
    /// [`TIMEOUT`]: Prometheus sees a change at its next scrape).
    pub async fn wait_value(&self, query: &str, expected: f64) {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        let mut last = Vec::new();
        while tokio::time::Instant::now() < deadline {
            last = self.query(query).await;
            let value = last
                .first()
                .and_then(|sample| sample["value"][1].as_str())
                .and_then(|v| v.parse::<f64>().ok());
            if value == Some(expected) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "Prometheus never gave {expected} for `{query}` within {TIMEOUT:?}; last result: {last:?}\nits log:\n{}",
            self.log()
        );
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
