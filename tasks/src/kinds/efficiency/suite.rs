//! The tests of an efficiency task: read from files or generated, then measured with the seed.

use std::path::{Path, PathBuf};

use hone_sandbox::{Limits, Program, Sandbox};

use super::config::TestSetConfig;
use super::judge::Judge;
use crate::error::TaskError;

/// Fuel a trusted program (generator, reference, the seed at load) may use on one test.
const TRUSTED_FUEL: u64 = 50_000_000_000;
/// Bytes a generator or reference may print for one test.
const TRUSTED_STDOUT_BYTES: u64 = 256 << 20;

/// One test: its input, the expected output and the seed's cost on it.
#[derive(Clone, Debug)]
pub(crate) struct TestCase {
    pub name: String,
    /// Where it came from, for messages: a file path or the generator line.
    pub origin: String,
    pub input: Vec<u8>,
    pub expected: Vec<u8>,
    /// Fuel the seed used on this test (the baseline).
    pub seed_fuel: u64,
    /// Peak linear memory of the seed on this test.
    pub seed_peak_memory: u64,
    /// Fuel a candidate may use on this test.
    pub fuel_limit: u64,
}

/// A set of tests (visible or hidden) with the seed's totals.
#[derive(Clone, Debug)]
pub(crate) struct Suite {
    /// `visible` or `hidden`.
    pub label: &'static str,
    pub cases: Vec<TestCase>,
}

impl Suite {
    pub(super) fn seed_fuel(&self) -> u64 {
        self.cases.iter().map(|c| c.seed_fuel).sum()
    }

    pub(super) fn seed_peak_memory(&self) -> u64 {
        self.cases
            .iter()
            .map(|c| c.seed_peak_memory)
            .max()
            .unwrap_or(0)
    }
}

/// What building a suite needs from the loader.
pub(crate) struct SuiteBuilder<'a> {
    pub sandbox: &'a Sandbox,
    pub manifest: &'a Path,
    pub dir: &'a Path,
    pub judge: &'a Judge,
    pub seed: &'a Program,
    pub seed_path: &'a Path,
    pub generator: Option<&'a Program>,
    pub reference: Option<&'a Program>,
    pub memory_bytes: u64,
    pub timeout: std::time::Duration,
    /// `[task] host_kernels`: the seed and reference may call them too.
    pub host_kernels: bool,
    pub fuel_factor: f64,
    pub fuel_floor: u64,
}

/// A test before the seed has been measured on it.
struct RawCase {
    name: String,
    origin: String,
    input: Vec<u8>,
    expected: Option<Vec<u8>>,
}

