//! `hone status`, `hone best`, `hone tree`, `hone tasks`, `hone export`: reading runs and tasks.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use hone_store::{NodeId, RunId};

use crate::export::{ExportFormat, ExportOptions};

use super::run::open_store;
use crate::orchestrator::events::fallback_counts;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// A run id; without it, every run as a table.
    pub run: Option<i64>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct BestArgs {
    pub run: i64,
    /// Write the best candidate's main file here (default: print it).
    #[arg(short, long, conflicts_with = "pareto")]
    pub output: Option<PathBuf>,
    /// List the run's Pareto front (node ids and each objective's value) instead.
    #[arg(long)]
    pub pareto: bool,
    /// With --pareto: the objectives (default: the run's `--objectives`).
    #[arg(long, value_name = "LIST", requires = "pareto")]
    pub objectives: Option<String>,
    /// With --pareto: print the front as JSON.
    #[arg(long, requires = "pareto")]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct TreeArgs {
    pub run: i64,
    /// Show at most this many nodes (the best path is always shown).
    #[arg(long, default_value_t = 200)]
    pub limit: usize,
}

#[derive(Debug, clap::Args)]
pub struct TasksArgs {
    /// List the tasks of this folder (KIND/TASK/task.toml) instead of the bundled ones.
    #[arg(long, value_name = "DIR", conflicts_with = "export")]
    pub library: Option<PathBuf>,
    /// Copy the bundled task NAME into the new folder DIR, to read or edit.
    #[arg(long, num_args = 2, value_names = ["NAME", "DIR"])]
    pub export: Option<Vec<String>>,
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// efficiency, counterexample, pde, params, heuristic or construction.
    pub kind: String,
    /// The new task folder (must not exist).
    pub dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    pub run: i64,
    /// sft, dpo or trajectories.
    #[arg(long)]
    pub format: String,
    #[arg(short, long)]
    pub output: PathBuf,
    /// SFT: minimum score gain over the parent.
    #[arg(long, default_value_t = 0.0)]
    pub min_gain: f64,
    /// DPO: minimum score gap between chosen and rejected.
    #[arg(long, default_value_t = 0.0)]
    pub min_gap: f64,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Runtime::new()?)
}

