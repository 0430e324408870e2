//! pde tasks (CodePDE): the model writes a numerical solver; hone scores its accuracy
//! against a trusted native reference, with its cost (fuel) beside it.
//!
//! Equations: 1-D advection, viscous Burgers `u_t + (u²/2)_x = (ν/π) u_xx` (PDEBench's and
//! CodePDE's convention: the solver receives ν/π), Fisher–KPP reaction–diffusion and heat
//! (periodic on [0, 1), values at the cell centres `(j + ½)/nx`), and 2-D Darcy flow
//! `−∇·(a∇u) = 1` with zero boundary values. Initial data come from seeds (sums of random
//! Fourier modes; thresholded Gaussian random fields for Darcy). The candidate reads one batch
//! in the binary format of [`contract`] on stdin and writes the solution on stdout (f64
//! little-endian, `[batch, T+1, nx]`, frame 0 the initial condition; Darcy `[batch, n, n]`).
//!
//! Score rule: for a valid candidate `score = −log10(max(nRMSE, floor)) − w·log10(fuel)`,
//! `w = fuel_weight` (default 0.01), where nRMSE is CodePDE's (per sample
//! `sqrt(mean((u−u_ref)²)) / sqrt(mean(u_ref²))` over all frames including frame 0, then the
//! mean over samples) and `floor` is at least 10× the reference's own error (1e-12 for the
//! exact references, [`crate::pde_numerics::spectral::NONLINEAR_NRMSE_FLOOR`],
//! [`crate::pde_numerics::darcy::DARCY_NRMSE_FLOOR`]). A 10× more accurate solver gains 1; a 10× cheaper
//! one gains `w`. NaN/Inf, values whose nRMSE overflows, a wrong output size, a trap or an
//! exceeded limit make the candidate invalid (status `invalid_output` or the run's status).
//! Metrics: `nrmse`, `nrmse_max`, `fuel`, `run_wall_ms`, and with the convergence check
//! `convergence_rate`.
//!
//! The optional convergence check is CodePDE's self-convergence test: the candidate's runs on
//! other grids are compared with each other (1-D: CodePDE's five test initial conditions on
//! `grids`, steps of 0.01 up to a tenth of the final time; each grid against the next finer
//! or the finest) or with its own task-grid solution (Darcy: the coefficient re-sampled on the
//! grid coarsened by `down_sample`). It never uses the reference. The rate is reported; with
//! `min_rate` a lower rate makes the candidate invalid.
//!
//! task.toml:
//! ```toml
//! [task]
//! kind = "pde"
//! languages = ["c", "rust"]
//! host_kernels = true         # offer the host kernels (and document them in the prompt); default false
//!
//! [pde]
//! equation = "burgers"        # advection | burgers | reaction_diffusion | heat | darcy
//! nu = 0.01                   # beta (advection); nu (burgers, heat); nu and rho (reaction_diffusion)
//! seed_solution = "seed.c"
//! batch = 4                   # samples per evaluation
//! nx = 256                    # grid points (1-D) or cells per side (darcy, default 48)
//! frames = 200                # T: output frames after the initial one (1-D)
//! final_time = 2.0            # t_T (1-D)
//! modes = 2                   # random Fourier modes per initial condition (1-D)
//! max_wavenumber = 4
//! # coefficient_values = [3.0, 12.0]   # darcy
//! reference_grid = 2048       # 1-D: fine grid of the spectral reference (multiple of nx)
//! seed = 1                    # visible batch
//! final_seed = 1001           # held-out batch for evaluate_private (optional)
//! fuel = 5_000_000_000
//! timeout_ms = 10_000
//! memory_mb = 256
//! fuel_weight = 0.01
//! [pde.convergence]           # optional, off by default
//! enabled = true
//! grids = [256, 512, 1024, 2048]   # 1-D
//! compare = "next"            # 1-D: "next" (default for burgers) or "finest"
//! # down_sample = [6, 4, 3, 2]     # darcy: nx must be divisible by each
//! # samples = 8                    # darcy: first samples re-solved (at most batch)
//! # min_rate = 1.0            # optional: below it (and error above 1e-10) the candidate is invalid
//! ```

