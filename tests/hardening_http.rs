//! The streamable HTTP transport against careless and hostile clients, over real TCP against the real
//! binary (tests/fixture-server): a flood of `initialize` requests, the session cap and the idle
//! timeout, `DELETE` of a session (raw, and with the Python `mcp` client when Python is there), slow
//! headers, slow bodies, oversized bodies and many idle connections; during each attack another
//! client keeps being served.

use std::time::Duration;

use cm_test_support::{
    HttpProcess, INITIALIZE, TIMEOUT, bounded, python_with_mcp, run_python, service_missing, within,
};
use futures::StreamExt as _;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

/// One reqwest client for many requests (each `cm_test_support::post` builds its own).
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .expect("build an HTTP client")
}

/// A raw MCP POST of `body`, in `session` when given.
fn mcp_post(
    http: &reqwest::Client,
    url: &str,
    session: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> reqwest::RequestBuilder {
    let mut request = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .body(body);
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    request
}

/// Opens a session with raw HTTP (protocol 2025-06-18, which has sessions); returns its id.
async fn open_session(http: &reqwest::Client, url: &str) -> String {
    let response = mcp_post(http, url, None, INITIALIZE).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let id = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    response.bytes().await.unwrap();
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let response = mcp_post(http, url, Some(&id), initialized)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    id
}

/// `parse_number` called in `session`: the HTTP status, and the tool's text when it answered.
async fn call_in(http: &reqwest::Client, url: &str, session: &str, n: u32) -> (u16, String) {
    let call = json!({"jsonrpc":"2.0","id":7,"method":"tools/call",
        "params":{"name":"parse_number","arguments":{"text": n.to_string()}}});
    let response = mcp_post(http, url, Some(session), call.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    let text = body
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find_map(|message| {
            message["result"]["content"][0]["text"]
                .as_str()
                .map(String::from)
        })
        .unwrap_or(body);
    (status, text)
}

/// Another client, served while an attack goes on: a session of its own and a call in it.
async fn bystander_is_served(url: &str) {
    let http = http();
    within("a bystander's session and call", async {
        let session = open_session(&http, url).await;
        assert_eq!(
            call_in(&http, url, &session, 5).await,
            (200, "parsed 5".to_string())
        );
    })
    .await;
}

/// The server's resident memory, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read its status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status");
    kib / 1024.0
}

/// The TCP connections the process holds open on its port `port` (accepted; those waiting in its
/// listen backlog are not its yet): its sockets' inodes, looked up in the kernel's table of
/// established connections. Only those on `port`: a connection the server opens itself is not one
/// a client holds. Neither the lists nor the table are read at one instant: the process's sockets
/// are listed before and after the table is read and only those in both count (else a socket closed
/// and another accepted in between would both count), and each socket counts once, for the kernel
/// writes its table in pieces and, as connections come and go, can repeat a row across two reads.
fn connections(pid: u32, port: u16) -> usize {
    let local_port = format!(":{port:04X}");
    let sockets = || -> std::collections::HashSet<String> {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .expect("list its file descriptors")
            .filter_map(Result::ok)
            .filter_map(|fd| {
                let target = std::fs::read_link(fd.path()).ok()?;
                let target = target.to_string_lossy();
                Some(
                    target
                        .strip_prefix("socket:[")?
                        .strip_suffix(']')?
                        .to_string(),
                )
            })
            .collect()
    };
    let before = sockets();
    let tables: Vec<String> = ["tcp", "tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).ok())
        .collect();
    let after = sockets();
    let established: std::collections::HashSet<&str> = tables
        .iter()
        .flat_map(|table| table.lines().skip(1))
        .map(|row| row.split_whitespace().collect::<Vec<_>>())
        // Column 1 is the local address (hex `IP:PORT`), 3 the state (01: established), 9 the inode.
        .filter(|row| {
            row.len() > 9
                && row[1].ends_with(&local_port)
                && row[3] == "01"
                && before.contains(row[9])
                && after.contains(row[9])
        })
        .map(|row| row[9])
        .collect();
    established.len()
}

/// The JSON-RPC error message of a refusal, after checking its shape, and the id it answers.
async fn refusal(response: reqwest::Response) -> (String, Value) {
    let body = cm_test_support::json_body(response).await;
    assert_eq!(body["jsonrpc"], "2.0", "{body}");
    assert!(body["error"]["code"].is_i64(), "{body}");
    let message = body["error"]["message"].as_str().expect("a message");
    (message.to_string(), body["id"].clone())
}

#[tokio::test]
async fn a_flood_of_initialize_requests_leaves_memory_bounded_and_old_sessions_working() {
    bounded(
        "a_flood_of_initialize_requests_leaves_memory_bounded_and_old_sessions_working",
        async {
            // The defaults: what an operator who set nothing gets.
            let server = HttpProcess::start("fixture-server", &[], &[]).await;
            let url = server.mcp_url();
            let http = http();
            let old = open_session(&http, &url).await;

            let statuses: Vec<u16> = futures::stream::iter(0..20_000)
                .map(|_| {
                    let (http, url) = (http.clone(), url.clone());
                    async move {
                        let response = mcp_post(&http, &url, None, INITIALIZE)
                            .send()
                            .await
                            .unwrap();
                        let status = response.status().as_u16();
                        response.bytes().await.unwrap();
                        status
                    }
                })
                .buffer_unordered(8)
                .collect()
                .await;
            let opened = statuses.iter().filter(|s| **s == 200).count();
            let refused = statuses.iter().filter(|s| **s == 503).count();
            let rss = rss_mib(server.pid());
            eprintln!("{opened} sessions opened, {refused} refused; RSS {rss:.1} MiB");
            assert!(rss < 100.0, "RSS {rss:.1} MiB after the flood");
            assert_eq!(
                opened + refused,
                statuses.len(),
                "other statuses: {statuses:?}"
            );
            assert!(
                opened < 1000,
                "{opened} sessions opened beside the old one: the default cap is 1000"
            );
            assert_eq!(
                call_in(&http, &url, &old, 42).await,
                (200, "parsed 42".to_string()),
                "the session opened before the flood"
            );
        },
    )
    .await;
}

#[tokio::test]
async fn sessions_beyond_the_cap_are_refused_with_503_naming_the_limit() {
    bounded(
        "sessions_beyond_the_cap_are_refused_with_503_naming_the_limit",
        async {
            let server = HttpProcess::start("fixture-server", &["--max-sessions", "2"], &[]).await;
            let url = server.mcp_url();
            let http = http();
            let first = open_session(&http, &url).await;
            let _second = open_session(&http, &url).await;

            let refused = mcp_post(&http, &url, None, INITIALIZE)
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status(), 503);
            let (message, id) = refusal(refused).await;
            assert_eq!(id, 1, "the refusal answers the initialize request");
            for needle in ["2 live sessions", "--max-sessions", "MCP_MAX_SESSIONS"] {
                assert!(message.contains(needle), "{needle} is not in: {message}");
            }
            server
                .logs
                .wait_for("the refusal's warning", |v| {
                    v["event_type"] == "mcp.session.refused" && v["data"]["max_sessions"] == 2
                })
                .await;

            // The sessions there are unaffected, and closing one makes room.
            assert_eq!(call_in(&http, &url, &first, 1).await.0, 200);
            let closed = http
                .delete(&url)
                .header("mcp-session-id", &first)
                .send()
                .await
                .unwrap();
            assert_eq!(closed.status(), 204);
            open_session(&http, &url).await;
        },
    )
    .await;
}

#[tokio::test]
async fn the_cap_and_its_env_variable_count_only_live_sessions() {
    bounded(
        "the_cap_and_its_env_variable_count_only_live_sessions",
        async {
            let server =
                HttpProcess::start("fixture-server", &[], &[("MCP_MAX_SESSIONS", "1")]).await;
            let url = server.mcp_url();
            let http = http();
            // Open and close many more sessions than the cap: each close gives its place back.
            for _ in 0..5 {
                let session = open_session(&http, &url).await;
                let closed = http
                    .delete(&url)
                    .header("mcp-session-id", &session)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(closed.status(), 204);
            }
            let _held = open_session(&http, &url).await;
            let refused = mcp_post(&http, &url, None, INITIALIZE)
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status(), 503);
        },
    )
    .await;
}

