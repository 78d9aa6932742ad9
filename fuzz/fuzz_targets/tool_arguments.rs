//! Arbitrary JSON as the arguments of a `#[cm_tool]` with typed parameters, sent through the real call
//! path (`cm_mcp::testing::Client`: JSON-RPC over an in-memory pipe, the registry's name check, every
//! parameter's `FromCall`, the generated invoker, the structured result).
//!
//! Properties: the server answers every call and goes on serving; the call succeeds exactly when the
//! documented rules accept the arguments (only known names, every required one present and not null,
//! each value a valid `T`, or a string that reads as JSON of a valid `T`), and then the tool saw the
//! values those rules give; a refusal names an argument (the one at fault, or the valid ones).
#![no_main]

use std::sync::OnceLock;

use cm_mcp::{Json, JsonObject, prelude::*, testing::Client};
use libfuzzer_sys::fuzz_target;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Op {
    Eq,
    Lt,
    Gt,
    Like,
}

/// A nested argument with its own required and defaulted fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Filter {
    column: String,
    op: Op,
    value: f64,
    #[serde(default)]
    negate: bool,
}

/// What the tool received, sent back as its structured result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Echo {
    query: String,
    limit: Option<u32>,
    offset: i64,
    tags: Vec<String>,
    filter: Option<Filter>,
    ratio: f64,
}

/// Echoes its arguments.
#[cm_tool]
async fn search(
    ctx: &Context,
    query: String,
    limit: Option<u32>,
    offset: i64,
    tags: Vec<String>,
    filter: Option<Filter>,
    ratio: f64,
) -> Json<Echo> {
    let _ = ctx;
    Json(Echo {
        query,
        limit,
        offset,
        tags,
        filter,
        ratio,
    })
}

const NAMES: [&str; 6] = ["query", "limit", "offset", "tags", "filter", "ratio"];

struct Harness {
    runtime: tokio::runtime::Runtime,
    client: Client,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = runtime
            .block_on(Client::connect(Server::new("fuzz")))
            .unwrap();
        Harness { runtime, client }
    })
}

/// The documented extraction of one argument: absent or null is `T`'s null; a value must be a `T`,
/// or a string whose text is JSON of a `T`.
fn extract<T: DeserializeOwned>(args: &JsonObject, name: &str) -> Result<T, ()> {
    match args.get(name) {
        None | Some(Value::Null) => serde_json::from_value(Value::Null).map_err(drop),
        Some(value) => serde_json::from_value(value.clone()).or_else(|_| match value {
            Value::String(text) => serde_json::from_str(text).map_err(drop),
            _ => Err(()),
        }),
    }
}

fn expected(args: &JsonObject) -> Result<Echo, ()> {
    if args.keys().any(|key| !NAMES.contains(&key.as_str())) {
        return Err(());
    }
    Ok(Echo {
        query: extract(args, "query")?,
        limit: extract(args, "limit")?,
        offset: extract(args, "offset")?,
        tags: extract(args, "tags")?,
        filter: extract(args, "filter")?,
        ratio: extract(args, "ratio")?,
    })
}

/// Floats cross JSON text twice (to the server, back to the client); serde_json's default float
/// parsing may round the last bit differently, which is no concern of the framework's.
fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= f64::EPSILON * 4.0 * a.abs().max(b.abs())
}

fn same(got: &Echo, want: &Echo) -> bool {
    let filters = match (&got.filter, &want.filter) {
        (None, None) => true,
        (Some(g), Some(w)) => {
            g.column == w.column && g.op == w.op && g.negate == w.negate && close(g.value, w.value)
        }
        _ => false,
    };
    got.query == want.query
        && got.limit == want.limit
        && got.offset == want.offset
        && got.tags == want.tags
        && filters
        && close(got.ratio, want.ratio)
}

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(args)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let harness = harness();
    let answer = harness.runtime.block_on(
        harness
            .client
            .call_tool("search", Value::Object(args.clone())),
    );
    let want = expected(&args);
    match answer {
        Ok(result) if result.is_error != Some(true) => {
            let want = want.unwrap_or_else(|()| {
                panic!("accepted arguments the rules refuse: {args:?} -> {result:?}")
            });
            let got: Echo = serde_json::from_value(
                result
                    .structured_content
                    .clone()
                    .expect("a Json<T> result is structured"),
            )
            .expect("the structured result is an Echo");
            assert!(
                same(&got, &want),
                "the tool saw {got:?}, the rules give {want:?}"
            );
        }
        refused => {
            assert!(
                want.is_err(),
                "refused arguments the rules accept ({want:?}): {refused:?}"
            );
            let message = match &refused {
                Ok(result) => format!("{:?}", result.content),
                Err(error) => error.to_string(),
            };
            assert!(
                NAMES
                    .iter()
                    .any(|name| message.contains(&format!("`{name}`"))),
                "the refusal names no argument: {message}"
            );
        }
    }
});