mod config;
pub mod contract;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hone_sandbox::{Compilation, Language, Limits, Program, Sandbox};
use serde_json::json;

use self::config::{Compare, ConvergencePlan, Equation, Section, Settings};
use crate::candidate::Candidate;
use crate::error::TaskError;
use crate::evaluation::{EvalStatus, Evaluation};
use crate::pde_numerics::{
    DarcyCoefficient, FourierInitial, cell_centres, codepde_convergence_initial, convergence_rate,
    darcy_reference, frame_errors, interpolate_linear, nrmse, periodic_reference,
    restrict_to_centres, self_convergence_error,
};
use crate::task::{Evaluator, LoadContext, Loaded, PromptMaterial, TaskKind};

/// Below this finest-grid error the convergence rate is not required (already at round-off).
const CONVERGED_ERROR: f64 = 1e-10;

pub(crate) fn load(context: &LoadContext) -> Result<Loaded, TaskError> {
    let section: Section = context.parse_section(TaskKind::Pde)?;
    let settings = section.check(&context.manifest_path)?;
    let seed_path = context.existing_path("pde.seed_solution", &settings.seed_solution)?;
    let language = Language::from_path(&seed_path).ok_or_else(|| {
        TaskError::field(
            &context.manifest_path,
            "pde.seed_solution",
            format!(
                "unknown language; use a {} file",
                Language::extension_list()
            ),
        )
    })?;
    if !context.languages.is_empty() && !context.languages.contains(&language) {
        return Err(TaskError::field(
            &context.manifest_path,
            "pde.seed_solution",
            format!("the seed is {language}, which `task.languages` does not allow"),
        ));
    }
    let seed_source = context.read_file("pde.seed_solution", &settings.seed_solution)?;
    let visible = Batch::build(&settings, settings.seed).map_err(|m| {
        TaskError::field(
            &context.manifest_path,
            "pde",
            format!("cannot build the reference: {m}"),
        )
    })?;
    let (inputs, outputs) = contract::io_documentation(&settings);
    let scoring = contract::scoring_documentation(&settings);
    let prompt = PromptMaterial {
        objective: format!(
            "Write a fast, accurate numerical solver for the {} problem: {}. Minimize the nRMSE against the reference \
             solution; fuel (cost) breaks ties.",
            settings.equation.name(),
            contract::equation_text(&settings.equation)
        ),
        statement: String::new(),
        documentation: if context.host_kernels {
            format!(
                "{inputs}\n{outputs}\n\n{scoring}\n\n{}",
                kernel_documentation()
            )
        } else {
            format!(
                "{inputs}\n{outputs}\n\n{scoring}\n\nNo host kernels: the solver does all its work in wasm."
            )
        },
        constraints: format!(
            "Languages: {}. One source file, WASI stdin/stdout only. Fuel limit {}, memory {} MiB, wall {} ms per evaluation.",
            context
                .languages
                .iter()
                .map(|l| l.name())
                .collect::<Vec<_>>()
                .join(", "),
            settings.fuel,
            settings.memory_mb,
            settings.timeout_ms
        ),
        inputs,
        outputs,
        variables: Vec::new(),
    };
    let evaluator = PdeEvaluator {
        sandbox: context.sandbox.clone(),
        languages: context.languages.clone(),
        settings,
        host_kernels: context.host_kernels,
        visible,
        held_out: OnceLock::new(),
        convergence: OnceLock::new(),
    };
    Ok(Loaded {
        evaluator: Arc::new(evaluator),
        seeds: vec![Candidate::from_file(language.file_name(), seed_source)],
        prompt,
    })
}

/// How to call the host kernels, for the #Documentation section.
pub fn kernel_documentation() -> String {
    format!(
        "Host kernels (optional, native speed, charged fuel in proportion to their work) are imported from wasm module \
         `hone`. Paste the declarations you need into your single source file.\n\nC declarations:\n```c\n{}\n```\n\n\
         Rust module (paste as `mod hone {{ ... }}`):\n```rust\n{}\n```",
        hone_sandbox::kernels::numeric::C_HEADER.trim_end(),
        hone_sandbox::kernels::numeric::RUST_MODULE.trim_end()
    )
}

/// One sample's input data and reference solution.
type SampleData = (Vec<f64>, Vec<f64>);

