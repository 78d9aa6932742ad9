//! Tables (terminal and Markdown) and the SVG chart.

use std::{fmt::Write as _, path::Path};

use plotters::{
    prelude::*,
    style::text_anchor::{HPos, Pos, VPos},
};

use crate::{
    load::LoadResult,
    postgres::{POSTGRES_MCP, PostgresResult, SEED},
    suite::{BARE, LIMIT, Results, ScenarioResult},
};

/// A terminal table of one load run.
pub fn load_table(label: &str, r: &LoadResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{label}");
    let _ = writeln!(
        out,
        "  transport      {} ({})",
        r.transport,
        if r.sessions { "sessions" } else { "stateless" }
    );
    let _ = writeln!(out, "  clients        {}", r.clients);
    let _ = writeln!(
        out,
        "  measured       {:.2} s, {} calls, {} errors",
        r.seconds, r.calls, r.errors
    );
    let _ = writeln!(out, "  throughput     {:.0} calls/s", r.calls_per_s);
    let l = &r.latency;
    let _ = writeln!(
        out,
        "  latency ms     p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}  mean {:.3}",
        l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.mean_ms
    );
    let _ = writeln!(
        out,
        "  client CPU     {:.1} µs/call",
        r.client_cpu_us_per_call
    );
    if let Some(cpu) = r.server_cpu_us_per_call {
        let _ = writeln!(out, "  server CPU     {cpu:.1} µs/call");
    }
    if let Some(rss) = r.server_rss_kib {
        let _ = writeln!(out, "  server RSS     {:.1} MiB", rss as f64 / 1024.0);
    }
    if r.server_processes.len() > 1 {
        for p in &r.server_processes {
            let _ = writeln!(
                out,
                "    {} {:<15} {} µs/call, {} MiB, {} context switches/call",
                p.pid,
                p.name,
                p.cpu_us_per_call
                    .map_or_else(|| "–".into(), |c| format!("{c:.1}")),
                mib(p.rss_kib),
                p.context_switches_per_call
                    .map_or_else(|| "–".into(), |n| format!("{n:.2}"))
            );
        }
    }
    for sample in &r.error_samples {
        let _ = writeln!(out, "  error          {sample}");
    }
    out
}

