//! `hone sandbox run FILE`: compile (or load) one program, run it on stdin, print the outcome.
//! With `--stream`, stdin and stdout are passed through while the program runs (interactive
//! testers talk to it turn by turn); the summary line on stderr is the same either way.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use hone_sandbox::{Compilation, Language, Limits, RunStatus, Sandbox};

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Without --stream, all of stdin is read before the program starts and its stdout is printed \
when it ends (a deterministic batch run). With --stream, the program reads stdin as it \
arrives and every write to stdout is passed on (flushed) at once, so a tester can answer \
each line before sending the next; --timeout then bounds waits on the peer too.
After the run, the program's stderr is followed by the summary line \
`hone: STATUS  fuel N  peak memory K KiB  wall T ms` (STATUS: ok, exit(N), \
runtime_error(TRAP) with its details on the next lines, fuel_exhausted, timeout, \
memory_exceeded, output_exceeded(stdout)); a closed stdout under --stream is \
runtime_error(stdout_closed).")]
pub struct SandboxRunArgs {
    /// The program: main.rs, main.c, main.cpp, main.wat, main.py or a .wasm module.
    pub file: PathBuf,
    /// Fuel limit (deterministic cost units); 0 means unlimited.
    #[arg(long, default_value_t = 10_000_000_000)]
    pub fuel: u64,
    /// Linear memory limit, e.g. 64MiB.
    #[arg(long, default_value = "256MiB", value_parser = super::parse_bytes)]
    pub memory: u64,
    /// Wall-clock deadline, e.g. 2s.
    #[arg(long, default_value = "10s", value_parser = super::parse_duration)]
    pub timeout: std::time::Duration,
    /// Seed of the guest's random_get.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print the outcome as JSON instead of the program's stdout plus a summary on stderr.
    #[arg(long, conflicts_with = "stream")]
    pub json: bool,
    /// Stream stdin and stdout while the program runs (for interactive testers) instead of
    /// reading all of stdin first and printing stdout at the end.
    #[arg(long)]
    pub stream: bool,
    /// Offer the host kernels (imports from module `hone`); without it a program that
    /// imports one ends as runtime_error(host_kernels_off) before it starts.
    #[arg(long)]
    pub host_kernels: bool,
}

pub(super) fn run(cli: &super::Cli, args: &SandboxRunArgs) -> anyhow::Result<ExitCode> {
    let sandbox = Sandbox::new(super::sandbox_config(cli))?;
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let extension = args.file.extension().and_then(|e| e.to_str()).unwrap_or("");
    let compilation = if extension == "wasm" {
        sandbox.load_wasm(&bytes)?
    } else {
        let Some(language) = Language::from_path(&args.file) else {
            bail!(
                "{}: unknown file type `.{extension}`; hone runs {} and .wasm files",
                args.file.display(),
                Language::extension_list()
            );
        };
        let source = String::from_utf8(bytes)
            .with_context(|| format!("{} is not UTF-8 text", args.file.display()))?;
        sandbox.compile(language, &source)?
    };
    let program = match compilation {
        Compilation::Ready(p) => p,
        Compilation::Rejected(diagnostics) => {
            if args.json {
                let json = serde_json::json!({ "status": { "kind": "compile_error" }, "diagnostics": diagnostics });
                println!("{json}");
            } else {
                eprint!("{diagnostics}");
                eprintln!("hone: compile_error");
            }
            return Ok(ExitCode::from(3));
        }
    };
    let limits = Limits {
        fuel: (args.fuel > 0).then_some(args.fuel),
        memory_bytes: args.memory,
        timeout: args.timeout,
        seed: args.seed,
        host_kernels: args.host_kernels,
        ..Limits::default()
    };
    let outcome = if args.stream {
        sandbox.run_streaming(&program, std::io::stdin(), std::io::stdout(), &limits)?
    } else {
        let mut stdin = Vec::new();
        std::io::stdin()
            .read_to_end(&mut stdin)
            .context("cannot read stdin")?;
        sandbox.run(&program, &stdin, &limits)?
    };
    if args.json {
        println!("{}", serde_json::to_string(&outcome)?);
    } else {
        if !args.stream {
            std::io::stdout().write_all(&outcome.stdout)?;
            std::io::stdout().flush()?;
        }
        eprint!("{}", outcome.stderr);
        if !outcome.stderr.is_empty() && !outcome.stderr.ends_with('\n') {
            eprintln!();
        }
        let (status, details) = match &outcome.status {
            RunStatus::RuntimeError { trap, message } => {
                (format!("runtime_error({trap})"), Some(message))
            }
            other => (other.to_string(), None),
        };
        eprintln!(
            "hone: {status}  fuel {}  peak memory {} KiB  wall {:.3} ms",
            outcome.fuel_used,
            outcome.peak_memory_bytes / 1024,
            outcome.wall.as_secs_f64() * 1000.0
        );
        if let Some(details) = details {
            eprintln!("{details}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
