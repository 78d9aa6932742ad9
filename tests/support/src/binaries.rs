//! The workspace's server binaries: built once per test process, run with a clean environment in a
//! scratch directory.

use std::{
    collections::BTreeMap,
    ffi::OsStr,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    sync::{Mutex, OnceLock},
};

use tokio::process::Command;

use crate::TIMEOUT;

/// The workspace binaries the root tests spawn, with the package that builds each. A package's own
/// binary comes from `env!("CARGO_BIN_EXE_<name>")` instead (see [`server_command`]).
const BINARIES: &[(&str, &str)] = &[
    ("my-service", "my-service"),
    ("fixture-server", "fixture-server"),
    ("platform-fixture", "platform-fixture"),
    ("everything", "everything"),
];

/// The path of a workspace binary (one of `my-service`, `fixture-server`, `platform-fixture`,
/// `everything`).
///
/// The binaries belong to other packages, so `CARGO_BIN_EXE_*` does not name them, and a plain
/// `cargo test -p cm-mcp` does not rebuild them. The first call in a test process therefore runs
/// `cargo build` for them into the target directory this test executable lives in (a no-op when they
/// are fresh), so a test never runs a stale binary.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let profile_dir = BUILT
        .get_or_init(build_binaries)
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"));
    let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} was not built; run `cargo build -p {name}`",
        path.display()
    );
    path
}

/// The directory of the running test executable's profile (`<target>/debug`): the test executable
/// is `<target>/<profile>/deps/<name>-<hash>`.
fn profile_dir() -> Result<PathBuf, String> {
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot locate the test executable: {e}"))?;
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("unexpected test executable path {}", exe.display()))
}

/// Builds every binary of [`BINARIES`]; returns the directory they are in (`target/debug`).
fn build_binaries() -> Result<PathBuf, String> {
    build_binaries_with(&cargo_program(), &profile_dir()?)
}

/// The `cargo` that runs this test (`CARGO`), or the one on the `PATH`.
fn cargo_program() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The path of the binary of `package` (named as the package), built by a `cargo build -p package`
/// of its own into the target directory of this test executable, once per test process.
///
/// For a package that exists to build its dependencies with other features (tests/plain-server:
/// cm-mcp without default features): Cargo unifies the features of every package one build selects,
/// so built together with [`BINARIES`] it would get theirs.
pub fn binary_built_alone(package: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, Result<PathBuf, String>>> = Mutex::new(BTreeMap::new());
    // Held during the build: the tests asking for the same binary wait for one build.
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let profile_dir = built
        .entry(package.to_string())
        .or_insert_with(|| build_with(&cargo_program(), &profile_dir()?, &[(package, package)]))
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"));
    let path = profile_dir.join(format!("{package}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// A `cargo` command run in the workspace with the environment of an outer `cargo test` removed,
/// for tests that ask Cargo about the workspace (`cargo tree -p ...`).
pub fn cargo_command() -> std::process::Command {
    cargo_command_of(&cargo_program())
}

/// [`cargo_command`] with the program `cargo`.
fn cargo_command_of(cargo: &OsStr) -> std::process::Command {
    let mut command = std::process::Command::new(cargo);
    // What `cargo test` set for the test crate must not reach an inner build: crates whose build
    // depends on such a variable (ring's, on CARGO_MANIFEST_DIR) would be rebuilt by every test
    // run, and rebuilt again by the next outer build.
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if key.starts_with("CARGO_PKG_")
            || matches!(
                key,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_MANIFEST_LINKS"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "OUT_DIR"
            )
        {
            command.env_remove(key);
        }
    }
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// Runs `cargo build` (the program `cargo`) for every binary of [`BINARIES`] into the target
/// directory of `profile_dir`.
fn build_binaries_with(cargo: &OsStr, profile_dir: &Path) -> Result<PathBuf, String> {
    build_with(cargo, profile_dir, BINARIES)
}

/// Runs one `cargo build` (the program `cargo`) of `binaries` (binary, package) into the target
/// directory of `profile_dir`. A failed build is an error with the build's own output, even when
/// older binaries are there: a test must not pass or fail against code that is not the code under
/// test.
fn build_with(
    cargo: &OsStr,
    profile_dir: &Path,
    binaries: &[(&str, &str)],
) -> Result<PathBuf, String> {
    let target_dir = profile_dir
        .parent()
        .ok_or_else(|| format!("unexpected profile directory {}", profile_dir.display()))?;
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug");
    let mut command = cargo_command_of(cargo);
    command
        .args(["build", "--quiet", "--target-dir"])
        .arg(target_dir);
    match profile {
        "debug" => {}
        "release" => {
            command.arg("--release");
        }
        other => {
            command.args(["--profile", other]);
        }
    }
    for (bin, package) in binaries {
        command.args(["-p", package, "--bin", bin]);
    }
    let output = command
        .output()
        .map_err(|e| format!("cannot run {}: {e}", cargo.to_string_lossy()))?;
    if !output.status.success() {
        return Err(format!(
            "`cargo build` of the test binaries ({}) failed ({}); the tests do not run against older binaries. Its output:\n{}{}",
            binaries
                .iter()
                .map(|(bin, _)| *bin)
                .collect::<Vec<_>>()
                .join(", "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        ));
    }
    Ok(profile_dir.to_path_buf())
}

/// Environment variables that change how a server starts; removed from every spawned server so
/// that the developer's shell cannot change a test's outcome.
const SERVER_ENV: &[&str] = &[
    "FastMCP_TRANSPORT",
    "MCP_HOST",
    "MCP_PORT",
    "MCP_STATELESS",
    "MCP_ALLOWED_HOSTS",
    "MCP_ALLOWED_ORIGINS",
    "MCP_SHUTDOWN_GRACE",
    "MCP_REDIS_URL",
    "MCP_REDIS_PREFIX",
    "MCP_STATE_KEY",
    "LOG_LEVEL",
    "RUST_LOG",
    "DEBUG",
    "SERVICE_NAME",
    "CONFIDENTIAL_MIND_LOCAL_CONFIG",
    "MANAGER_URL",
    "REALTIME_URL",
];

/// The variables of [`SERVER_ENV`], plus the test servers' own settings and connectors
/// (`MYSERVICE_*`, `FIXTURE_*`) and OpenTelemetry's (`OTEL_*`, which turn traces on) when the
/// developer's environment has any.
pub(crate) fn server_env() -> Vec<String> {
    let own = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| {
            k.starts_with("MYSERVICE_") || k.starts_with("FIXTURE_") || k.starts_with("OTEL_")
        });
    SERVER_ENV
        .iter()
        .map(|v| v.to_string())
        .chain(own)
        .collect()
}

/// The shared scratch directory of this target directory (`<target>/tmp`, what Cargo calls
/// `CARGO_TARGET_TMPDIR`): servers run there so that no `.env` file of the developer is loaded.
pub fn target_tmpdir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let profile_dir = profile_dir().unwrap_or_else(|e| panic!("{e}"));
        let dir = profile_dir
            .parent()
            .expect("the profile directory is inside the target directory")
            .join("tmp");
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        dir
    })
    .clone()
}

