//! A stand-in for the ConfidentialMind config manager and realtime service: a real HTTP + websocket
//! server on loopback that records every request, for the servers' stack mode.
//!
//! Either side can go down for a while and come back on the same port ([`Manager::go_down`],
//! [`Manager::manager_down`], [`Manager::realtime_down`]): while down, every connection is closed as
//! soon as it is accepted and open sockets are cut, as a restarting service's are.
//!
//! It also records every connection it accepts, so that a test can prove a server never contacted
//! it: once the server has exited, [`Manager::settle`] sees every connection the server made (see
//! there why), and [`Manager::connections`] is then the whole story, not a snapshot taken too early.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    extract::{
        State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    http::{StatusCode, Uri, header::CONNECTION},
    response::{IntoResponse, Response},
    routing::get,
    serve::Listener,
};
use serde_json::{Value, json};
use tokio::{
    net::{TcpListener, TcpSocket, TcpStream},
    sync::{broadcast, watch},
};

use super::TIMEOUT;

/// One request the stand-in received: `GET`, `PATCH`, or `WS` (a websocket subscription).
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `PATCH` or `WS`.
    pub method: String,
    /// The request path.
    pub path: String,
    /// The JSON body of a `PATCH`.
    pub body: Option<Value>,
}

enum Push {
    Text(String),
    Close,
    /// Stop reading (so stop answering pings) and sending, keeping the connection open: a peer
    /// that died without closing.
    Freeze,
}

struct ManagerState {
    /// What `GET` answers.
    doc: Value,
    requests: Vec<Recorded>,
    /// The peer address of every connection accepted, on either port.
    accepted: Vec<SocketAddr>,
    /// Answers for the next `PATCH`es (status, body); 200 with the stored doc when empty.
    patch_answers: VecDeque<(StatusCode, Value)>,
    refuse_realtime: bool,
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<ManagerState>>,
    changes: watch::Sender<u64>,
    pushes: broadcast::Sender<Arc<Push>>,
    /// While true, `GET`s are recorded but not answered.
    hold_gets: watch::Sender<bool>,
    /// While true, the manager's port closes every connection it accepts.
    manager_down: watch::Sender<bool>,
    /// While true, the realtime port closes every connection it accepts, and no socket is open.
    realtime_down: watch::Sender<bool>,
}

impl Shared {
    fn record(&self, method: &str, path: &str, body: Option<Value>) {
        self.state.lock().unwrap().requests.push(Recorded {
            method: method.into(),
            path: path.into(),
            body,
        });
        self.changes.send_modify(|n| *n += 1);
    }

    fn accepted(&self, peer: SocketAddr) {
        self.state.lock().unwrap().accepted.push(peer);
        self.changes.send_modify(|n| *n += 1);
    }
}

/// The config manager (`GET`/`PATCH {base}/internal/{service}`) and the realtime service
/// (websocket `{base}/internal/{service}`), on loopback.
pub struct Manager {
    /// `http://127.0.0.1:PORT`: for `MANAGER_URL`.
    pub url: String,
    /// `ws://127.0.0.1:PORT`: for `REALTIME_URL`.
    pub realtime_url: String,
    shared: Shared,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Manager {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Manager {
    /// A stand-in whose `GET` answers `doc`, on ephemeral ports.
    pub async fn start(doc: Value) -> Manager {
        Manager::down().up(doc)
    }

    /// A stand-in that is down: its ports are taken but nothing listens, so connections to them are
    /// refused, until [`DownManager::up`] starts it there. Holding the ports (rather than freeing
    /// them and binding again later) means no other process can take them meanwhile.
    pub fn down() -> DownManager {
        let bound = || {
            let socket = TcpSocket::new_v4().expect("a TCP socket");
            socket
                .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
                .expect("bind a loopback port");
            let addr = socket.local_addr().unwrap();
            (socket, addr)
        };
        let (manager, manager_addr) = bound();
        let (realtime, realtime_addr) = bound();
        DownManager {
            url: format!("http://{manager_addr}"),
            realtime_url: format!("ws://{realtime_addr}"),
            manager,
            realtime,
        }
    }

    fn serve_on(manager: TcpListener, realtime: TcpListener, doc: Value) -> Manager {
        let shared = Shared {
            state: Arc::new(Mutex::new(ManagerState {
                doc,
                requests: Vec::new(),
                accepted: Vec::new(),
                patch_answers: VecDeque::new(),
                refuse_realtime: false,
            })),
            changes: watch::Sender::new(0),
            pushes: broadcast::channel(16).0,
            hold_gets: watch::Sender::new(false),
            manager_down: watch::Sender::new(false),
            realtime_down: watch::Sender::new(false),
        };
        let router = Router::new()
            .route("/internal/{service}", get(get_doc).patch(patch_doc))
            .with_state(shared.clone());
        let realtime_router = Router::new()
            .route("/internal/{service}", get(subscribe))
            .with_state(shared.clone());
        let (manager_addr, manager_task) = serve(manager, router, &shared, Side::Manager);
        let (realtime_addr, realtime_task) =
            serve(realtime, realtime_router, &shared, Side::Realtime);
        Manager {
            url: format!("http://{manager_addr}"),
            realtime_url: format!("ws://{realtime_addr}"),
            shared,
            tasks: vec![manager_task, realtime_task],
        }
    }

    /// The env vars pointing a server at this stand-in as `service`.
    pub fn env<'a>(&'a self, service: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("SERVICE_NAME", service),
            ("MANAGER_URL", self.url.as_str()),
            ("REALTIME_URL", self.realtime_url.as_str()),
        ]
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.state.lock().unwrap().requests.clone()
    }

