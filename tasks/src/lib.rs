//! hone-tasks loads task folders and scores candidates for each task kind.
//!
//! A task is a folder with `task.toml`, a statement, seed candidate(s) and the kind's data.
//! Kinds: efficiency (make a correct program faster), counterexample (REFUTE: find an input
//! that breaks a wrong program), pde (CodePDE: write a solver, scored by nRMSE), heuristic
//! (ALE / AtCoder Heuristic Contest), params (OPTO over values with native objectives),
//! construction (AlphaEvolve-style constructions, verified in exact arithmetic).
//! Native reference solvers and scorers live here; candidates run in `hone-sandbox`.
//!
//! # Core concepts
//! - [`TaskLoader`]: loads task folders with a sandbox and load options (the hone binary);
//!   [`Task::load`] is the loader without options.
//! - [`Task`]: a loaded task (cheap to clone): seeds, [`PromptMaterial`], and an evaluator.
//! - [`Candidate`]: named files and values; [`Candidate::content_hash`] dedupes.
//! - [`Evaluation`]: status, validity, score (higher is better), metrics, feedback, trace.
//! - [`Evaluator`]: the per-kind scoring; deterministic and thread-safe.
//!
//! # Example
//! ```no_run
//! use hone_sandbox::{Sandbox, SandboxConfig};
//! use hone_tasks::Task;
//!
//! let sandbox = Sandbox::new(SandboxConfig::default())?;
//! let task = Task::load("tasks/library/efficiency/pair-count".as_ref(), &sandbox)?;
//! let evaluation = task.evaluate(&task.seeds[0]);
//! println!("{} {}", evaluation.status, evaluation.score);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod candidate;
mod cascade;
pub mod checker;
mod error;
mod evaluation;
pub mod kinds;
pub mod library;
pub mod objectives;
pub mod pde_numerics;
mod task;
#[cfg(feature = "testing")]
pub mod testing;

pub use candidate::Candidate;
pub use error::TaskError;
pub use evaluation::{EvalStatus, Evaluation};
pub use task::{
    Evaluator, LoadContext, Loaded, PromptMaterial, RandomCandidates, Scale, Task, TaskKind,
    TaskLoader, VariableSpec, VariableType, hash_files, hash_folder,
};
