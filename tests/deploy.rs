//! What `deploy/` promises, checked against the server it deploys: the Kubernetes manifests of
//! `deploy/kubernetes` (replicas, ports, probes on `/health`, the shared-state variables from the
//! Secret, graceful termination longer than the drain, the Service and the disruption budget
//! selecting the Deployment's pods, the kustomization listing every manifest), with every variable
//! name taken from the server itself so that a renamed variable fails here; and the nginx template
//! of `deploy/nginx`, accepted by `nginx -t` and run for real in front of `everything` replicas:
//! round-robin, a replica that is down skipped, event streams passed through as they are written.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    sync::OnceLock,
};

use cm_test_support::{
    HeldPort, HttpProcess, Nginx, NginxConfig, TIMEOUT, bounded, command, nginx_or_skip,
    refused_to_start, run_to_end, within,
};
use serde_json::{Map, Value, json};
use yaml_rust2::{Yaml, YamlLoader};

/// `deploy/kubernetes`.
fn manifests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes")
}

/// The one YAML document of `deploy/kubernetes/<name>`, as JSON.
fn manifest(name: &str) -> Value {
    let path = manifests_dir().join(name);
    let text =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let documents = YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
    assert_eq!(
        documents.len(),
        1,
        "{} must hold one document",
        path.display()
    );
    to_json(&documents[0], name)
}

/// A YAML node as JSON: strings stay strings and numbers numbers, so that a test can tell
/// `value: "10"` (what Kubernetes requires of an environment variable) from `value: 10`.
fn to_json(node: &Yaml, file: &str) -> Value {
    match node {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => json!(i),
        Yaml::Real(text) => json!(
            node.as_f64()
                .unwrap_or_else(|| panic!("{file}: `{text}` is not a number"))
        ),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(items) => Value::Array(items.iter().map(|item| to_json(item, file)).collect()),
        Yaml::Hash(entries) => Value::Object(
            entries
                .iter()
                .map(|(key, value)| {
                    let key = key
                        .as_str()
                        .unwrap_or_else(|| panic!("{file}: a key that is not a string: {key:?}"));
                    (key.to_string(), to_json(value, file))
                })
                .collect::<Map<String, Value>>(),
        ),
        Yaml::Alias(_) | Yaml::BadValue => panic!("{file}: unsupported YAML node {node:?}"),
    }
}

fn deployment() -> Value {
    let deployment = manifest("deployment.yaml");
    assert_eq!(
        (&deployment["apiVersion"], &deployment["kind"]),
        (&json!("apps/v1"), &json!("Deployment"))
    );
    deployment
}

/// The Deployment's one container.
fn container(deployment: &Value) -> &Value {
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("the pod template has containers");
    assert_eq!(containers.len(), 1, "one container: {containers:?}");
    &containers[0]
}

/// The container's environment variable `name`, if it sets it.
fn env_var<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    container["env"]
        .as_array()?
        .iter()
        .find(|var| var["name"] == name)
}

/// The container's literal value of `name`, if it sets one.
fn env_value<'a>(container: &'a Value, name: &str) -> Option<&'a str> {
    env_var(container, name).and_then(|var| var["value"].as_str())
}

/// Whether every key of `selector` is a label of `labels` with the same value (and there is one).
fn selects(selector: &Value, labels: &Value) -> bool {
    let selector = selector.as_object().expect("a selector is a map");
    !selector.is_empty() && selector.iter().all(|(key, value)| &labels[key] == value)
}

