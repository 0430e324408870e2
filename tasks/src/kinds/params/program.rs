//! Sandboxed objective programs of params tasks: the task's own program reads the values as
//! JSON on stdin and prints its value (first line) and feedback (the rest).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hone_sandbox::{Limits, Program, Sandbox};
use serde::Deserialize;

use super::values::{check_values, values_json};
use crate::candidate::Candidate;
use crate::checker::trim_for_feedback;
use crate::error::TaskError;
use crate::evaluation::{EvalStatus, Evaluation};
use crate::task::{Evaluator, LoadContext, PromptMaterial, VariableSpec};

/// Whether the program's value is to be maximized or minimized.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Direction {
    #[default]
    Maximize,
    Minimize,
}

/// The `[params]` options of a program objective.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProgramOptions {
    #[serde(default)]
    direction: Direction,
    /// Fuel per run of the program.
    #[serde(default = "default_fuel")]
    fuel: u64,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(default = "default_memory_mb")]
    memory_mb: u64,
}

fn default_fuel() -> u64 {
    10_000_000_000
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_memory_mb() -> u64 {
    256
}

pub(super) fn load(
    context: &LoadContext,
    file: &str,
    options: toml::Table,
    specs: &[VariableSpec],
) -> Result<(Arc<dyn Evaluator>, PromptMaterial), TaskError> {
    let path = &context.manifest_path;
    let options: ProgramOptions =
        super::parse_options(path, &options, "options of a program objective")?;
    if options.fuel == 0
        || options.timeout_ms == 0
        || options.memory_mb == 0
        || options.memory_mb > 4096
    {
        return Err(TaskError::field(
            path,
            "params",
            "fuel and timeout_ms must be positive and memory_mb in 1..=4096",
        ));
    }
    let program = context.compile_task_program("params.program", file)?;
    let limits = Limits {
        fuel: Some(options.fuel),
        memory_bytes: options.memory_mb << 20,
        timeout: Duration::from_millis(options.timeout_ms),
        host_kernels: context.host_kernels,
        ..Limits::default()
    };
    let (verb, sign) = match options.direction {
        Direction::Maximize => ("maximize", "the value"),
        Direction::Minimize => ("minimize", "minus the value"),
    };
    let prompt = PromptMaterial {
        objective: format!(
            "Choose the values of {} that {verb} the value printed by the objective program `{file}`. The score is {sign}: \
             higher is better.",
            specs
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        documentation: format!(
            "The objective program `{file}` reads the variables as a JSON object on its standard input and prints \
             its value on the first line of its output; the lines after it are its feedback."
        ),
        inputs: format!("The objective program `{file}` (direction: {verb})."),
        ..PromptMaterial::default()
    };
    let evaluator = ProgramEvaluator {
        sandbox: context.sandbox.clone(),
        program,
        limits,
        direction: options.direction,
        specs: specs.to_vec(),
    };
    Ok((Arc::new(evaluator), prompt))
}

struct ProgramEvaluator {
    sandbox: Sandbox,
    program: Program,
    limits: Limits,
    direction: Direction,
    specs: Vec<VariableSpec>,
}

impl Evaluator for ProgramEvaluator {
    fn evaluate(&self, candidate: &Candidate) -> Evaluation {
        let (checked, mut notes) = check_values(&self.specs, &candidate.values);
        if !candidate.files.is_empty() {
            notes.push("this task reads values only; the candidate's files were ignored".into());
        }
        let mut feedback: String = notes.iter().map(|n| format!("note: {n}\n")).collect();
        let input = values_json(&self.specs, &checked);
        let trace_base = serde_json::json!({ "values": checked, "notes": notes });
        let outcome =
            match self
                .sandbox
                .run(&self.program, input.to_string().as_bytes(), &self.limits)
            {
                Ok(outcome) => outcome,
                Err(e) => {
                    let mut evaluation = Evaluation::failed(
                        EvalStatus::RuntimeError,
                        format!("{feedback}the sandbox failed to run the objective program: {e}"),
                    );
                    evaluation.trace = trace_base;
                    return evaluation;
                }
            };
        let wall_ms = outcome.wall.as_secs_f64() * 1e3;
        let stdout = outcome.stdout_text().into_owned();
        let failed = |status: EvalStatus, message: String, feedback: &str| {
            let mut evaluation = Evaluation::failed(status, format!("{feedback}{message}"));
            evaluation.trace = trace_base.clone();
            evaluation.fuel = Some(outcome.fuel_used);
            evaluation.wall_ms = wall_ms;
            evaluation
                .with_metric("fuel", outcome.fuel_used)
                .with_metric("wall_ms", wall_ms)
        };
        if let Some(status) = EvalStatus::from_run_status(&outcome.status) {
            let mut message = format!(
                "the objective program did not finish normally: {}\n",
                outcome.status
            );
            if !outcome.stderr.trim().is_empty() {
                message += &format!(
                    "stderr:\n{}\n",
                    trim_for_feedback(outcome.stderr.trim_end(), 1000)
                );
            }
            if !stdout.trim().is_empty() {
                message += &format!("stdout:\n{}\n", trim_for_feedback(stdout.trim_end(), 1000));
            }
            return failed(status, message, &feedback);
        }
        let mut lines = stdout.splitn(2, '\n');
        let first = lines.next().unwrap_or("").trim();
        let rest = lines.next().unwrap_or("").trim_end();
        let value = match first.parse::<f64>() {
            Ok(v) if v.is_finite() => v,
            _ => {
                let shown = if first.is_empty() {
                    "nothing".to_string()
                } else {
                    format!("`{}`", trim_for_feedback(first, 200))
                };
                let message = format!(
                    "the objective program's first line must be a finite number; it printed {shown}\n{}",
                    if outcome.stderr.trim().is_empty() {
                        String::new()
                    } else {
                        format!(
                            "stderr:\n{}\n",
                            trim_for_feedback(outcome.stderr.trim_end(), 1000)
                        )
                    }
                );
                return failed(EvalStatus::InvalidOutput, message, &feedback);
            }
        };
        let score = match self.direction {
            Direction::Maximize => value,
            Direction::Minimize => -value,
        };
        feedback += &format!(
            "objective value: {value} ({}; score = {score})\n",
            match self.direction {
                Direction::Maximize => "higher is better",
                Direction::Minimize => "lower is better",
            }
        );
        if !rest.is_empty() {
            feedback += &trim_for_feedback(rest, 4000);
            feedback.push('\n');
        }
        let mut metrics = BTreeMap::new();
        metrics.insert("value".to_string(), value.into());
        metrics.insert("fuel".to_string(), outcome.fuel_used.into());
        metrics.insert("wall_ms".to_string(), wall_ms.into());
        let mut trace = trace_base;
        trace["output"] = serde_json::Value::String(trim_for_feedback(&stdout, 4000));
        Evaluation {
            status: EvalStatus::Ok,
            valid: true,
            score,
            metrics,
            feedback,
            trace,
            fuel: Some(outcome.fuel_used),
            wall_ms,
        }
    }

    fn evaluate_private(&self, _candidate: &Candidate) -> Option<Evaluation> {
        None
    }

    fn has_held_out_cases(&self) -> bool {
        false
    }
}