    /// The methods of every request so far, e.g. `["GET", "PATCH", "GET", "WS"]`.
    pub fn methods(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.method).collect()
    }

    /// Waits (bounded) until the recorded methods satisfy `matches`.
    pub async fn wait_methods(&self, what: &str, matches: impl Fn(&[String]) -> bool) {
        let mut changes = self.shared.changes.subscribe();
        let waited = tokio::time::timeout(TIMEOUT, async {
            loop {
                if matches(&self.methods()) {
                    return;
                }
                if changes.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        assert!(
            waited.is_ok() && matches(&self.methods()),
            "the stand-in never saw {what}; requests: {:?}",
            self.methods()
        );
    }

    /// Waits until the service has subscribed `n` times in all.
    pub async fn wait_subscribed(&self, n: usize) {
        self.wait_methods(&format!("{n} websocket subscriptions"), |m| {
            m.iter().filter(|m| *m == "WS").count() >= n
        })
        .await;
    }

    /// Answers the next `PATCH`es with these statuses and bodies.
    pub fn answer_patches(&self, answers: Vec<(u16, Value)>) {
        self.shared.state.lock().unwrap().patch_answers = answers
            .into_iter()
            .map(|(s, b)| (StatusCode::from_u16(s).unwrap(), b))
            .collect();
    }

    /// Records `GET`s but answers none of them (a manager that hangs) until `release_gets`.
    pub fn hold_gets(&self) {
        self.shared.hold_gets.send_replace(true);
    }

    /// Answers the `GET`s held by [`Self::hold_gets`], and every later one.
    pub fn release_gets(&self) {
        self.shared.hold_gets.send_replace(false);
    }

    /// The peer address of every connection the stand-in accepted (on either port), besides
    /// [`Self::settle`]'s own.
    pub fn connections(&self) -> Vec<SocketAddr> {
        self.shared.state.lock().unwrap().accepted.clone()
    }

    /// Waits (bounded) until the stand-in has accepted every connection made to it before this call.
    /// A server that has exited can then make no more, so `connections()` is final: what it says
    /// was not contacted, was not, however slow the machine. Why this holds: the kernel completes a
    /// loopback connection on `connect` and queues it for `accept` in order; this opens one more
    /// connection to each port and waits until the stand-in has accepted it, hence all before it.
    pub async fn settle(&self) {
        let mut probes = Vec::new();
        for url in [&self.url, &self.realtime_url] {
            let addr = url.rsplit('/').next().unwrap();
            let probe = tokio::time::timeout(TIMEOUT, tokio::net::TcpStream::connect(addr))
                .await
                .unwrap_or_else(|_| panic!("connecting to the stand-in at {addr} hung"))
                .expect("connect to the stand-in");
            probes.push(probe);
        }
        let mine: Vec<SocketAddr> = probes.iter().map(|p| p.local_addr().unwrap()).collect();
        let mut changes = self.shared.changes.subscribe();
        let accepted = |state: &ManagerState| mine.iter().all(|p| state.accepted.contains(p));
        let waited = tokio::time::timeout(TIMEOUT, async {
            while !accepted(&self.shared.state.lock().unwrap()) {
                changes.changed().await.expect("the stand-in is running");
            }
        })
        .await;
        assert!(
            waited.is_ok(),
            "the stand-in did not accept its own probe connections within {TIMEOUT:?}"
        );
        self.shared
            .state
            .lock()
            .unwrap()
            .accepted
            .retain(|peer| !mine.contains(peer));
    }

    /// Answers websocket subscriptions with 503 while `refuse`.
    pub fn refuse_realtime(&self, refuse: bool) {
        self.shared.state.lock().unwrap().refuse_realtime = refuse;
    }

    /// Replaces the stored connectors block and pushes it, as the manager does when a connector is
    /// assigned in the UI.
    pub fn push_connectors(&self, block: Value) {
        self.shared.state.lock().unwrap().doc["connectors"] = block.clone();
        self.push_raw(json!({"payload": {"connectors": block}}).to_string());
    }

    /// Replaces the stored connectors block without pushing it (an update the service misses).
    pub fn set_connectors(&self, block: Value) {
        self.shared.state.lock().unwrap().doc["connectors"] = block;
    }

    /// Replaces the stored config and pushes it.
    pub fn push_config(&self, config: Value) {
        self.shared.state.lock().unwrap().doc["config"] = config.clone();
        self.push_raw(json!({"payload": {"config": config}}).to_string());
    }

    /// Sends `text` to every subscribed socket.
    pub fn push_raw(&self, text: String) {
        let _ = self.shared.pushes.send(Arc::new(Push::Text(text)));
    }

    /// Every subscribed socket goes silent without closing: nothing is read (pings go unanswered)
    /// or sent on it again.
    pub fn freeze_sockets(&self) {
        let _ = self.shared.pushes.send(Arc::new(Push::Freeze));
    }

    /// Closes every subscribed socket.
    pub fn drop_sockets(&self) {
        let _ = self.shared.pushes.send(Arc::new(Push::Close));
    }

    /// The manager (`GET`/`PATCH`) goes down (`true`) or comes back: while down, its port accepts
    /// connections and closes them at once (recorded as `DROPPED-HTTP`). Its answers close their
    /// connection, so no connection opened before outlives the outage.
    pub fn manager_down(&self, down: bool) {
        self.shared.manager_down.send_replace(down);
    }

    /// The realtime service goes down (`true`) or comes back: going down cuts every open socket
    /// without a close frame, and while down its port closes every connection at once (recorded
    /// as `DROPPED-WS`).
    pub fn realtime_down(&self, down: bool) {
        self.shared.realtime_down.send_replace(down);
    }

    /// The whole manager goes down: [`Self::manager_down`] and [`Self::realtime_down`].
    pub fn go_down(&self) {
        self.manager_down(true);
        self.realtime_down(true);
    }

    /// The whole manager is back, with the document it had (and whatever the test set meanwhile).
    pub fn come_up(&self) {
        self.manager_down(false);
        self.realtime_down(false);
    }
}

/// The stand-in's ports while it is down (see [`Manager::down`]).
pub struct DownManager {
    /// `http://127.0.0.1:PORT`: for `MANAGER_URL`.
    pub url: String,
    /// `ws://127.0.0.1:PORT`: for `REALTIME_URL`.
    pub realtime_url: String,
    manager: TcpSocket,
    realtime: TcpSocket,
}

impl DownManager {
    /// The env vars pointing a server at this stand-in as `service`.
    pub fn env<'a>(&'a self, service: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("SERVICE_NAME", service),
            ("MANAGER_URL", self.url.as_str()),
            ("REALTIME_URL", self.realtime_url.as_str()),
        ]
    }

    /// Starts listening on the held ports: the stand-in is up, and its `GET` answers `doc`.
    pub fn up(self, doc: Value) -> Manager {
        let listen = |socket: TcpSocket| socket.listen(1024).expect("listen on the held port");
        Manager::serve_on(listen(self.manager), listen(self.realtime), doc)
    }
}

