//! params tasks (OPTO over values): the candidate is a set of named numbers, scored by a
//! native objective built into hone-tasks or by a sandboxed objective program.
//!
//! `task.toml`:
//! ```toml
//! [task]
//! kind = "params"
//!
//! [params]
//! objective = "sor"          # sor | ssor_cg | heavy_ball | test_function
//! instances = 200            # the objective's own options (see `crate::objectives`)
//! seed = 7
//!
//! [[params.variables]]
//! name = "omega"
//! type = "float"             # float | int
//! lower = 1.0
//! upper = 1.99
//! scale = "linear"           # linear | log (default linear)
//! initial = 1.0
//! description = "SOR relaxation factor"
//! ```
//! or, instead of `objective`, `program = "objective.c"` (rust, c, cpp or wat) with optional
//! `direction = "maximize" | "minimize"`, `fuel`, `timeout_ms`, `memory_mb`: the program
//! reads the values as a JSON object on stdin and prints its value on the first line of
//! stdout, and feedback on the following lines.
//!
//! Scores (higher is better): for a native objective, `score = -cost` (the cost, lower is
//! better, is in the metrics as `cost`); for a program, its value, negated when
//! `direction = "minimize"` (the raw value is the metric `value`).

mod program;
mod values;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

pub use values::check_values;

use crate::candidate::Candidate;
use crate::error::TaskError;
use crate::evaluation::{EvalStatus, Evaluation};
use crate::objectives::heavy_ball::{HeavyBallConfig, HeavyBallObjective};
use crate::objectives::sor::{SorConfig, SorObjective};
use crate::objectives::ssor_cg::{SsorCgConfig, SsorCgObjective};
use crate::objectives::test_function::{TestFunctionConfig, TestFunctionObjective};
use crate::objectives::{self, Objective};
use crate::task::{
    Evaluator, LoadContext, Loaded, PromptMaterial, Scale, VariableSpec, VariableType,
};

pub(crate) fn load(context: &LoadContext) -> Result<Loaded, TaskError> {
    let path = &context.manifest_path;
    if context.section.is_empty() {
        return Err(TaskError::field(
            path,
            "params",
            "missing: a params task needs a [params] section",
        ));
    }
    let mut table = context.section.clone();
    let specs = match table.remove("variables") {
        Some(v) => values::parse_variables(path, &v)?,
        None => {
            return Err(TaskError::field(
                path,
                "params.variables",
                "missing: declare at least one [[params.variables]]",
            ));
        }
    };
    let objective = take_string(path, &mut table, "objective")?;
    let program = take_string(path, &mut table, "program")?;
    let initial: BTreeMap<String, f64> =
        specs.iter().map(|s| (s.name.clone(), s.initial)).collect();
    let seed_candidate = Candidate::from_values(
        serde_json::from_value(values::values_json(&specs, &initial)).unwrap_or_default(),
    );
    let (evaluator, mut prompt): (Arc<dyn Evaluator>, PromptMaterial) = match (objective, program) {
        (Some(_), Some(_)) => {
            return Err(TaskError::field(
                path,
                "params",
                "give either `objective` (a built-in objective) or `program` (a sandboxed objective program), not both",
            ));
        }
        (None, None) => {
            return Err(TaskError::field(
                path,
                "params.objective",
                format!(
                    "missing: give `objective` (one of {}) or `program` (a sandboxed objective program, e.g. \"objective.c\")",
                    objectives::NAMES.join(", ")
                ),
            ));
        }
        (Some(name), None) => load_native(context, &name, table, &specs)?,
        (None, Some(file)) => program::load(context, &file, table, &specs)?,
    };
    prompt.constraints = constraints(&specs);
    prompt.outputs = format!(
        "A JSON object with a number for each variable, for example {}.",
        serde_json::to_string(&seed_candidate.values).unwrap_or_default()
    );
    prompt.variables = specs;
    Ok(Loaded {
        evaluator,
        seeds: vec![seed_candidate],
        prompt,
    })
}

/// Removes an optional string key from the section.
fn take_string(
    path: &std::path::Path,
    table: &mut toml::Table,
    key: &str,
) -> Result<Option<String>, TaskError> {
    match table.remove(key) {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(TaskError::field(
            path,
            format!("params.{key}"),
            format!("must be a string, not {}", other.type_str()),
        )),
    }
}

