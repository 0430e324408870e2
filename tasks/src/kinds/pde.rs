//! pde tasks (CodePDE): the model writes a numerical solver; hone scores its accuracy
//! against a trusted native reference, with its cost (fuel) beside it.
//!
//! Equations: 1-D advection, viscous Burgers, Fisher–KPP reaction–diffusion and heat
//! (periodic on [0, 1)), and 2-D Darcy flow `−∇·(a∇u) = 1` with zero boundary values.
//! Initial data come from seeds (sums of random Fourier modes; thresholded Gaussian random
//! fields for Darcy). The candidate reads one batch in the binary format of
//! [`contract`] on stdin and writes the solution on stdout (f64 little-endian,
//! `[batch, T+1, nx]`, frame 0 the initial condition; Darcy `[batch, n, n]`).
//!
//! Score rule: for a valid candidate `score = −log10(max(nRMSE, 1e-12)) − w·log10(fuel)`,
//! `w = fuel_weight` (default 0.01), where nRMSE is CodePDE's (per sample
//! `sqrt(mean((u−u_ref)²)) / sqrt(mean(u_ref²))` over all frames including frame 0, then the
//! mean over samples). A 10× more accurate solver gains 1; a 10× cheaper one gains `w`.
//! NaN/Inf, a wrong output size, a trap or an exceeded limit make the candidate invalid
//! (status `invalid_output` or the run's status). Metrics: `nrmse`, `nrmse_max`, `fuel`,
//! `wall_ms`, and with the optional convergence check `convergence_rate`.
//!
//! task.toml:
//! ```toml
//! [task]
//! kind = "pde"
//! languages = ["c", "rust"]
//!
//! [pde]
//! equation = "burgers"        # advection | burgers | reaction_diffusion | heat | darcy
//! nu = 0.01                   # beta (advection); nu (burgers, heat); nu and rho (reaction_diffusion)
//! seed_solution = "seed.c"
//! batch = 4                   # samples per evaluation
//! nx = 256                    # grid points (1-D) or cells per side (darcy)
//! frames = 10                 # T: output frames after the initial one (1-D)
//! final_time = 1.0            # t_T (1-D)
//! modes = 2                   # random Fourier modes per initial condition (1-D)
//! max_wavenumber = 4
//! # coefficient_values = [3.0, 12.0]   # darcy
//! reference_grid = 2048       # 1-D: fine grid (multiple of nx); darcy: refinement factor (default 4)
//! seed = 1                    # visible batch
//! final_seed = 1001           # held-out batch for evaluate_private (optional)
//! fuel = 5_000_000_000
//! timeout_ms = 10_000
//! memory_mb = 256
//! fuel_weight = 0.01
//! [pde.convergence]           # optional, off by default
//! enabled = true
//! grids = [256, 512, 1024, 2048]
//! samples = 2
//! min_rate = 1.0              # optional: below it (and error above 1e-10) the candidate is invalid
//! ```

mod config;
pub mod contract;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hone_sandbox::{Compilation, Language, Limits, Program, Sandbox};
use serde_json::json;

use self::config::{Equation, Section, Settings};
use crate::candidate::Candidate;
use crate::error::TaskError;
use crate::evaluation::{EvalStatus, Evaluation};
use crate::pde::{
    DarcyCoefficient, FourierInitial, convergence_rate, darcy_reference, frame_errors, nrmse,
    periodic_reference,
};
use crate::task::{Evaluator, LoadContext, Loaded, PromptMaterial, TaskKind};