/// The shape of one run's output: `[batch, times, nx]` (1-D) or `[batch, nx, nx]` (Darcy,
/// `times` empty).
#[derive(Clone, Debug)]
struct Layout {
    batch: usize,
    nx: usize,
    times: Vec<f64>,
}

impl Layout {
    fn darcy(&self) -> bool {
        self.times.is_empty()
    }

    fn sample_len(&self) -> usize {
        if self.darcy() {
            self.nx * self.nx
        } else {
            self.times.len() * self.nx
        }
    }

    fn values(&self) -> usize {
        self.batch * self.sample_len()
    }

    fn describe(&self) -> String {
        if self.darcy() {
            format!("[batch {}, n {}, n {}]", self.batch, self.nx, self.nx)
        } else {
            format!(
                "[batch {}, frames {}, nx {}]",
                self.batch,
                self.times.len(),
                self.nx
            )
        }
    }
}

/// One run's input: the stdin bytes, the output layout and, for scored batches, the reference.
struct Batch {
    stdin: Vec<u8>,
    layout: Layout,
    /// Empty for the convergence check's runs (compared with the candidate itself).
    reference: Vec<f64>,
}

impl Batch {
    /// Draws `batch` samples from `seed` on the task grid and solves them natively (in parallel).
    fn build(settings: &Settings, seed: u64) -> Result<Batch, String> {
        let (times, nx, batch) = (&settings.times, settings.nx, settings.batch);
        let equation = settings.equation;
        let per_sample: Vec<Result<SampleData, String>> = parallel_map(batch, |b| match equation {
            Equation::Periodic(p) => {
                let unit = matches!(
                    p,
                    crate::pde_numerics::PeriodicEquation::ReactionDiffusion { .. }
                );
                let u0 =
                    FourierInitial::random(seed, b, settings.modes, settings.max_wavenumber, unit);
                Ok((
                    u0.sample(nx),
                    periodic_reference(p, &u0, nx, settings.reference_grid, times),
                ))
            }
            Equation::Darcy { low, high } => {
                let a = DarcyCoefficient::random(seed, b, low, high).cells(nx);
                let u = darcy_reference(nx, &a).map_err(|e| e.to_string())?;
                Ok((a, u))
            }
        });
        let mut data = Vec::new();
        let mut reference = Vec::new();
        for sample in per_sample {
            let (d, r) = sample?;
            data.extend(d);
            reference.extend(r);
        }
        Ok(Batch::unscored(&equation, batch, nx, times, data).with_reference(reference))
    }

    /// A run without a reference (the convergence check's).
    fn unscored(
        equation: &Equation,
        batch: usize,
        nx: usize,
        times: &[f64],
        data: Vec<f64>,
    ) -> Batch {
        Batch {
            stdin: contract::encode_input(equation, batch, nx, times, &data),
            layout: Layout {
                batch,
                nx,
                times: times.to_vec(),
            },
            reference: Vec::new(),
        }
    }

    fn with_reference(mut self, reference: Vec<f64>) -> Batch {
        self.reference = reference;
        self
    }
}

/// Maps `0..count` on up to `available_parallelism` threads, keeping order.
fn parallel_map<T: Send>(count: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(count.max(1));
    let mut results: Vec<Option<T>> = (0..count).map(|_| None).collect();
    std::thread::scope(|scope| {
        let f = &f;
        for (t, chunk) in results
            .chunks_mut(count.div_ceil(threads).max(1))
            .enumerate()
        {
            let start = t * count.div_ceil(threads).max(1);
            scope.spawn(move || {
                for (i, slot) in chunk.iter_mut().enumerate() {
                    *slot = Some(f(start + i));
                }
            });
        }
    });
    results.into_iter().flatten().collect()
}

struct PdeEvaluator {
    sandbox: Sandbox,
    languages: Vec<Language>,
    settings: Settings,
    /// `[task] host_kernels`.
    host_kernels: bool,
    visible: Batch,
    held_out: OnceLock<Result<Batch, String>>,
    convergence: OnceLock<Vec<Batch>>,
}

/// A finished run: the decoded output (all values finite) and its cost.
struct Run {
    output: Vec<f64>,
    fuel: u64,
    wall: Duration,
}

