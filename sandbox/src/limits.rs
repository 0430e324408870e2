//! Per-run limits: fuel, linear memory, wall-clock deadline, output caps, random seed, and
//! whether host kernels are offered.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The limits of one candidate run. Every exceeded limit ends the run with its own status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Fuel (deterministic cost: roughly one unit per wasm instruction). `None` = unlimited
    /// (the wall-clock deadline still applies).
    pub fuel: Option<u64>,
    /// Maximum linear memory in bytes.
    pub memory_bytes: u64,
    /// Wall-clock deadline for the whole run, enforced by epoch interruption.
    pub timeout: Duration,
    /// Bytes of stdout kept; writing more ends the run as `output_exceeded`.
    pub stdout_bytes: u64,
    /// Bytes of stderr kept; the rest is dropped and a visible marker says how much.
    pub stderr_bytes: u64,
    /// Seed of the guest's `random_get`.
    pub seed: u64,
    /// Whether the guest may call the host kernels (module `hone`). Off by default: a
    /// module that imports one then ends as `runtime_error(host_kernels_off)` before it
    /// starts, so fuel compares like for like between runs that all do their work in wasm.
    #[serde(default)]
    pub host_kernels: bool,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            fuel: Some(10_000_000_000),
            memory_bytes: 256 << 20,
            timeout: Duration::from_secs(10),
            stdout_bytes: 16 << 20,
            stderr_bytes: 64 << 10,
            seed: 0,
            host_kernels: false,
        }
    }
}
