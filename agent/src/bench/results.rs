//! The results of a bench: one row per run, aggregates per entrant (strategy × proposer),
//! rendered as markdown, CSV and JSON.
//!
//! A row's score is its run's best node's private score (measured on held-out cases; the
//! public score where the task has none), with that node's public score beside it.
//! Aggregates: for each entrant (strategy × proposer), the mean private and public score per
//! task over its seeds, and the mean rank across (task, seed) groups: within a group the
//! entrants are ranked by private score, 1 = best, ties sharing the mean of their ranks, a
//! row with no valid candidate ranked below every valid one. The same figures per strategy and per
//! proposer average all of their rows (with the ranks among all entrants).

use std::collections::BTreeMap;

use serde::Serialize;

/// One finished (or stopped) row.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RowResult {
    pub key: String,
    pub task: String,
    pub strategy: String,
    pub proposer: String,
    /// The `--llm` of the run, with the model for model proposers.
    pub llm: String,
    pub seed: u64,
    pub run: i64,
    pub status: hone_store::RunStatus,
    /// The private score of the run's best node, what rows are ranked by (`None` when no
    /// candidate was valid on both evaluations).
    pub private_score: Option<f64>,
    /// The public score of the same node.
    pub public_score: Option<f64>,
    /// How `private_score` was measured (held-out cases, or none: the public score).
    pub basis: Option<hone_store::ScoreBasis>,
    pub evaluations: i64,
    pub llm_calls: i64,
    pub tokens: i64,
    pub dollars: f64,
    pub wall_seconds: f64,
}

/// An entrant's aggregate.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Aggregate {
    pub strategy: String,
    pub proposer: String,
    /// Per task: the mean public score of the same rows' best nodes.
    pub mean_public: BTreeMap<String, Option<f64>>,
    /// Per task: the mean private score over the entrant's rows with a valid best.
    pub mean_private: BTreeMap<String, Option<f64>>,
    /// Mean rank over the (task, seed) groups it ran in.
    pub mean_rank: f64,
    pub rows: usize,
}

/// Ranks within each (task, seed) group and averages per entrant. Entrants keep the order of
/// their first row.
pub fn aggregate(rows: &[RowResult]) -> Vec<Aggregate> {
    aggregate_by(rows, |r| (r.strategy.clone(), r.proposer.clone()))
}

/// The same figures per strategy (over every proposer) or per proposer (over every strategy):
/// the rows' ranks are those among all entrants; `*` stands for "all".
pub(super) fn marginals(rows: &[RowResult]) -> (Vec<Aggregate>, Vec<Aggregate>) {
    (
        aggregate_by(rows, |r| (r.strategy.clone(), "*".into())),
        aggregate_by(rows, |r| ("*".into(), r.proposer.clone())),
    )
}

/// The rank of each row among the rows of its (task, seed) group.
fn row_ranks(rows: &[RowResult]) -> Vec<f64> {
    let mut groups: BTreeMap<(String, u64), Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        groups.entry((r.task.clone(), r.seed)).or_default().push(i);
    }
    let mut ranks = vec![f64::NAN; rows.len()];
    for members in groups.values() {
        let group: Vec<&RowResult> = members.iter().map(|&i| &rows[i]).collect();
        for (&i, rank) in members.iter().zip(ranks_of(&group)) {
            ranks[i] = rank;
        }
    }
    ranks
}