/// A successful, scored run of one batch.
struct Scored {
    nrmse: f64,
    per_sample: Vec<f64>,
    frames: Vec<f64>,
    run: Run,
}

impl Evaluator for PdeEvaluator {
    fn evaluate(&self, candidate: &Candidate) -> Evaluation {
        self.evaluate_on(candidate, &self.visible, true)
    }

    fn evaluate_private(&self, candidate: &Candidate) -> Option<Evaluation> {
        let seed = self.settings.final_seed?;
        let batch = self
            .held_out
            .get_or_init(|| Batch::build(&self.settings, seed));
        Some(match batch {
            Ok(batch) => self.evaluate_on(candidate, batch, false),
            Err(message) => Evaluation::failed(
                EvalStatus::InvalidOutput,
                format!("the held-out reference failed: {message}"),
            ),
        })
    }

    fn has_held_out_cases(&self) -> bool {
        self.settings.final_seed.is_some()
    }
}

impl PdeEvaluator {
    fn evaluate_on(
        &self,
        candidate: &Candidate,
        batch: &Batch,
        with_convergence: bool,
    ) -> Evaluation {
        let started = Instant::now();
        let program = match self.compile(candidate) {
            Ok(p) => p,
            Err(e) => return e,
        };
        let scored = match self.run_scored(&program, batch) {
            Ok(s) => s,
            Err(mut e) => {
                e.wall_ms = started.elapsed().as_secs_f64() * 1e3;
                return e;
            }
        };
        let fuel = scored.run.fuel;
        let floor = self.settings.equation.nrmse_floor();
        let score = -scored.nrmse.max(floor).log10()
            - self.settings.fuel_weight * (fuel.max(1) as f64).log10();
        let mut feedback = self.feedback(&scored, score);
        let nrmse_max = scored.per_sample.iter().copied().fold(0.0, f64::max);
        let mut evaluation = Evaluation {
            status: EvalStatus::Ok,
            valid: true,
            score,
            metrics: BTreeMap::new(),
            feedback: String::new(),
            trace: json!({
                "per_sample_nrmse": scored.per_sample,
                "per_frame_error": scored.frames,
                "times": self.settings.times,
            }),
            fuel: Some(fuel),
            wall_ms: 0.0,
        }
        .with_metric("nrmse", scored.nrmse)
        .with_metric("nrmse_max", nrmse_max)
        .with_metric("fuel", fuel)
        .with_metric("run_wall_ms", scored.run.wall.as_secs_f64() * 1e3);
        if with_convergence && let Some(check) = &self.settings.convergence {
            match self.convergence_check(&program, &scored.run.output) {
                Ok((sizes, errors, rate)) => {
                    let finest = errors.last().copied().unwrap_or(0.0);
                    feedback.push_str(&format!(
                        "\nconvergence (your solver against its own runs on other grids): grids {sizes:?}, errors {}, rate {}\n",
                        errors
                            .iter()
                            .map(|e| format!("{e:.3e}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        rate.map(|r| format!("{r:.2}"))
                            .unwrap_or_else(|| "undefined".into())
                    ));
                    if let Some(r) = rate {
                        evaluation = evaluation.with_metric("convergence_rate", r);
                    }
                    evaluation.trace["convergence"] =
                        json!({ "grids": sizes, "errors": errors, "rate": rate });
                    if let Some(min) = check.min_rate
                        && finest > CONVERGED_ERROR
                        && rate.is_none_or(|r| r < min)
                    {
                        evaluation.status = EvalStatus::WrongAnswer;
                        evaluation.valid = false;
                        evaluation.score = 0.0;
                        feedback.push_str(&format!(
                            "the observed convergence rate is below the required {min}: refine the scheme's order or check that it uses nx from the header\n"
                        ));
                    }
                }
                Err(mut failed) => {
                    failed.feedback = format!("{feedback}\nconvergence check: {}", failed.feedback);
                    failed.wall_ms = started.elapsed().as_secs_f64() * 1e3;
                    return failed;
                }
            }
        }
        evaluation.feedback = feedback;
        evaluation.wall_ms = started.elapsed().as_secs_f64() * 1e3;
        evaluation
    }

    fn compile(&self, candidate: &Candidate) -> Result<Program, Evaluation> {
        let allowed: Vec<Language> = if self.languages.is_empty() {
            Language::ALL.to_vec()
        } else {
            self.languages.clone()
        };
        let allowed_names = allowed
            .iter()
            .map(|l| l.name())
            .collect::<Vec<_>>()
            .join(", ");
        let Some((language, source)) = Language::ALL
            .into_iter()
            .find_map(|l| candidate.files.get(l.file_name()).map(|s| (l, s)))
        else {
            return Err(Evaluation::failed(
                EvalStatus::CompileError,
                format!(
                    "the candidate has no code file; expected one of {}",
                    allowed
                        .iter()
                        .map(|l| l.file_name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        if !allowed.contains(&language) {
            return Err(Evaluation::failed(
                EvalStatus::CompileError,
                format!("language {language} is not allowed; allowed: {allowed_names}"),
            ));
        }
        match self.sandbox.compile(language, source) {
            Ok(Compilation::Ready(program)) => Ok(program),
            Ok(Compilation::Rejected(diagnostics)) => Err(Evaluation::failed(
                EvalStatus::CompileError,
                format!("{} did not compile:\n{diagnostics}", language.file_name()),
            )),
            Err(e) => Err(Evaluation::failed(
                EvalStatus::CompileError,
                format!("the sandbox could not compile the candidate: {e}"),
            )),
        }
    }

    fn limits(&self, layout: &Layout) -> Limits {
        Limits {
            fuel: Some(self.settings.fuel),
            memory_bytes: self.settings.memory_mb << 20,
            timeout: Duration::from_millis(self.settings.timeout_ms),
            // Room for the expected output and more, so that a longer output is reported
            // with its size rather than cut off.
            stdout_bytes: (16 * layout.values() as u64 + 4096).max(4 << 20),
            host_kernels: self.host_kernels,
            ..Limits::default()
        }
    }

    /// Runs one batch; an invalid run (did not finish, wrong size, a value not finite) comes
    /// back as its evaluation.
    fn run(&self, program: &Program, batch: &Batch) -> Result<Run, Evaluation> {
        let layout = &batch.layout;
        let outcome = match self
            .sandbox
            .run(program, &batch.stdin, &self.limits(layout))
        {
            Ok(o) => o,
            Err(e) => {
                return Err(Evaluation::failed(
                    EvalStatus::RuntimeError,
                    format!("the sandbox failed: {e}"),
                ));
            }
        };
        let stderr_tail = tail(&outcome.stderr, 1500);
        let failed = |status: EvalStatus, message: String| {
            let mut failed = Evaluation::failed(status, message);
            failed.fuel = Some(outcome.fuel_used);
            failed.with_metric("fuel", outcome.fuel_used)
        };
        if let Some(status) = EvalStatus::from_run_status(&outcome.status) {
            return Err(failed(
                status,
                format!(
                    "the solver did not finish: {} (fuel used {}, limit {}){}",
                    outcome.status,
                    outcome.fuel_used,
                    self.settings.fuel,
                    if stderr_tail.is_empty() {
                        String::new()
                    } else {
                        format!("\nstderr:\n{stderr_tail}")
                    }
                ),
            ));
        }
        let expected = layout.values();
        if outcome.stdout.len() != 8 * expected {
            let mut message = format!(
                "wrong output length: expected {} bytes ({expected} f64 values, shape {}, little-endian), got {} bytes",
                8 * expected,
                layout.describe(),
                outcome.stdout.len()
            );
            let printable = outcome
                .stdout
                .iter()
                .take(256)
                .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
            if !outcome.stdout.is_empty() && printable {
                message.push_str(
                    "\nhint: the output looks like text; write raw f64 bytes (C: fwrite(buf, sizeof(double), count, stdout); Rust: write_all of to_le_bytes())",
                );
            }
            if !stderr_tail.is_empty() {
                message.push_str(&format!("\nstderr:\n{stderr_tail}"));
            }
            return Err(failed(EvalStatus::InvalidOutput, message));
        }
        let output = contract::decode_output(&outcome.stdout);
        if let Some(index) = output.iter().position(|v| !v.is_finite()) {
            return Err(failed(
                EvalStatus::InvalidOutput,
                non_finite_message(&output, index, layout),
            ));
        }
        Ok(Run {
            output,
            fuel: outcome.fuel_used,
            wall: outcome.wall,
        })
    }

    /// Runs one batch and scores it against its reference.
    fn run_scored(&self, program: &Program, batch: &Batch) -> Result<Scored, Evaluation> {
        let run = self.run(program, batch)?;
        let layout = &batch.layout;
        let (mean, per_sample) = nrmse(&run.output, &batch.reference, layout.sample_len());
        if !mean.is_finite() {
            // Finite values so large that their squares overflow.
            let mut failed = Evaluation::failed(
                EvalStatus::InvalidOutput,
                "the output's values are so large that the nRMSE overflows (it is not finite); the solution stays of the order of the initial data",
            );
            failed.fuel = Some(run.fuel);
            return Err(failed.with_metric("fuel", run.fuel));
        }
        let frames = if layout.darcy() {
            Vec::new()
        } else {
            frame_errors(
                &run.output,
                &batch.reference,
                layout.batch,
                layout.times.len(),
                layout.nx,
            )
        };
        Ok(Scored {
            nrmse: mean,
            per_sample,
            frames,
            run,
        })
    }

    fn feedback(&self, scored: &Scored, score: f64) -> String {
        let mut text = format!(
            "nRMSE {:.4e} (score {score:.4}; fuel {}; run wall {:.0} ms)\nper-sample nRMSE: {}\n",
            scored.nrmse,
            scored.run.fuel,
            scored.run.wall.as_secs_f64() * 1e3,
            scored
                .per_sample
                .iter()
                .map(|e| format!("{e:.3e}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let floor = self.settings.equation.nrmse_floor();
        if scored.nrmse < floor {
            text.push_str(&format!(
                "the nRMSE is below {floor:e}, where the score stops growing (the reference's own accuracy)\n"
            ));
        }
        if !scored.frames.is_empty() {
            let times = &self.settings.times;
            // Every frame is scored; the feedback shows at most about 20 of them.
            let stride = (scored.frames.len() - 1).div_ceil(20).max(1);
            text.push_str("per-frame relative error (mean over samples): ");
            text.push_str(
                &scored
                    .frames
                    .iter()
                    .zip(times)
                    .enumerate()
                    .filter(|(k, _)| k % stride == 0 || *k + 1 == scored.frames.len())
                    .map(|(_, (e, t))| format!("t={t:.3}: {e:.2e}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            text.push('\n');
            if scored.frames[0] > 1e-12 {
                text.push_str(
                    "hint: frame 0 differs from the given initial condition; output it unchanged\n",
                );
            }
            let jump = scored
                .frames
                .windows(2)
                .position(|w| w[1] > 0.05 && w[1] > 10.0 * w[0].max(1e-6));
            if let Some(k) = jump {
                text.push_str(&format!(
                    "hint: the error jumps at frame {} (t = {:.3}): the scheme may be unstable or under-resolved there\n",
                    k + 1,
                    times[k + 1]
                ));
            } else if let Some(last) = scored.frames.last()
                && *last > 0.1
            {
                text.push_str("hint: the final frame is far from the reference: check the time stepping and the PDE parameters\n");
            }
        }
        text
    }

    /// The inputs of the convergence check's runs (built once).
    fn convergence_batches(&self, plan: &ConvergencePlan) -> &[Batch] {
        self.convergence.get_or_init(|| match plan {
            ConvergencePlan::Periodic { grids, times, .. } => grids
                .iter()
                .map(|&g| {
                    let x = periodic_check_points(g);
                    let u0 = codepde_convergence_initial(&x);
                    Batch::unscored(&self.settings.equation, u0.len() / g, g, times, u0)
                })
                .collect(),
            ConvergencePlan::Darcy {
                down_sample,
                samples,
            } => {
                let Equation::Darcy { low, high } = self.settings.equation else {
                    return Vec::new();
                };
                down_sample
                    .iter()
                    .map(|&r| {
                        let n = self.settings.nx / r;
                        let a: Vec<f64> = (0..*samples)
                            .flat_map(|b| {
                                DarcyCoefficient::random(self.settings.seed, b, low, high).cells(n)
                            })
                            .collect();
                        Batch::unscored(&self.settings.equation, *samples, n, &[], a)
                    })
                    .collect()
            }
        })
    }

    /// CodePDE's self-convergence check: the candidate's runs on other grids compared with
    /// each other (1-D) or with its own task-grid solution `output` (Darcy). Returns the grid
    /// sizes of the errors, the errors and the average rate.
    #[allow(clippy::type_complexity)]
    fn convergence_check(
        &self,
        program: &Program,
        output: &[f64],
    ) -> Result<(Vec<usize>, Vec<f64>, Option<f64>), Evaluation> {
        let Some(check) = &self.settings.convergence else {
            return Ok((Vec::new(), Vec::new(), None));
        };
        let batches = self.convergence_batches(&check.plan);
        let mut runs = Vec::with_capacity(batches.len());
        for batch in batches {
            let run = self.run(program, batch).map_err(|mut e| {
                e.feedback = format!("at nx = {}: {}", batch.layout.nx, e.feedback);
                e
            })?;
            runs.push(run.output);
        }
        let (sizes, errors) = match &check.plan {
            ConvergencePlan::Periodic { grids, compare, .. } => {
                let samples = batches.first().map_or(1, |b| b.layout.batch);
                let frames = batches.first().map_or(1, |b| b.layout.times.len());
                let mut errors = Vec::new();
                for i in 0..grids.len() - 1 {
                    let f = match compare {
                        Compare::Next => i + 1,
                        Compare::Finest => grids.len() - 1,
                    };
                    let (xc, xf) = (
                        periodic_check_points(grids[i]),
                        periodic_check_points(grids[f]),
                    );
                    let projected: Vec<f64> = runs[f]
                        .chunks(grids[f])
                        .flat_map(|row| interpolate_linear(&xf, row, &xc))
                        .collect();
                    debug_assert_eq!(projected.len(), samples * frames * grids[i]);
                    errors.push(self_convergence_error(&runs[i], &projected, samples));
                }
                (grids[..grids.len() - 1].to_vec(), errors)
            }
            ConvergencePlan::Darcy {
                down_sample,
                samples,
            } => {
                let n = self.settings.nx;
                let errors = down_sample
                    .iter()
                    .zip(&runs)
                    .map(|(&r, coarse)| {
                        let projected: Vec<f64> = output
                            .chunks(n * n)
                            .take(*samples)
                            .flat_map(|u| restrict_to_centres(u, n, r))
                            .collect();
                        self_convergence_error(coarse, &projected, *samples)
                    })
                    .collect();
                (down_sample.iter().map(|r| n / r).collect(), errors)
            }
        };
        let rate = convergence_rate(&sizes, &errors);
        Ok((sizes, errors, rate))
    }
}

/// The points of the 1-D convergence runs on `n` cells: CodePDE's cell centres between the
/// first and last `x-coordinate` of its 1024-point datasets.
fn periodic_check_points(n: usize) -> Vec<f64> {
    const DATASET_NX: f64 = 1024.0;
    cell_centres(0.5 / DATASET_NX, 1.0 - 0.5 / DATASET_NX, n)
}

fn non_finite_message(output: &[f64], index: usize, layout: &Layout) -> String {
    let value = output[index];
    let nx = layout.nx;
    if layout.darcy() {
        let (b, cell) = (index / (nx * nx), index % (nx * nx));
        format!(
            "the output holds {value} at sample {b}, cell (i {}, j {}); every value must be finite",
            cell / nx,
            cell % nx
        )
    } else {
        let frames = layout.times.len();
        let (b, rest) = (index / (frames * nx), index % (frames * nx));
        let (t, j) = (rest / nx, rest % nx);
        let bad = output.iter().filter(|v| !v.is_finite()).count();
        format!(
            "the output holds {value} at sample {b}, frame {t} (t = {}), x index {j} ({bad} non-finite values in all); \
             every value must be finite\nhint: the scheme diverged by frame {t}: check the time-step (CFL) condition, or use an implicit or exponential integrator",
            layout.times[t]
        )
    }
}

/// The last `max` bytes of `text`, on a char boundary.
fn tail(text: &str, max: usize) -> String {
    let text = text.trim_end();
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("[...]{}", &text[start..])
}