/// `everything --help`, run once: clap lists each flag's variable (`[env: MCP_PORT=]`) and
/// default (`[default: 8080]`), as the binary reads them.
async fn help() -> &'static str {
    static HELP: OnceLock<String> = OnceLock::new();
    if let Some(help) = HELP.get() {
        return help;
    }
    let mut everything = command("everything");
    everything.arg("--help");
    let output = run_to_end(everything).await;
    assert!(output.status.success(), "everything --help: {output:?}");
    HELP.get_or_init(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The default clap shows in `help` for the flag whose variable is `variable`.
fn help_default(help: &str, variable: &str) -> String {
    let (_, after) = help
        .split_once(&format!("[env: {variable}="))
        .unwrap_or_else(|| panic!("`--help` names no flag read from {variable}:\n{help}"));
    // The flag's own lines end where the next flag's begin.
    after
        .lines()
        .take_while(|line| !line.trim_start().starts_with('-'))
        .find_map(|line| line.trim().strip_prefix("[default: ")?.strip_suffix(']'))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("`--help` shows no default for {variable}:\n{help}"))
}

/// Every string literal of the runtime's source (`mcp-runtime/src`) that looks like a variable
/// name: where the variables read without clap are named (`"MCP_STATE_KEY"`).
fn runtime_variable_literals() -> BTreeSet<String> {
    fn walk(dir: &Path, found: &mut BTreeSet<String>) {
        for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = fs::read_to_string(&path).unwrap();
                for literal in text.split('"').skip(1).step_by(2) {
                    if !literal.is_empty()
                        && literal
                            .chars()
                            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                        && literal.starts_with(|c: char| c.is_ascii_uppercase())
                    {
                        found.insert(literal.to_string());
                    }
                }
            }
        }
    }
    let mut found = BTreeSet::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("mcp-runtime/src"),
        &mut found,
    );
    found
}

/// Whether the server reads `variable`: clap lists it in `--help`, or the runtime names it in a
/// string literal of its own (the variables it reads with `std::env::var`).
async fn server_reads(variable: &str) -> bool {
    help().await.contains(&format!("[env: {variable}="))
        || runtime_variable_literals().contains(variable)
}

#[test]
fn the_deployment_runs_three_replicas_serving_http_on_port_8080() {
    let deployment = deployment();
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 3);
    let labels = &spec["template"]["metadata"]["labels"];
    assert!(
        selects(&spec["selector"]["matchLabels"], labels),
        "the Deployment's selector {} does not select its own pods {labels}",
        spec["selector"]
    );
    let container = container(&deployment);
    let ports = container["ports"]
        .as_array()
        .expect("the container's ports");
    assert_eq!(
        ports.as_slice(),
        &[json!({"name": "http", "containerPort": 8080, "protocol": "TCP"})]
    );
    assert!(
        container["image"].as_str().is_some_and(|i| !i.is_empty()),
        "{container}"
    );
}

#[tokio::test]
async fn the_server_listens_on_the_container_port() {
    bounded("the_server_listens_on_the_container_port", async {
        let deployment = deployment();
        let container = container(&deployment);
        // Set in the Deployment, or the server's default, which the Deployment then relies on.
        let port = match env_value(container, "MCP_PORT") {
            Some(port) => port.to_string(),
            None => help_default(help().await, "MCP_PORT"),
        };
        assert_eq!(port, container["ports"][0]["containerPort"].to_string());
        assert_eq!(port, "8080", "a ConfidentialMind stack requires port 8080");
    })
    .await;
}

#[test]
fn readiness_and_liveness_ask_health_on_the_http_port() {
    let deployment = deployment();
    let container = container(&deployment);
    for probe in ["readinessProbe", "livenessProbe"] {
        let probe_spec = &container[probe];
        assert_eq!(
            probe_spec["httpGet"],
            json!({"path": "/health", "port": "http"}),
            "{probe}: {probe_spec}"
        );
        let period = probe_spec["periodSeconds"].as_i64().expect("periodSeconds");
        let timeout = probe_spec["timeoutSeconds"]
            .as_i64()
            .expect("timeoutSeconds");
        assert!(
            timeout >= 1 && timeout < period,
            "{probe}: a timeout ({timeout} s) within the period ({period} s)"
        );
        assert!(
            probe_spec["failureThreshold"]
                .as_i64()
                .is_some_and(|n| n >= 2),
            "{probe}: one slow answer must not take a replica out: {probe_spec}"
        );
    }
    // A liveness failure restarts the container: it must be slower to conclude than readiness.
    let seconds_to_fail = |probe: &str| {
        container[probe]["periodSeconds"].as_i64().unwrap()
            * container[probe]["failureThreshold"].as_i64().unwrap()
    };
    assert!(seconds_to_fail("livenessProbe") > seconds_to_fail("readinessProbe"));
}