pub fn status(cli: &super::Cli, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let store = open_store(cli).await?;
        match args.run {
            None => {
                let runs = store.list_runs().await?;
                if args.json {
                    println!("{}", serde_json::to_string_pretty(&runs)?);
                    return Ok(ExitCode::SUCCESS);
                }
                println!(
                    "{:>5}  {:<24} {:<11} {:<12} {:>6} {:>12} {:>9}",
                    "run", "task", "strategy", "status", "evals", "best", "dollars"
                );
                for run in runs {
                    let summary = store.run_summary(run.id).await?;
                    let best = summary
                        .best
                        .map(|b| format!("{:.4}", b.score))
                        .unwrap_or_else(|| "-".into());
                    println!(
                        "{:>5}  {:<24} {:<11} {:<12} {:>6} {:>12} {:>9.4}",
                        run.id.0,
                        truncate(&run.task_name, 24),
                        run.strategy,
                        run.status,
                        summary.spend.evaluations,
                        best,
                        summary.spend.dollars
                    );
                }
                print_queue(&store, None).await?;
            }
            Some(run) => {
                let summary = store.run_summary(RunId(run)).await?;
                let fallbacks = fallback_counts(&store.events(RunId(run)).await?);
                if args.json {
                    let mut value = serde_json::to_value(&summary)?;
                    value["fallbacks"] = serde_json::to_value(&fallbacks)?;
                    println!("{}", serde_json::to_string_pretty(&value)?);
                    return Ok(ExitCode::SUCCESS);
                }
                let r = &summary.run;
                println!("run          {} ({})", r.id.0, r.status);
                if let Some(detail) = &r.status_detail {
                    println!("detail       {detail}");
                }
                println!(
                    "task         {} ({}) at {}",
                    r.task_name, r.kind, r.task_dir
                );
                println!("strategy     {}   seed {}", r.strategy, r.seed);
                if let Some(driver) = store.run_driver(RunId(run)).await? {
                    println!(
                        "driver       pid {} on {} (last heartbeat {:.1} s ago{})",
                        driver.pid,
                        driver.host,
                        driver.silent_ms() as f64 / 1000.0,
                        if driver.is_stale() { ", stale" } else { "" }
                    );
                }
                let b = &r.budgets;
                let of = |spent: String, budget: Option<String>| match budget {
                    Some(b) => format!("{spent} of {b}"),
                    None => spent,
                };
                let s = &summary.spend;
                println!(
                    "evaluations  {}",
                    of(
                        s.evaluations.to_string(),
                        b.evaluations.map(|n| n.to_string())
                    )
                );
                println!("duplicates   {}", s.duplicates);
                if s.rejected > 0 {
                    println!(
                        "rejected     {} (too similar to a valid node: --novelty)",
                        s.rejected
                    );
                }
                println!(
                    "model calls  {}",
                    of(s.llm_calls.to_string(), b.llm_calls.map(|n| n.to_string()))
                );
                println!(
                    "tokens       {}",
                    of(s.tokens().to_string(), b.tokens.map(|n| n.to_string()))
                );
                println!(
                    "dollars      {}",
                    of(
                        format!("{:.4}", s.dollars),
                        b.dollars.map(|d| format!("{d:.4}"))
                    )
                );
                println!(
                    "active time  {}",
                    of(
                        format!("{:.0} s", s.wall_seconds),
                        b.wall_seconds.map(|t| format!("{t:.0} s"))
                    )
                );
                match &summary.best {
                    Some(best) => println!("best         {}", best_line(best)),
                    None if summary.private_evaluations.is_empty() => {
                        println!("best         - (no valid node yet)")
                    }
                    None => println!(
                        "best         - (no node valid on the public and the private cases)"
                    ),
                }
                println!(
                    "private      {} node(s) with a private result",
                    summary.private_evaluations.len()
                );
                println!("nodes        {} ({} valid)", summary.nodes, summary.valid);
                for (status, count) in &summary.by_status {
                    println!("  {status:<18} {count}");
                }
                if !fallbacks.is_empty() {
                    println!("fallbacks    unusable replies replaced by a plain improve");
                    for f in &fallbacks {
                        println!("  {:<18} {} ({})", f.operator.name(), f.count, f.model);
                    }
                }
                print_queue(&store, Some(RunId(run))).await?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The best node's score as users read it: the private score, labelled, with the public
/// one beside it.
pub fn best_line(best: &hone_store::BestNode) -> String {
    match best.basis {
        hone_store::ScoreBasis::Private => format!(
            "{:.6} (node {}; private, public {:.6})",
            best.score, best.node.0, best.public_score
        ),
        basis => format!(
            "{:.6} (node {}; {})",
            best.score,
            best.node.0,
            basis.label()
        ),
    }
}

/// The evaluation queue (`hone run --workers`): its depth, and for the whole store the
/// workers. Prints nothing when the store has never had a job or a worker.
async fn print_queue(store: &hone_store::Store, run: Option<RunId>) -> anyhow::Result<()> {
    let depth = store.queue_depth(run).await?;
    let workers = if run.is_none() {
        store.workers().await?
    } else {
        Vec::new()
    };
    if depth == hone_store::QueueDepth::default() && workers.is_empty() {
        return Ok(());
    }
    println!(
        "queue        {} pending, {} leased, {} done, {} failed, {} cancelled",
        depth.pending, depth.leased, depth.done, depth.failed, depth.cancelled
    );
    if workers.is_empty() {
        return Ok(());
    }
    let now = store.database_now().await?;
    println!();
    println!(
        "{:>6}  {:<24} {:>8} {:<8} {:>6} {:>8} {:>12}",
        "worker", "host", "pid", "status", "job", "done", "last seen"
    );
    for w in workers {
        let ago = (now.0 - w.last_seen.0).max(0) as f64 / 1000.0;
        println!(
            "{:>6}  {:<24} {:>8} {:<8} {:>6} {:>8} {:>10.1} s",
            w.id.0,
            truncate(&w.host, 24),
            w.pid,
            w.status,
            w.current_job
                .map(|j| j.0.to_string())
                .unwrap_or_else(|| "-".into()),
            w.jobs_done,
            ago
        );
    }
    Ok(())
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        text.chars().take(max - 1).collect::<String>() + "…"
    }
}

pub fn best(cli: &super::Cli, args: &BestArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let store = open_store(cli).await?;
        if args.pareto {
            return pareto(&store, args).await;
        }
        let best = store
            .best_node(RunId(args.run))
            .await?
            .with_context(|| format!("run {} has no valid node yet", args.run))?;
        let node = store.get_node(best.node).await?;
        let text = match node.files.iter().next() {
            Some((_, text)) => text.clone(),
            None => serde_json::to_string_pretty(&node.values)?,
        };
        match &args.output {
            Some(path) => {
                std::fs::write(path, &text)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!(
                    "hone: wrote node {} (score {}) to {}",
                    best.node.0,
                    best_line(&best),
                    path.display()
                );
            }
            None => print!("{text}"),
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `hone best RUN --pareto`: the front over the run's objectives (or `--objectives`).
async fn pareto(store: &hone_store::Store, args: &BestArgs) -> anyhow::Result<ExitCode> {
    use crate::search::measures::parse_objectives;
    let run = store.get_run(RunId(args.run)).await?;
    let objectives = match &args.objectives {
        Some(spec) => parse_objectives(spec).with_context(|| format!("--objectives {spec}"))?,
        None => {
            let settings = crate::orchestrator::RunSettings::from_json(&run.config)
                .with_context(|| format!("run {}: its stored settings cannot be read", args.run))?;
            if settings.objectives.is_empty() {
                anyhow::bail!(
                    "run {} was not run with --objectives; say which: hone best {} --pareto --objectives score,fuel",
                    args.run,
                    args.run
                );
            }
            settings.objectives
        }
    };
    let nodes = store.load_tree(RunId(args.run)).await?;
    let (front, count) = crate::search::pareto::front_of_records(&nodes, &objectives);
    if args.json {
        let value = serde_json::json!({
            "run": args.run,
            "objectives": objectives.iter().map(|o| serde_json::json!({
                "name": o.measure.name(),
                "direction": o.direction,
            })).collect::<Vec<_>>(),
            "nodes_compared": count,
            "front": front.iter().map(|e| serde_json::json!({
                "node": e.node,
                "values": objectives.iter().zip(&e.values)
                    .map(|(o, v)| (o.measure.name().to_string(), serde_json::json!(v)))
                    .collect::<serde_json::Map<_, _>>(),
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", render_front(args.run, &objectives, &front, count));
    Ok(ExitCode::SUCCESS)
}

/// The front as a table: a header naming each objective's direction, a row per node.
pub fn render_front(
    run: i64,
    objectives: &[crate::search::measures::Objective],
    front: &[crate::search::pareto::FrontEntry],
    count: usize,
) -> String {
    let mut out = format!(
        "run {run}: Pareto front of {} node(s) among {count} valid node(s) with every objective\n",
        front.len()
    );
    for o in objectives {
        out.push_str(&format!(
            "  {:<12} {}\n",
            o.measure.name(),
            o.direction.label()
        ));
    }
    out.push_str(&format!("{:>8}", "node"));
    for o in objectives {
        out.push_str(&format!(" {:>16}", o.measure.name()));
    }
    out.push('\n');
    for entry in front {
        out.push_str(&format!("{:>8}", entry.node));
        for v in &entry.values {
            out.push_str(&format!(" {:>16}", format_value(*v)));
        }
        out.push('\n');
    }
    out
}

/// A whole number as is, another to 6 significant digits.
fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.6}")
    }
}

pub fn tree(cli: &super::Cli, args: &TreeArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let store = open_store(cli).await?;
        let nodes = store.load_tree(RunId(args.run)).await?;
        let best = store.best_node(RunId(args.run)).await?.map(|b| b.node);
        let private = store.private_evaluations(RunId(args.run)).await?;
        print!("{}", render_tree(&nodes, &private, best, args.limit));
        Ok(ExitCode::SUCCESS)
    })
}

/// A text tree: one line per node with operator, status and public score, and the private
/// score of the nodes that have one; the best path (by private score) is marked with `*`.
/// Past `limit` nodes, the best path and the best-scoring branches are kept.
pub fn render_tree(
    nodes: &[hone_store::NodeRecord],
    private: &[hone_store::PrivateEvaluationRecord],
    best: Option<NodeId>,
    limit: usize,
) -> String {
    let mut printer = TreePrinter::new(nodes, best, limit);
    printer.private = private.iter().map(|p| (p.node.0, &p.evaluation)).collect();
    printer.walk(None, "");
    if printer.hidden > 0 {
        printer.out.push_str(&format!(
            "[{} more nodes not shown; use --limit to see more]\n",
            printer.hidden
        ));
    }
    printer.out
}

struct TreePrinter<'a> {
    nodes: &'a [hone_store::NodeRecord],
    private: std::collections::HashMap<i64, &'a hone_store::PrivateEvaluation>,
    children: std::collections::BTreeMap<Option<i64>, Vec<usize>>,
    on_best_path: std::collections::HashSet<i64>,
    keep_all: bool,
    limit: usize,
    out: String,
    shown: usize,
    hidden: usize,
}

impl<'a> TreePrinter<'a> {
    fn new(
        nodes: &'a [hone_store::NodeRecord],
        best: Option<NodeId>,
        limit: usize,
    ) -> TreePrinter<'a> {
        let mut children: std::collections::BTreeMap<Option<i64>, Vec<usize>> = Default::default();
        let by_id: std::collections::HashMap<i64, usize> =
            nodes.iter().enumerate().map(|(i, n)| (n.id.0, i)).collect();
        for (i, n) in nodes.iter().enumerate() {
            children.entry(n.parent.map(|p| p.0)).or_default().push(i);
        }
        let mut on_best_path = std::collections::HashSet::new();
        let mut cursor = best.and_then(|b| by_id.get(&b.0).copied());
        while let Some(i) = cursor {
            on_best_path.insert(nodes[i].id.0);
            cursor = nodes[i].parent.and_then(|p| by_id.get(&p.0).copied());
        }
        TreePrinter {
            nodes,
            private: Default::default(),
            children,
            on_best_path,
            keep_all: nodes.len() <= limit,
            limit,
            out: String::new(),
            shown: 0,
            hidden: 0,
        }
    }

    fn descendants(&self, id: i64) -> usize {
        self.children
            .get(&Some(id))
            .map(|l| {
                l.iter()
                    .map(|&i| 1 + self.descendants(self.nodes[i].id.0))
                    .sum()
            })
            .unwrap_or(0)
    }

    fn walk(&mut self, parent: Option<i64>, prefix: &str) {
        let Some(list) = self.children.get(&parent) else {
            return;
        };
        let mut list = list.clone();
        if !self.keep_all {
            let key = |i: usize| {
                (
                    self.on_best_path.contains(&self.nodes[i].id.0),
                    self.nodes[i].rank_score().unwrap_or(f64::NEG_INFINITY),
                )
            };
            list.sort_by(|&a, &b| {
                key(b)
                    .partial_cmp(&key(a))
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
        }
        let count = list.len();
        for (k, &i) in list.iter().enumerate() {
            let n = &self.nodes[i];
            let best_mark = self.on_best_path.contains(&n.id.0);
            if !self.keep_all && !best_mark && self.shown >= self.limit {
                self.hidden += 1 + self.descendants(n.id.0);
                continue;
            }
            self.shown += 1;
            let last = k + 1 == count;
            let score = n
                .evaluation
                .score
                .map(|s| format!("{s:.4}"))
                .unwrap_or_else(|| "-".into());
            let dup = if n.duplicate_of.is_some() {
                " (duplicate)"
            } else {
                ""
            };
            let private = match self.private.get(&n.id.0) {
                Some(p) if !p.held_out => " (private = public)".to_string(),
                Some(p) if p.valid => format!(
                    " private {}",
                    p.score
                        .map(|s| format!("{s:.4}"))
                        .unwrap_or_else(|| "-".into())
                ),
                Some(p) => format!(" private {} (invalid)", p.status),
                None => String::new(),
            };
            self.out.push_str(&format!(
                "{prefix}{}{} #{} {} {} score {}{private}{}\n",
                if last { "└─" } else { "├─" },
                if best_mark { "*" } else { " " },
                n.id.0,
                n.operator,
                n.evaluation.status,
                score,
                dup
            ));
            let child_prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
            self.walk(Some(n.id.0), &child_prefix);
        }
    }
}

pub fn tasks(cli: &super::Cli, args: &TasksArgs) -> anyhow::Result<ExitCode> {
    if let Some([name, dir]) = args.export.as_deref() {
        return export_task(name, Path::new(dir));
    }
    let Some(library) = &args.library else {
        // The bundled library, as the binary carries it.
        for task in hone_tasks::library::bundled() {
            println!(
                "{:<15} {:<28} {}",
                task.kind,
                task.name(),
                task.description()
            );
        }
        eprintln!(
            "hone: `hone run NAME`, `hone eval NAME FILE` take these names; `hone tasks --export NAME DIR` copies one out"
        );
        return Ok(ExitCode::SUCCESS);
    };
    let loader = super::task_loader(cli)?;
    let mut dirs = Vec::new();
    let kinds = std::fs::read_dir(library)
        .with_context(|| format!("cannot read the task library {}", library.display()))?;
    for kind in kinds.flatten() {
        if !kind.path().is_dir() {
            continue;
        }
        for task in std::fs::read_dir(kind.path())?.flatten() {
            if task.path().join("task.toml").is_file() {
                dirs.push(task.path());
            }
        }
    }
    dirs.sort();
    let mut broken = 0;
    for dir in dirs {
        let loaded = loader.load(&dir);
        broken += usize::from(loaded.is_err());
        let name = loaded
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or("?".into());
        print_task(
            &name,
            loaded.map(|t| t.kind.name()),
            &dir.display().to_string(),
        );
    }
    Ok(exit_code(broken))
}

fn print_task(name: &str, kind: Result<&str, hone_tasks::TaskError>, place: &str) {
    match kind {
        Ok(kind) => println!("{kind:<15} {name:<28} {place}"),
        Err(e) => println!(
            "{:<15} {name:<28} {place} (cannot load: {})",
            "?",
            e.to_string().lines().next().unwrap_or("")
        ),
    }
}

fn exit_code(broken: usize) -> ExitCode {
    if broken == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `hone tasks --export NAME DIR`: the bundled task's files, in a folder that must not exist
/// yet (nothing of the user's is overwritten).
fn export_task(name: &str, dir: &Path) -> anyhow::Result<ExitCode> {
    let task = hone_tasks::library::find(name)?;
    if dir.exists() {
        anyhow::bail!(
            "{} already exists; give a new folder to copy `{}` into",
            dir.display(),
            task.name()
        );
    }
    task.write_to(dir)?;
    eprintln!(
        "hone: copied the bundled task `{}` ({}) to {}\nhint: hone eval {} {}/{}",
        task.name(),
        task.path(),
        dir.display(),
        dir.display(),
        dir.display(),
        seed_file(task).unwrap_or("SEED")
    );
    Ok(ExitCode::SUCCESS)
}

/// `hone init KIND DIR`: a working task folder to make one's own from.
pub fn init(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let accepted = || {
        hone_tasks::library::templates()
            .iter()
            .map(|t| t.kind.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let template = hone_tasks::TaskKind::ALL
        .into_iter()
        .find(|k| k.name() == args.kind)
        .and_then(hone_tasks::library::Template::of)
        .with_context(|| {
            format!(
                "unknown task kind `{}`; accepted: {}",
                args.kind,
                accepted()
            )
        })?;
    template.write_new(&args.dir)?;
    let base = template.base();
    eprintln!(
        "hone: wrote the task folder {} (kind {}, a copy of the bundled `{}`; task.toml comments every field)\nhint: hone eval {} {}/{}",
        args.dir.display(),
        template.kind,
        base.name(),
        args.dir.display(),
        args.dir.display(),
        template.seed
    );
    Ok(ExitCode::SUCCESS)
}

/// The bundled task's seed file, as its `task.toml` names it.
fn seed_file(task: &hone_tasks::library::BundledTask) -> Option<&'static str> {
    task.files()
        .iter()
        .map(|(path, _)| *path)
        .find(|path| path.starts_with("seed."))
}

pub fn export(cli: &super::Cli, args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let format: ExportFormat = args.format.parse().map_err(anyhow::Error::msg)?;
    runtime()?.block_on(async {
        let store = open_store(cli).await?;
        // An unknown run fails before the output file is created.
        store.get_run(RunId(args.run)).await?;
        let options = ExportOptions {
            min_gain: args.min_gain,
            min_gap: args.min_gap,
            ..ExportOptions::default()
        };
        let stats =
            crate::export::export_to_path(&store, RunId(args.run), format, &options, &args.output)
                .await?;
        eprintln!(
            "hone: wrote {} records to {}",
            stats.records,
            args.output.display()
        );
        Ok(ExitCode::SUCCESS)
    })
}
