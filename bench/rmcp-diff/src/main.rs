//! Differential check of the rmcp patches in bench/proposals: the same JSON-RPC messages (valid ones
//! and malformed ones) read as `ClientJsonRpcMessage` by rmcp 3.11.0 as released and by the copy
//! bench/rmcp-patch.sh patched (.bench/rmcp-patched), comparing the outcome (the value or the error
//! message) and what the message serializes back to. Prints each difference; exits 1 if any.
//!
//!   bench/rmcp-patch.sh <patches...> && cargo run --manifest-path bench/rmcp-diff/Cargo.toml

fn main() {
    let cases = [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"my_tool","arguments":{"input_param":"hello"}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"progressToken":7,"traceparent":"x"},"name":"my_tool","arguments":{"a":[1,2.5,-3,null,true]}}}"#,
        r#"{"params":{"name":"my_tool"},"id":"s","method":"tools/call","jsonrpc":"2.0"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[1,2]}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":null}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"a":1}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":null}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"c"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":3}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///a"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"p","arguments":{"x":"y"}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"t"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"info"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"loud"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"foo/bar","params":{"x":1}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"foo/bar"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"foo/bar","params":5}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":5}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":null}"#,
        r#"{"jsonrpc":"2.0","id":1}"#,
        r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
        r#"{"jsonrpc":2,"id":1,"method":"ping"}"#,
        r#"{"id":1,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":"r"}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/whatever","params":{"a":1}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"m"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}"#,
        r#"[1,2]"#,
        r#""x""#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"big":18446744073709551615,"neg":-9223372036854775808,"f":1e300}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","inputResponses":{},"requestState":"s"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","extra":1}}"#,
    ];
    // Known differences of rmcp-request-by-method.patch: `ClientRequest` buffers the request as a
    // `serde_json::Value`, where a duplicated key keeps its last value; the derived untagged union
    // rejected it ("duplicate field") in every typed variant (and, for a top-level key, in
    // `CustomRequest` too).
    let known = [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"ping","method":"ping"}"#,
    ];
    for case in known {
        let o = format!(
            "{:?}",
            serde_json::from_str::<old::model::ClientJsonRpcMessage>(case)
        );
        let n = format!(
            "{:?}",
            serde_json::from_str::<new::model::ClientJsonRpcMessage>(case)
        );
        println!("known {case}\n  old: {o}\n  new: {n}");
    }
    let mut differ = 0;
    for case in cases {
        let o = format!(
            "{:?}",
            serde_json::from_str::<old::model::ClientJsonRpcMessage>(case)
        );
        let n = format!(
            "{:?}",
            serde_json::from_str::<new::model::ClientJsonRpcMessage>(case)
        );
        // What the message serializes back to, too.
        let ro = serde_json::from_str::<old::model::ClientJsonRpcMessage>(case)
            .ok()
            .map(|m| serde_json::to_string(&m).unwrap());
        let rn = serde_json::from_str::<new::model::ClientJsonRpcMessage>(case)
            .ok()
            .map(|m| serde_json::to_string(&m).unwrap());
        if o != n || ro != rn {
            differ += 1;
            println!("DIFF {case}\n  old: {o}\n  new: {n}\n  old ser: {ro:?}\n  new ser: {rn:?}");
        }
    }
    println!("{} cases, {differ} differ", cases.len());
    if differ > 0 {
        std::process::exit(1);
    }
}
