//! Running a candidate on one case and scoring its output: a built-in scorer, `vis`, or a
//! `tester` that runs the candidate through `hone sandbox run --stream` (its stdin and
//! stdout pass through while it runs, so the tester can answer each query in turn).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hone_sandbox::{Compilation, Language, Limits, Program, Sandbox};

use super::problems::Problem;
use super::tools::Tools;
use crate::candidate::Candidate;
use crate::checker::trim_for_feedback;
use crate::evaluation::{EvalStatus, Evaluation};

/// Where scores come from.
pub(super) enum Source {
    Builtin(Arc<dyn Problem>),
    Batch(Arc<Tools>),
    Interactive { tools: Arc<Tools>, hone: PathBuf },
}

/// Compiles candidates and runs them on cases.
pub(super) struct Judge {
    sandbox: Sandbox,
    languages: Vec<Language>,
    source: Source,
    limits: Limits,
    timeout_ms: u64,
}

impl Judge {
    /// Whether candidates talk with an interactive tester (rather than read one input).
    pub(super) fn is_interactive(&self) -> bool {
        matches!(self.source, Source::Interactive { .. })
    }
}

/// A compiled candidate, ready to run on cases.
pub(super) struct Runner<'a> {
    judge: &'a Judge,
    compiled: Compiled,
}

enum Compiled {
    Program(Program),
    Wasm { bytes: Vec<u8>, hash: String },
}

/// The result of one case.
#[derive(Clone, Debug)]
pub(super) struct CaseResult {
    pub seed: u64,
    /// `None` when the case passed (or was skipped).
    pub status: Option<EvalStatus>,
    pub raw: Option<i64>,
    pub fuel: Option<u64>,
    pub message: Option<String>,
    /// The generator gave no input for this case.
    pub skipped: bool,
}

impl CaseResult {
    pub(super) fn skipped(seed: u64, message: String) -> CaseResult {
        CaseResult {
            seed,
            status: None,
            raw: None,
            fuel: None,
            message: Some(message),
            skipped: true,
        }
    }

    fn failed(seed: u64, status: EvalStatus, fuel: Option<u64>, message: String) -> CaseResult {
        CaseResult {
            seed,
            status: Some(status),
            raw: None,
            fuel,
            message: Some(message),
            skipped: false,
        }
    }

    fn passed(seed: u64, raw: i64, fuel: Option<u64>, message: Option<String>) -> CaseResult {
        CaseResult {
            seed,
            status: None,
            raw: Some(raw),
            fuel,
            message: message.filter(|m| !m.is_empty()),
            skipped: false,
        }
    }

    /// `ok`, `skipped`, or the failure's status name.
    pub(super) fn status_name(&self) -> &'static str {
        match (self.status, self.skipped) {
            (Some(status), _) => status.as_str(),
            (None, true) => "skipped",
            (None, false) => "ok",
        }
    }
}

impl Judge {
    pub(super) fn new(
        sandbox: Sandbox,
        languages: Vec<Language>,
        source: Source,
        limits: Limits,
        timeout_ms: u64,
    ) -> Judge {
        Judge {
            sandbox,
            languages,
            source,
            limits,
            timeout_ms,
        }
    }

    /// Compiles the candidate, or says why it cannot run.
    pub(super) fn prepare(&self, candidate: &Candidate) -> Result<Runner<'_>, Evaluation> {
        let expected: Vec<&str> = self.languages.iter().map(|l| l.file_name()).collect();
        let Some((name, source)) = candidate.file_with_extension(&Language::all_extensions())
        else {
            return Err(Evaluation::failed(
                EvalStatus::CompileError,
                format!(
                    "the candidate has no code file; expected one of: {}",
                    expected.join(", ")
                ),
            ));
        };
        let language = match Language::from_path(Path::new(name)) {
            Some(language) if self.languages.contains(&language) => language,
            other => {
                return Err(Evaluation::failed(
                    EvalStatus::CompileError,
                    format!(
                        "language {} (file `{name}`) is not allowed for this task; write {}",
                        other.map(|l| l.name()).unwrap_or("unknown"),
                        expected.join(" or ")
                    ),
                ));
            }
        };
        let sandbox_error = |error: hone_sandbox::SandboxError| {
            Evaluation::failed(
                EvalStatus::CompileError,
                format!("the sandbox could not compile the candidate: {error}"),
            )
        };
        let rejected = |diagnostics: String| {
            Evaluation::failed(
                EvalStatus::CompileError,
                format!(
                    "{name} does not compile:\n{}",
                    trim_for_feedback(&diagnostics, 4000)
                ),
            )
        };
        let compiled = match &self.source {
            Source::Interactive { .. } => match self
                .sandbox
                .compile_to_wasm(language, source)
                .map_err(sandbox_error)?
            {
                Ok(bytes) => {
                    // Check it loads here, so a module the sandbox refuses fails as a compile error.
                    match self.sandbox.load_wasm(&bytes).map_err(sandbox_error)? {
                        Compilation::Ready(program) => Compiled::Wasm {
                            hash: program.wasm_hash().to_string(),
                            bytes,
                        },
                        Compilation::Rejected(diagnostics) => return Err(rejected(diagnostics)),
                    }
                }
                Err(diagnostics) => return Err(rejected(diagnostics)),
            },
            _ => match self
                .sandbox
                .compile(language, source)
                .map_err(sandbox_error)?
            {
                Compilation::Ready(program) => Compiled::Program(program),
                Compilation::Rejected(diagnostics) => return Err(rejected(diagnostics)),
            },
        };
        Ok(Runner {
            judge: self,
            compiled,
        })
    }
}