fn aggregate_by(
    rows: &[RowResult],
    key: impl Fn(&RowResult) -> (String, String),
) -> Vec<Aggregate> {
    let ranks = row_ranks(rows);
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in rows {
        let k = key(r);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let mut tasks: Vec<String> = Vec::new();
    for r in rows {
        if !tasks.contains(&r.task) {
            tasks.push(r.task.clone());
        }
    }
    keys.into_iter()
        .map(|k| {
            let mine: Vec<usize> = (0..rows.len()).filter(|&i| key(&rows[i]) == k).collect();
            let per_task = |pick: fn(&RowResult) -> Option<f64>| {
                tasks
                    .iter()
                    .filter(|t| mine.iter().any(|&i| &rows[i].task == *t))
                    .map(|t| {
                        let values: Vec<f64> = mine
                            .iter()
                            .filter(|&&i| &rows[i].task == t)
                            .filter_map(|&i| pick(&rows[i]))
                            .collect();
                        (t.clone(), mean(&values))
                    })
                    .collect()
            };
            let entrant_ranks: Vec<f64> = mine.iter().map(|&i| ranks[i]).collect();
            Aggregate {
                mean_public: per_task(|r| r.public_score),
                mean_private: per_task(|r| r.private_score),
                mean_rank: mean(&entrant_ranks).unwrap_or(f64::NAN),
                rows: mine.len(),
                strategy: k.0,
                proposer: k.1,
            }
        })
        .collect()
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Ranks (1 = best private score) with ties averaged; `None` scores rank last (tied among
/// themselves).
fn ranks_of(members: &[&RowResult]) -> Vec<f64> {
    let key = |r: &RowResult| r.private_score.unwrap_or(f64::NEG_INFINITY);
    members
        .iter()
        .map(|r| {
            let better = members.iter().filter(|o| key(o) > key(r)).count();
            let equal = members.iter().filter(|o| key(o) == key(r)).count();
            better as f64 + (equal as f64 + 1.0) / 2.0
        })
        .collect()
}

fn score(value: Option<f64>) -> String {
    match value {
        Some(v) => format_number(v),
        None => "-".into(),
    }
}

/// An aggregate's mean private score on a task, its mean public score in brackets.
fn private_and_public(a: &Aggregate, task: &str) -> String {
    let private = score(a.mean_private.get(task).copied().flatten());
    match a.mean_public.get(task).copied().flatten() {
        Some(public) => format!("{private} ({})", format_number(public)),
        None => private,
    }
}

/// Integers without decimals, others with 6 significant digits.
fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let digits = 6 - (v.abs().log10().floor() as i32 + 1);
        format!("{v:.*}", digits.clamp(0, 10) as usize)
    }
}

/// The markdown report: the rows, then the aggregates.
pub(super) fn markdown(
    suite: &str,
    description: &str,
    rows: &[RowResult],
    notes: &[String],
) -> String {
    let mut out = format!("## Bench `{suite}`\n\n");
    if !description.is_empty() {
        out.push_str(description);
        out.push_str("\n\n");
    }
    for note in notes {
        out.push_str(&format!("Note: {note}\n\n"));
    }
    out.push_str("| task | strategy | proposer | seed | private | public | evals | calls | tokens | $ | wall s | run | status |\n");
    out.push_str("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.4} | {:.1} | {} | {} |\n",
            r.task,
            r.strategy,
            r.proposer,
            r.seed,
            score(r.private_score),
            score(r.public_score),
            r.evaluations,
            r.llm_calls,
            r.tokens,
            r.dollars,
            r.wall_seconds,
            r.run,
            r.status
        ));
    }
    let aggregates = aggregate(rows);
    let tasks: Vec<String> = {
        let mut t: Vec<String> = Vec::new();
        for r in rows {
            if !t.contains(&r.task) {
                t.push(r.task.clone());
            }
        }
        t
    };
    out.push_str(
        "\n### Aggregates (mean private score per task, mean public score in brackets; mean rank by private score over task × seed, 1 = best)\n\n",
    );
    out.push_str("| strategy | proposer |");
    for t in &tasks {
        out.push_str(&format!(" {t} |"));
    }
    out.push_str(" mean rank |\n|---|---|");
    out.push_str(&"---:|".repeat(tasks.len() + 1));
    out.push('\n');
    for a in &aggregates {
        out.push_str(&format!("| {} | {} |", a.strategy, a.proposer));
        for t in &tasks {
            out.push_str(&format!(" {} |", private_and_public(a, t)));
        }
        out.push_str(&format!(" {:.2} |\n", a.mean_rank));
    }
    let (by_strategy, by_proposer) = marginals(rows);
    if by_strategy.len() > 1 && by_proposer.len() > 1 {
        for (title, list) in [("strategy", &by_strategy), ("proposer", &by_proposer)] {
            out.push_str(&format!(
                "\n### By {title} (all its rows; ranks as above)\n\n| {title} |"
            ));
            for t in &tasks {
                out.push_str(&format!(" {t} |"));
            }
            out.push_str(" mean rank |\n|---|");
            out.push_str(&"---:|".repeat(tasks.len() + 1));
            out.push('\n');
            for a in list.iter() {
                let name = if title == "strategy" {
                    &a.strategy
                } else {
                    &a.proposer
                };
                out.push_str(&format!("| {name} |"));
                for t in &tasks {
                    out.push_str(&format!(" {} |", private_and_public(a, t)));
                }
                out.push_str(&format!(" {:.2} |\n", a.mean_rank));
            }
        }
    }
    out
}

