use cm_mcp::prelude::*;

// Every problem of one function is reported in the same build.
#[cm_tool(titel = "Add")]
fn add<T>((a, b): (u8, u8), #[arg(descr = "unused")] c: T) -> impl std::fmt::Display {
    let _ = c;
    a + b
}

fn main() {}
