//! The `cm-mcp` command end to end: the real binary against the real my-service binary over
//! streamable HTTP and stdio, real config files, and a generated crate built and tested by Cargo.

use std::{
    path::{Path, PathBuf},
    process::Output,
    time::Duration,
};

use cm_test_support::{HttpProcess, binary, bounded, run_to_end, server_command, target_tmpdir};
use serde_json::{Value, json};

/// Runs `cm-mcp ARGS` (bounded) with a clean server environment (the stdio servers it spawns
/// inherit it).
async fn cm_mcp(args: &[&str]) -> Output {
    let mut command = server_command(env!("CARGO_BIN_EXE_cm-mcp"), &target_tmpdir());
    command.args(args);
    run_to_end(command).await
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn my_service() -> String {
    binary("my-service").to_string_lossy().into_owned()
}

#[tokio::test]
async fn call_over_http_prints_the_tools_text() {
    bounded("call_over_http_prints_the_tools_text", async {
        let server = HttpProcess::start("my-service", &[], &[]).await;

        let output = cm_mcp(&["call", &server.mcp_url(), "my_tool", "input_param=hi"]).await;

        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert_eq!(stdout(&output), "Processed: hi\n");
        assert_eq!(stderr(&output), "");
    })
    .await
}

#[tokio::test]
async fn call_over_http_prints_an_error_result_to_stderr_and_exits_1() {
    bounded(
        "call_over_http_prints_an_error_result_to_stderr_and_exits_1",
        async {
            let server = HttpProcess::start("my-service", &[], &[]).await;

            let output = cm_mcp(&["call", &server.mcp_url(), "my_tool"]).await;

            assert_eq!(output.status.code(), Some(1), "{output:?}");
            assert_eq!(stdout(&output), "");
            assert!(
                stderr(&output).contains("missing required argument `input_param`"),
                "{output:?}"
            );
        },
    )
    .await
}

#[tokio::test]
async fn call_over_stdio_spawns_the_server_and_prints_the_tools_text() {
    let service = my_service();

    let output = cm_mcp(&[
        "call",
        "my_tool",
        "input_param=a JSON-looking [1] string",
        "--",
        &service,
        "--stdio",
    ])
    .await;

    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(stdout(&output), "Processed: a JSON-looking [1] string\n");
    // The server's JSON log lines stay out of the way when all went well.
    assert_eq!(stderr(&output), "");
}

#[tokio::test]
async fn call_over_stdio_prints_an_error_result_to_stderr_and_exits_1() {
    let service = my_service();

    // 5 parses as JSON, a number, which a string argument refuses.
    let output = cm_mcp(&[
        "call",
        "my_tool",
        "input_param=5",
        "--",
        &service,
        "--stdio",
    ])
    .await;

    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(stdout(&output), "");
    assert!(stderr(&output).contains("input_param"), "{output:?}");
}

#[tokio::test]
async fn calling_an_unknown_tool_fails_naming_the_tools_the_server_has() {
    let service = my_service();

    let output = cm_mcp(&["call", "no_such_tool", "--", &service, "--stdio"]).await;

    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(
        stderr(&output),
        "error: `no_such_tool` is not a tool of this server; its tools: my_tool\n"
    );
}

#[tokio::test]
async fn a_server_that_does_not_speak_stdio_fails_showing_its_stderr() {
    let service = my_service();

    // Without --stdio, my-service would serve HTTP; --port with no value makes it exit at once.
    let output = cm_mcp(&["call", "my_tool", "--", &service, "--port"]).await;

    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = stderr(&output);
    assert!(
        stderr.contains("did not start an MCP session over stdio"),
        "{stderr}"
    );
    assert!(stderr.contains("the server's stderr:\n"), "{stderr}");
    assert!(stderr.contains("--port"), "{stderr}");
}

#[tokio::test]
async fn a_call_without_a_server_is_a_usage_error_with_exit_status_2() {
    let output = cm_mcp(&["call", "my_tool", "input_param=hi"]).await;

    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        stderr(&output).contains("`my_tool` is not a server's URL"),
        "{output:?}"
    );
}

