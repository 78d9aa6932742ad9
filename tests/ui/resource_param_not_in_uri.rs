use cm_mcp::prelude::*;

// `name` is an argument, but a resource's arguments are its URI's variables: nothing binds it.
#[cm_resource("files://{path}")]
async fn file(path: String, name: String, ctx: &Context, state: State<u8>) -> String {
    let _ = (ctx, state);
    format!("{path}{name}")
}

fn main() {}