fn ratio(r: Option<f64>) -> String {
    r.filter(|r| r.is_finite())
        .map_or_else(|| "–".into(), |r| format!("{r:.2}×"))
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "–".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn num(x: f64, digits: usize) -> String {
    if x.is_finite() {
        format!("{x:.digits$}")
    } else {
        "–".into()
    }
}

/// The results as Markdown: the machine, every table, and how each target fared.
pub fn markdown(results: &Results) -> String {
    let mut md = String::new();
    let m = &results.machine;
    let _ = writeln!(
        md,
        "Measured {} on {} ({} logical CPUs), {} MiB RAM, Linux {}, {}.",
        m.date, m.cpu, m.cpus, m.memory_mib, m.kernel, m.rustc
    );
    let _ = writeln!(
        md,
        "Load average (1, 5, 15 min) before: {}; after: {}.\n",
        m.load_before, m.load_after
    );
    if !results.compare.is_empty() {
        if let Some(s) = &results.settings {
            let _ = writeln!(
                md,
                "Interleaved: {} rounds; in each round every server runs once ({} s warm-up + {} s measured), in reverse order every other round. Medians over the rounds; ratios are against the medians of the limit server (axum + serde_json answering the same JSON-RPC, no MCP machinery) and of the bare rmcp server. Tool `{}` with arguments `{}`.\n",
                s.rounds, s.warmup_seconds, s.seconds, s.tool, s.arguments
            );
        }
        let _ = writeln!(md, "![throughput and latency](bench/chart.svg)\n");
        for scenario in &results.compare {
            scenario_table(&mut md, scenario);
        }
    }
    if let Some(postgres) = &results.postgres {
        postgres_tables(&mut md, postgres);
    }
    if !results.cold_start.is_empty() {
        table(
            &mut md,
            "Cold start (spawn → first `GET /health` 200)",
            "| server | median ms | min ms | max ms | runs |\n|---|---:|---:|---:|---:|",
            results.cold_start.iter().map(|c| {
                format!(
                    "| {} | {:.1} | {:.1} | {:.1} | {} |",
                    c.server, c.median_ms, c.min_ms, c.max_ms, c.runs
                )
            }),
        );
    }
    if !results.memory.is_empty() {
        table(
            &mut md,
            "Memory (RSS)",
            "| server | at start MiB | idle after 100 calls MiB | with N sessions MiB | KiB per session | sessions still open |\n|---|---:|---:|---:|---:|---|",
            results.memory.iter().map(|r| {
                format!(
                    "| {} | {:.1} | {:.1} | {:.1} (N = {}) | {:.1} | {} |",
                    r.server,
                    r.started_kib as f64 / 1024.0,
                    r.idle_kib as f64 / 1024.0,
                    r.with_sessions_kib as f64 / 1024.0,
                    r.sessions,
                    r.per_session_kib,
                    if r.sessions_verified { "yes" } else { "NO" }
                )
            }),
        );
    }
    if !results.build.is_empty() {
        table(
            &mut md,
            "Build time of a generated crate (`cargo build`, dev profile)",
            "| crate | clean (deps built) s | incremental (one body changed) s | first build incl. deps s |\n|---|---:|---:|---:|",
            results.build.iter().map(|b| {
                format!(
                    "| {} | {:.2} | {:.2} | {:.1} |",
                    b.variant, b.clean_s, b.incremental_s, b.first_build_s
                )
            }),
        );
    }
    md.push_str(&targets(results));
    md
}

/// Appends a `###` section holding one table: `header` is the header row and the alignment row.
fn table(md: &mut String, heading: &str, header: &str, rows: impl IntoIterator<Item = String>) {
    let _ = writeln!(md, "### {heading}\n");
    let _ = writeln!(md, "{header}");
    for row in rows {
        let _ = writeln!(md, "{row}");
    }
    md.push('\n');
}

fn scenario_table(md: &mut String, s: &ScenarioResult) {
    table(
        md,
        &s.scenario.name,
        "| server | calls/s | (min–max) | vs limit | vs bare | p50 ms | vs limit | vs bare | p90 ms | p99 ms | server CPU µs/call | client CPU µs/call | errors | RSS MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        s.rows.iter().map(|r| {
            format!(
                "| {} | {:.0} | {:.0}–{:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.server,
                r.calls_per_s,
                r.calls_per_s_range.0,
                r.calls_per_s_range.1,
                ratio(r.throughput_vs_limit),
                ratio(r.throughput_vs_bare),
                num(r.p50_ms, 3),
                ratio(r.p50_vs_limit),
                ratio(r.p50_vs_bare),
                num(r.p90_ms, 3),
                num(r.p99_ms, 3),
                num(r.server_cpu_us, 1),
                num(r.client_cpu_us, 1),
                r.errors,
                mib(r.rss_kib)
            )
        }),
    );
}

/// The least postgres-mcp's `execute_sql` must reach, in calls/s, relative to the seed's design
/// (issue 16).
const POSTGRES_TARGET: f64 = 10.0;

fn postgres_tables(md: &mut String, pg: &PostgresResult) {
    let s = &pg.settings;
    for scenario in &pg.scenarios {
        table(
            md,
            &format!(
                "{POSTGRES_MCP} `{}` against the seed's design, PostgreSQL ({})",
                s.tool, scenario.scenario.name
            ),
            "| server | calls/s | (min–max) | vs seed | p50 ms | vs seed | p99 ms | server CPU µs/call | PostgreSQL CPU µs/call | backends | client CPU µs/call | errors | RSS MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            scenario.rows.iter().map(|p| {
                let r = &p.row;
                format!(
                    "| {} | {:.0} | {:.0}–{:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    r.server,
                    r.calls_per_s,
                    r.calls_per_s_range.0,
                    r.calls_per_s_range.1,
                    ratio(p.throughput_vs_seed),
                    num(r.p50_ms, 3),
                    ratio(p.p50_vs_seed),
                    num(r.p99_ms, 3),
                    num(r.server_cpu_us, 1),
                    num(p.postgres_cpu_us.unwrap_or(f64::NAN), 1),
                    p.backends,
                    num(r.client_cpu_us, 1),
                    r.errors,
                    mib(r.rss_kib)
                )
            }),
        );
        let verdict = match scenario.speedup() {
            Some(x) if x >= POSTGRES_TARGET => format!("{x:.1}×, met"),
            Some(x) => format!("{x:.1}×, **not met**"),
            None => format!("not measured ({SEED} did not run)"),
        };
        let _ = writeln!(
            md,
            "Interleaved: {} round{} of {} s warm-up + {} s measured, medians. Both servers query the scratch database `{}` (table `items`, {} rows; created and dropped by the run) with `{}`; every answer had to contain {}. Server CPU is the server's process; PostgreSQL CPU is that of the backends serving its connections. Target (issue 16), {POSTGRES_MCP} ≥ {POSTGRES_TARGET}× the seed's calls/s: {verdict}.\n",
            s.rounds,
            if s.rounds == 1 { "" } else { "s" },
            s.warmup_seconds,
            s.seconds,
            s.database,
            s.rows,
            s.query,
            s.expect_contains
                .iter()
                .map(|piece| format!("`{piece}`"))
                .collect::<Vec<_>>()
                .join(" and "),
        );
    }
}

