//! The quick start's `[dependencies]` are the ones the README's snippets compile with: this crate's
//! (the snippets are built against them), minus the two the README names where a snippet uses them.

use std::{collections::BTreeSet, path::Path};

/// Crates a snippet uses that the quick start does not list: the README says so at each use.
const NAMED_WHERE_USED: [&str; 2] = ["clap", "tracing"];

fn dependencies(manifest: &toml::Table) -> &toml::Table {
    manifest["dependencies"]
        .as_table()
        .expect("[dependencies] is a table")
}

#[test]
fn the_quick_start_lists_every_dependency_the_readme_snippets_compile_with() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let quick_start = &readme[readme
        .find("<!-- section: quick-start -->")
        .expect("the README has its quick start")..];
    let block = quick_start
        .split("```toml")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the quick start shows a ```toml block");
    let theirs: toml::Table = toml::from_str(block)
        .unwrap_or_else(|e| panic!("the quick start's TOML does not parse: {e}\n{block}"));
    let ours: toml::Table = toml::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap(),
    )
    .unwrap();

    let listed: BTreeSet<&str> = dependencies(&theirs).keys().map(String::as_str).collect();
    let needed: BTreeSet<&str> = dependencies(&ours)
        .keys()
        .map(String::as_str)
        .filter(|name| !NAMED_WHERE_USED.contains(name))
        .collect();
    let missing: Vec<_> = needed.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "the quick start's [dependencies] lack {missing:?}, which the README's snippets use"
    );

    // The snippets' `#[tokio::main]` and `#[derive(Serialize, Deserialize)]` need these features.
    let features = |name: &str, wanted: &[&str]| {
        let table = dependencies(&theirs)[name]
            .as_table()
            .unwrap_or_else(|| panic!("the quick start gives `{name}` no features"));
        let on: Vec<&str> = table["features"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f.as_str())
            .collect();
        for feature in wanted {
            assert!(
                on.contains(feature),
                "the quick start's `{name}` lacks the feature `{feature}`"
            );
        }
    };
    features("tokio", &["macros", "rt-multi-thread"]);
    features("serde", &["derive"]);
}

#[test]
fn the_readme_names_the_crates_the_quick_start_does_not_list_where_a_snippet_uses_them() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for name in NAMED_WHERE_USED {
        let told = format!("the `{name}` crate");
        assert!(
            readme.contains(&told),
            "a README snippet uses `{name}`, which the quick start does not list; say \"{told}\" where it is used"
        );
    }
}
