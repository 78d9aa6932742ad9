//! The macros' compile errors, pinned: every `tests/ui/*.rs` case must fail to build with exactly the
//! diagnostics in its `.stderr` snapshot, and every `tests/ui/pass/*.rs` case must build.
//!
//! Snapshots depend on the exact rustc; after a toolchain bump or a deliberate change to a message,
//! regenerate them with `TRYBUILD=overwrite cargo test --test compile_fail` and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