/// Which port of the stand-in.
#[derive(Clone, Copy)]
enum Side {
    Manager,
    Realtime,
}

/// A port of the stand-in: records every connection it accepts, and closes it at once while its
/// side is down.
struct Port {
    listener: TcpListener,
    shared: Shared,
    side: Side,
}

impl Listener for Port {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let (tcp, peer) = Listener::accept(&mut self.listener).await;
            self.shared.accepted(peer);
            let (down, dropped) = match self.side {
                Side::Manager => (&self.shared.manager_down, "DROPPED-HTTP"),
                Side::Realtime => (&self.shared.realtime_down, "DROPPED-WS"),
            };
            if !*down.borrow() {
                return (tcp, peer);
            }
            drop(tcp);
            self.shared.record(dropped, "", None);
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

fn serve(
    listener: TcpListener,
    router: Router,
    shared: &Shared,
    side: Side,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let addr = listener.local_addr().unwrap();
    let port = Port {
        listener,
        shared: shared.clone(),
        side,
    };
    let task = tokio::spawn(async move {
        let _ = axum::serve(port, router).await;
    });
    (addr, task)
}

/// Every answer of the manager closes its connection: a manager that goes down then refuses every
/// later request, as a restarted one does, instead of serving a kept-alive connection.
const CLOSE: [(axum::http::HeaderName, &str); 1] = [(CONNECTION, "close")];

async fn get_doc(State(shared): State<Shared>, uri: Uri) -> Response {
    shared.record("GET", uri.path(), None);
    let mut held = shared.hold_gets.subscribe();
    // Dropped with the stand-in (its tasks are aborted), so a held GET never outlives the test.
    let _ = held.wait_for(|hold| !hold).await;
    let doc = shared.state.lock().unwrap().doc.clone();
    (CLOSE, Json(doc)).into_response()
}

async fn patch_doc(State(shared): State<Shared>, uri: Uri, body: Json<Value>) -> Response {
    shared.record("PATCH", uri.path(), Some(body.0.clone()));
    let mut state = shared.state.lock().unwrap();
    if let Some((status, answer)) = state.patch_answers.pop_front() {
        return (status, CLOSE, Json(answer)).into_response();
    }
    // Like the manager: keep the config and schema, keep assignments already made.
    state.doc["config"] = body["config"].clone();
    state.doc["config_schema"] = body["config_schema"].clone();
    if state.doc["connectors"].is_null() {
        state.doc["connectors"] = body["connectors"].clone();
    }
    (StatusCode::OK, CLOSE, Json(state.doc.clone())).into_response()
}

async fn subscribe(State(shared): State<Shared>, uri: Uri, upgrade: WebSocketUpgrade) -> Response {
    if shared.state.lock().unwrap().refuse_realtime {
        shared.record("WS-REFUSED", uri.path(), None);
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let path = uri.path().to_string();
    upgrade.on_upgrade(move |socket| follow(shared, path, socket))
}

async fn follow(shared: Shared, path: String, mut socket: WebSocket) {
    let mut pushes = shared.pushes.subscribe();
    let mut down = shared.realtime_down.subscribe();
    // Recorded once subscribed to pushes, so that a test waiting for "WS" can push right away.
    shared.record("WS", &path, None);
    loop {
        tokio::select! {
            push = pushes.recv() => match push.as_deref() {
                Ok(Push::Text(text)) => {
                    if socket.send(Message::Text(text.clone().into())).await.is_err() {
                        return;
                    }
                }
                Ok(Push::Close) | Err(_) => {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
                Ok(Push::Freeze) => {
                    // Held, unread, until the service goes down or the client gives it up.
                    let _ = down.wait_for(|down| *down).await;
                    return;
                }
            },
            incoming = socket.recv() => if incoming.is_none() || matches!(incoming, Some(Err(_))) {
                return;
            },
            // Cut: the socket is dropped without a close frame, as a service that goes away does.
            () = async { let _ = down.wait_for(|down| *down).await; } => return,
        }
    }
}

/// A connectors block assigning `stack_id` to my-service's `MYSERVICE` connector (null: none).
pub fn my_service_block(stack_id: Option<&str>) -> Value {
    json!({
        "connectors": [{
            "type": "api",
            "label": "My Service",
            "config_id": "MYSERVICE",
            "stack_id": stack_id,
            "deployment_name": stack_id.map(|s| format!("deployment of {s}")),
        }],
        "array_connectors": null,
    })
}