#[tokio::test]
async fn pods_are_given_longer_to_stop_than_the_pause_before_sigterm_plus_the_drain() {
    bounded(
        "pods_are_given_longer_to_stop_than_the_pause_before_sigterm_plus_the_drain",
        async {
            let deployment = deployment();
            let container = container(&deployment);
            let grace_period = deployment["spec"]["template"]["spec"]
                ["terminationGracePeriodSeconds"]
                .as_f64()
                .expect("terminationGracePeriodSeconds is set");
            let pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
                .as_f64()
                .expect("a preStop sleep, so that the pod leaves the endpoints before SIGTERM");
            assert!(pause >= 1.0, "{pause}");
            let drain: f64 = match env_value(container, "MCP_SHUTDOWN_GRACE") {
                Some(drain) => drain.to_string(),
                None => help_default(help().await, "MCP_SHUTDOWN_GRACE"),
            }
            .parse()
            .expect("MCP_SHUTDOWN_GRACE is a number of seconds");
            assert!(
                grace_period > pause + drain,
                "terminationGracePeriodSeconds ({grace_period}) must exceed the preStop pause ({pause}) plus MCP_SHUTDOWN_GRACE ({drain}), or calls are killed mid-drain"
            );
        },
    )
    .await;
}

#[tokio::test]
async fn the_shared_state_variables_come_from_the_example_secret() {
    bounded(
        "the_shared_state_variables_come_from_the_example_secret",
        async {
            let secret = manifest("secret.example.yaml");
            assert_eq!(
                (&secret["apiVersion"], &secret["kind"]),
                (&json!("v1"), &json!("Secret"))
            );
            let secret_name = secret["metadata"]["name"].as_str().expect("a name");
            let deployment = deployment();
            let container = container(&deployment);
            let mut unread = Vec::new();
            for variable in ["MCP_REDIS_URL", "MCP_STATE_KEY"] {
                let var = env_var(container, variable)
                    .unwrap_or_else(|| panic!("the Deployment does not set {variable}"));
                assert_eq!(
                    var["valueFrom"]["secretKeyRef"],
                    json!({"name": secret_name, "key": variable}),
                    "{variable} must come from the Secret {secret_name}, key {variable}: {var}"
                );
                assert!(
                    secret["stringData"][variable].is_string(),
                    "the example Secret shows no {variable}: {secret}"
                );
                if !server_reads(variable).await {
                    unread.push(variable);
                }
            }
            assert!(
                unread.is_empty(),
                "the server does not read {unread:?} (neither `everything --help` nor mcp-runtime/src names them): the manifests and the README name variables the server ignores"
            );
        },
    )
    .await;
}

#[tokio::test]
async fn every_variable_the_deployment_sets_is_one_the_server_reads() {
    bounded(
        "every_variable_the_deployment_sets_is_one_the_server_reads",
        async {
            let deployment = deployment();
            let container = container(&deployment);
            let vars = container["env"].as_array().expect("the container's env");
            let mut unread = Vec::new();
            for (index, var) in vars.iter().enumerate() {
                let name = var["name"].as_str().expect("a variable's name");
                if let Some(value) = var.get("value") {
                    assert!(
                        value.is_string(),
                        "{name}: Kubernetes requires a string value, got {value}"
                    );
                }
                // A variable only there to be expanded into a later one, `$(POD_NAMESPACE)`.
                let expanded = vars[index + 1..].iter().any(|later| {
                    later["value"]
                        .as_str()
                        .is_some_and(|v| v.contains(&format!("$({name})")))
                });
                if !expanded && !server_reads(name).await {
                    unread.push(name);
                }
            }
            assert!(
                unread.is_empty(),
                "the Deployment sets {unread:?}, which the server does not read (neither `everything --help` nor mcp-runtime/src names them)"
            );
        },
    )
    .await;
}

