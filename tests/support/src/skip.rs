//! Tests that need a service the machine may lack (PostgreSQL): one way to skip them, visibly.
//!
//! Under CI (any truthy `CI`: `1`, `true`, `yes`, `on`, ...) a missing service fails the test, so a
//! CI run cannot pass without checking what it claims. Off CI the test returns early, and `cargo
//! test` must still show that it did: libtest hides what a passing test prints with `println!` or
//! `eprintln!`, so [`service_missing`] writes straight to the process's stderr (which libtest does
//! not capture) a line per skipped test, and the test binary closes with a summary after libtest's
//! own `test result:` line: how many of its tests were skipped, which, and why. (`cargo nextest`
//! hides a passing test's output, this included, unless run with `--success-output immediate`.)

use std::{
    collections::BTreeMap,
    fmt::Display,
    io::Write,
    sync::{Mutex, Once},
};

/// Whether this run is CI: `CI` is set to anything but an empty or false value (`0`, `false`,
/// `no`, `off`, in any case). CI systems set `CI=true` or `CI=1`; both count.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| is_truthy(&value))
}

fn is_truthy(value: &str) -> bool {
    let value = value.trim();
    !(value.is_empty()
        || ["0", "false", "no", "off"]
            .iter()
            .any(|falsy| value.eq_ignore_ascii_case(falsy)))
}

/// Says that `test` cannot run because `service` (e.g. "PostgreSQL at 127.0.0.1:5432") is not
/// available, with `error` saying why. Under CI (see [`in_ci`]) this fails the test. Otherwise it
/// records the skip, prints it where `cargo test` shows it, and returns: the caller then returns
/// early. The test binary ends its output with how many tests were skipped, and why.
pub fn service_missing(test: &str, service: &str, error: impl Display) {
    assert!(
        !in_ci(),
        "{test}: {service} is required under CI (CI={}), and it is not available: {error}",
        std::env::var("CI").unwrap_or_default()
    );
    let reason = error.to_string();
    // Straight to the stderr file descriptor: `eprintln!` would be captured and hidden by libtest.
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED {test}: {service} is not available: {reason}"
    );
    SKIPPED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .entry(service.to_string())
        .or_insert_with(|| (reason, Vec::new()))
        .1
        .push(test.to_string());
    static SUMMARY: Once = Once::new();
    SUMMARY.call_once(|| {
        // SAFETY: `print_summary` is a plain `extern "C" fn()` that neither unwinds (it only locks a
        // mutex and writes, ignoring errors) nor calls `exit`; registering it has no other effect.
        #[allow(unsafe_code)]
        let registered = unsafe { libc::atexit(print_summary) };
        if registered != 0 {
            let _ = writeln!(
                std::io::stderr().lock(),
                "warning: cannot register the summary of skipped tests; count the SKIPPED lines above"
            );
        }
    });
}

/// The skipped tests of this process, by service: the first reason given, and the tests.
static SKIPPED: Mutex<BTreeMap<String, (String, Vec<String>)>> = Mutex::new(BTreeMap::new());

/// Runs when the test binary exits, after libtest's `test result:` line.
extern "C" fn print_summary() {
    let Ok(skipped) = SKIPPED.lock() else {
        return;
    };
    let _ = std::io::stderr()
        .lock()
        .write_all(summary(&skipped).as_bytes());
}

/// The closing lines: per service, how many tests were skipped, which, and why.
fn summary(skipped: &BTreeMap<String, (String, Vec<String>)>) -> String {
    let mut text = String::new();
    for (service, (reason, tests)) in skipped {
        let count = tests.len();
        let noun = if count == 1 { "test" } else { "tests" };
        text.push_str(&format!(
            "\nSKIPPED {count} {noun} (reported ok above, without running what they check): {service} is not available: {reason}\n  skipped: {}\n  Make {service} available, or set CI=true to turn a missing service into a failure.\n",
            tests.join(", ")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_usual_ci_value_counts_as_ci() {
        for value in ["true", "TRUE", "True", "1", "yes", "on", "woodpecker"] {
            assert!(is_truthy(value), "CI={value} must count as CI");
        }
    }

    #[test]
    fn empty_and_false_values_do_not_count_as_ci() {
        for value in ["", " ", "0", "false", "FALSE", "no", "off"] {
            assert!(!is_truthy(value), "CI={value:?} must not count as CI");
        }
    }

    #[test]
    fn the_summary_counts_the_skipped_tests_and_says_why() {
        let skipped = BTreeMap::from([(
            "PostgreSQL".to_string(),
            (
                "connection refused".to_string(),
                vec!["a".to_string(), "b".to_string()],
            ),
        )]);
        let text = summary(&skipped);
        assert!(
            text.contains("SKIPPED 2 tests (reported ok above, without running what they check): PostgreSQL is not available: connection refused"),
            "{text}"
        );
        assert!(text.contains("skipped: a, b"), "{text}");
        assert!(text.contains("set CI=true"), "{text}");
    }

    /// Set for the child run of [`skipping_probe`].
    const PROBE: &str = "CM_TEST_SUPPORT_SKIP_PROBE";

    /// Not a test of its own: [`run_probe`] runs it, in a child process of this test binary.
    #[test]
    #[ignore = "run by the tests of service_missing, in a child process"]
    fn skipping_probe() {
        if std::env::var_os(PROBE).is_some() {
            service_missing("skipping_probe", "A service", "connection refused");
        }
    }

    /// Runs [`skipping_probe`] as `cargo test` runs a test binary, with `CI` set to `ci`; returns
    /// whether it passed and its whole output (stdout, then stderr).
    fn run_probe(ci: Option<&str>) -> (bool, String, String) {
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command
            .args(["--ignored", "--exact", "skip::tests::skipping_probe"])
            .env(PROBE, "1")
            .env_remove("CI");
        if let Some(ci) = ci {
            command.env("CI", ci);
        }
        let output = command.output().expect("run the test binary");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    #[test]
    fn off_ci_a_skip_passes_and_the_output_says_so_after_the_results() {
        let (passed, stdout, stderr) = run_probe(None);
        assert!(passed, "stdout:\n{stdout}\nstderr:\n{stderr}");
        assert!(stdout.contains("test result: ok. 1 passed"), "{stdout}");
        assert!(
            stderr
                .contains("SKIPPED skipping_probe: A service is not available: connection refused"),
            "the skip is not shown; stderr:\n{stderr}"
        );
        assert!(
            stderr.contains("SKIPPED 1 test (reported ok above, without running what they check): A service is not available: connection refused\n  skipped: skipping_probe"),
            "no closing summary; stderr:\n{stderr}"
        );
    }

    #[test]
    fn under_ci_1_a_missing_service_fails_the_test() {
        let (passed, stdout, stderr) = run_probe(Some("1"));
        assert!(!passed, "stdout:\n{stdout}\nstderr:\n{stderr}");
        assert!(
            stdout.contains("skipping_probe: A service is required under CI (CI=1), and it is not available: connection refused"),
            "stdout:\n{stdout}"
        );
    }
}