#[tokio::test]
async fn inspect_summarizes_what_the_server_defines() {
    let output = cm_mcp(&["inspect", &my_service()]).await;

    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = stdout(&output);
    for expected in [
        "my-fastmcp-service 0.1.0\n",
        "Tools (1)\n  my_tool(input_param: string)  [read-only, idempotent]\n    Processes the input and returns the result.\n      input_param: The text to process.\n",
        "Resources (1)\n  my-service://info  service_info  (application/json)\n",
        "Resource templates (0)\n",
        "Prompts (0)\n",
        "Connectors (1)\n  MYSERVICE  api  My Service\n",
    ] {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }
}

#[tokio::test]
async fn inspect_json_prints_the_servers_manifest() {
    let service = my_service();

    let output = cm_mcp(&["inspect", "--json", &service]).await;

    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let printed: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let mut manifest = server_command(&service, &target_tmpdir());
    manifest.arg("--manifest");
    let manifest: Value = serde_json::from_slice(&run_to_end(manifest).await.stdout).unwrap();
    assert_eq!(printed, manifest);
}

#[tokio::test]
async fn inspect_of_a_program_that_is_not_a_server_fails_saying_so() {
    let output = cm_mcp(&["inspect", "/bin/false"]).await;

    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        stderr(&output).contains("is it a cm-mcp server?"),
        "{output:?}"
    );
}

/// `cm-mcp install claude-desktop` of my-service into `config`, with `extra` arguments.
async fn install(config: &Path, extra: &[&str]) -> Output {
    let service = my_service();
    let config = config.to_string_lossy();
    let mut args = vec![
        "install",
        "claude-desktop",
        &service,
        "--config",
        config.as_ref(),
    ];
    args.extend_from_slice(extra);
    cm_mcp(&args).await
}

#[tokio::test]
async fn install_adds_the_server_and_keeps_the_other_servers_and_keys_in_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("claude_desktop_config.json");
    std::fs::write(
        &config,
        r#"{
  "theme": "dark",
  "mcpServers": {
    "weather": {"command": "/opt/weather", "args": ["--stdio"], "env": {"Z": "1", "A": "2"}}
  },
  "globalShortcut": ""
}"#,
    )
    .unwrap();

    let output = install(&config, &["--name", "mine", "--env", "LOG_LEVEL=debug"]).await;

    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = std::fs::read_to_string(&config).unwrap();
    let expected = format!(
        r#"{{
  "theme": "dark",
  "mcpServers": {{
    "weather": {{
      "command": "/opt/weather",
      "args": [
        "--stdio"
      ],
      "env": {{
        "Z": "1",
        "A": "2"
      }}
    }},
    "mine": {{
      "command": {},
      "args": [
        "--stdio"
      ],
      "env": {{
        "LOG_LEVEL": "debug"
      }}
    }}
  }},
  "globalShortcut": ""
}}
"#,
        json!(my_service())
    );
    assert_eq!(text, expected);
    assert!(stdout(&output).contains("Added `mine` in"), "{output:?}");
}

#[tokio::test]
async fn install_into_a_missing_file_creates_it_with_the_server_named_after_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("Claude").join("claude_desktop_config.json");

    let output = install(&config, &[]).await;

    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(
        written,
        json!({"mcpServers": {"my-service": {"command": my_service(), "args": ["--stdio"]}}})
    );
    assert!(
        Path::new(
            written["mcpServers"]["my-service"]["command"]
                .as_str()
                .unwrap()
        )
        .is_absolute()
    );
}

#[tokio::test]
async fn install_again_replaces_the_servers_entry() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("claude_desktop_config.json");
    assert_eq!(
        install(&config, &["--env", "A=1"]).await.status.code(),
        Some(0)
    );

    let output = install(&config, &[]).await;

    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        stdout(&output).contains("Replaced `my-service`"),
        "{output:?}"
    );
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(written["mcpServers"]["my-service"].get("env"), None);
}

