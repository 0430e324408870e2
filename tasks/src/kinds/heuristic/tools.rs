//! AtCoder Heuristic Contest tools folders: built once with cargo, run natively (trusted
//! task code): `gen` writes the inputs, `vis IN OUT` or `tester CMD... < IN > OUT` prints
//! `Score = N`.
//!
//! Everything derived lives in `CACHE/heuristic-tools/<content hash of the folder>/`: a copy
//! of the folder (`src/`, built away from any enclosing Cargo workspace), the cargo target
//! dir (`target/`), the inputs by seed (`in/SEED.txt`), compiled candidates for the tester
//! (`wasm/HASH.wasm`) and per-run scratch dirs. A lock file serialises builds and copies.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::checker::trim_for_feedback;
use crate::error::TaskError;

/// Most bytes of a tool's output kept for messages.
const MESSAGE_BYTES: usize = 1500;

/// A built tools folder.
#[derive(Debug)]
pub struct Tools {
    /// The folder in the task, for messages.
    pub folder: PathBuf,
    work: PathBuf,
    generator: PathBuf,
    scorer: PathBuf,
    pub interactive: bool,
    tool_timeout: Duration,
}

/// What a scorer run gave: a score, or why there is none.
#[derive(Debug)]
pub struct ToolScore {
    pub score: Result<i64, String>,
    /// The scorer's other output (its messages), trimmed.
    pub message: String,
    /// For the tester: the `hone sandbox run` summary line of the candidate, if printed.
    pub candidate: Option<CandidateSummary>,
}

/// The candidate's outcome as `hone sandbox run` summarised it on stderr.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateSummary {
    /// `ok`, `exit(N)`, `runtime_error(TRAP)`, `fuel_exhausted`, `timeout`, ...
    pub status: String,
    pub fuel: Option<u64>,
}

