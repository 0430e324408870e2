//! hone-sandbox runs model-written candidates safely and deterministically.
//!
//! Candidates are WASI preview-1 command modules compiled from rust, c, c++ or wat. They read
//! stdin and write stdout; they see no files, no environment and no network. Every run is
//! bounded by fuel, linear memory, a wall-clock deadline, output caps and a wasm stack
//! limit, and every exceeded limit has its own status. Clocks are virtual (they advance with
//! fuel) and `random_get` is seeded, so a run is bit-for-bit repeatable.
//!
//! This is the only crate that runs untrusted code (and the compilers that read it).
//!
//! # Core concepts
//! - [`SandboxConfig`]: plain settings (cache dir, compilers and their confinement, memory
//!   cap, wasm stack, pool size).
//! - [`Sandbox`]: one per process; cheap to clone, `Send + Sync`. Owns the wasmtime engine,
//!   the linker (WASI surface + host kernels from module `hone`), the caches and one epoch
//!   ticker thread. Compiling is blocking (a confined compiler process, 0.1–1 s; a cache hit
//!   costs a file read and a deserialize, a repeat in the process about a microsecond).
//! - [`Program`]: a compiled, linked candidate (`InstancePre`); instantiates in microseconds
//!   from the pooling allocator. Obtained from [`Sandbox::compile`] or [`Sandbox::load_wasm`]
//!   as a [`Compilation`], which may instead carry the compiler's diagnostics.
//! - [`Sandbox::run`]: blocking, callable from any number of threads at once (beyond
//!   `max_concurrent_runs` they wait for a slot); tens of microseconds for a small program.
//! - [`Sandbox::run_streaming`]: the same, with stdin read from a reader and stdout written
//!   to a writer while the candidate runs (interactive problems: a peer answers each line).
//! - [`Limits`] in, [`Outcome`] out: status, fuel, wall time, peak memory, stdout, stderr.
//!   A candidate's failure is data in the outcome; [`SandboxError`] is the sandbox's own.
//!
//! Security boundary: guests see only hone's WASI surface (`wasi.rs`: stdio, args, virtual
//! clocks, seeded random, exit; `ENOSYS` for everything else) and the kernels; compilers run
//! under bubblewrap with read-only `/usr`, the Rust sysroot and a scratch directory, no
//! network, a time limit and an address-space limit; disk cache entries are checked against a
//! SHA-256 digest before use.
//!
//! # Example
//! ```
//! use hone_sandbox::{Language, Limits, RunStatus, Sandbox, SandboxConfig};
//!
//! let sandbox = Sandbox::new(SandboxConfig::default())?;
//! let program = sandbox
//!     .compile(Language::Wat, r#"(module (memory (export "memory") 1) (func (export "_start")))"#)?
//!     .program()
//!     .expect("valid module");
//! let outcome = sandbox.run(&program, b"", &Limits::default())?;
//! assert_eq!(outcome.status, RunStatus::Ok);
//! # Ok::<(), hone_sandbox::SandboxError>(())
//! ```

mod cache;
mod compile;
mod error;
mod fs;
pub mod kernels;
mod limits;
mod outcome;
mod python;
mod run;
mod sandbox;
mod stream;
mod warmcc;
mod wasi;

pub use compile::{CompilerConfig, Language, SCRATCH_ENV, trim_diagnostics};
pub use error::SandboxError;
pub use limits::Limits;
pub use outcome::{Outcome, RunStatus};
pub use sandbox::{Compilation, Program, Sandbox, SandboxConfig, ToolchainReport};
pub use wasi::NANOS_PER_FUEL;