/// What was measured, and whether it meets its target (no verdict for a reference row).
type Judged = (String, Option<bool>);
/// One target: the label, then the judgement per judged server.
type TargetRow = (String, Vec<Option<Judged>>);

fn targets(results: &Results) -> String {
    // cm-mcp as shipped, and the patched build when the run had one.
    let judged: Vec<&str> = ["cm-mcp", crate::suite::CANDIDATE]
        .into_iter()
        .filter(|name| {
            results
                .compare
                .iter()
                .any(|s| s.rows.iter().any(|r| r.server == *name))
                || results.memory.iter().any(|m| m.server == *name)
        })
        .collect();
    let row_of = |s: &ScenarioResult, name: &str| s.rows.iter().find(|r| r.server == name).cloned();
    let mut rows: Vec<TargetRow> = Vec::new();
    let mut add = |label: String, f: &dyn Fn(&str) -> Option<Judged>| {
        let cells: Vec<_> = judged.iter().map(|name| f(name)).collect();
        if cells.iter().any(Option::is_some) {
            rows.push((label, cells));
        }
    };
    for s in &results.compare {
        // Throughput targets are about capacity under concurrent load (the issue's anchors are for
        // 8 clients); one client waiting for each answer has its own target, on p50 latency, and its
        // throughput is shown for reference.
        // Issue 16 raised stateful HTTP and stdio (where the tool's log message travels) to bare
        // rmcp's level, stdio with one request in flight too; the stateless paths keep 0.9×.
        let floor = match s.scenario.transport.as_str() {
            "stdio" => Some(1.0),
            "http" if s.scenario.clients > 1 => Some(1.0),
            _ if s.scenario.clients > 1 => Some(0.9),
            _ => None,
        };
        if let Some(floor) = floor {
            add(
                format!("throughput ≥ {floor:.1}× bare ({})", s.scenario.name),
                &|name| {
                    let t = row_of(s, name)?.throughput_vs_bare?;
                    Some((format!("{t:.3}×"), Some(t >= floor)))
                },
            );
        } else {
            add(
                format!("throughput vs bare ({}; for reference)", s.scenario.name),
                &|name| {
                    let t = row_of(s, name)?.throughput_vs_bare?;
                    Some((format!("{t:.3}×"), None))
                },
            );
        }
        // Issue 16: the stateless paths (every 2026-07-28 request is one) at half the limit or
        // better under concurrent load, with the full instrumentation on.
        if matches!(
            s.scenario.transport.as_str(),
            "http-stateless" | "http-2026"
        ) && s.scenario.clients > 1
        {
            add(
                format!("throughput ≥ 0.5× limit ({})", s.scenario.name),
                &|name| {
                    let t = row_of(s, name)?.throughput_vs_limit?;
                    Some((format!("{t:.3}×"), Some(t >= 0.5)))
                },
            );
        }
        // The issue's FastMCP anchors are for concurrent HTTP clients; with one client waiting for
        // each answer (or stdio's one session) even bare rmcp is far from 20×, so the ratio is shown
        // there with bare rmcp's own for reference, not judged. The anchors predate protocol
        // 2026-07-28, so its scenario is shown for reference too.
        let vs_fastmcp =
            |name: &str| Some(row_of(s, name)?.calls_per_s / row_of(s, "FastMCP")?.calls_per_s);
        if matches!(s.scenario.transport.as_str(), "http" | "http-stateless")
            && s.scenario.clients > 1
        {
            add(
                format!("throughput ≥ 20× FastMCP ({})", s.scenario.name),
                &|name| {
                    let t = vs_fastmcp(name)?;
                    Some((format!("{t:.1}×"), Some(t >= 20.0)))
                },
            );
        } else if let Some(bare) = vs_fastmcp(BARE) {
            add(
                format!(
                    "throughput vs FastMCP ({}; for reference, bare rmcp: {bare:.1}×)",
                    s.scenario.name
                ),
                &|name| Some((format!("{:.1}×", vs_fastmcp(name)?), None)),
            );
        }
        if s.scenario.clients == 1 {
            add(
                format!("single-client p50 ≤ 1.2× bare ({})", s.scenario.name),
                &|name| {
                    let row = row_of(s, name)?;
                    let p = row.p50_vs_bare?;
                    let bare = row_of(s, BARE)?.p50_ms;
                    Some((
                        format!("{p:.2}× ({:.3} vs {bare:.3} ms)", row.p50_ms),
                        Some(p <= 1.2),
                    ))
                },
            );
        }
    }
    add("idle RSS ≤ 15 MB".into(), &|name| {
        let m = results.memory.iter().find(|m| m.server == name)?;
        let mb = m.idle_kib as f64 * 1024.0 / 1e6;
        Some((format!("{mb:.1} MB"), Some(mb <= 15.0)))
    });
    add("cold start ≤ 50 ms".into(), &|name| {
        let c = results.cold_start.iter().find(|c| c.server == name)?;
        Some((format!("{:.1} ms", c.median_ms), Some(c.median_ms <= 50.0)))
    });
    if rows.is_empty() {
        return String::new();
    }
    let mut md = String::from("### Targets\n\n| target |");
    for name in &judged {
        let _ = write!(md, " {name} | |");
    }
    md.push_str("\n|---|");
    md.push_str(&"---|---|".repeat(judged.len()));
    md.push('\n');
    for (label, cells) in rows {
        let _ = write!(md, "| {label} |");
        for cell in cells {
            match cell {
                Some((measured, Some(true))) => {
                    let _ = write!(md, " {measured} | met |");
                }
                Some((measured, Some(false))) => {
                    let _ = write!(md, " {measured} | **not met** |");
                }
                Some((measured, None)) => {
                    let _ = write!(md, " {measured} | – |");
                }
                None => md.push_str(" – | |"),
            }
        }
        md.push('\n');
    }
    md.push('\n');
    md
}

