//! The report's quality-diversity and multi-objective views: the map-elites grid (occupied
//! cells with their elite's public score) and the Pareto front over `--objectives`.

use std::fmt::Write;

use hone_store::NodeRecord;

use super::escape;
use crate::orchestrator::RunSettings;
use crate::search::StrategyConfig;
use crate::search::measures::Descriptor;

/// The sections a run's settings call for (none for a run without descriptors or
/// objectives, or whose stored settings cannot be read).
pub(super) fn sections(config: &serde_json::Value, nodes: &[NodeRecord]) -> String {
    let Ok(settings) = RunSettings::from_json(config) else {
        return String::new();
    };
    let mut html = String::new();
    if let StrategyConfig::MapElites { descriptors } = &settings.strategy
        && !descriptors.is_empty()
    {
        html.push_str(&grid(descriptors, nodes));
    }
    if !settings.objectives.is_empty() {
        html.push_str(&front(&settings.objectives, nodes));
    }
    html
}

fn range_label(d: &Descriptor, bin: usize) -> String {
    let (lo, hi) = d.bin_range(bin);
    format!("{}–{}", short(lo), short(hi))
}

fn short(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-2) {
        format!("{v:.2e}")
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// The map-elites grid: a matrix for two descriptors, a list of occupied cells otherwise.
fn grid(descriptors: &[Descriptor], nodes: &[NodeRecord]) -> String {
    let archive = crate::search::archive_of_records(nodes, descriptors);
    let cells = archive.cells();
    let mut html = String::new();
    let names: Vec<String> = descriptors.iter().map(|d| escape(&d.spec())).collect();
    let _ = write!(
        html,
        "<h2>MAP-Elites grid</h2><p>{} of {} cells occupied; descriptors {}. Each cell shows \
         its elite: the valid node of the highest public score whose descriptor values fall \
         in it (values outside a range count in its first or last bin).</p>",
        cells.len(),
        archive.capacity(),
        names.join(", ")
    );
    let best = cells
        .iter()
        .map(|c| c.score)
        .fold(f64::NEG_INFINITY, f64::max);
    let worst = cells.iter().map(|c| c.score).fold(f64::INFINITY, f64::min);
    let shade = |score: f64| {
        let t = if best > worst {
            (score - worst) / (best - worst)
        } else {
            1.0
        };
        // White to green.
        let g = (255.0 - 90.0 * t) as u8;
        let rb = (255.0 - 170.0 * t) as u8;
        format!("#{rb:02x}{g:02x}{rb:02x}")
    };
    let cell_text = |c: &crate::search::Cell| {
        format!(
            "<td style=\"background:{}\" title=\"node {}\">{:.4}<br><small>node {}</small></td>",
            shade(c.score),
            nodes[c.elite].id.0,
            c.score,
            nodes[c.elite].id.0
        )
    };
    if let [x, y] = descriptors {
        let _ = write!(
            html,
            "<table><tr><th>{} ↓ / {} →</th>",
            escape(y.measure.name()),
            escape(x.measure.name())
        );
        for i in 0..x.bins {
            let _ = write!(html, "<th>{}</th>", range_label(x, i));
        }
        html.push_str("</tr>");
        for j in 0..y.bins {
            let _ = write!(html, "<tr><th>{}</th>", range_label(y, j));
            for i in 0..x.bins {
                match cells.iter().find(|c| c.bins == [i, j]) {
                    Some(c) => html.push_str(&cell_text(c)),
                    None => html.push_str("<td></td>"),
                }
            }
            html.push_str("</tr>");
        }
        html.push_str("</table>");
        return html;
    }
    html.push_str("<table><tr>");
    for d in descriptors {
        let _ = write!(html, "<th>{}</th>", escape(d.measure.name()));
    }
    html.push_str("<th>elite</th></tr>");
    let mut sorted = cells.clone();
    sorted.sort_by(|a, b| a.bins.cmp(&b.bins));
    for c in &sorted {
        html.push_str("<tr>");
        for (d, &bin) in descriptors.iter().zip(&c.bins) {
            let _ = write!(html, "<td>{}</td>", range_label(d, bin));
        }
        html.push_str(&cell_text(c));
        html.push_str("</tr>");
    }
    html.push_str("</table>");
    html
}

/// The Pareto front over the run's objectives.
fn front(objectives: &[crate::search::measures::Objective], nodes: &[NodeRecord]) -> String {
    let (front, count) = crate::search::pareto::front_of_records(nodes, objectives);
    let mut html = String::new();
    let _ = write!(
        html,
        "<h2>Pareto front</h2><p>{} node(s) that no other valid node beats on every objective, \
         among {count} valid node(s) with every objective (public evaluations).</p>\
         <table><tr><th>node</th>",
        front.len()
    );
    for o in objectives {
        let _ = write!(
            html,
            "<th>{} <small>({})</small></th>",
            escape(o.measure.name()),
            o.direction.label()
        );
    }
    html.push_str("</tr>");
    for entry in &front {
        let _ = write!(html, "<tr><td>{}</td>", entry.node);
        for v in &entry.values {
            let _ = write!(html, "<td>{}</td>", short(*v));
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");
    html
}
