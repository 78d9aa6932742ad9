//! The one clear place a toolchain change fails: the compile-fail snapshots (`tests/ui/*.stderr`) are
//! rustc's exact messages, recorded with the release `rust-toolchain.toml` pins. A build that ignores
//! the pin (`cargo +nightly test`, `RUSTUP_TOOLCHAIN`, a rustc outside rustup) fails here, saying so,
//! rather than as a diff of compiler messages in `tests/compile_fail.rs`.

use std::process::Command;

/// The `channel` of `rust-toolchain.toml`.
fn pinned_channel() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/rust-toolchain.toml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("channel"))
        .filter_map(|rest| rest.trim().strip_prefix('='))
        .map(|value| value.trim().trim_matches('"').to_string())
        .next()
        .unwrap_or_else(|| panic!("{path} has no `channel = \"...\"` line"))
}

#[test]
fn the_compiler_is_the_release_the_compile_fail_snapshots_were_recorded_with() {
    let pinned = pinned_channel();
    // The rustc this build uses: rustup resolves `rustc` in the repository the same way it resolved
    // the cargo that runs this test (RUSTUP_TOOLCHAIN, `+toolchain`, then rust-toolchain.toml).
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .arg("--version")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", rustc.to_string_lossy()));
    assert!(output.status.success(), "rustc --version: {output:?}");
    let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert!(
        version.starts_with(&format!("rustc {pinned} ")),
        "this build uses `{version}`, but rust-toolchain.toml pins {pinned}, the release the \
         compile-fail snapshots in tests/ui were recorded with. Build with the pinned toolchain \
         (drop `+toolchain` and RUSTUP_TOOLCHAIN), or move the pin: set `channel` in \
         rust-toolchain.toml, run `TRYBUILD=overwrite cargo test --test compile_fail`, review and \
         commit tests/ui."
    );
}