/// Replaces the text between `<!-- results -->` and `<!-- /results -->` in `file` with `content`.
pub fn splice(file: &Path, content: &str) -> anyhow::Result<()> {
    const START: &str = "<!-- results -->";
    const END: &str = "<!-- /results -->";
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let (Some(a), Some(b)) = (text.find(START), text.find(END)) else {
        anyhow::bail!(
            "{} has no `{START}` … `{END}` block to put the results in",
            file.display()
        );
    };
    anyhow::ensure!(a < b, "{}: `{END}` comes before `{START}`", file.display());
    let updated = format!("{}{START}\n{content}{}", &text[..a], &text[b..]);
    std::fs::write(file, updated)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))
}

/// Each server keeps its color whichever servers a run has.
fn color_for(server: &str, index: usize) -> RGBColor {
    match server {
        "cm-mcp" => RGBColor(31, 119, 180),
        "cm-mcp (logs off)" => RGBColor(158, 202, 225),
        crate::suite::CANDIDATE => RGBColor(148, 103, 189),
        BARE => RGBColor(255, 127, 14),
        LIMIT => RGBColor(90, 90, 90),
        "FastMCP" => RGBColor(44, 160, 44),
        _ => [
            RGBColor(140, 86, 75),
            RGBColor(227, 119, 194),
            RGBColor(127, 127, 127),
        ][index % 3],
    }
}

