//! A process's stderr, collected line by line in the background, and waits for its JSON events.

use std::{
    fmt,
    sync::{Arc, Mutex},
};

use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    sync::watch,
};

use crate::TIMEOUT;

/// The lines a process writes to stderr, collected in the background.
#[derive(Clone)]
pub struct Logs {
    lines: Arc<Mutex<Vec<String>>>,
    count: watch::Receiver<(usize, bool)>,
}

impl Logs {
    /// Starts collecting the lines of `stream`.
    pub fn collect(stream: impl AsyncRead + Unpin + Send + 'static) -> Logs {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, count) = watch::channel((0, false));
        let sink = lines.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let n = {
                    let mut all = sink.lock().unwrap();
                    all.push(line);
                    all.len()
                };
                tx.send_replace((n, false));
            }
            tx.send_modify(|(_, closed)| *closed = true);
        });
        Logs { lines, count }
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Every line so far, one per line, for failure messages.
    pub fn dump(&self) -> String {
        self.lines().join("\n")
    }

    /// Every line so far that is a JSON object, with its raw text (which keeps the key order).
    fn parsed(&self) -> Vec<(String, Value)> {
        self.lines()
            .into_iter()
            .filter_map(|line| {
                let value: Value = serde_json::from_str(&line).ok()?;
                value.is_object().then_some((line, value))
            })
            .collect()
    }

    /// Every event (JSON object line) so far.
    pub fn events(&self) -> Vec<Value> {
        self.parsed().into_iter().map(|(_, v)| v).collect()
    }

    /// Every event so far of `event_type`.
    pub fn of_type(&self, event_type: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event_type"] == event_type)
            .collect()
    }

    /// Waits (bounded by [`TIMEOUT`]) until `found` picks something from the events so far. Fails
    /// with every line seen when nothing comes.
    async fn wait_with<T>(
        &self,
        what: impl fmt::Display,
        found: impl Fn(Vec<(String, Value)>) -> Option<T>,
    ) -> T {
        let mut count = self.count.clone();
        let waited = tokio::time::timeout(TIMEOUT, async {
            loop {
                if let Some(hit) = found(self.parsed()) {
                    return Some(hit);
                }
                let closed = count.borrow_and_update().1;
                if closed || count.changed().await.is_err() {
                    // The stream ended: one last look at lines that arrived meanwhile.
                    return found(self.parsed());
                }
            }
        })
        .await;
        match waited {
            Ok(Some(hit)) => hit,
            Ok(None) => panic!("stderr closed without {what}; it had:\n{}", self.dump()),
            Err(_) => panic!("no {what} within {TIMEOUT:?}; stderr had:\n{}", self.dump()),
        }
    }

    /// Waits for the first event matching `matches`; returns its raw text and value.
    pub async fn wait_for(
        &self,
        what: impl fmt::Display,
        matches: impl Fn(&Value) -> bool,
    ) -> (String, Value) {
        self.wait_with(what, |events| events.into_iter().find(|(_, v)| matches(v)))
            .await
    }

    /// Waits until `matches` holds for all the events so far; returns them.
    pub async fn wait_until(
        &self,
        what: impl fmt::Display,
        matches: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        self.wait_with(what, |events| {
            let events: Vec<Value> = events.into_iter().map(|(_, v)| v).collect();
            matches(&events).then_some(events)
        })
        .await
    }

    /// Waits for the first event of `event_type`.
    pub async fn wait_for_event(&self, event_type: &str) -> (String, Value) {
        self.wait_for(format!("`{event_type}` event"), |v| {
            v["event_type"] == event_type
        })
        .await
    }

    /// Waits for the first event of `event_type` whose `data.target` is `target` (`config_manager`,
    /// `realtime`, `connector`).
    pub async fn wait_for_target(&self, event_type: &str, target: &str) -> (String, Value) {
        self.wait_for(format!("`{event_type}` event ({target})"), |v| {
            v["event_type"] == event_type && v["data"]["target"] == target
        })
        .await
    }

    /// Waits for the first `event_type` event (`tool.execution.start`, ...) of a call to `tool`.
    pub async fn wait_for_tool(&self, event_type: &str, tool: &str) -> (String, Value) {
        self.wait_for(format!("`{event_type}` of {tool}"), |v| {
            v["event_type"] == event_type && v["data"]["tool_name"] == tool
        })
        .await
    }

    /// Waits until the stream is closed (the process exited or closed stderr).
    pub async fn wait_closed(&self) {
        let mut count = self.count.clone();
        tokio::time::timeout(TIMEOUT, count.wait_for(|(_, closed)| *closed))
            .await
            .expect("stderr was not closed in time")
            .ok();
    }
}