#[tokio::test]
async fn an_idle_session_expires_and_its_id_is_answered_404() {
    bounded(
        "an_idle_session_expires_and_its_id_is_answered_404",
        async {
            // One place: a new session can only open once the idle one has expired and given it back
            // (asking the idle session itself would keep it alive).
            let server = HttpProcess::start(
                "fixture-server",
                &["--session-idle-timeout", "0.5", "--max-sessions", "1"],
                &[],
            )
            .await;
            let url = server.mcp_url();
            let http = http();
            let idle = open_session(&http, &url).await;

            let deadline = tokio::time::Instant::now() + TIMEOUT;
            let replacement = loop {
                let response = mcp_post(&http, &url, None, INITIALIZE)
                    .send()
                    .await
                    .unwrap();
                match response.status().as_u16() {
                    200 => break response.headers()["mcp-session-id"].clone(),
                    503 => {
                        assert!(
                            tokio::time::Instant::now() < deadline,
                            "the idle session never expired"
                        );
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    other => panic!("initialize answered {other}"),
                }
            };
            assert_ne!(replacement.to_str().unwrap(), idle);

            let (status, body) = call_in(&http, &url, &idle, 1).await;
            assert_eq!(status, 404, "{body}");
            let gone = http
                .delete(&url)
                .header("mcp-session-id", &idle)
                .send()
                .await
                .unwrap();
            assert_eq!(gone.status(), 404);
        },
    )
    .await;
}

#[tokio::test]
async fn delete_of_a_session_is_answered_204_and_the_session_is_gone() {
    bounded(
        "delete_of_a_session_is_answered_204_and_the_session_is_gone",
        async {
            let server = HttpProcess::start("fixture-server", &[], &[]).await;
            let url = server.mcp_url();
            let http = http();
            let session = open_session(&http, &url).await;
            let closed = http
                .delete(&url)
                .header("mcp-session-id", &session)
                .header("mcp-protocol-version", "2025-06-18")
                .send()
                .await
                .unwrap();
            assert_eq!(closed.status(), 204);
            assert_eq!(call_in(&http, &url, &session, 1).await.0, 404);
            let again = http
                .delete(&url)
                .header("mcp-session-id", &session)
                .send()
                .await
                .unwrap();
            assert_eq!(again.status(), 404, "a session closed already");
        },
    )
    .await;
}

/// Opens a session with the Python SDK's streamable HTTP client, calls a tool, and leaves (which
/// sends `DELETE`).
const PYTHON_CLIENT: &str = r#"
import asyncio, sys
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

async def main(url):
    async with streamable_http_client(url) as (read, write, *_):
        async with ClientSession(read, write) as session:
            await session.initialize()
            result = await session.call_tool("parse_number", {"text": "7"})
            print("RESULT", result.content[0].text, flush=True)

asyncio.run(main(sys.argv[1]))
"#;

#[tokio::test]
async fn the_python_mcp_client_ends_its_session_without_complaint() {
    bounded(
        "the_python_mcp_client_ends_its_session_without_complaint",
        async {
            let test = "the_python_mcp_client_ends_its_session_without_complaint";
            let python = match tokio::task::spawn_blocking(python_with_mcp).await.unwrap() {
                Ok(python) => python,
                Err(why) => return service_missing(test, "Python with the mcp package", why),
            };
            let server = HttpProcess::start("fixture-server", &[], &[]).await;
            let (lines, stderr) = run_python(&python, PYTHON_CLIENT, &[&server.mcp_url()]).await;
            let stdout = lines.join("\n");
            assert!(stdout.contains("RESULT parsed 7"), "{stdout}\n{stderr}");
            assert!(
                !stdout.contains("termination failed") && !stderr.contains("termination failed"),
                "{stdout}\n{stderr}"
            );
        },
    )
    .await;
}

/// Reads from `tcp` until the server closes it; meanwhile, when `trickle` is given, writes it a byte
/// every 100 ms, as a slowloris client does to look alive. Returns what the server sent.
async fn until_closed(tcp: &mut TcpStream, trickle: Option<&[u8]>) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut sent = 0;
    loop {
        tokio::select! {
            read = tcp.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return received,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            },
            _ = tick.tick(), if trickle.is_some_and(|t| sent < t.len()) => {
                let byte = trickle.unwrap()[sent];
                sent += 1;
                if tcp.write_all(&[byte]).await.is_err() {
                    return received;
                }
            }
        }
    }
}

