//! Bad configuration at start: whatever is wrong (a flag, a variable, a malformed URL, settings that
//! do not load, a port that cannot be listened on), the server exits with status 2 and writes exactly
//! one error line, the `service.init.error` event, naming the variable at fault and the fix. Every
//! line stays JSON, stdout stays empty, and no secret in the bad value is repeated.

use cm_test_support::{bounded, command, refused_to_start};
use serde_json::Value;

/// One way to misconfigure a server, and what its one error line must say.
struct Case {
    binary: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    /// `data.variable` of the event: the variable (or, for an unknown flag, the flag) at fault.
    variable: &'static str,
    /// Texts the error must contain: the value or problem, and the fix.
    says: &'static [&'static str],
}

/// Serves on an ephemeral loopback port unless a case sets the address itself.
const LOOPBACK: &[&str] = &["--host", "127.0.0.1", "--port", "0"];

const CASES: &[Case] = &[
    Case {
        binary: "my-service",
        args: &["--port", "abc"],
        env: &[],
        variable: "MCP_PORT",
        says: &["'abc'", "set --port or MCP_PORT to a valid value"],
    },
    Case {
        binary: "my-service",
        args: &["--host", "127.0.0.1"],
        env: &[("MCP_PORT", "99999")],
        variable: "MCP_PORT",
        says: &["99999", "set --port or MCP_PORT to a valid value"],
    },
    Case {
        binary: "my-service",
        args: &["--port", "0"],
        env: &[("MCP_HOST", "localhost-ish")],
        variable: "MCP_HOST",
        says: &["localhost-ish", "set --host or MCP_HOST"],
    },
    Case {
        binary: "my-service",
        args: &["--log-level", "loud"],
        env: &[],
        variable: "LOG_LEVEL",
        says: &["'loud'", "critical", "set --log-level or LOG_LEVEL"],
    },
    Case {
        binary: "my-service",
        args: LOOPBACK,
        env: &[("LOG_LEVEL", "verbose")],
        variable: "LOG_LEVEL",
        says: &["'verbose'", "set --log-level or LOG_LEVEL"],
    },
    Case {
        binary: "my-service",
        args: LOOPBACK,
        env: &[("RUST_LOG", "my_crate=loud")],
        variable: "RUST_LOG",
        says: &["RUST_LOG is not a log filter", "LOG_LEVEL"],
    },
    Case {
        binary: "my-service",
        args: LOOPBACK,
        env: &[("MCP_SHUTDOWN_GRACE", "soon")],
        variable: "MCP_SHUTDOWN_GRACE",
        says: &["`soon` is not a number of seconds", "MCP_SHUTDOWN_GRACE"],
    },
    Case {
        binary: "my-service",
        args: LOOPBACK,
        env: &[("MCP_STATELESS", "maybe")],
        variable: "MCP_STATELESS",
        says: &["`maybe` is not a boolean", "MCP_STATELESS"],
    },
    Case {
        binary: "my-service",
        args: &["--no-such-flag"],
        env: &[],
        variable: "--no-such-flag",
        says: &[
            "'--no-such-flag'",
            "remove --no-such-flag or correct its name",
        ],
    },
    Case {
        binary: "my-service",
        args: &["--stdio", "--streamable-http"],
        env: &[],
        variable: "--stdio",
        says: &[
            "'--stdio' cannot be used with '--streamable-http'",
            "give only one of them",
        ],
    },
    Case {
        binary: "my-service",
        args: LOOPBACK,
        env: &[("FastMCP_TRANSPORT", "bogus")],
        variable: "FastMCP_TRANSPORT",
        says: &["FastMCP_TRANSPORT=`bogus` is not a transport: use `stdio` or `streamable-http`"],
    },
    Case {
        binary: "my-service",
        args: LOOPBACK,
        env: &[("CONFIDENTIAL_MIND_LOCAL_CONFIG", "false")],
        variable: "SERVICE_NAME",
        says: &[
            "SERVICE_NAME is not set",
            "CONFIDENTIAL_MIND_LOCAL_CONFIG=true",
        ],
    },
    Case {
        binary: "my-service",
        args: LOOPBACK,
        env: &[
            ("SERVICE_NAME", "svc"),
            ("MANAGER_URL", "http://admin:hunter2@"),
        ],
        variable: "MANAGER_URL",
        says: &["MANAGER_URL is not a usable URL", "http/https URL such as"],
    },
    Case {
        binary: "my-service",
        args: LOOPBACK,
        env: &[
            ("SERVICE_NAME", "svc"),
            ("REALTIME_URL", "http://realtime:8080"),
        ],
        variable: "REALTIME_URL",
        says: &["its scheme is `http`", "ws/wss URL"],
    },
    Case {
        binary: "my-service",
        args: LOOPBACK,
        env: &[("SERVICE_NAME", "svc"), ("REALTIME_PING_INTERVAL", "0")],
        variable: "REALTIME_PING_INTERVAL",
        says: &[
            "`0` is not a number of seconds above 0",
            "set it to e.g. 20",
        ],
    },
    Case {
        binary: "my-service",
        args: LOOPBACK,
        // A key too short, then one that is not hex: neither is repeated in the message.
        env: &[(
            "MCP_STATE_KEY",
            "00112233445566778899aabbccddeeff0011223344556677889900,zz",
        )],
        variable: "MCP_STATE_KEY",
        says: &[
            "MCP_STATE_KEY is not valid: key 1 has 27 bytes",
            "at least 32 bytes as hex",
        ],
    },
    Case {
        binary: "my-service",
        args: LOOPBACK,
        env: &[("MYSERVICE_URL", "localhost:9000")],
        variable: "MYSERVICE_URL",
        says: &["MYSERVICE_URL is not a URL", "with its scheme"],
    },
    Case {
        binary: "my-service",
        args: LOOPBACK,
        env: &[
            ("MYSERVICE_URL", "http://localhost:9000"),
            ("MYSERVICE_APIKEY", "hunter2"),
        ],
        variable: "MYSERVICE_APIKEY",
        says: &["API key for MYSERVICE_URL is not the right format"],
    },
    Case {
        binary: "platform-fixture",
        args: LOOPBACK,
        env: &[("FIXTURE_PORT", "eighty")],
        variable: "FIXTURE_PORT",
        says: &["FIXTURE_PORT=`eighty` is not valid: expected an integer"],
    },
];