/// Draws throughput and p50 latency of every scenario and server as grouped bars into an SVG.
pub fn chart(results: &Results, path: &Path) -> anyhow::Result<()> {
    let scenarios = &results.compare;
    anyhow::ensure!(!scenarios.is_empty(), "no comparison results to draw");
    // Every server of any scenario, in the order they first appear; a server missing from a
    // scenario gets no bar there.
    let mut servers: Vec<String> = Vec::new();
    for row in scenarios.iter().flat_map(|s| &s.rows) {
        if !servers.contains(&row.server) {
            servers.push(row.server.clone());
        }
    }
    let value = |s: &ScenarioResult, name: &str, f: fn(&crate::suite::Row) -> f64| {
        s.rows.iter().find(|r| r.server == name).map_or(f64::NAN, f)
    };
    let root = SVGBackend::new(path, (1400, 860)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_error)?;
    let title = format!(
        "my_tool over MCP: medians of {} interleaved rounds on {} CPUs (client and server share them)",
        results.settings.as_ref().map_or(0, |s| s.rounds),
        results.machine.cpus
    );
    let root = root
        .titled(&title, ("sans-serif", 18))
        .map_err(draw_error)?;
    let (top, bottom) = root.split_vertically(420);
    let throughput: Vec<Vec<f64>> = scenarios
        .iter()
        .map(|s| {
            servers
                .iter()
                .map(|name| value(s, name, |r| r.calls_per_s))
                .collect()
        })
        .collect();
    let latency: Vec<Vec<f64>> = scenarios
        .iter()
        .map(|s| {
            servers
                .iter()
                .map(|name| value(s, name, |r| r.p50_ms))
                .collect()
        })
        .collect();
    let labels: Vec<String> = scenarios.iter().map(|s| s.scenario.name.clone()).collect();
    bars(
        &top,
        // Log scale: the limit's stdio figures are 20× those of the servers and 200× FastMCP's.
        "Throughput, calls/s, log scale (higher is better)",
        &labels,
        &servers,
        &throughput,
        true,
        |v| format!("{v:.0}"),
    )?;
    bars(
        &bottom,
        "p50 latency, ms, log scale (lower is better)",
        &labels,
        &servers,
        &latency,
        true,
        |v| {
            if v >= 10.0 {
                format!("{v:.0}")
            } else if v >= 1.0 {
                format!("{v:.1}")
            } else {
                format!("{v:.2}")
            }
        },
    )?;
    root.present().map_err(draw_error)?;
    Ok(())
}

fn draw_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing the chart failed: {e:?}")
}

