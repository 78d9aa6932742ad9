//! The README's Rust snippets, each compiled as a module (see `build.rs` for how a snippet is placed),
//! so that a snippet that no longer compiles fails `cargo build`. A compile error names the module
//! `readme_line_N`: the block that starts at line N of README.md.

mod context;

include!(concat!(env!("OUT_DIR"), "/snippets.rs"));