/// A scratch working directory of its own, for a test that writes a `.env` file there.
pub fn scratch_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cm-platform-")
        .tempdir_in(target_tmpdir())
        .expect("create a scratch directory")
}

/// A command for a workspace binary with a clean server environment, run in the shared scratch
/// directory (so that no `.env` file of the developer is loaded).
pub fn command(name: &str) -> Command {
    command_in(name, &target_tmpdir())
}

/// [`command`], run in `dir`.
pub fn command_in(name: &str, dir: &Path) -> Command {
    server_command(binary(name), dir)
}

/// A command for the server binary at `program` (e.g. `env!("CARGO_BIN_EXE_postgres-mcp")`) with a
/// clean server environment, run in `dir`: stdin and stdout null, stderr piped, killed when dropped.
pub fn server_command(program: impl AsRef<OsStr>, dir: &Path) -> Command {
    let mut command = Command::new(program);
    for var in server_env() {
        command.env_remove(var);
    }
    command
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs a workspace binary to completion (bounded by [`TIMEOUT`]) and returns its output.
pub async fn run_to_end(mut command: Command) -> std::process::Output {
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let program = command
        .as_std()
        .get_program()
        .to_string_lossy()
        .into_owned();
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {program}: {e}"));
    // On a timeout the child is dropped, and killed.
    tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{program} did not exit within {TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("wait for {program}: {e}"))
}

/// Runs `command` (a server) to its end and checks that it refused to start as bad configuration
/// must: status 2, nothing on stdout, every stderr line JSON, exactly one of them an error, the
/// `service.init.error` event with `error_type` `ConfigError`, which is returned.
pub async fn refused_to_start(command: Command) -> serde_json::Value {
    let what = format!("{:?}", command.as_std());
    let output = run_to_end(command).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{what}: {stderr}");
    assert!(output.stdout.is_empty(), "{what}: stdout is not empty");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|_| panic!("{what}: a line that is not JSON: {line}"))
        })
        .collect();
    let errors: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line["level"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{what}: one error line, got:\n{stderr}");
    let event = errors[0].clone();
    assert_eq!(event["event_type"], "service.init.error", "{what}: {event}");
    assert_eq!(event["error_type"], "ConfigError", "{what}: {event}");
    event
}

/// Runs `name` in `dir` with `env` as an HTTP server on an ephemeral port until it exits (bounded);
/// returns its exit status and stderr. For servers that are expected to refuse to start.
pub async fn run_to_end_in(name: &str, dir: &Path, env: &[(&str, &str)]) -> (ExitStatus, String) {
    let mut command = command_in(name, dir);
    command
        .args(["--host", "127.0.0.1", "--port", "0"])
        .envs(env.iter().copied());
    let output = run_to_end(command).await;
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_build_fails_even_when_older_binaries_are_there() {
        let target = tempfile::tempdir().unwrap();
        let profile_dir = target.path().join("debug");
        std::fs::create_dir_all(&profile_dir).unwrap();
        for (bin, _) in BINARIES {
            std::fs::write(
                profile_dir.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX)),
                "an old build",
            )
            .unwrap();
        }
        // `sh build --quiet ...` fails as a build does: an error on stderr, a failed status. (A
        // script written here could not be run safely: a child spawned meanwhile by another test
        // may hold it open for writing, and exec fails with "text file busy".)
        let error = build_binaries_with(OsStr::new("sh"), &profile_dir)
            .expect_err("a failed build must not fall back to the older binaries");
        assert!(error.contains("failed (exit status: "), "{error}");
        assert!(
            error.contains("build: No such file"),
            "the build's error is not in the message: {error}"
        );
    }

    #[test]
    fn a_successful_build_gives_the_profile_directory() {
        let target = tempfile::tempdir().unwrap();
        let profile_dir = target.path().join("debug");
        let built = build_binaries_with(OsStr::new("true"), &profile_dir).unwrap();
        assert_eq!(built, profile_dir);
    }
}