#[allow(clippy::too_many_arguments)]
fn bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    groups: &[String],
    series: &[String],
    values: &[Vec<f64>],
    log: bool,
    label: impl Fn(f64) -> String,
) -> anyhow::Result<()> {
    let n = groups.len() as f64;
    let max = values
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let min = values
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let width = 0.8 / series.len().max(1) as f64;
    let group_label = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < groups.len() {
            groups[i as usize].clone()
        } else {
            String::new()
        }
    };
    let style = ("sans-serif", 11)
        .into_font()
        .into_text_style(area)
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    macro_rules! draw {
        ($chart:expr, $base:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(groups.len())
                .x_label_formatter(&group_label)
                .x_label_style(("sans-serif", 13))
                .y_label_style(("sans-serif", 12))
                .y_label_formatter(&|v: &f64| {
                    if *v >= 1.0 {
                        format!("{v:.0}")
                    } else {
                        format!("{v}")
                    }
                })
                .draw()
                .map_err(draw_error)?;
            for (j, name) in series.iter().enumerate() {
                let color = color_for(name, j);
                let rects = values.iter().enumerate().filter_map(|(i, row)| {
                    let v = *row.get(j)?;
                    v.is_finite().then(|| {
                        let x0 = i as f64 - 0.4 + j as f64 * width;
                        Rectangle::new([(x0, $base), (x0 + width * 0.92, v)], color.filled())
                    })
                });
                chart
                    .draw_series(rects)
                    .map_err(draw_error)?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                    });
                let texts = values.iter().enumerate().filter_map(|(i, row)| {
                    let v = *row.get(j)?;
                    v.is_finite().then(|| {
                        let x = i as f64 - 0.4 + (j as f64 + 0.46) * width;
                        Text::new(label(v), (x, v), style.clone())
                    })
                });
                chart.draw_series(texts).map_err(draw_error)?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .label_font(("sans-serif", 12))
                .draw()
                .map_err(draw_error)?;
        }};
    }
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(caption, ("sans-serif", 15))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(55);
    if log {
        let low = (min / 2.0).max(1e-3);
        let chart = builder
            // Head room above the tallest bar for the legend.
            .build_cartesian_2d(-0.5..n - 0.5, (low..max * 12.0).log_scale())
            .map_err(draw_error)?;
        draw!(chart, low);
    } else {
        let chart = builder
            .build_cartesian_2d(-0.5..n - 0.5, 0.0..max * 1.3)
            .map_err(draw_error)?;
        draw!(chart, 0.0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        load::ProcessUsage,
        postgres::{PostgresRow, PostgresScenario, PostgresSettings},
        stats::Latency,
        suite::{Memory, Row, Scenario},
    };

    fn run(cps: f64, p50: f64) -> LoadResult {
        LoadResult {
            transport: "http".into(),
            sessions: true,
            clients: 1,
            seconds: 1.0,
            calls: cps as u64,
            errors: 0,
            calls_per_s: cps,
            latency: Latency {
                p50_ms: p50,
                p90_ms: p50,
                p99_ms: p50,
                max_ms: p50,
                mean_ms: p50,
            },
            client_cpu_us_per_call: 10.0,
            server_cpu_us_per_call: Some(50.0),
            server_rss_kib: Some(10240),
            server_processes: vec![],
            error_samples: vec![],
        }
    }

    fn results() -> Results {
        let mut results = Results::default();
        for (scenario, cm_mcp) in [
            ("http:1", 950.0),
            ("http:8", 850.0),
            ("http-2026:8", 1100.0),
        ] {
            let rows = vec![
                Row::from_runs(
                    "cm-mcp",
                    vec![run(900.0, 0.13), run(cm_mcp, 0.12)],
                    Some(14000),
                ),
                Row::from_runs(BARE, vec![run(1000.0, 0.1)], Some(8000)),
                Row::from_runs(LIMIT, vec![run(2000.0, 0.05)], Some(3000)),
                Row::from_runs("FastMCP", vec![run(40.0, 3.0)], None),
            ];
            let scenario = Scenario::parse(scenario).unwrap();
            results.compare.push(ScenarioResult::new(scenario, rows));
        }
        let settings = PostgresSettings {
            rounds: 2,
            seconds: 1.0,
            warmup_seconds: 0.5,
            scenarios: vec![Scenario::parse("http:8").unwrap()],
            database: "cm_bench_pg".into(),
            rows: 100,
            tool: "execute_sql".into(),
            query: crate::postgres::QUERY.into(),
            expect_contains: crate::postgres::expected_rows(),
        };
        let mut fast = run(4100.0, 1.8);
        let mut slow = run(400.0, 18.0);
        for (r, backends) in [(&mut fast, 5), (&mut slow, 4)] {
            r.server_processes = (0..=backends)
                .map(|pid| ProcessUsage {
                    pid,
                    name: String::new(),
                    cpu_us_per_call: Some(if pid == 0 { 150.0 } else { 12.0 }),
                    rss_kib: None,
                    context_switches_per_call: None,
                })
                .collect();
        }
        results.postgres = Some(PostgresResult {
            scenarios: vec![PostgresScenario::new(
                settings.scenarios[0].clone(),
                vec![
                    PostgresRow::from_runs(POSTGRES_MCP, vec![fast], Some(20480)),
                    PostgresRow::from_runs(SEED, vec![slow], None),
                ],
            )],
            settings,
        });
        results.memory.push(Memory {
            server: "cm-mcp".into(),
            started_kib: 9000,
            idle_kib: 16000,
            sessions: 10,
            with_sessions_kib: 17000,
            calls_per_session: 1,
            per_session_kib: 100.0,
            sessions_verified: true,
        });
        results
    }

    #[test]
    fn targets_are_judged_from_the_medians() {
        let md = markdown(&results());
        assert!(
            !md.contains("cm-mcp + patch"),
            "no column for a server the run did not have"
        );
        assert!(
            md.contains("| throughput vs bare (HTTP, 1 client; for reference) | 0.925× | – |"),
            "{md}"
        );
        assert!(
            md.contains("| throughput vs FastMCP (HTTP, 1 client; for reference, bare rmcp: "),
            "{md}"
        );
        assert!(md.contains(" | 23.1× | – |"), "{md}");
        assert!(
            md.contains("| throughput ≥ 1.0× bare (HTTP, 8 clients) | 0.875× | **not met** |"),
            "{md}"
        );
        assert!(
            md.contains("| throughput ≥ 20× FastMCP (HTTP, 8 clients) | 21.9× | met |"),
            "{md}"
        );
        assert!(!md.contains("≥ 20× FastMCP (HTTP, 1 client)"), "{md}");
        assert!(
            md.contains("single-client p50 ≤ 1.2× bare (HTTP, 1 client) | 1.25×"),
            "{md}"
        );
        assert!(
            md.contains("| idle RSS ≤ 15 MB | 16.4 MB | **not met** |"),
            "{md}"
        );
        assert!(
            md.contains("| cm-mcp | 925 | 900–950 | 0.46× | 0.93× | 0.125 | 2.50× | 1.25× |"),
            "{md}"
        );
        assert!(
            md.contains("| limit (axum + serde_json) | 2000 | 2000–2000 | 1.00× | 2.00× |"),
            "{md}"
        );
        assert!(
            md.contains("| throughput ≥ 0.5× limit (HTTP 2026-07-28, 8 clients) | 0.500× | met |"),
            "{md}"
        );
        assert!(
            !md.contains("≥ 0.5× limit (HTTP, 8 clients)"),
            "judged on the stateless paths only: {md}"
        );
        assert!(
            !md.contains("≥ 20× FastMCP (HTTP 2026-07-28"),
            "the FastMCP anchors are for the older revisions: {md}"
        );
        assert!(
            md.contains("| throughput vs FastMCP (HTTP 2026-07-28, 8 clients; for reference"),
            "{md}"
        );
    }

    #[test]
    fn postgres_mcp_is_shown_against_the_seed_with_its_target() {
        let md = markdown(&results());
        assert!(
            md.contains("### postgres-mcp `execute_sql` against the seed's design, PostgreSQL (HTTP, 8 clients)"),
            "{md}"
        );
        assert!(
            md.contains("| postgres-mcp | 4100 | 4100–4100 | 10.25× | 1.800 | 0.10× | 1.800 | 150.0 | 60.0 | 5 | 10.0 | 0 | 20.0 |"),
            "{md}"
        );
        assert!(md.contains("| seed (FastMCP + asyncpg) | 400 |"), "{md}");
        assert!(md.contains("the seed's calls/s: 10.2×, met."), "{md}");
        assert!(
            md.contains(r#"`"name":"item-001"` and `"name":"item-010"`"#),
            "{md}"
        );

        let mut without_seed = results();
        let pg = without_seed.postgres.as_mut().unwrap();
        let rows = std::mem::take(&mut pg.scenarios[0].rows);
        let alone = rows
            .into_iter()
            .filter(|r| r.row.server == POSTGRES_MCP)
            .map(|mut r| {
                r.throughput_vs_seed = None;
                r
            });
        pg.scenarios[0] = PostgresScenario::new(pg.scenarios[0].scenario.clone(), alone.collect());
        let md = markdown(&without_seed);
        assert!(
            md.contains("not measured (seed (FastMCP + asyncpg) did not run)"),
            "{md}"
        );
    }

    #[test]
    fn results_written_before_the_limit_server_still_load_and_render() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/results.json");
        let results = Results::load(&path).unwrap();
        assert!(!results.compare.is_empty());
        let md = markdown(&results);
        assert!(md.contains("| bare rmcp |"), "{md}");
    }

    #[test]
    fn chart_is_an_svg_with_every_server() {
        let path = std::env::temp_dir().join(format!("cm-bench-chart-{}.svg", std::process::id()));
        let mut results = results();
        // A server that did not run the last scenario gets no bar there, and keeps its place.
        let last = results.compare.last_mut().unwrap();
        last.rows.retain(|r| r.server != "FastMCP");
        chart(&results, &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
        for name in [
            "cm-mcp",
            "bare rmcp",
            "limit (axum + serde_json)",
            "FastMCP",
            "HTTP, 1 client",
            "HTTP 2026-07-28, 8 clients",
        ] {
            assert!(svg.contains(name), "{name} missing");
        }
    }

    #[test]
    fn splices_between_markers_only() {
        let path = std::env::temp_dir().join(format!("cm-bench-splice-{}.md", std::process::id()));
        std::fs::write(
            &path,
            "# T\nintro\n<!-- results -->\nold\n<!-- /results -->\noutro\n",
        )
        .unwrap();
        splice(&path, "new\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "# T\nintro\n<!-- results -->\nnew\n<!-- /results -->\noutro\n"
        );
        std::fs::write(&path, "no markers").unwrap();
        assert!(
            splice(&path, "x")
                .unwrap_err()
                .to_string()
                .contains("no `<!-- results -->`")
        );
        let _ = std::fs::remove_file(&path);
    }
}