static SCRATCH_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Tools {
    /// Copies and builds the folder (once per content hash) and finds its binaries.
    pub fn prepare(
        manifest: &Path,
        folder: &Path,
        cache_root: &Path,
        interactive: Option<bool>,
        tool_timeout: Duration,
    ) -> Result<Tools, TaskError> {
        if !folder.join("Cargo.toml").is_file() {
            return Err(TaskError::field(
                manifest,
                "heuristic.tools",
                format!(
                    "`{}` has no Cargo.toml: a tools folder is a Cargo project with bins `gen` and `vis` or `tester`",
                    folder.display()
                ),
            ));
        }
        let hash = crate::task::hash_folder(folder)?;
        let work = cache_root.join("heuristic-tools").join(&hash[..24]);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TaskError::Read { path, source }
        };
        std::fs::create_dir_all(&work).map_err(io(&work))?;
        // Tools run in scratch dirs, so every path they are given must be absolute.
        let work = std::fs::canonicalize(&work).map_err(io(&work))?;
        let lock_path = work.join("lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        lock.lock().map_err(io(&lock_path))?;
        let built_marker = work.join("built");
        if !built_marker.exists() {
            let src = work.join("src");
            if src.exists() {
                std::fs::remove_dir_all(&src).map_err(io(&src))?;
            }
            copy_folder(folder, &src)?;
            build(folder, &src, &work.join("target"))?;
            std::fs::write(&built_marker, b"").map_err(io(&built_marker))?;
        }
        drop(lock);
        let bin = work.join("target").join("release");
        let generator = bin.join("gen");
        if !generator.is_file() {
            return Err(TaskError::field(
                manifest,
                "heuristic.tools",
                format!(
                    "`{}` builds no `gen` binary (expected src/bin/gen.rs)",
                    folder.display()
                ),
            ));
        }
        let (vis, tester) = (bin.join("vis"), bin.join("tester"));
        let interactive = interactive.unwrap_or(!vis.is_file() && tester.is_file());
        let scorer = if interactive { tester } else { vis };
        if !scorer.is_file() {
            let name = if interactive { "tester" } else { "vis" };
            return Err(TaskError::field(
                manifest,
                "heuristic.tools",
                format!(
                    "`{}` builds no `{name}` binary (expected src/bin/{name}.rs){}",
                    folder.display(),
                    if interactive {
                        "; `interactive = true` needs a tester"
                    } else {
                        ""
                    }
                ),
            ));
        }
        Ok(Tools {
            folder: folder.to_path_buf(),
            work,
            generator,
            scorer,
            interactive,
            tool_timeout,
        })
    }

    /// The input of each seed: from the cache, or by running `gen` on a one-line seeds file.
    /// A seed the generator fails on gives `Err(message)`.
    pub fn generate(&self, seed: u64) -> Result<String, String> {
        let cached = self.work.join("in").join(format!("{seed}.txt"));
        if let Ok(text) = std::fs::read_to_string(&cached) {
            return Ok(text);
        }
        let scratch = self
            .scratch_dir()
            .map_err(|e| format!("cannot make a scratch dir: {e}"))?;
        let result = (|| {
            std::fs::write(scratch.join("seeds.txt"), format!("{seed}\n"))
                .map_err(|e| format!("cannot write the seeds file: {e}"))?;
            let mut command = Command::new(&self.generator);
            command
                .arg("seeds.txt")
                .current_dir(&scratch)
                .stdin(Stdio::null());
            let run = run_tool(command, self.tool_timeout)?;
            let produced = scratch.join("in").join("0000.txt");
            match std::fs::read_to_string(&produced) {
                Ok(text) if run.success => Ok(text),
                _ => Err(format!(
                    "`gen` failed on seed {seed} ({}){}",
                    run.exit,
                    shown(&run.stderr, &run.stdout)
                )),
            }
        })();
        let _ = std::fs::remove_dir_all(&scratch);
        let text = result?;
        let dir = self.work.join("in");
        let temp = dir.join(format!(
            ".{seed}.{}-{}.tmp",
            std::process::id(),
            SCRATCH_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        if std::fs::create_dir_all(&dir).is_ok() && std::fs::write(&temp, &text).is_ok() {
            let _ = std::fs::rename(&temp, &cached);
        }
        Ok(text)
    }

    /// Scores an output with `vis IN OUT`.
    pub fn score_batch(&self, input: &str, output: &[u8]) -> ToolScore {
        let scratch = match self.scratch_dir() {
            Ok(dir) => dir,
            Err(e) => return ToolScore::error(format!("cannot make a scratch dir: {e}")),
        };
        let result = (|| {
            std::fs::write(scratch.join("in.txt"), input)
                .map_err(|e| format!("cannot write in.txt: {e}"))?;
            std::fs::write(scratch.join("out.txt"), output)
                .map_err(|e| format!("cannot write out.txt: {e}"))?;
            let mut command = Command::new(&self.scorer);
            command
                .args(["in.txt", "out.txt"])
                .current_dir(&scratch)
                .stdin(Stdio::null());
            run_tool(command, self.tool_timeout)
        })();
        let _ = std::fs::remove_dir_all(&scratch);
        match result {
            Ok(run) => {
                let text = format!("{}\n{}", run.stdout, run.stderr);
                ToolScore::from_run("vis", &run, &text, None)
            }
            Err(message) => ToolScore::error(message),
        }
    }

    /// Runs `tester HONE sandbox run --stream ... PROGRAM.wasm < IN`, the candidate in the
    /// sandbox (`sandbox_args` carry `--stream` and the limits).
    pub fn run_tester(
        &self,
        input: &str,
        hone: &Path,
        sandbox_args: &[String],
        wasm: &[u8],
        wasm_hash: &str,
        candidate_time: Duration,
    ) -> ToolScore {
        let program = self.work.join("wasm").join(format!("{wasm_hash}.wasm"));
        if !program.is_file() {
            let temp = program.with_extension(format!(
                "{}-{}.tmp",
                std::process::id(),
                SCRATCH_COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            let written = program
                .parent()
                .map(std::fs::create_dir_all)
                .unwrap_or(Ok(()))
                .and_then(|_| std::fs::write(&temp, wasm))
                .and_then(|_| std::fs::rename(&temp, &program));
            if let Err(e) = written {
                return ToolScore::error(format!(
                    "cannot write the candidate's wasm to {}: {e}",
                    program.display()
                ));
            }
        }
        let scratch = match self.scratch_dir() {
            Ok(dir) => dir,
            Err(e) => return ToolScore::error(format!("cannot make a scratch dir: {e}")),
        };
        let result = (|| {
            let in_path = scratch.join("in.txt");
            std::fs::write(&in_path, input).map_err(|e| format!("cannot write in.txt: {e}"))?;
            let stdin =
                std::fs::File::open(&in_path).map_err(|e| format!("cannot open in.txt: {e}"))?;
            let mut command = Command::new(&self.scorer);
            command
                .arg(hone)
                .args(["sandbox", "run"])
                .args(sandbox_args)
                .arg(&program)
                .current_dir(&scratch)
                .stdin(Stdio::from(stdin));
            run_tool(command, self.tool_timeout + candidate_time)
        })();
        let _ = std::fs::remove_dir_all(&scratch);
        match result {
            Ok(run) => {
                // Only what the tester printed after the candidate's run counts: the
                // candidate's own stderr (passed through before the summary) could hold a
                // forged `Score = N`.
                let Some(at) = run
                    .stderr
                    .rfind("\nhone: ")
                    .map(|i| i + 1)
                    .or_else(|| run.stderr.starts_with("hone: ").then_some(0))
                else {
                    return ToolScore::error(format!(
                        "the tester's stderr has no `hone: STATUS  fuel N` summary of `hone sandbox run` ({}), so the candidate did not run{}",
                        run.exit,
                        shown(&run.stderr, "")
                    ));
                };
                let summary = candidate_summary(&run.stderr[at..]);
                let after = run.stderr[at..]
                    .split_once('\n')
                    .map(|(_, rest)| rest)
                    .unwrap_or("");
                ToolScore::from_run("tester", &run, after, summary)
            }
            Err(message) => ToolScore::error(message),
        }
    }

    fn scratch_dir(&self) -> std::io::Result<PathBuf> {
        let n = SCRATCH_COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = self
            .work
            .join("scratch")
            .join(format!("{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }
}

impl ToolScore {
    fn error(message: String) -> ToolScore {
        ToolScore {
            score: Err(message),
            message: String::new(),
            candidate: None,
        }
    }

    fn from_run(
        tool: &str,
        run: &ToolRun,
        text: &str,
        candidate: Option<CandidateSummary>,
    ) -> ToolScore {
        let mut score = None;
        let mut other = Vec::new();
        for line in text.lines() {
            match parse_score_line(line) {
                Some(s) => score = Some(s),
                None if line.trim().is_empty() || line.starts_with("hone: ") => {}
                None => other.push(line.trim_end()),
            }
        }
        let message = trim_for_feedback(&other.join("\n"), MESSAGE_BYTES);
        let score = match score {
            Some(s) if run.success => Ok(s),
            Some(_) => Err(format!(
                "`{tool}` printed a score but exited with {}{}",
                run.exit,
                shown(&run.stderr, &run.stdout)
            )),
            None => Err(format!(
                "`{tool}` printed no `Score = N` line ({}){}",
                run.exit,
                shown(&run.stderr, &run.stdout)
            )),
        };
        ToolScore {
            score,
            message,
            candidate,
        }
    }
}

/// `Score = 123` (spaces optional around `=`), as AtCoder tools print it.
pub fn parse_score_line(line: &str) -> Option<i64> {
    let rest = line.trim().strip_prefix("Score")?;
    let rest = rest.trim_start().strip_prefix('=')?;
    rest.trim().parse().ok()
}

/// The last `hone: STATUS  fuel N ...` line of `hone sandbox run` in a tester's stderr.
pub fn candidate_summary(stderr: &str) -> Option<CandidateSummary> {
    let line = stderr.lines().rev().find(|l| l.starts_with("hone: "))?;
    let mut words = line["hone: ".len()..].split_whitespace();
    let status = words.next()?.to_string();
    let fuel = match (words.next(), words.next()) {
        (Some("fuel"), Some(n)) => n.parse().ok(),
        _ => None,
    };
    Some(CandidateSummary { status, fuel })
}

/// ` : OUTPUT` (stderr, else stdout), trimmed, or nothing.
fn shown(stderr: &str, stdout: &str) -> String {
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {}", trim_for_feedback(text, MESSAGE_BYTES))
    }
}

/// A finished tool run.
struct ToolRun {
    success: bool,
    /// `exit status 0`, `killed after 60 s`, ...
    exit: String,
    stdout: String,
    stderr: String,
}

/// Runs a tool to its end or its deadline (then kills it), capturing stdout and stderr.
fn run_tool(mut command: Command, timeout: Duration) -> Result<ToolRun, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `{program}`: {e}"))?;
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.by_ref().take(16 << 20).read_to_end(&mut bytes);
                // Drain the rest so the tool never blocks on a full pipe.
                let _ = std::io::copy(&mut pipe, &mut std::io::sink());
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() < timeout => std::thread::sleep(Duration::from_millis(2)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Ok(match status {
        Some(status) => ToolRun {
            success: status.success(),
            exit: status.to_string(),
            stdout,
            stderr,
        },
        None => ToolRun {
            success: false,
            exit: format!(
                "killed after the tool time limit of {} ms",
                timeout.as_millis()
            ),
            stdout,
            stderr,
        },
    })
}

/// Copies a folder (skipping `target/` and dot files).
fn copy_folder(from: &Path, to: &Path) -> Result<(), TaskError> {
    std::fs::create_dir_all(to).map_err(|source| TaskError::Read {
        path: to.to_path_buf(),
        source,
    })?;
    let entries = std::fs::read_dir(from).map_err(|source| TaskError::Read {
        path: from.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| TaskError::Read {
            path: from.to_path_buf(),
            source,
        })?;
        let name = entry.file_name();
        let text = name.to_string_lossy();
        if text.starts_with('.') || text == "target" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_folder(&path, &to.join(&name))?;
        } else {
            std::fs::copy(&path, to.join(&name)).map_err(|source| TaskError::Read {
                path: path.clone(),
                source,
            })?;
        }
    }
    Ok(())
}

/// `cargo build --release`, offline first, then online.
fn build(folder: &Path, src: &Path, target: &Path) -> Result<(), TaskError> {
    let mut last = String::new();
    for offline in [true, false] {
        let mut command = Command::new("cargo");
        command
            .args(["build", "--release", "--quiet"])
            .current_dir(src)
            .env("CARGO_TARGET_DIR", target)
            .stdin(Stdio::null());
        if offline {
            command.arg("--offline");
        }
        tracing::info!(folder = %folder.display(), offline, "building a heuristic tools folder");
        match command.output() {
            Ok(output) if output.status.success() => return Ok(()),
            Ok(output) => {
                last = format!(
                    "`cargo build --release{}` failed ({}):\n{}",
                    if offline { " --offline" } else { "" },
                    output.status,
                    trim_for_feedback(String::from_utf8_lossy(&output.stderr).trim(), 4000)
                );
            }
            Err(e) => {
                last = format!("cannot run cargo: {e}");
                break;
            }
        }
    }
    Err(TaskError::TaskProgram {
        path: folder.to_path_buf(),
        diagnostics: last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_score_lines() {
        assert_eq!(parse_score_line("Score = 123"), Some(123));
        assert_eq!(parse_score_line("  Score=0 "), Some(0));
        assert_eq!(parse_score_line("Score = -5"), Some(-5));
        assert_eq!(parse_score_line("score = 5"), None);
        assert_eq!(parse_score_line("Score = 1.5"), None);
        assert_eq!(parse_score_line("Total Score = 5"), None);
    }

    #[test]
    fn reads_the_last_sandbox_summary() {
        let stderr = "hone: ok  fuel 1 fake\nreal stuff\nhone: fuel_exhausted  fuel 1000  peak memory 64 KiB  wall 1.000 ms\nScore = 0\n";
        assert_eq!(
            candidate_summary(stderr),
            Some(CandidateSummary {
                status: "fuel_exhausted".into(),
                fuel: Some(1000)
            })
        );
        assert_eq!(candidate_summary("Score = 1\n"), None);
    }
}