/// Deserializes the remaining `[params]` keys into an options struct (`deny_unknown_fields`,
/// every field defaulted). On failure, retries key by key to name the key at fault.
pub(crate) fn parse_options<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
    table: &toml::Table,
    what: &str,
) -> Result<T, TaskError> {
    match toml::Value::Table(table.clone()).try_into::<T>() {
        Ok(options) => Ok(options),
        Err(whole) => {
            for (key, value) in table {
                let mut single = toml::Table::new();
                single.insert(key.clone(), value.clone());
                if let Err(e) = toml::Value::Table(single).try_into::<T>() {
                    return Err(TaskError::field(
                        path,
                        format!("params.{key}"),
                        format!("{} ({what})", e.message().trim()),
                    ));
                }
            }
            Err(TaskError::field(
                path,
                "params",
                format!("{} ({what})", whole.message().trim()),
            ))
        }
    }
}

/// Turns an options check failure into a field error.
fn option_error(path: &std::path::Path) -> impl Fn((&'static str, String)) -> TaskError + '_ {
    move |(key, message)| TaskError::field(path, format!("params.{key}"), message)
}

type Built = (Arc<dyn Objective>, Option<Arc<dyn Objective>>);

fn load_native(
    context: &LoadContext,
    name: &str,
    options: toml::Table,
    specs: &[VariableSpec],
) -> Result<(Arc<dyn Evaluator>, PromptMaterial), TaskError> {
    let path = &context.manifest_path;
    let what = format!("options of the objective `{name}`");
    let (objective, final_objective): Built = match name {
        "sor" => {
            let c: SorConfig = parse_options(path, &options, &what)?;
            c.check().map_err(option_error(path))?;
            (
                Arc::new(SorObjective::new(&c, c.seed)),
                c.final_seed
                    .map(|s| Arc::new(SorObjective::new(&c, s)) as _),
            )
        }
        "ssor_cg" => {
            let c: SsorCgConfig = parse_options(path, &options, &what)?;
            c.check().map_err(option_error(path))?;
            (
                Arc::new(SsorCgObjective::new(&c, c.seed)),
                c.final_seed
                    .map(|s| Arc::new(SsorCgObjective::new(&c, s)) as _),
            )
        }
        "heavy_ball" => {
            let c: HeavyBallConfig = parse_options(path, &options, &what)?;
            c.check().map_err(option_error(path))?;
            (
                Arc::new(HeavyBallObjective::new(&c, c.seed)),
                c.final_seed
                    .map(|s| Arc::new(HeavyBallObjective::new(&c, s)) as _),
            )
        }
        "test_function" => {
            let c: TestFunctionConfig = parse_options(path, &options, &what)?;
            c.check().map_err(option_error(path))?;
            if specs.len() > 20 {
                return Err(TaskError::field(
                    path,
                    "params.variables",
                    format!(
                        "the test function takes 1 to 20 variables, not {}",
                        specs.len()
                    ),
                ));
            }
            let objective =
                TestFunctionObjective::new(&c, specs.iter().map(|s| s.name.clone()).collect());
            for (spec, &s) in specs.iter().zip(objective.function().minimizer()) {
                if s < spec.lower
                    || s > spec.upper
                    || (spec.kind == VariableType::Int && s.fract() != 0.0)
                {
                    return Err(TaskError::field(
                        path,
                        "params.shift",
                        format!(
                            "the function's minimizer has {}={s}, outside the variable's bounds [{}, {}] (or not an \
                             integer): widen the bounds, make the variable a float, or lower `shift`",
                            spec.name, spec.lower, spec.upper
                        ),
                    ));
                }
            }
            (Arc::new(objective), None)
        }
        other => {
            return Err(TaskError::field(
                path,
                "params.objective",
                format!(
                    "unknown objective `{other}`; accepted: {}",
                    objectives::NAMES.join(", ")
                ),
            ));
        }
    };
    let order: Vec<usize> = match objective.variable_names() {
        None => (0..specs.len()).collect(),
        Some(names) => {
            let declared: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
            let mut sorted_names = names.to_vec();
            sorted_names.sort_unstable();
            let mut sorted_declared = declared.clone();
            sorted_declared.sort_unstable();
            if sorted_names != sorted_declared {
                return Err(TaskError::field(
                    path,
                    "params.variables",
                    format!(
                        "the objective `{name}` reads the variables {}; the task declares {}",
                        names.join(", "),
                        declared.join(", ")
                    ),
                ));
            }
            names
                .iter()
                .filter_map(|n| specs.iter().position(|s| s.name == *n))
                .collect()
        }
    };
    let settings: Vec<String> = options.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    let prompt = PromptMaterial {
        objective: format!(
            "Choose the values of {} that minimize the cost of the objective `{name}` (the cost counts {}). The score \
             is -cost: higher is better.",
            specs
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            objective_unit(name)
        ),
        documentation: objective.documentation(),
        inputs: if settings.is_empty() {
            format!("The objective `{name}` with its default settings.")
        } else {
            format!(
                "The objective `{name}` with settings: {}.",
                settings.join(", ")
            )
        },
        ..PromptMaterial::default()
    };
    let evaluator = NativeEvaluator {
        specs: specs.to_vec(),
        order,
        objective,
        final_objective,
    };
    Ok((Arc::new(evaluator), prompt))
}

fn objective_unit(name: &str) -> &'static str {
    match name {
        "sor" => "SOR iterations over the sequence of systems",
        "ssor_cg" => "PCG iterations over the time steps",
        "heavy_ball" => "heavy-ball iterations over the quadratics",
        _ => "the function's value",
    }
}

/// The #Constraints text: each variable's type, bounds and scale, and the clamping rule.
fn constraints(specs: &[VariableSpec]) -> String {
    let mut out = String::new();
    for s in specs {
        out += &format!(
            "- {}: {} in [{}, {}]{}\n",
            s.name,
            match s.kind {
                VariableType::Float => "float",
                VariableType::Int => "int",
            },
            s.lower,
            s.upper,
            if s.scale == Scale::Log {
                ", log scale"
            } else {
                ""
            }
        );
    }
    out + "Values outside the bounds are clamped to them, ints are rounded, and a missing value takes its initial value; the feedback says so."
}

/// Scores values with a native objective.
struct NativeEvaluator {
    specs: Vec<VariableSpec>,
    /// For each variable the objective reads, its index in `specs`.
    order: Vec<usize>,
    objective: Arc<dyn Objective>,
    final_objective: Option<Arc<dyn Objective>>,
}

impl NativeEvaluator {
    fn run(&self, objective: &dyn Objective, candidate: &Candidate) -> Evaluation {
        let start = Instant::now();
        let (checked, mut notes) = check_values(&self.specs, &candidate.values);
        if !candidate.files.is_empty() {
            notes.push("this task reads values only; the candidate's files were ignored".into());
        }
        let xs: Vec<f64> = self
            .order
            .iter()
            .map(|&i| checked.get(&self.specs[i].name).copied().unwrap_or(0.0))
            .collect();
        let report = objective.evaluate(&xs);
        let mut feedback = String::new();
        for note in &notes {
            feedback += &format!("note: {note}\n");
        }
        feedback += &report.feedback;
        let trace =
            serde_json::json!({ "values": checked, "notes": notes, "objective": report.trace });
        let wall_ms = start.elapsed().as_secs_f64() * 1e3;
        if !report.cost.is_finite() {
            let mut evaluation = Evaluation::failed(
                EvalStatus::RuntimeError,
                format!(
                    "{feedback}the objective's cost is not a finite number ({})",
                    report.cost
                ),
            );
            evaluation.trace = trace;
            evaluation.wall_ms = wall_ms;
            return evaluation;
        }
        let mut metrics: BTreeMap<String, serde_json::Value> = report.metrics;
        metrics.insert("cost".into(), report.cost.into());
        metrics.insert("wall_ms".into(), wall_ms.into());
        Evaluation {
            status: EvalStatus::Ok,
            valid: true,
            score: -report.cost,
            metrics,
            feedback,
            trace,
            fuel: None,
            wall_ms,
        }
    }
}

impl Evaluator for NativeEvaluator {
    fn evaluate(&self, candidate: &Candidate) -> Evaluation {
        self.run(self.objective.as_ref(), candidate)
    }

    fn evaluate_private(&self, candidate: &Candidate) -> Option<Evaluation> {
        self.final_objective
            .as_ref()
            .map(|o| self.run(o.as_ref(), candidate))
    }

    fn has_held_out_cases(&self) -> bool {
        self.final_objective.is_some()
    }
}
