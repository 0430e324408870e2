//! The result of scoring one candidate: status, validity, score, metrics, feedback, trace.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// How an evaluation ended. `Ok` means the candidate ran and was judged; whether it is
/// acceptable is [`Evaluation::valid`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvalStatus {
    Ok,
    CompileError,
    RuntimeError,
    WrongAnswer,
    FuelExhausted,
    Timeout,
    MemoryExceeded,
    OutputExceeded,
    InvalidOutput,
    /// Stopped by the task's cascade: valid on a stage's cases but below its threshold,
    /// so not run on the rest (see the cascade documentation of the task kinds).
    CascadeStopped,
}

impl EvalStatus {
    /// Every status, in a stable order (for reports and status counts).
    pub const ALL: [EvalStatus; 10] = [
        EvalStatus::Ok,
        EvalStatus::CompileError,
        EvalStatus::RuntimeError,
        EvalStatus::WrongAnswer,
        EvalStatus::FuelExhausted,
        EvalStatus::Timeout,
        EvalStatus::MemoryExceeded,
        EvalStatus::OutputExceeded,
        EvalStatus::InvalidOutput,
        EvalStatus::CascadeStopped,
    ];

    /// The snake_case name stored in the database and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            EvalStatus::Ok => "ok",
            EvalStatus::CompileError => "compile_error",
            EvalStatus::RuntimeError => "runtime_error",
            EvalStatus::WrongAnswer => "wrong_answer",
            EvalStatus::FuelExhausted => "fuel_exhausted",
            EvalStatus::Timeout => "timeout",
            EvalStatus::MemoryExceeded => "memory_exceeded",
            EvalStatus::OutputExceeded => "output_exceeded",
            EvalStatus::InvalidOutput => "invalid_output",
            EvalStatus::CascadeStopped => "cascade_stopped",
        }
    }

    /// Parses a name produced by [`EvalStatus::as_str`].
    pub fn parse(name: &str) -> Option<EvalStatus> {
        EvalStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The status of a sandbox run that did not finish normally, if it did not.
    pub fn from_run_status(status: &hone_sandbox::RunStatus) -> Option<EvalStatus> {
        use hone_sandbox::RunStatus;
        match status {
            RunStatus::Ok => None,
            RunStatus::Exit { .. } | RunStatus::RuntimeError { .. } => {
                Some(EvalStatus::RuntimeError)
            }
            RunStatus::FuelExhausted => Some(EvalStatus::FuelExhausted),
            RunStatus::Timeout => Some(EvalStatus::Timeout),
            RunStatus::MemoryExceeded => Some(EvalStatus::MemoryExceeded),
            RunStatus::OutputExceeded { .. } => Some(EvalStatus::OutputExceeded),
        }
    }
}

impl fmt::Display for EvalStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scored result of one candidate. Higher `score` is better for every task kind;
/// an invalid candidate's score is not comparable with a valid one's (strategies rank
/// valid candidates first).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub status: EvalStatus,
    pub valid: bool,
    pub score: f64,
    /// Numeric and descriptive metrics (fuel, wall_ms, speedup, nrmse, ...).
    pub metrics: BTreeMap<String, serde_json::Value>,
    /// Text for the model: what failed, what cost most, how far from the goal.
    pub feedback: String,
    /// Structured per-case results.
    pub trace: serde_json::Value,
    /// Total fuel the candidate consumed, when it ran.
    pub fuel: Option<u64>,
    /// Total wall time of the evaluation in milliseconds.
    pub wall_ms: f64,
}

impl Evaluation {
    /// An evaluation that failed before any scoring: invalid, score 0.
    pub fn failed(status: EvalStatus, feedback: impl Into<String>) -> Evaluation {
        Evaluation {
            status,
            valid: false,
            score: 0.0,
            metrics: BTreeMap::new(),
            feedback: feedback.into(),
            trace: serde_json::Value::Null,
            fuel: None,
            wall_ms: 0.0,
        }
    }

    /// Sets one metric (builder style).
    pub fn with_metric(mut self, name: &str, value: impl Into<serde_json::Value>) -> Evaluation {
        self.metrics.insert(name.to_string(), value.into());
        self
    }
}