#[tokio::test]
async fn the_example_secrets_placeholder_key_is_refused_and_a_key_made_as_it_says_is_accepted() {
    bounded(
        "the_example_secrets_placeholder_key_is_refused_and_a_key_made_as_it_says_is_accepted",
        async {
            let secret = manifest("secret.example.yaml");
            let placeholder = secret["stringData"]["MCP_STATE_KEY"].as_str().unwrap();
            let mut server = command("everything");
            server
                .args(["--host", "127.0.0.1", "--port", "0"])
                .env("MCP_STATE_KEY", placeholder);
            let refusal = refused_to_start(server).await;
            assert_eq!(refusal["data"]["variable"], "MCP_STATE_KEY", "{refusal}");
            assert!(
                !refusal.to_string().contains(placeholder),
                "the value is repeated: {refusal}"
            );

            // `openssl rand -hex 32` prints 64 hex digits.
            let key = "8f0e4c2a9b7d61538e2f0a4c6b8d0e1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b";
            let server = HttpProcess::start("everything", &[], &[("MCP_STATE_KEY", key)]).await;
            assert!(
                server.logs.of_type("service.init.state_key").is_empty(),
                "the server took a random key instead:\n{}",
                server.logs.dump()
            );
        },
    )
    .await;
}

#[test]
fn the_service_sends_port_8080_to_the_pods_http_port() {
    let service = manifest("service.yaml");
    assert_eq!(
        (&service["apiVersion"], &service["kind"]),
        (&json!("v1"), &json!("Service"))
    );
    let spec = &service["spec"];
    assert!(
        spec["type"].is_null() || spec["type"] == "ClusterIP",
        "{spec}"
    );
    assert!(
        spec["sessionAffinity"].is_null() || spec["sessionAffinity"] == "None",
        "no stickiness: {spec}"
    );
    let ports = spec["ports"].as_array().expect("the Service's ports");
    assert_eq!(ports.len(), 1, "{ports:?}");
    assert_eq!(ports[0]["port"], 8080);
    let deployment = deployment();
    let container = container(&deployment);
    let target = &ports[0]["targetPort"];
    assert!(
        container["ports"]
            .as_array()
            .unwrap()
            .iter()
            .any(
                |port| (&port["name"] == target || &port["containerPort"] == target)
                    && port["containerPort"] == 8080
            ),
        "targetPort {target} is not the container's port 8080"
    );
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert!(
        selects(&spec["selector"], labels),
        "the Service's selector {} does not select the Deployment's pods {labels}",
        spec["selector"]
    );
}

#[test]
fn the_disruption_budget_keeps_all_but_one_replica_of_the_deployment() {
    let budget = manifest("pdb.yaml");
    assert_eq!(
        (&budget["apiVersion"], &budget["kind"]),
        (&json!("policy/v1"), &json!("PodDisruptionBudget"))
    );
    let spec = &budget["spec"];
    assert!(
        spec["maxUnavailable"] == 1 || spec["minAvailable"] == 2,
        "maxUnavailable 1 or minAvailable 2: {spec}"
    );
    let deployment = deployment();
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert!(
        selects(&spec["selector"]["matchLabels"], labels),
        "the budget's selector {} does not select the Deployment's pods {labels}",
        spec["selector"]
    );
}

#[test]
fn the_kustomization_lists_every_manifest_but_the_example_secret() {
    let kustomization = manifest("kustomization.yaml");
    assert_eq!(kustomization["kind"], "Kustomization");
    let listed: BTreeSet<String> = kustomization["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r.as_str().expect("a file name").to_string())
        .collect();
    let mut manifests = BTreeSet::new();
    for entry in fs::read_dir(manifests_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            name.ends_with(".yaml"),
            "{name}: deploy/kubernetes holds YAML manifests only"
        );
        // Applying the example would overwrite the real Secret with its placeholders.
        if name != "kustomization.yaml" && !name.ends_with(".example.yaml") {
            manifests.insert(name);
        }
    }
    assert_eq!(listed, manifests);
    assert!(listed.contains("deployment.yaml"), "{listed:?}");
}

