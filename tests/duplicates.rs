//! Two definitions with the same name (or URI) in one binary: the registry refuses to build, naming
//! both source locations, and a server built on it does not start.

use cm_mcp::{HttpOptions, Registry, Server};

mod billing {
    use cm_mcp::prelude::*;

    /// Looks up an invoice.
    #[cm_tool]
    pub async fn lookup(id: String) -> String {
        format!("invoice {id}")
    }

    /// Billing settings.
    #[cm_resource("dup://settings")]
    pub async fn settings() -> String {
        "billing".into()
    }

    /// Summarizes invoices.
    #[cm_prompt]
    pub async fn summary() -> String {
        "Summarize the invoices.".into()
    }
}

mod shipping {
    use cm_mcp::prelude::*;

    /// Looks up a parcel.
    #[cm_tool(name = "lookup")]
    pub async fn lookup_parcel(id: String) -> String {
        format!("parcel {id}")
    }

    /// Shipping settings.
    #[cm_resource("dup://settings")]
    pub async fn shipping_settings() -> String {
        "shipping".into()
    }

    /// Summarizes parcels.
    #[cm_prompt(name = "summary")]
    pub async fn parcel_summary() -> String {
        "Summarize the parcels.".into()
    }
}

/// `tests/duplicates.rs:<line>` of the line declaring `fn_decl` in this file.
fn location_of(fn_decl: &str) -> String {
    let source = include_str!("duplicates.rs");
    let line = source
        .lines()
        .position(|l| l.trim_start().starts_with(fn_decl))
        .unwrap_or_else(|| panic!("`{fn_decl}` is not in this file"))
        + 1;
    format!("{}:{line}", file!())
}

#[test]
fn duplicate_definitions_name_both_locations() {
    let error = match Registry::collect() {
        Ok(_) => panic!("a registry with duplicate names was built"),
        Err(error) => error.to_string(),
    };
    let lines: Vec<&str> = error.lines().collect();
    assert_eq!(lines.len(), 3, "one line per conflict:\n{error}");

    let tool = lines
        .iter()
        .find(|l| l.starts_with("duplicate tool name `lookup`"))
        .unwrap_or_else(|| panic!("no tool conflict reported:\n{error}"));
    for (function, decl) in [
        ("duplicates::billing::lookup", "pub async fn lookup("),
        (
            "duplicates::shipping::lookup_parcel",
            "pub async fn lookup_parcel(",
        ),
    ] {
        let expected = format!("{function} ({})", location_of(decl));
        assert!(
            tool.contains(&expected),
            "`{expected}` missing from: {tool}"
        );
    }
    assert!(
        tool.ends_with("rename one with #[cm_tool(name = \"...\")]"),
        "{tool}"
    );

    let resource = lines
        .iter()
        .find(|l| l.starts_with("duplicate resource URI `dup://settings`"))
        .unwrap_or_else(|| panic!("no resource conflict reported:\n{error}"));
    for decl in ["pub async fn settings(", "pub async fn shipping_settings("] {
        assert!(resource.contains(&location_of(decl)), "{resource}");
    }

    let prompt = lines
        .iter()
        .find(|l| l.starts_with("duplicate prompt name `summary`"))
        .unwrap_or_else(|| panic!("no prompt conflict reported:\n{error}"));
    for decl in ["pub async fn summary(", "pub async fn parcel_summary("] {
        assert!(prompt.contains(&location_of(decl)), "{prompt}");
    }
}

#[tokio::test]
async fn a_server_with_duplicates_does_not_start() {
    let error = Server::new("dup")
        .start_http("127.0.0.1:0".parse().unwrap(), HttpOptions::default())
        .await
        .err()
        .expect("the server started despite duplicate names");
    let message = format!("{error:#}");
    assert!(
        message.starts_with(
            "the server's tools, resources and prompts cannot be served as written (fix each problem below and rebuild): "
        ),
        "{message}"
    );
    assert!(
        message.contains("duplicate tool name `lookup`"),
        "{message}"
    );

    let error = Server::new("dup").manifest().expect_err("no manifest");
    assert!(
        format!("{error:#}").contains("duplicate prompt name `summary`"),
        "{error:#}"
    );
}