#[tokio::test]
async fn slow_headers_are_cut_off_while_other_clients_are_served() {
    bounded(
        "slow_headers_are_cut_off_while_other_clients_are_served",
        async {
            let server =
                HttpProcess::start("fixture-server", &["--header-read-timeout", "1"], &[]).await;
            let address = server.base.trim_start_matches("http://").to_string();
            let mut attackers = Vec::new();
            for _ in 0..20 {
                let mut tcp = TcpStream::connect(&address).await.unwrap();
                tcp.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                    .await
                    .unwrap();
                attackers.push(tcp);
            }
            bystander_is_served(&server.mcp_url()).await;
            // Headers that never end: a byte every 100 ms, many more than the timeout allows.
            let trickle = "X-Slow: ".repeat(100).into_bytes();
            within("the server cutting off the slow headers", async {
                futures::future::join_all(
                    attackers
                        .iter_mut()
                        .map(|tcp| until_closed(tcp, Some(&trickle))),
                )
                .await
            })
            .await;
        },
    )
    .await;
}

#[tokio::test]
async fn slow_bodies_are_answered_408_naming_the_limit_while_other_clients_are_served() {
    bounded(
        "slow_bodies_are_answered_408_naming_the_limit_while_other_clients_are_served",
        async {
            let server =
                HttpProcess::start("fixture-server", &[], &[("MCP_BODY_READ_TIMEOUT", "1")]).await;
            let address = server.base.trim_start_matches("http://").to_string();
            let mut attackers = Vec::new();
            for _ in 0..20 {
                let mut tcp = TcpStream::connect(&address).await.unwrap();
                tcp.write_all(
                    b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                      Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{",
                )
                .await
                .unwrap();
                attackers.push(tcp);
            }
            bystander_is_served(&server.mcp_url()).await;
            let trickle = " ".repeat(999).into_bytes();
            let answers = within("the server answering the slow bodies", async {
                futures::future::join_all(
                    attackers
                        .iter_mut()
                        .map(|tcp| until_closed(tcp, Some(&trickle))),
                )
                .await
            })
            .await;
            for answer in answers {
                let answer = String::from_utf8_lossy(&answer);
                assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
                for needle in ["--body-read-timeout", "MCP_BODY_READ_TIMEOUT", "1 s"] {
                    assert!(answer.contains(needle), "{needle} is not in: {answer}");
                }
            }
        },
    )
    .await;
}

#[tokio::test]
async fn oversized_bodies_are_answered_413_naming_the_limit() {
    bounded(
        "oversized_bodies_are_answered_413_naming_the_limit",
        async {
            let server =
                HttpProcess::start("fixture-server", &["--max-body-bytes", "1000"], &[]).await;
            let url = server.mcp_url();
            let http = http();
            let session = open_session(&http, &url).await;
            let call = |text: String| {
                json!({"jsonrpc":"2.0","id":3,"method":"tools/call",
                "params":{"name":"parse_number","arguments":{"text": text}}})
                .to_string()
            };
            let big = call(" ".repeat(2000) + "1");

            // Declared with Content-Length, and streamed without one (chunked).
            let declared = mcp_post(&http, &url, Some(&session), big.clone());
            let chunks = futures::stream::iter(
                big.clone()
                    .into_bytes()
                    .chunks(100)
                    .map(|c| {
                        Ok::<_, std::io::Error>(http_body::Frame::data(
                            axum::body::Bytes::copy_from_slice(c),
                        ))
                    })
                    .collect::<Vec<_>>(),
            );
            let streamed = mcp_post(
                &http,
                &url,
                Some(&session),
                reqwest::Body::wrap(http_body_util::StreamBody::new(chunks)),
            );
            for request in [declared, streamed] {
                let response = request.send().await.unwrap();
                assert_eq!(response.status(), 413);
                let (message, _) = refusal(response).await;
                for needle in ["1000 bytes", "--max-body-bytes", "MCP_MAX_BODY_BYTES"] {
                    assert!(message.contains(needle), "{needle} is not in: {message}");
                }
            }
            // Under the limit, the same session is served.
            let (status, text) = call_in(&http, &url, &session, 9).await;
            assert_eq!((status, text.as_str()), (200, "parsed 9"));
        },
    )
    .await;
}

#[tokio::test]
async fn idle_connections_are_bounded_while_other_clients_are_served() {
    bounded(
        "idle_connections_are_bounded_while_other_clients_are_served",
        async {
            let max = 8;
            let server = HttpProcess::start(
                "fixture-server",
                &[
                    "--max-connections",
                    &max.to_string(),
                    "--header-read-timeout",
                    "1",
                ],
                &[],
            )
            .await;
            let pid = server.pid();
            let address = server.base.trim_start_matches("http://").to_string();
            let port: u16 = address
                .rsplit(':')
                .next()
                .and_then(|port| port.parse().ok())
                .expect("the server's port");
            let mut idle = Vec::new();
            for _ in 0..4 * max {
                idle.push(TcpStream::connect(&address).await.unwrap());
            }
            // While the bystander waits its turn, the server never holds more than its limit.
            let url = server.mcp_url();
            let bystander = tokio::spawn(async move { bystander_is_served(&url).await });
            let mut most = 0;
            while !bystander.is_finished() {
                most = most.max(connections(pid, port));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            bystander.await.expect("the bystander was served");
            assert!(most > 0, "the count of connections sees none");
            assert!(most <= max, "the server held {most} connections");
            within("the server closing the idle connections", async {
                futures::future::join_all(idle.iter_mut().map(|tcp| until_closed(tcp, None))).await
            })
            .await;
        },
    )
    .await;
}

#[tokio::test]
async fn help_names_every_limit_with_its_variable_and_bad_values_are_refused() {
    bounded(
        "help_names_every_limit_with_its_variable_and_bad_values_are_refused",
        async {
            let mut help = cm_test_support::command("fixture-server");
            help.arg("--help");
            let output = cm_test_support::run_to_end(help).await;
            assert!(output.status.success());
            let text = String::from_utf8_lossy(&output.stdout);
            for (flag, variable) in [
                ("--max-sessions", "MCP_MAX_SESSIONS"),
                ("--session-idle-timeout", "MCP_SESSION_IDLE_TIMEOUT"),
                ("--max-body-bytes", "MCP_MAX_BODY_BYTES"),
                ("--header-read-timeout", "MCP_HEADER_READ_TIMEOUT"),
                ("--body-read-timeout", "MCP_BODY_READ_TIMEOUT"),
                ("--max-connections", "MCP_MAX_CONNECTIONS"),
            ] {
                assert!(text.contains(flag), "{flag} is not in --help:\n{text}");
                assert!(
                    text.contains(variable),
                    "{variable} is not in --help:\n{text}"
                );
            }

            let mut zero = cm_test_support::command("fixture-server");
            zero.args(["--max-sessions", "0"]);
            let output = cm_test_support::run_to_end(zero).await;
            assert_eq!(output.status.code(), Some(2));
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains("--max-sessions") && stderr.contains("not a positive whole number"),
                "{stderr}"
            );
        },
    )
    .await;
}
