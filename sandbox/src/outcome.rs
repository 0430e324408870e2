//! What one candidate run produced: status, cost, output.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RunStatus {
    /// `_start` returned, or the guest called `proc_exit(0)`.
    Ok,
    /// The guest called `proc_exit` with a non-zero code.
    Exit { code: i32 },
    /// The guest trapped: `trap` is a stable kind name (`unreachable`, `stack_overflow`,
    /// `integer_divide_by_zero`, `memory_out_of_bounds`, ...; `stdout_closed` when the
    /// reader of a streamed stdout closed it), `message` the details.
    RuntimeError { trap: String, message: String },
    /// The fuel limit was reached.
    FuelExhausted,
    /// The wall-clock deadline passed (while computing, or waiting on a streamed stdin or
    /// stdout).
    Timeout,
    /// The guest asked for more linear memory than its limit.
    MemoryExceeded,
    /// The guest wrote more to stdout than its cap.
    OutputExceeded { stream: String },
}

impl RunStatus {
    /// A short stable name: `ok`, `exit`, `runtime_error`, `fuel_exhausted`, `timeout`,
    /// `memory_exceeded`, `output_exceeded`.
    pub fn name(&self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Exit { .. } => "exit",
            RunStatus::RuntimeError { .. } => "runtime_error",
            RunStatus::FuelExhausted => "fuel_exhausted",
            RunStatus::Timeout => "timeout",
            RunStatus::MemoryExceeded => "memory_exceeded",
            RunStatus::OutputExceeded { .. } => "output_exceeded",
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, RunStatus::Ok)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunStatus::Ok => f.write_str("ok"),
            RunStatus::Exit { code } => write!(f, "exit({code})"),
            RunStatus::RuntimeError { trap, message } => {
                write!(f, "runtime_error({trap}): {message}")
            }
            RunStatus::FuelExhausted => f.write_str("fuel_exhausted"),
            RunStatus::Timeout => f.write_str("timeout"),
            RunStatus::MemoryExceeded => f.write_str("memory_exceeded"),
            RunStatus::OutputExceeded { stream } => write!(f, "output_exceeded({stream})"),
        }
    }
}

/// The result of one run. Identical inputs and limits give identical `status`, `fuel_used`,
/// `stdout` and `stderr`; `wall` varies with the machine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: RunStatus,
    /// Fuel consumed: wasm instructions (about one unit each) plus what host calls charged
    /// (kernels by their documented rule, WASI one unit per 8 bytes moved). Exact for runs
    /// that end normally, by `exit`, `fuel_exhausted`, `memory_exceeded` or
    /// `output_exceeded`. After a `timeout` or a trap it counts up to the guest's last call
    /// (wasmtime keeps the running count in a register between calls), still identical
    /// from run to run for a trap.
    pub fuel_used: u64,
    #[serde(with = "duration_micros")]
    pub wall: Duration,
    /// Largest linear memory size the guest reached, in bytes.
    pub peak_memory_bytes: u64,
    /// Standard output, up to its cap. Empty after [`Sandbox::run_streaming`], which wrote
    /// it to its writer as the guest ran.
    ///
    /// [`Sandbox::run_streaming`]: crate::Sandbox::run_streaming
    #[serde(with = "bytes_lossy")]
    pub stdout: Vec<u8>,
    /// Standard error as text; when it went past its cap, ends with a visible marker.
    pub stderr: String,
}

impl Outcome {
    /// Standard output as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }
}

mod duration_micros {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_micros() as u64)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_micros(u64::deserialize(d)?))
    }
}

mod bytes_lossy {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from_utf8_lossy(b))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(String::deserialize(d)?.into_bytes())
    }
}
