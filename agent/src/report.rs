//! `hone report`: one self-contained HTML file per run, viewable offline (inline SVG, no
//! scripts): the run's figures, a score chart, the tree, and every node's code and diff
//! against its parent in collapsible sections, for a shared, static copy of a run.

mod qd;

use std::collections::BTreeMap;
use std::fmt::Write;

use hone_store::{LlmCallRecord, NodeId, NodeRecord, RunSummary};

use crate::diff::{self, FileChange, LineKind};

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
         .warn{{color:#a40}}details{{margin:.2em 0}}summary{{cursor:pointer}}\
         .ins{{background:#e6ffec;display:block}}.del{{background:#ffebe9;display:block}}.hunk{{color:#6f42c1;display:block}}.ctx{{display:block}}\
         .best{{font-weight:bold}}</style></head><body><h1>{title}</h1>"
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
    html.push_str(&qd::sections(&run.config, nodes));
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
    html.push_str(&node_details(nodes, best));
    html.push_str("</body></html>\n");
    html
}

/// At most this many nodes get their code and diff in the report (the best path first,
/// then the highest public scores).
pub const NODE_DETAIL_LIMIT: usize = 300;

/// Every node's code and diff against its parent, one collapsible section each (the best
/// path open), in id order.
fn node_details(nodes: &[NodeRecord], best: Option<NodeId>) -> String {
    let by_id: std::collections::HashMap<NodeId, &NodeRecord> =
        nodes.iter().map(|n| (n.id, n)).collect();
    let mut best_path = std::collections::HashSet::new();
    let mut cursor = best;
    while let Some(id) = cursor {
        best_path.insert(id);
        cursor = by_id.get(&id).and_then(|n| n.parent);
    }
    let mut shown: Vec<&NodeRecord> = nodes.iter().collect();
    if shown.len() > NODE_DETAIL_LIMIT {
        shown.sort_by(|a, b| {
            let key = |n: &NodeRecord| {
                (
                    best_path.contains(&n.id),
                    n.rank_score().unwrap_or(f64::NEG_INFINITY),
                )
            };
            key(b)
                .partial_cmp(&key(a))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        shown.truncate(NODE_DETAIL_LIMIT);
        shown.sort_by_key(|n| n.id);
    }
    let mut html = String::from(
        "<h2>Nodes</h2><p>Each node's code and its diff against its parent; the best path is open.</p>",
    );
    if shown.len() < nodes.len() {
        let _ = write!(
            html,
            "<p>{} of {} nodes: the best path and the highest public scores.</p>",
            shown.len(),
            nodes.len()
        );
    }
    for node in shown {
        let on_path = best_path.contains(&node.id);
        let score = node
            .evaluation
            .score
            .map(|s| format!("{s:.4}"))
            .unwrap_or_else(|| "-".into());
        let _ = write!(
            html,
            "<details id=\"node-{id}\"{open}><summary{class}>#{id} {op} {status} score {score}{parent}{dup}{novelty}</summary>",
            id = node.id.0,
            open = if on_path { " open" } else { "" },
            class = if Some(node.id) == best {
                " class=\"best\""
            } else {
                ""
            },
            op = escape(&node.operator),
            status = escape(&node.evaluation.status),
            parent = node
                .parent
                .map(|p| format!(" (parent #{})", p.0))
                .unwrap_or_default(),
            dup = node
                .duplicate_of
                .map(|d| format!(" (duplicate of #{})", d.0))
                .unwrap_or_default(),
            novelty = crate::novelty::Rejection::of(node)
                .map(|r| format!(
                    " (not evaluated: {:.4} similar to #{})",
                    r.similarity, r.neighbour
                ))
                .unwrap_or_default(),
        );
        let files = diff::candidate_files(node);
        match node.parent.and_then(|p| by_id.get(&p)) {
            Some(parent) => {
                let changes = diff::files(&diff::candidate_files(parent), &files);
                let changed: Vec<_> = changes
                    .iter()
                    .filter(|d| d.change != FileChange::Unchanged)
                    .collect();
                let _ = write!(
                    html,
                    "<details class=\"diff\"><summary>diff against #{}</summary>",
                    node.parent.map(|p| p.0).unwrap_or_default()
                );
                if changed.is_empty() {
                    html.push_str("<p>No difference.</p>");
                }
                for file in changed {
                    let _ = write!(html, "<h4>{}</h4><pre>", escape(&file.file));
                    for line in &file.lines {
                        let class = match line.kind {
                            LineKind::Hunk => "hunk",
                            LineKind::Context => "ctx",
                            LineKind::Insert => "ins",
                            LineKind::Delete => "del",
                        };
                        let _ = write!(
                            html,
                            "<span class=\"{class}\">{}{}</span>",
                            line.kind.prefix(),
                            escape(&line.text)
                        );
                    }
                    html.push_str("</pre>");
                }
                html.push_str("</details>");
            }
            None => html.push_str("<p>A root: no parent to diff against.</p>"),
        }
        html.push_str("<details class=\"code\"><summary>code</summary>");
        for (name, text) in &files {
            let _ = write!(html, "<h4>{}</h4><pre>{}</pre>", escape(name), escape(text));
        }
        html.push_str("</details></details>");
    }
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