/// The CSV report: one line per row (the aggregates are in the markdown and JSON).
pub(super) fn csv(rows: &[RowResult]) -> String {
    let mut out = String::from(
        "key,task,strategy,proposer,llm,seed,run,status,private_score,public_score,score_basis,evaluations,llm_calls,tokens,dollars,wall_seconds\n",
    );
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in rows {
        let fields = [
            r.key.clone(),
            r.task.clone(),
            r.strategy.clone(),
            r.proposer.clone(),
            r.llm.clone(),
            r.seed.to_string(),
            r.run.to_string(),
            r.status.to_string(),
            opt(r.private_score),
            opt(r.public_score),
            r.basis.map(|b| b.as_str().to_string()).unwrap_or_default(),
            r.evaluations.to_string(),
            r.llm_calls.to_string(),
            r.tokens.to_string(),
            r.dollars.to_string(),
            format!("{:.3}", r.wall_seconds),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The JSON report.
pub(super) fn json(
    suite: &str,
    description: &str,
    rows: &[RowResult],
    notes: &[String],
) -> serde_json::Value {
    serde_json::json!({
        "suite": suite,
        "description": description,
        "notes": notes,
        "rows": rows,
        "aggregates": aggregate(rows),
        "by_strategy": marginals(rows).0,
        "by_proposer": marginals(rows).1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(task: &str, proposer: &str, seed: u64, score: Option<f64>) -> RowResult {
        RowResult {
            key: format!("{task}/greedy/{proposer}/{seed}"),
            task: task.into(),
            strategy: "greedy".into(),
            proposer: proposer.into(),
            llm: "grid".into(),
            seed,
            run: 1,
            status: hone_store::RunStatus::Finished,
            private_score: score,
            public_score: score,
            basis: score.map(|_| hone_store::ScoreBasis::Private),
            evaluations: 3,
            llm_calls: 0,
            tokens: 0,
            dollars: 0.0,
            wall_seconds: 1.0,
        }
    }

    #[test]
    fn ranks_average_ties_and_put_invalid_last() {
        let rows = vec![
            row("t", "a", 1, Some(-1.0)),
            row("t", "b", 1, Some(-2.0)),
            row("t", "c", 1, None),
            row("t", "a", 2, Some(-5.0)),
            row("t", "b", 2, Some(-5.0)),
            row("t", "c", 2, Some(-1.0)),
        ];
        let a = aggregate(&rows);
        let rank = |p: &str| a.iter().find(|x| x.proposer == p).map(|x| x.mean_rank);
        assert_eq!(rank("a"), Some((1.0 + 2.5) / 2.0));
        assert_eq!(rank("b"), Some((2.0 + 2.5) / 2.0));
        assert_eq!(rank("c"), Some((3.0 + 1.0) / 2.0));
        let mean_a = a[0].mean_public.get("t").copied().flatten();
        assert_eq!(mean_a, Some(-3.0));
        // c has one valid row of two: the mean is over valid ones.
        assert_eq!(a[2].mean_public.get("t").copied().flatten(), Some(-1.0));
    }

    #[test]
    fn rows_rank_by_private_score_not_public() {
        // a special-cased the public cases: far ahead on them, behind on the private ones.
        let mut cheat = row("t", "a", 1, Some(35.0));
        cheat.public_score = Some(40_000.0);
        let honest = row("t", "b", 1, Some(40.0));
        let a = aggregate(&[cheat.clone(), honest.clone()]);
        let rank = |p: &str| a.iter().find(|x| x.proposer == p).map(|x| x.mean_rank);
        assert_eq!(rank("b"), Some(1.0));
        assert_eq!(rank("a"), Some(2.0));
        assert_eq!(a[0].mean_private.get("t").copied().flatten(), Some(35.0));
        assert_eq!(a[0].mean_public.get("t").copied().flatten(), Some(40_000.0));
        let md = markdown("s", "", &[cheat, honest], &[]);
        assert!(md.contains("| 35 (40000) |"), "{md}");
    }

    #[test]
    fn marginals_average_the_rows_of_each_strategy_and_proposer() {
        let mut rows = vec![
            row("t", "a", 1, Some(3.0)),
            row("t", "b", 1, Some(2.0)),
            row("t", "a", 1, Some(1.0)),
            row("t", "b", 1, Some(0.0)),
        ];
        rows[2].strategy = "mcts".into();
        rows[3].strategy = "mcts".into();
        let (by_strategy, by_proposer) = marginals(&rows);
        // Ranks 1, 2, 3, 4 in one group.
        assert_eq!(by_strategy[0].strategy, "greedy");
        assert_eq!(by_strategy[0].mean_rank, 1.5);
        assert_eq!(by_strategy[1].mean_rank, 3.5);
        assert_eq!(by_proposer[0].proposer, "a");
        assert_eq!(by_proposer[0].mean_rank, 2.0);
        assert_eq!(
            by_proposer[1].mean_public.get("t").copied().flatten(),
            Some(1.0)
        );
        let md = markdown("s", "", &rows, &[]);
        assert!(
            md.contains("### By strategy") && md.contains("### By proposer"),
            "{md}"
        );
    }

    #[test]
    fn csv_quotes_and_markdown_shows_dashes() {
        let mut r = row("t,1", "a", 1, None);
        r.key = "a\"b".into();
        let text = csv(&[r.clone()]);
        assert!(text.contains("\"a\"\"b\",\"t,1\""), "{text}");
        let md = markdown("s", "", &[r], &[]);
        assert!(md.contains("| - | - |"), "{md}");
        assert_eq!(format_number(-20130.0), "-20130");
        assert_eq!(format_number(0.123456789), "0.123457");
    }
}