impl Runner<'_> {
    /// Runs the candidate on one case and scores it.
    pub(super) fn run(&self, seed: u64, input: &str) -> CaseResult {
        let judge = self.judge;
        match (&self.compiled, &judge.source) {
            (Compiled::Program(program), source) => {
                let limits = Limits {
                    seed,
                    ..judge.limits.clone()
                };
                let outcome = match judge.sandbox.run(program, input.as_bytes(), &limits) {
                    Ok(outcome) => outcome,
                    Err(error) => {
                        return CaseResult::failed(
                            seed,
                            EvalStatus::RuntimeError,
                            None,
                            format!("the sandbox failed: {error}"),
                        );
                    }
                };
                let fuel = Some(outcome.fuel_used);
                if let Some(status) = EvalStatus::from_run_status(&outcome.status) {
                    let mut message = outcome.status.to_string();
                    if !outcome.stderr.trim().is_empty() {
                        message += &format!("; stderr: {}", tail(outcome.stderr.trim(), 400));
                    }
                    return CaseResult::failed(seed, status, fuel, message);
                }
                match source {
                    Source::Builtin(problem) => {
                        match problem.score_stdout(input, &outcome.stdout) {
                            Ok(raw) => CaseResult::passed(seed, raw, fuel, None),
                            Err(rejection) => {
                                let status = if rejection.malformed {
                                    EvalStatus::InvalidOutput
                                } else {
                                    EvalStatus::WrongAnswer
                                };
                                CaseResult::failed(seed, status, fuel, rejection.message)
                            }
                        }
                    }
                    Source::Batch(tools) => {
                        let scored = tools.score_batch(input, &outcome.stdout);
                        from_tool(seed, fuel, scored.score, scored.message)
                    }
                    Source::Interactive { .. } => CaseResult::failed(
                        seed,
                        EvalStatus::RuntimeError,
                        fuel,
                        "internal: an interactive case ran without its tester".into(),
                    ),
                }
            }
            (Compiled::Wasm { bytes, hash }, Source::Interactive { tools, hone }) => {
                let limits = &judge.limits;
                // Streamed, so the tester can talk to the candidate turn by turn.
                let mut args = vec![
                    "--stream".to_string(),
                    "--fuel".into(),
                    limits.fuel.unwrap_or(0).to_string(),
                    "--timeout".into(),
                    format!("{}ms", judge.timeout_ms),
                    "--memory".into(),
                    format!("{}MiB", limits.memory_bytes >> 20),
                    "--seed".into(),
                    seed.to_string(),
                ];
                if limits.host_kernels {
                    args.push("--host-kernels".into());
                }
                if let Some(dir) = judge.sandbox.cache_dir() {
                    args.push("--cache-dir".into());
                    args.push(dir.display().to_string());
                }
                let scored = tools.run_tester(
                    input,
                    hone,
                    &args,
                    bytes,
                    hash,
                    Duration::from_millis(judge.timeout_ms),
                );
                let fuel = scored.candidate.as_ref().and_then(|c| c.fuel);
                if let Some(summary) = &scored.candidate
                    && summary.status != "ok"
                {
                    let status = candidate_status(&summary.status);
                    let mut message = format!("the candidate ended with {}", summary.status);
                    if !scored.message.is_empty() {
                        message += &format!("; tester: {}", scored.message);
                    }
                    return CaseResult::failed(seed, status, fuel, message);
                }
                from_tool(seed, fuel, scored.score, scored.message)
            }
            (Compiled::Wasm { .. }, _) => CaseResult::failed(
                seed,
                EvalStatus::RuntimeError,
                None,
                "internal: a wasm-only candidate without a tester".into(),
            ),
        }
    }
}

/// A tool's verdict: a score (0 with a message is a rejection, as AtCoder tools print it),
/// or no score at all.
fn from_tool(
    seed: u64,
    fuel: Option<u64>,
    score: Result<i64, String>,
    message: String,
) -> CaseResult {
    match score {
        Ok(0) if !message.is_empty() => {
            CaseResult::failed(seed, EvalStatus::WrongAnswer, fuel, message)
        }
        Ok(raw) => CaseResult::passed(seed, raw, fuel, Some(message)),
        Err(error) => CaseResult::failed(seed, EvalStatus::InvalidOutput, fuel, error),
    }
}

/// The status of a `hone sandbox run` summary word.
fn candidate_status(word: &str) -> EvalStatus {
    let name = word.split('(').next().unwrap_or(word);
    match name {
        "fuel_exhausted" => EvalStatus::FuelExhausted,
        "timeout" => EvalStatus::Timeout,
        "memory_exceeded" => EvalStatus::MemoryExceeded,
        "output_exceeded" => EvalStatus::OutputExceeded,
        "compile_error" => EvalStatus::CompileError,
        _ => EvalStatus::RuntimeError,
    }
}

/// The last `max` bytes of a text.
fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("[...] {}", &text[start..])
}
