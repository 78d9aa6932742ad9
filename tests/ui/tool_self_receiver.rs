use cm_mcp::prelude::*;

struct Greeter;

impl Greeter {
    #[cm_tool]
    async fn greet(&self, name: String) -> String {
        format!("Hello, {name}")
    }
}

fn main() {}
