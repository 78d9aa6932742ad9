use cm_mcp::prelude::*;

/// Adds two numbers.
///
/// # Arguments
/// * `a` - The first.
/// * `second` - The second (the parameter was renamed since).
#[cm_tool]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {}