#[tokio::test]
async fn bad_configuration_exits_2_with_one_line_naming_the_variable_and_the_fix() {
    bounded(
        "bad_configuration_exits_2_with_one_line_naming_the_variable_and_the_fix",
        async {
            for case in CASES {
                let event = refused(case.binary, case.args, case.env).await;
                let what = format!("{:?} {:?}", case.args, case.env);
                assert_eq!(event["data"]["variable"], case.variable, "{what}: {event}");
                let error = event["error"].as_str().unwrap_or_default();
                for text in case.says {
                    assert!(error.contains(text), "{what}: `{text}` missing in: {error}");
                }
                assert!(!error.contains("hunter2"), "{what}: a secret in: {error}");
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_port_that_cannot_be_listened_on_is_bad_configuration_naming_the_port() {
    bounded(
        "a_port_that_cannot_be_listened_on_is_bad_configuration_naming_the_port",
        async {
            let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = taken.local_addr().unwrap().port().to_string();
            let event = refused("my-service", &["--host", "127.0.0.1", "--port", &port], &[]).await;
            assert_eq!(event["data"]["variable"], "MCP_PORT", "{event}");
            let error = event["error"].as_str().unwrap_or_default();
            assert!(
                error.contains(&format!("cannot listen on 127.0.0.1:{port}"))
                    && error.contains("choose another with --port or MCP_PORT"),
                "{error}"
            );
        },
    )
    .await;
}

/// Runs `binary` to its end and checks that it refused to start as bad configuration must (status 2,
/// one error line: `service.init.error`, a `ConfigError`); returns that line.
async fn refused(binary: &str, args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut command = command(binary);
    command.args(args).envs(env.iter().copied());
    refused_to_start(command).await
}