#[test]
fn nginx_accepts_the_rendered_template() {
    let Some(nginx) = nginx_or_skip("nginx_accepts_the_rendered_template") else {
        return;
    };
    let unused = HeldPort::new();
    let config = NginxConfig::render(&unused.address(), &[8081, 8082, 8083]);
    let text = config.text();
    for upstream in ["8081", "8082", "8083"] {
        assert!(
            text.contains(&format!("server 127.0.0.1:{upstream};")),
            "{text}"
        );
    }
    let output = config
        .check(&nginx)
        .unwrap_or_else(|error| panic!("{error}\nconfiguration:\n{text}"));
    assert!(output.contains("test is successful"), "{output}");
}

/// The port of a server started by [`HttpProcess`] (`http://127.0.0.1:PORT`).
fn port_of(server: &HttpProcess) -> u16 {
    server
        .base
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {}", server.base))
}

/// A request of protocol 2026-07-28 (no session: the version, the client and its capabilities in
/// `_meta`), with the headers that revision requires.
fn request_2026(url: &str, id: u64, method: &str, mut params: Value) -> reqwest::RequestBuilder {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "deploy-test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    let mut request = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method);
    if let Some(name) = params["name"].as_str() {
        request = request.header("mcp-name", name);
    }
    request.json(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
}

/// The JSON-RPC messages of a whole answer, JSON or an event stream.
fn messages(text: &str) -> Vec<Value> {
    if text.trim_start().starts_with('{') {
        return vec![serde_json::from_str(text).unwrap()];
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(str::trim)
        .filter(|data| !data.is_empty())
        .map(|data| serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}")))
        .collect()
}

#[tokio::test]
async fn nginx_sends_requests_to_each_replica_in_turn() {
    bounded("nginx_sends_requests_to_each_replica_in_turn", async {
        if nginx_or_skip("nginx_sends_requests_to_each_replica_in_turn").is_none() {
            return;
        }
        let first = HttpProcess::start("everything", &[], &[]).await;
        let second = HttpProcess::start("everything", &[], &[]).await;
        let ports = [port_of(&first), port_of(&second)];
        let nginx = Nginx::round_robin(&ports);
        let http = reqwest::Client::builder().timeout(TIMEOUT).build().unwrap();

        for _ in 0..2 {
            let health = http
                .get(format!("{}/health", nginx.url()))
                .send()
                .await
                .unwrap();
            assert_eq!(health.status(), 200);
            let health: Value = health.json().await.unwrap();
            assert_eq!(health["status"], "healthy", "{health}");
            // Through /mcp, with the client's Host (127.0.0.1), which the replicas accept.
            let answer = request_2026(&nginx.mcp_url(), 1, "tools/list", json!({}))
                .timeout(TIMEOUT)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200, "{}", nginx.logs());
            let answer = messages(&answer.text().await.unwrap());
            assert!(
                answer[0]["result"]["tools"]
                    .as_array()
                    .is_some_and(|tools| !tools.is_empty()),
                "{answer:?}"
            );
        }

        let used = nginx.upstreams_used();
        let expected: Vec<String> = [ports[0], ports[1]]
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        assert_eq!(used.len(), 4, "{}", nginx.logs());
        // Round-robin from wherever it starts: each request to the replica the previous did not use.
        for pair in used.windows(2) {
            assert_ne!(pair[0], pair[1], "{}", nginx.logs());
        }
        for address in &used {
            assert!(expected.contains(address), "{}", nginx.logs());
        }
    })
    .await;
}

#[tokio::test]
async fn nginx_sends_a_call_refused_by_a_replica_that_is_down_to_another() {
    bounded(
        "nginx_sends_a_call_refused_by_a_replica_that_is_down_to_another",
        async {
            if nginx_or_skip("nginx_sends_a_call_refused_by_a_replica_that_is_down_to_another")
                .is_none()
            {
                return;
            }
            let up = HttpProcess::start("everything", &[], &[]).await;
            // Bound, not listening: connections to it are refused, as to a replica that died.
            let down = HeldPort::new();
            let nginx = Nginx::round_robin(&[down.port(), port_of(&up)]);
            for id in 0..4 {
                let answer = request_2026(&nginx.mcp_url(), id, "server/discover", json!({}))
                    .timeout(TIMEOUT)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(answer.status(), 200, "{}", nginx.logs());
                let answer = messages(&answer.text().await.unwrap());
                assert!(
                    answer[0]["result"]["supportedVersions"].is_array(),
                    "{answer:?}"
                );
            }
            let used = nginx.upstreams_used();
            let (down, up) = (down.address(), format!("127.0.0.1:{}", port_of(&up)));
            assert!(
                used.contains(&format!("{down}, {up}")),
                "a call refused by the replica that is down, passed on to the one that is up: {}",
                nginx.logs()
            );
            assert!(
                used.iter().all(|tried| tried.ends_with(&up)),
                "every call answered by the replica that is up: {}",
                nginx.logs()
            );
        },
    )
    .await;
}

/// The next JSON-RPC message of the event stream `stream`, `received` holding what has arrived of
/// it and not been read yet. Bounded: the stream stays open, so an event must arrive while it does,
/// not when it ends.
async fn next_event(stream: &mut reqwest::Response, received: &mut Vec<u8>) -> Value {
    within("the next event of the stream, through nginx", async {
        loop {
            if let Some(end) = received.windows(2).position(|pair| pair == b"\n\n") {
                let event: Vec<u8> = received.drain(..end + 2).collect();
                let event = String::from_utf8(event).expect("an event is UTF-8");
                match messages(&event).into_iter().next() {
                    Some(message) => return message,
                    // A comment (a keep-alive) or an event without data.
                    None => continue,
                }
            }
            let chunk = stream
                .chunk()
                .await
                .unwrap()
                .expect("the stream ended before the event");
            received.extend_from_slice(&chunk);
        }
    })
    .await
}

#[tokio::test]
async fn an_event_stream_reaches_the_client_through_nginx_as_it_is_written() {
    bounded(
        "an_event_stream_reaches_the_client_through_nginx_as_it_is_written",
        async {
            if nginx_or_skip("an_event_stream_reaches_the_client_through_nginx_as_it_is_written")
                .is_none()
            {
                return;
            }
            // One replica: a resource update reaches streams held by the replica that raised it.
            let replica = HttpProcess::start("everything", &[], &[]).await;
            let nginx = Nginx::round_robin(&[port_of(&replica)]);

            let mut stream = request_2026(
                &nginx.mcp_url(),
                7,
                "subscriptions/listen",
                json!({"notifications": {"resourceSubscriptions": [everything::WATCHED_URI]}}),
            )
            .send()
            .await
            .unwrap();
            assert_eq!(stream.status(), 200, "{}", nginx.logs());
            let mut received = Vec::new();
            let acknowledged = next_event(&mut stream, &mut received).await;
            assert_eq!(
                acknowledged["method"], "notifications/subscriptions/acknowledged",
                "{acknowledged}"
            );

            let answer = request_2026(
                &nginx.mcp_url(),
                8,
                "tools/call",
                json!({"name": "test_update_watched_resource", "arguments": {"content": "new"}}),
            )
            .timeout(TIMEOUT)
            .send()
            .await
            .unwrap();
            let answer = messages(&answer.text().await.unwrap());
            assert_eq!(
                answer[0]["result"]["content"][0]["text"],
                "Updated test://watched-resource; notified 1 subscriber(s)",
                "{answer:?}"
            );
            let updated = next_event(&mut stream, &mut received).await;
            assert_eq!(
                (&updated["method"], &updated["params"]["uri"]),
                (
                    &json!("notifications/resources/updated"),
                    &json!(everything::WATCHED_URI)
                ),
                "{updated}"
            );
        },
    )
    .await;
}
