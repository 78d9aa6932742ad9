//! A Python with the MCP clients real users run: the SDK (`mcp` 2.x) and `fastmcp` 4.x, in a venv made
//! once under the target directory. Tests that use it are skipped, visibly, when `python3` or PyPI is
//! not there; under CI that fails them.

use std::path::PathBuf;

use crate::target_tmpdir;

/// What the venv must import: both clients, at the versions that speak protocol 2026-07-28.
const CHECK: &str = "from mcp.client.streamable_http import streamable_http_client\nfrom mcp.client.client import Client\nimport fastmcp";

/// The packages, pinned to the majors the tests are written for.
const PACKAGES: &[&str] = &["mcp>=2.3,<3", "fastmcp>=4.2,<5"];

/// The venv's Python, made (or completed) on first use; the error says what is missing.
pub fn python_with_mcp() -> Result<PathBuf, String> {
    let venv = target_tmpdir().join("python-mcp");
    let python = venv.join("bin/python");
    let ready = |python: &PathBuf| {
        std::process::Command::new(python)
            .args(["-c", CHECK])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ready(&python) {
        return Ok(python);
    }
    let run = |program: &std::path::Path, args: &[&str]| {
        let output = std::process::Command::new(program)
            .args(args)
            .output()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} {}: {}",
                program.display(),
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    };
    if !python.exists() {
        run("python3".as_ref(), &["-m", "venv", &venv.to_string_lossy()])?;
    }
    let mut install = vec![
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ];
    install.extend_from_slice(PACKAGES);
    run(&python, &install)?;
    if ready(&python) {
        Ok(python)
    } else {
        Err(format!(
            "{} do not import after installing them",
            PACKAGES.join(" and ")
        ))
    }
}

/// Runs `script` with `python` and `args` (bounded by [`crate::TIMEOUT`]), fails the test with its
/// output unless it exits 0, and returns its stdout's lines and its stderr (for messages).
pub async fn run_python(
    python: &std::path::Path,
    script: &str,
    args: &[&str],
) -> (Vec<String>, String) {
    try_run_python(python, script, args)
        .await
        .unwrap_or_else(|failure| panic!("{failure}"))
}

/// [`run_python`], returning the failure (it did not end in time, or exited non-zero, with its
/// output) instead of panicking, so that a test can add what else it knows (servers' logs).
pub async fn try_run_python(
    python: &std::path::Path,
    script: &str,
    args: &[&str],
) -> Result<(Vec<String>, String), String> {
    let output = tokio::time::timeout(
        crate::TIMEOUT,
        tokio::process::Command::new(python)
            .arg("-c")
            .arg(script)
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| {
        format!(
            "the Python client did not finish within {:?}",
            crate::TIMEOUT
        )
    })?
    .expect("run the Python client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if output.status.success() {
        Ok((stdout.lines().map(str::to_owned).collect(), stderr))
    } else {
        Err(format!(
            "the Python client failed ({}):\n{stdout}\n{stderr}",
            output.status
        ))
    }
}