/// nRMSE below this counts as exact (round-off): the score stops growing there.
const NRMSE_FLOOR: f64 = 1e-12;
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
            "unknown language; use a .c, .rs or .wat file",
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
    let visible =
        Batch::build(&settings, settings.seed, settings.nx, settings.batch).map_err(|m| {
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
        documentation: format!(
            "{inputs}\n{outputs}\n\n{scoring}\n\n{}",
            kernel_documentation()
        ),
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

/// One batch of samples: the stdin bytes and the reference solution.
struct Batch {
    stdin: Vec<u8>,
    reference: Vec<f64>,
    batch: usize,
    nx: usize,
}

impl Batch {
    /// Draws `batch` samples from `seed` on grid `nx` and solves them natively (in parallel).
    fn build(settings: &Settings, seed: u64, nx: usize, batch: usize) -> Result<Batch, String> {
        let times = &settings.times;
        let equation = settings.equation;
        let per_sample: Vec<Result<SampleData, String>> = parallel_map(batch, |b| match equation {
            Equation::Periodic(p) => {
                let unit = matches!(p, crate::pde::PeriodicEquation::ReactionDiffusion { .. });
                let u0 =
                    FourierInitial::random(seed, b, settings.modes, settings.max_wavenumber, unit);
                // The convergence grids may exceed the task grid: keep the reference at least 2× finer.
                let fine = if nx >= settings.reference_grid {
                    2 * nx
                } else {
                    settings.reference_grid.div_ceil(nx) * nx
                };
                Ok((u0.sample(nx), periodic_reference(p, &u0, nx, fine, times)))
            }
            Equation::Darcy { low, high } => {
                let a = DarcyCoefficient::random(seed, b, low, high).cells(nx);
                let u =
                    darcy_reference(nx, settings.reference_grid, &a).map_err(|e| e.to_string())?;
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
        Ok(Batch {
            stdin: contract::encode_input(&equation, batch, nx, times, &data),
            reference,
            batch,
            nx,
        })
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
    visible: Batch,
    held_out: OnceLock<Result<Batch, String>>,
    convergence: OnceLock<Result<Vec<Batch>, String>>,
}

/// A successful, scored run of one batch.
struct Scored {
    nrmse: f64,
    per_sample: Vec<f64>,
    frames: Vec<f64>,
    fuel: u64,
    wall: Duration,
}

impl Evaluator for PdeEvaluator {
    fn evaluate(&self, candidate: &Candidate) -> Evaluation {
        self.evaluate_on(candidate, &self.visible, true)
    }

    fn evaluate_private(&self, candidate: &Candidate) -> Option<Evaluation> {
        let seed = self.settings.final_seed?;
        let batch = self.held_out.get_or_init(|| {
            Batch::build(&self.settings, seed, self.settings.nx, self.settings.batch)
        });
        Some(match batch {
            Ok(batch) => self.evaluate_on(candidate, batch, false),
            Err(message) => Evaluation::failed(
                EvalStatus::InvalidOutput,
                format!("the held-out reference failed: {message}"),
            ),
        })
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
        let scored = match self.run_batch(&program, batch) {
            Ok(s) => s,
            Err(mut e) => {
                e.wall_ms = started.elapsed().as_secs_f64() * 1e3;
                return e;
            }
        };
        let fuel = scored.fuel;
        let score = -scored.nrmse.max(NRMSE_FLOOR).log10()
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
        .with_metric("run_wall_ms", scored.wall.as_secs_f64() * 1e3);
        if with_convergence && let Some(check) = &self.settings.convergence {
            match self.convergence_check(&program) {
                Ok((errors, rate)) => {
                    let finest = errors.last().copied().unwrap_or(0.0);
                    feedback.push_str(&format!(
                        "\nconvergence: grids {:?}, nRMSE {}, rate {}\n",
                        check.grids,
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
                        json!({ "grids": check.grids, "nrmse": errors, "rate": rate });
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

    fn limits(&self) -> Limits {
        Limits {
            fuel: Some(self.settings.fuel),
            memory_bytes: self.settings.memory_mb << 20,
            timeout: Duration::from_millis(self.settings.timeout_ms),
            stdout_bytes: (8 * self.expected_values(&self.visible) as u64 + 4096).max(1 << 20) * 4,
            ..Limits::default()
        }
    }

    fn expected_values(&self, batch: &Batch) -> usize {
        batch.batch
            * contract::sample_len(&self.settings.equation, batch.nx, self.settings.times.len())
    }

    /// Runs one batch and scores it; an invalid run comes back as its evaluation.
    fn run_batch(&self, program: &Program, batch: &Batch) -> Result<Scored, Evaluation> {
        let mut limits = self.limits();
        limits.stdout_bytes = limits
            .stdout_bytes
            .max(8 * self.expected_values(batch) as u64 * 2);
        let outcome = match self.sandbox.run(program, &batch.stdin, &limits) {
            Ok(o) => o,
            Err(e) => {
                return Err(Evaluation::failed(
                    EvalStatus::RuntimeError,
                    format!("the sandbox failed: {e}"),
                ));
            }
        };
        let stderr_tail = tail(&outcome.stderr, 1500);
        if let Some(status) = EvalStatus::from_run_status(&outcome.status) {
            let mut failed = Evaluation::failed(
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
            );
            failed.fuel = Some(outcome.fuel_used);
            return Err(failed.with_metric("fuel", outcome.fuel_used));
        }
        let expected = self.expected_values(batch);
        if outcome.stdout.len() != 8 * expected {
            let shape = match self.settings.equation {
                Equation::Darcy { .. } => {
                    format!("[batch {}, n {}, n {}]", batch.batch, batch.nx, batch.nx)
                }
                Equation::Periodic(_) => {
                    format!(
                        "[batch {}, frames {}, nx {}]",
                        batch.batch,
                        self.settings.times.len(),
                        batch.nx
                    )
                }
            };
            let mut message = format!(
                "wrong output length: expected {} bytes ({expected} f64 values, shape {shape}, little-endian), got {} bytes",
                8 * expected,
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
            let mut failed = Evaluation::failed(EvalStatus::InvalidOutput, message);
            failed.fuel = Some(outcome.fuel_used);
            return Err(failed.with_metric("fuel", outcome.fuel_used));
        }
        let output = contract::decode_output(&outcome.stdout);
        let sample_len =
            contract::sample_len(&self.settings.equation, batch.nx, self.settings.times.len());
        if let Some(index) = output.iter().position(|v| !v.is_finite()) {
            let mut failed = Evaluation::failed(
                EvalStatus::InvalidOutput,
                self.non_finite_message(&output, index, batch),
            );
            failed.fuel = Some(outcome.fuel_used);
            return Err(failed.with_metric("fuel", outcome.fuel_used));
        }
        let (mean, per_sample) = nrmse(&output, &batch.reference, sample_len);
        let frames = match self.settings.equation {
            Equation::Periodic(_) => frame_errors(
                &output,
                &batch.reference,
                batch.batch,
                self.settings.times.len(),
                batch.nx,
            ),
            Equation::Darcy { .. } => Vec::new(),
        };
        Ok(Scored {
            nrmse: mean,
            per_sample,
            frames,
            fuel: outcome.fuel_used,
            wall: outcome.wall,
        })
    }

    fn non_finite_message(&self, output: &[f64], index: usize, batch: &Batch) -> String {
        let value = output[index];
        match self.settings.equation {
            Equation::Darcy { .. } => {
                let (b, cell) = (index / (batch.nx * batch.nx), index % (batch.nx * batch.nx));
                format!(
                    "the output holds {value} at sample {b}, cell (i {}, j {}); every value must be finite",
                    cell / batch.nx,
                    cell % batch.nx
                )
            }
            Equation::Periodic(_) => {
                let frames = self.settings.times.len();
                let (b, rest) = (index / (frames * batch.nx), index % (frames * batch.nx));
                let (t, j) = (rest / batch.nx, rest % batch.nx);
                let bad = output.iter().filter(|v| !v.is_finite()).count();
                format!(
                    "the output holds {value} at sample {b}, frame {t} (t = {}), x index {j} ({bad} non-finite values in all); \
                     every value must be finite\nhint: the scheme diverged by frame {t}: check the time-step (CFL) condition, or use an implicit or exponential integrator",
                    self.settings.times[t]
                )
            }
        }
    }

    fn feedback(&self, scored: &Scored, score: f64) -> String {
        let mut text = format!(
            "nRMSE {:.4e} (score {score:.4}; fuel {}; run wall {:.0} ms)\nper-sample nRMSE: {}\n",
            scored.nrmse,
            scored.fuel,
            scored.wall.as_secs_f64() * 1e3,
            scored
                .per_sample
                .iter()
                .map(|e| format!("{e:.3e}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !scored.frames.is_empty() {
            let times = &self.settings.times;
            text.push_str("per-frame relative error (mean over samples): ");
            text.push_str(
                &scored
                    .frames
                    .iter()
                    .zip(times)
                    .map(|(e, t)| format!("t={t:.3}: {e:.2e}"))
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

    fn convergence_check(&self, program: &Program) -> Result<(Vec<f64>, Option<f64>), Evaluation> {
        let Some(check) = &self.settings.convergence else {
            return Ok((Vec::new(), None));
        };
        let batches = self.convergence.get_or_init(|| {
            check
                .grids
                .iter()
                .map(|&g| Batch::build(&self.settings, self.settings.seed, g, check.samples))
                .collect()
        });
        let batches = match batches {
            Ok(b) => b,
            Err(m) => {
                return Err(Evaluation::failed(
                    EvalStatus::InvalidOutput,
                    format!("the reference failed: {m}"),
                ));
            }
        };
        let mut errors = Vec::new();
        for batch in batches {
            let scored = self.run_batch(program, batch).map_err(|mut e| {
                e.feedback = format!("at nx = {}: {}", batch.nx, e.feedback);
                e
            })?;
            errors.push(scored.nrmse);
        }
        Ok((errors.clone(), convergence_rate(&check.grids, &errors)))
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
