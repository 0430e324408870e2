//! `hone eval TASK_DIR FILE`: evaluate one candidate file against a task.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hone_sandbox::Language;
use hone_tasks::{Candidate, EvalStatus, Task, TaskKind};

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The task folder (holding task.toml), or a bundled task's name (see `hone tasks`).
    pub task_dir: PathBuf,
    /// The candidate: a source file (.rs, .c, .cpp, .wat), an input (.txt) for counterexample
    /// tasks, or a JSON object of values for params tasks.
    pub file: PathBuf,
    /// Ignored (kept for old scripts): the private evaluation always runs.
    #[arg(long, hide = true)]
    pub final_check: bool,
    /// Print the evaluation as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Builds a candidate from a file given on the command line.
pub(super) fn candidate_from_file(
    task: &Task,
    path: &std::path::Path,
) -> anyhow::Result<Candidate> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if task.kind == TaskKind::Params || path.extension().is_some_and(|e| e == "json") {
        let values: std::collections::BTreeMap<String, serde_json::Value> =
            serde_json::from_str(&text).with_context(|| {
                format!(
                    "{}: expected a JSON object of variable values",
                    path.display()
                )
            })?;
        return Ok(Candidate::from_values(values));
    }
    let name = match Language::from_path(path) {
        Some(language) => language.file_name().to_string(),
        None => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "input.txt".into()),
    };
    Ok(Candidate::from_file(name, text))
}

pub(super) fn run(cli: &super::Cli, args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let task = super::task_loader(cli)?.load(&super::task_folder(&args.task_dir)?)?;
    let candidate = candidate_from_file(&task, &args.file)?;
    let evaluation = task.evaluate(&candidate);
    // The score reported is the private one; of it only the numbers are shown (its cases
    // stay private, also to a program that loops over `hone eval`).
    let private_run = task.evaluate_private(&candidate);
    let private = crate::orchestrator::private_evaluation(private_run.as_ref(), &evaluation);
    if args.json {
        let json = serde_json::json!({
            "task": task.name,
            "status": private.status,
            "valid": private.valid,
            "score": private.score.unwrap_or(0.0),
            "held_out": private.held_out,
            "private": private,
            "public": evaluation,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!("task      {} ({})", task.name, task.kind);
        let label = if private.held_out {
            "private"
        } else {
            "private = public: no held-out cases"
        };
        println!(
            "score     {}  ({label}; status {}, valid {})",
            private.score.unwrap_or(0.0),
            private.status,
            private.valid
        );
        println!("\npublic evaluation (what a run's search and prompts see):");
        println!("status    {}", evaluation.status);
        println!("valid     {}", evaluation.valid);
        println!("score     {}", evaluation.score);
        for (name, value) in &evaluation.metrics {
            println!("{name:<9} {value}");
        }
        println!("\n{}", evaluation.feedback.trim_end());
    }
    Ok(if evaluation.status == EvalStatus::CompileError {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}
