//! `GET /metrics` as an operator's Prometheus sees it: `everything` is called over HTTP (tools, a
//! templated resource, a prompt, a failing tool), then its metrics are read as text and through a
//! real Prometheus server scraping it, queried with the PromQL a dashboard uses.

use cm_test_support::{HttpProcess, Prometheus, bounded, call_tool, prometheus_or_skip};
use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams};
use serde_json::json;

/// The samples of `/metrics` whose name and labels start with `prefix`, with their values.
fn samples<'a>(text: &'a str, prefix: &str) -> Vec<(&'a str, f64)> {
    text.lines()
        .filter(|line| line.starts_with(prefix))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series, value.parse().ok()?))
        })
        .collect()
}

async fn metrics(server: &HttpProcess) -> String {
    let response = reqwest::get(format!("{}/metrics", server.base))
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    response.text().await.expect("a text body")
}

#[tokio::test]
async fn every_call_is_counted_with_the_semantic_conventions_labels_and_prometheus_reads_them() {
    bounded(
        "every_call_is_counted_with_the_semantic_conventions_labels_and_prometheus_reads_them",
        async {
            let server = HttpProcess::start("everything", &[], &[]).await;
            let client = server.client().await;
            for _ in 0..3 {
                call_tool(&client, "test_simple_text", json!({})).await;
            }
            let failed = call_tool(&client, "test_error_handling", json!({})).await;
            assert_eq!(failed.is_error, Some(true));
            client
                .read_resource(ReadResourceRequestParams::new("test://template/42/data"))
                .await
                .expect("read the templated resource");
            client
                .get_prompt(GetPromptRequestParams::new("test_simple_prompt"))
                .await
                .expect("get the prompt");

            let text = metrics(&server).await;
            let tool = |name: &str| {
                format!(
                    r#"mcp_server_operation_duration_seconds_count{{mcp_method_name="tools/call",gen_ai_tool_name="{name}","#
                )
            };
            assert_eq!(
                samples(&text, &tool("test_simple_text")),
                vec![(
                    r#"mcp_server_operation_duration_seconds_count{mcp_method_name="tools/call",gen_ai_tool_name="test_simple_text",network_transport="tcp",mcp_protocol_version="2025-11-25"}"#,
                    3.0
                )],
                "{text}"
            );
            let errors = samples(&text, &tool("test_error_handling"));
            assert_eq!(errors.len(), 1, "{text}");
            assert!(errors[0].0.contains(r#",error_type=""#), "{text}");
            // A templated resource is labelled with its template: one series per definition.
            assert_eq!(
                samples(
                    &text,
                    r#"mcp_server_operation_duration_seconds_count{mcp_method_name="resources/read",mcp_resource_uri="test://template/{id}/data","#
                )
                .len(),
                1,
                "{text}"
            );
            assert!(!text.contains("test://template/42/data"), "{text}");
            assert_eq!(
                samples(
                    &text,
                    r#"mcp_server_operation_duration_seconds_count{mcp_method_name="prompts/get",gen_ai_prompt_name="test_simple_prompt","#
                )
                .len(),
                1,
                "{text}"
            );
            assert_eq!(samples(&text, "cm_mcp_sessions_open "), vec![("cm_mcp_sessions_open", 1.0)]);
            assert_eq!(samples(&text, "cm_mcp_calls_in_flight "), vec![("cm_mcp_calls_in_flight", 0.0)]);
            assert_eq!(
                samples(&text, "cm_mcp_log_lines_dropped_total "),
                vec![("cm_mcp_log_lines_dropped_total", 0.0)]
            );

            // The session ends (DELETE): its duration is observed, and it is no longer open.
            client.cancel().await.expect("close the session");
            let deadline = tokio::time::Instant::now() + cm_test_support::TIMEOUT;
            loop {
                let text = metrics(&server).await;
                if samples(&text, "cm_mcp_sessions_open ") == vec![("cm_mcp_sessions_open", 0.0)] {
                    assert_eq!(
                        samples(&text, "mcp_server_session_duration_seconds_count"),
                        vec![(r#"mcp_server_session_duration_seconds_count{network_transport="tcp"}"#, 1.0)],
                        "{text}"
                    );
                    break;
                }
                assert!(tokio::time::Instant::now() < deadline, "the session never closed:\n{text}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }

            // What an operator's Prometheus reads of it.
            let Some(binary) = prometheus_or_skip(
                "every_call_is_counted_with_the_semantic_conventions_labels_and_prometheus_reads_them",
            ) else {
                return;
            };
            let target = server.base.trim_start_matches("http://").to_string();
            let prometheus = Prometheus::scraping(&binary, &[target]).await;
            prometheus
                .wait_value(
                    r#"sum(mcp_server_operation_duration_seconds_count{gen_ai_tool_name="test_simple_text"})"#,
                    3.0,
                )
                .await;
            prometheus
                .wait_value(
                    r#"sum(mcp_server_operation_duration_seconds_count{error_type!=""})"#,
                    1.0,
                )
                .await;
            prometheus.wait_value("sum(cm_mcp_sessions_open)", 0.0).await;
            // The histogram's buckets make quantiles: a p99 per tool is a number.
            let p99 = prometheus
                .query(
                    r#"histogram_quantile(0.99, sum by (le, gen_ai_tool_name) (mcp_server_operation_duration_seconds_bucket{gen_ai_tool_name="test_simple_text"}))"#,
                )
                .await;
            assert_eq!(p99.len(), 1, "{p99:?}");
        },
    )
    .await;
}

#[tokio::test]
async fn metrics_turned_off_are_not_served() {
    bounded("metrics_turned_off_are_not_served", async {
        let server = HttpProcess::start("everything", &[], &[("MCP_METRICS", "false")]).await;
        let response = reqwest::get(format!("{}/metrics", server.base))
            .await
            .expect("GET /metrics");
        assert_eq!(response.status(), 404);
    })
    .await;
}

/// The dashboard operators import (`deploy/grafana/cm-mcp-dashboard.json`): every panel's query,
/// with Grafana's variables filled in as Grafana would, must parse and return data from a real
/// Prometheus scraping two servers that between them use every metric (`everything`: tools,
/// resources, prompts, a failing tool; `my-service`: a connector).
#[tokio::test]
async fn every_panel_of_the_grafana_dashboard_is_a_query_prometheus_answers_with_data() {
    let test = "every_panel_of_the_grafana_dashboard_is_a_query_prometheus_answers_with_data";
    bounded(test, async {
        let Some(binary) = prometheus_or_skip(test) else {
            return;
        };
        let dashboard: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("deploy/grafana/cm-mcp-dashboard.json"),
            )
            .expect("read the dashboard"),
        )
        .expect("the dashboard is JSON");
        let everything = HttpProcess::start("everything", &[], &[]).await;
        let my_service = HttpProcess::start("my-service", &[], &[]).await;
        // A session that has ended, for the session-duration panel.
        let ended = everything.client().await;
        call_tool(&ended, "test_simple_text", json!({})).await;
        ended.cancel().await.expect("close a session");
        let client = everything.client().await;
        for _ in 0..3 {
            call_tool(&client, "test_simple_text", json!({})).await;
        }
        call_tool(&client, "test_error_handling", json!({})).await;
        client
            .read_resource(ReadResourceRequestParams::new("test://static-text"))
            .await
            .expect("read a resource");
        client
            .get_prompt(GetPromptRequestParams::new("test_simple_prompt"))
            .await
            .expect("get a prompt");
        let other = my_service.client().await;
        call_tool(&other, "my_tool", json!({"input_param": "x"})).await;

        let targets = [&everything, &my_service]
            .map(|server| server.base.trim_start_matches("http://").to_string());
        let prometheus = Prometheus::scraping(&binary, &targets).await;
        // Rates need two scrapes of the counters after the calls.
        prometheus
            .wait_value(
                "count(count_over_time(cm_mcp_calls_in_flight[1m]) >= 3)",
                2.0,
            )
            .await;

        let panels = dashboard["panels"].as_array().expect("panels");
        assert!(
            panels.len() >= 8,
            "the dashboard has {} panels",
            panels.len()
        );
        for panel in panels {
            let title = panel["title"].as_str().unwrap_or("?");
            let targets = panel["targets"].as_array().expect("each panel has targets");
            assert!(!targets.is_empty(), "panel `{title}` has no query");
            for target in targets {
                let expr = target["expr"].as_str().expect("a PromQL expr");
                let query = expr
                    .replace("$__rate_interval", "1m")
                    .replace("$job", ".*")
                    .replace("$instance", ".*");
                let result = prometheus.query(&query).await;
                assert!(
                    !result.is_empty(),
                    "panel `{title}`: `{query}` returned no data"
                );
            }
        }
        // The variables' queries (`label_values(METRIC{..}, LABEL)`) name a metric that has data.
        for variable in dashboard["templating"]["list"]
            .as_array()
            .expect("variables")
        {
            let Some(query) = variable["query"].as_str() else {
                continue;
            };
            let Some(inner) = query
                .strip_prefix("label_values(")
                .and_then(|q| q.strip_suffix(')'))
            else {
                continue;
            };
            let (metric, label) = inner
                .rsplit_once(", ")
                .expect("label_values(metric, label)");
            let query = format!("group by ({label}) ({})", metric.replace("$job", ".*"));
            assert!(
                !prometheus.query(&query).await.is_empty(),
                "variable {}: `{query}` returned no data",
                variable["name"]
            );
        }
    })
    .await;
}
