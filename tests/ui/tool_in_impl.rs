use cm_mcp::prelude::*;

struct Greeter;

impl Greeter {
    // An associated function without `self` is still not a free function.
    #[cm_tool]
    async fn greet(name: String) -> String {
        format!("Hello, {name}")
    }
}

fn main() {}
