//! `hone report`: one self-contained HTML file per run, viewable offline (inline SVG, no scripts).

use std::collections::BTreeMap;
use std::fmt::Write;

use hone_store::{LlmCallRecord, NodeId, NodeRecord, RunSummary};

use crate::orchestrator::events::FallbackCount;

/// Renders the report of a run from what the store holds.
pub fn render(
    summary: &RunSummary,
    nodes: &[NodeRecord],
    calls: &[LlmCallRecord],
    best: Option<NodeId>,
    fallbacks: &[FallbackCount],
) -> String {
    let run = &summary.run;
    let mut html = String::new();
    let title = format!("hone run {} — {}", run.id.0, escape(&run.task_name));
    let _ = write!(
        html,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 10px;text-align:left}}\
         th{{background:#f4f4f4}}pre{{background:#f8f8f8;padding:1em;overflow-x:auto;font-size:12px}}\
         .warn{{color:#a40}}</style></head><body><h1>{title}</h1>"
    );
    let replayed = calls.iter().any(|c| c.replayed);
    let _ = write!(
        html,
        "<table><tr><th>task</th><td>{} ({})</td></tr><tr><th>strategy</th><td>{}</td></tr>\
         <tr><th>status</th><td>{} {}</td></tr><tr><th>seed</th><td>{}</td></tr>\
         <tr><th>evaluations</th><td>{} ({} duplicates reused)</td></tr><tr><th>model calls</th><td>{}{}</td></tr>\
         <tr><th>tokens</th><td>{}</td></tr><tr><th>dollars</th><td>{:.4}</td></tr><tr><th>active time</th><td>{:.0} s</td></tr>\
         <tr><th>best</th><td>{}</td></tr></table>",
        escape(&run.task_name),
        escape(&run.kind),
        escape(&run.strategy),
        escape(run.status.as_str()),
        escape(run.status_detail.as_deref().unwrap_or("")),
        run.seed,
        summary.spend.evaluations,
        summary.spend.duplicates,
        summary.spend.llm_calls,
        if replayed {
            " (replayed from a cassette, not a live model)"
        } else {
            ""
        },
        summary.spend.tokens(),
        summary.spend.dollars,
        summary.spend.wall_seconds,
        summary
            .best
            .as_ref()
            .map(|b| escape(&crate::cli::inspect::best_line(b)))
            .unwrap_or_else(|| "-".into()),
    );
    if let Some(b) = &summary.best
        && b.basis == hone_store::ScoreBasis::Private
        && b.score < b.public_score - 0.2 * b.public_score.abs()
    {
        let _ = write!(
            html,
            "<p class=\"warn\">The best node's public score ({:.6}) is far above its private score ({:.6}): special-cased public cases, or overfitting?</p>",
            b.public_score, b.score
        );
    }
    let _ = write!(
        html,
        "<p>Scores are ranked by the private score, measured on held-out cases for the {} node(s) \
         whose public score entered the run's best {}; the chart and the tree show public scores \
         (and the private ones where measured).</p>",
        summary.private_evaluations.len(),
        crate::orchestrator::PRIVATE_TOP_K
    );
    html.push_str("<h2>Public scores over evaluations</h2>");
    html.push_str(&score_chart(nodes));
    html.push_str("<h2>Counts by status</h2><table><tr><th>status</th><th>nodes</th></tr>");
    for (status, count) in &summary.by_status {
        let _ = write!(html, "<tr><td>{}</td><td>{count}</td></tr>", escape(status));
    }
    html.push_str("</table><h2>Spend by model</h2><table><tr><th>model</th><th>calls</th><th>tokens in</th><th>tokens out</th><th>dollars</th><th>errors</th></tr>");
    let mut by_model: BTreeMap<&str, (i64, i64, i64, f64, i64)> = BTreeMap::new();
    for c in calls {
        let e = by_model.entry(c.model.as_str()).or_default();
        e.0 += 1;
        e.1 += c.tokens_in;
        e.2 += c.tokens_out;
        e.3 += c.cost_dollars;
        e.4 += i64::from(c.error.is_some() || c.parse_error.is_some());
    }
    for (model, (n, tin, tout, dollars, errors)) in by_model {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{n}</td><td>{tin}</td><td>{tout}</td><td>{dollars:.4}</td><td>{errors}</td></tr>",
            escape(model)
        );
    }
    html.push_str("</table>");
    if !fallbacks.is_empty() {
        html.push_str("<h2>Fallbacks to a plain improve</h2><p>Replies an operator could not use, even after a re-ask; a plain improve of the same node ran instead.</p><table><tr><th>operator</th><th>model</th><th>fallbacks</th></tr>");
        for f in fallbacks {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                f.operator,
                escape(&f.model),
                f.count
            );
        }
        html.push_str("</table>");
    }
    html.push_str("<h2>Tree</h2><pre>");
    html.push_str(&escape(&crate::cli::inspect::render_tree(
        nodes,
        &summary.private_evaluations,
        best,
        400,
    )));
    html.push_str("</pre>");
    if let Some(best) = best.and_then(|b| nodes.iter().find(|n| n.id == b)) {
        html.push_str("<h2>Best candidate</h2>");
        for (name, text) in &best.files {
            let _ = write!(html, "<h3>{}</h3><pre>{}</pre>", escape(name), escape(text));
        }
        if best.values.as_object().is_some_and(|v| !v.is_empty()) {
            let _ = write!(
                html,
                "<pre>{}</pre>",
                escape(&serde_json::to_string_pretty(&best.values).unwrap_or_default())
            );
        }
    }
    html.push_str("</body></html>\n");
    html
}

/// An SVG chart: every valid node's score (dots) and the best so far (line), by evaluation order.
fn score_chart(nodes: &[NodeRecord]) -> String {
    let points: Vec<(usize, f64)> = nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| n.rank_score().filter(|s| s.is_finite()).map(|s| (i, s)))
        .collect();
    if points.is_empty() {
        return "<p>No valid node yet.</p>".into();
    }
    let (w, h, pad) = (900.0, 300.0, 40.0);
    let n = nodes.len().max(2) as f64 - 1.0;
    let lo = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let x = |i: usize| pad + (w - 2.0 * pad) * i as f64 / n;
    let y = |s: f64| h - pad - (h - 2.0 * pad) * (s - lo) / span;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" style=\"border:1px solid #ddd\">"
    );
    let _ = write!(
        svg,
        "<text x=\"5\" y=\"15\" font-size=\"11\">{hi:.4}</text><text x=\"5\" y=\"{}\" font-size=\"11\">{lo:.4}</text>",
        h - 5.0
    );
    let mut best = f64::NEG_INFINITY;
    let mut path = String::new();
    for &(i, s) in &points {
        best = best.max(s);
        let _ = write!(
            path,
            "{}{:.1},{:.1} ",
            if path.is_empty() { "M" } else { "L" },
            x(i),
            y(best)
        );
        let _ = write!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#88a\"/>",
            x(i),
            y(s)
        );
    }
    let _ = write!(
        svg,
        "<path d=\"{path}\" fill=\"none\" stroke=\"#c33\" stroke-width=\"2\"/></svg>"
    );
    svg.push_str("<p>dots: each valid node's score; red line: best so far.</p>");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
