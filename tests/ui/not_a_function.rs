use cm_mcp::prelude::*;

#[cm_tool]
struct Greeter;

fn main() {}