impl SuiteBuilder<'_> {
    /// Reads or generates the tests of one set, fills in expected outputs (reference or
    /// seed), runs the seed on each and checks that it passes.
    pub(super) fn build(
        &self,
        label: &'static str,
        tests: &TestSetConfig,
    ) -> Result<Suite, TaskError> {
        let mut raw = Vec::new();
        if let Some(folder) = &tests.files {
            raw.extend(self.read_folder(&format!("efficiency.{label}.files"), folder)?);
        }
        for generated in &tests.generate {
            let Some(generator) = self.generator else {
                return Err(TaskError::field(
                    self.manifest,
                    "efficiency.generator",
                    "missing; the generate lists need it",
                ));
            };
            let stdin = format!("{}\n", generated.line);
            let limits = self.trusted_limits(generated.seed);
            let outcome = self
                .sandbox
                .run(generator, stdin.as_bytes(), &limits)
                .map_err(|source| TaskError::Sandbox {
                    path: self.manifest.to_path_buf(),
                    source,
                })?;
            if !outcome.status.is_ok() {
                return Err(TaskError::field(
                    self.manifest,
                    "efficiency.generator",
                    format!(
                        "the generator failed on `{}` ({}): {}; it must read the line on stdin and print a test input",
                        generated.line,
                        outcome.status,
                        outcome.stderr.trim()
                    ),
                ));
            }
            raw.push(RawCase {
                name: generated.name(),
                origin: format!("generator line `{}`", generated.line),
                input: outcome.stdout,
                expected: None,
            });
        }
        if let Some(duplicate) = raw
            .iter()
            .enumerate()
            .find_map(|(i, c)| raw[..i].iter().any(|d| d.name == c.name).then_some(&c.name))
        {
            return Err(TaskError::field(
                self.manifest,
                format!("efficiency.{label}"),
                format!("two tests are named `{duplicate}`; test names must be distinct"),
            ));
        }
        let mut cases = Vec::with_capacity(raw.len());
        for case in raw {
            cases.push(self.measure(case)?);
        }
        Ok(Suite { label, cases })
    }

    fn trusted_limits(&self, seed: u64) -> Limits {
        Limits {
            fuel: Some(TRUSTED_FUEL),
            memory_bytes: self.memory_bytes,
            timeout: self.timeout.max(std::time::Duration::from_secs(60)),
            stdout_bytes: TRUSTED_STDOUT_BYTES,
            seed,
            host_kernels: self.host_kernels,
            ..Limits::default()
        }
    }

    /// `NAME.in` / `NAME.out` pairs of a folder, sorted by name.
    fn read_folder(&self, field: &str, folder: &str) -> Result<Vec<RawCase>, TaskError> {
        let path = self.dir.join(folder);
        let entries = std::fs::read_dir(&path).map_err(|_| {
            TaskError::field(
                self.manifest,
                field,
                format!(
                    "`{folder}` is not a readable folder in {}",
                    self.dir.display()
                ),
            )
        })?;
        let mut inputs: Vec<(String, PathBuf)> = Vec::new();
        let mut outputs: Vec<String> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| TaskError::Read {
                path: path.clone(),
                source,
            })?;
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if let Some(stem) = file_name.strip_suffix(".in") {
                inputs.push((stem.to_string(), entry.path()));
            } else if let Some(stem) = file_name.strip_suffix(".out") {
                outputs.push(stem.to_string());
            }
        }
        inputs.sort();
        if let Some(orphan) = outputs
            .iter()
            .find(|o| !inputs.iter().any(|(i, _)| i == *o))
        {
            return Err(TaskError::field(
                self.manifest,
                field,
                format!(
                    "`{folder}/{orphan}.out` has no `{orphan}.in`; the folder must hold NAME.in / NAME.out pairs"
                ),
            ));
        }
        if inputs.is_empty() {
            return Err(TaskError::field(
                self.manifest,
                field,
                format!("`{folder}` holds no NAME.in / NAME.out pairs"),
            ));
        }
        let mut cases = Vec::new();
        for (stem, input_path) in inputs {
            let output_path = path.join(format!("{stem}.out"));
            if !output_path.exists() {
                return Err(TaskError::field(
                    self.manifest,
                    field,
                    format!(
                        "`{folder}/{stem}.in` has no `{stem}.out`; the folder must hold NAME.in / NAME.out pairs"
                    ),
                ));
            }
            cases.push(RawCase {
                name: stem,
                origin: relative(self.dir, &input_path),
                input: read_bytes(&input_path)?,
                expected: Some(read_bytes(&output_path)?),
            });
        }
        Ok(cases)
    }

    /// Runs the seed on a test (and the reference, when the expected output is to be
    /// produced), checks the seed passes and records its cost.
    fn measure(&self, case: RawCase) -> Result<TestCase, TaskError> {
        let seed_fails = |message: String| TaskError::SeedFails {
            path: self.seed_path.to_path_buf(),
            message: format!(
                "test `{}` ({}): {message}\nhint: field `efficiency.seed` must name a program that passes every visible and hidden test",
                case.name, case.origin
            ),
        };
        let limits = Limits {
            timeout: self.timeout,
            ..self.trusted_limits(0)
        };
        let run = |program: &Program| {
            self.sandbox
                .run(program, &case.input, &limits)
                .map_err(|source| TaskError::Sandbox {
                    path: self.seed_path.to_path_buf(),
                    source,
                })
        };
        let seed_outcome = run(self.seed)?;
        if !seed_outcome.status.is_ok() {
            let stderr = crate::checker::trim_for_feedback(seed_outcome.stderr.trim(), 400);
            return Err(seed_fails(format!(
                "the seed ended with {} {stderr}",
                seed_outcome.status
            )));
        }
        let expected = match (&case.expected, self.reference) {
            (Some(expected), _) => expected.clone(),
            (None, Some(reference)) => {
                let outcome = run(reference)?;
                if !outcome.status.is_ok() {
                    return Err(TaskError::field(
                        self.manifest,
                        "efficiency.reference",
                        format!(
                            "the reference failed on test `{}` ({}): {}",
                            case.name, case.origin, outcome.status
                        ),
                    ));
                }
                outcome.stdout
            }
            (None, None) => seed_outcome.stdout.clone(),
        };
        let verdict = self
            .judge
            .check(&case.input, &expected, &seed_outcome.stdout)
            .map_err(|source| TaskError::Sandbox {
                path: self.manifest.to_path_buf(),
                source,
            })?;
        if let crate::checker::Verdict::Rejected(reason) = verdict {
            return Err(seed_fails(format!("wrong answer: {reason}")));
        }
        let fuel_limit =
            ((seed_outcome.fuel_used as f64 * self.fuel_factor).ceil() as u64).max(self.fuel_floor);
        Ok(TestCase {
            name: case.name,
            origin: case.origin,
            input: case.input,
            expected,
            seed_fuel: seed_outcome.fuel_used,
            seed_peak_memory: seed_outcome.peak_memory_bytes,
            fuel_limit,
        })
    }
}

fn relative(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, TaskError> {
    std::fs::read(path).map_err(|source| TaskError::Read {
        path: path.to_path_buf(),
        source,
    })
}