#[tokio::test]
async fn install_into_a_malformed_file_leaves_it_untouched_and_says_where_it_is_malformed() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("claude_desktop_config.json");
    let malformed =
        "{\n  \"mcpServers\": {\n    \"weather\": {\"command\": \"/opt/weather\",}\n  }\n}\n";
    std::fs::write(&config, malformed).unwrap();

    let output = install(&config, &[]).await;

    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = stderr(&output);
    assert!(stderr.contains(&config.display().to_string()), "{stderr}");
    assert!(stderr.contains("line 3, column"), "{stderr}");
    assert!(stderr.contains("left as it is"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), malformed);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no other file was left beside the config"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn install_without_config_writes_claude_desktops_file_under_the_config_home() {
    let home = tempfile::tempdir().unwrap();
    let mut command = server_command(env!("CARGO_BIN_EXE_cm-mcp"), &target_tmpdir());
    command
        .args(["install", "claude-desktop", &my_service()])
        .env("XDG_CONFIG_HOME", home.path());

    let output = run_to_end(command).await;

    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let config = home.path().join("Claude/claude_desktop_config.json");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(
        written["mcpServers"]["my-service"]["args"],
        json!(["--stdio"])
    );
}

/// The target directory the tests run from, which the generated crate's build shares.
fn target_dir() -> PathBuf {
    target_tmpdir()
        .parent()
        .expect("the scratch directory is in the target directory")
        .to_path_buf()
}

/// The rustc this checkout builds with (rust-toolchain.toml's), so that the generated crate's build
/// reuses what the workspace's built.
fn checkout_rustc(checkout: &Path) -> PathBuf {
    let output = std::process::Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(checkout)
        .output()
        .expect("run rustc");
    assert!(output.status.success(), "{output:?}");
    let sysroot = String::from_utf8(output.stdout).unwrap();
    Path::new(sysroot.trim())
        .join("bin")
        .join(format!("rustc{}", std::env::consts::EXE_SUFFIX))
}

/// The bound on the generated crate's `cargo test`: a build, of a few crates when the workspace is
/// built, of everything on a cold target directory.
const BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

#[tokio::test]
async fn new_generates_a_crate_whose_tests_pass() {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    // Outside the workspace: a crate under it would be taken for a member that is not listed.
    let scratch = tempfile::tempdir().unwrap();
    let crate_dir = scratch.path().join("hello_server");

    let output = cm_mcp(&[
        "new",
        "hello_server",
        "--path",
        &crate_dir.to_string_lossy(),
        "--cm-mcp-path",
        &checkout.to_string_lossy(),
    ])
    .await;

    assert_eq!(output.status.code(), Some(0), "{output:?}");
    for file in [
        "Cargo.toml",
        "README.md",
        ".gitignore",
        "src/main.rs",
        "src/tests.rs",
    ] {
        assert!(crate_dir.join(file).is_file(), "no {file}");
    }
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains(&format!("path = {}", json!(checkout.to_string_lossy()))),
        "{manifest}"
    );
    // The checkout's lock: the versions the workspace is tested with, no registry look-up, and the
    // workspace's builds reused.
    assert_eq!(
        std::fs::read(crate_dir.join("Cargo.lock")).expect("a Cargo.lock"),
        std::fs::read(checkout.join("Cargo.lock")).unwrap(),
        "the generated crate's Cargo.lock is the checkout's"
    );

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut test = tokio::process::Command::new(cargo);
    // What `cargo test` set for this test crate must not reach the inner build.
    for (key, _) in std::env::vars_os() {
        if let Some(key) = key.to_str()
            && (key.starts_with("CARGO_") && key != "CARGO_HOME" || key == "OUT_DIR")
        {
            test.env_remove(key);
        }
    }
    test.arg("test")
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("RUSTC", checkout_rustc(checkout))
        .kill_on_drop(true);
    let output = tokio::time::timeout(BUILD_TIMEOUT, test.output())
        .await
        .unwrap_or_else(|_| {
            panic!("`cargo test` of the generated crate did not finish within {BUILD_TIMEOUT:?}")
        })
        .expect("run cargo test");

    assert!(
        output.status.success(),
        "`cargo test` of the generated crate failed:\n{}{}",
        stdout(&output),
        stderr(&output)
    );
    let report = stdout(&output);
    assert!(report.contains("test result: ok. 3 passed"), "{report}");
}
