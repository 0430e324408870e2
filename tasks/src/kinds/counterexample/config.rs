//! The `[counterexample]` section of task.toml: the trusted programs, the checker, the limits
//! and the seeds, parsed strictly.

use std::time::Duration;

use hone_sandbox::Limits;
use serde::Deserialize;

use crate::checker::CheckerSpec;

/// Default largest input, in bytes (a generator printing more fails with `output_exceeded`).
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 1 << 20;

/// Stderr kept from any run, for feedback.
const STDERR_BYTES: u64 = 16 << 10;

/// Stdout kept from a validator or checker program: its message, not data.
const MESSAGE_BYTES: u64 = 64 << 10;

/// `[counterexample]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Section {
    /// Trusted input validator: input on stdin; exit 0 accepts, any other exit code rejects
    /// with its stdout as the reason.
    pub validator: String,
    /// The correct (reference) solution.
    pub correct: String,
    /// The wrong solution to refute (shown to the model).
    pub wrong: String,
    /// Trusted random input generator: a decimal seed on stdin (the run's `random_get` is
    /// seeded with it too); a valid random input on stdout. Used by the random-search baseline.
    pub random_generator: String,
    /// How the two solutions' outputs are compared (default: exact tokens).
    #[serde(default = "default_checker")]
    pub checker: CheckerSpec,
    /// Largest input in bytes.
    #[serde(default = "default_max_input_bytes")]
    pub max_input_bytes: u64,
    /// Starting candidates: `.txt` files (a literal input) or generator sources
    /// (`.rs`, `.c`, `.wat`). Empty: one input from the random generator with seed 0.
    #[serde(default)]
    pub seeds: Vec<String>,
    /// Limits of the candidate's generator program.
    #[serde(default)]
    pub generator_limits: RunLimits,
    /// Limits of both solutions.
    #[serde(default)]
    pub solution_limits: SolutionLimits,
    /// Limits of the trusted validator, checker program and random generator.
    #[serde(default)]
    pub validator_limits: RunLimits,
}

fn default_checker() -> CheckerSpec {
    CheckerSpec::Tokens
}

fn default_max_input_bytes() -> u64 {
    DEFAULT_MAX_INPUT_BYTES
}

/// Fuel, memory and wall-clock limits of one program.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunLimits {
    pub fuel: u64,
    pub memory_mb: u64,
    pub timeout_ms: u64,
}

impl Default for RunLimits {
    fn default() -> RunLimits {
        RunLimits {
            fuel: 2_000_000_000,
            memory_mb: 256,
            timeout_ms: 10_000,
        }
    }
}

impl RunLimits {
    /// Sandbox limits with the given stdout cap and random seed.
    pub(crate) fn sandbox_limits(&self, stdout_bytes: u64, seed: u64) -> Limits {
        Limits {
            fuel: Some(self.fuel),
            memory_bytes: self.memory_mb << 20,
            timeout: Duration::from_millis(self.timeout_ms),
            stdout_bytes,
            stderr_bytes: STDERR_BYTES,
            seed,
            host_kernels: false,
        }
    }

    /// Limits for a trusted program whose stdout is a short message.
    pub(crate) fn message_limits(&self) -> Limits {
        self.sandbox_limits(MESSAGE_BYTES, 0)
    }
}

/// The limits of the two solutions. Both get the same memory, wall-clock and output limits.
///
/// Fuel: the correct solution may use up to `fuel`. The wrong solution gets the same `fuel`
/// (absolute mode, the default), or, when `fuel_factor` is set (relative mode),
/// `min(fuel, max(fuel_floor, ceil(fuel_factor * F)))` where `F` is the fuel the correct
/// solution used on the same input, like a contest time limit set at a multiple of the
/// reference solution's time.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SolutionLimits {
    pub fuel: u64,
    pub memory_mb: u64,
    pub timeout_ms: u64,
    /// Stdout cap of each solution; writing more is a failure (`output_exceeded`).
    pub output_bytes: u64,
    pub fuel_factor: Option<f64>,
    pub fuel_floor: u64,
}

impl Default for SolutionLimits {
    fn default() -> SolutionLimits {
        SolutionLimits {
            fuel: 2_000_000_000,
            memory_mb: 256,
            timeout_ms: 10_000,
            output_bytes: 16 << 20,
            fuel_factor: None,
            fuel_floor: 10_000_000,
        }
    }
}

impl SolutionLimits {
    /// The wrong solution's fuel limit on an input where the correct solution used
    /// `correct_fuel` (see the type's documentation).
    pub fn wrong_fuel_limit(&self, correct_fuel: u64) -> u64 {
        match self.fuel_factor {
            None => self.fuel,
            Some(factor) => {
                let scaled = (factor * correct_fuel as f64).ceil();
                let scaled = if scaled >= u64::MAX as f64 {
                    u64::MAX
                } else {
                    scaled as u64
                };
                scaled.max(self.fuel_floor).min(self.fuel)
            }
        }
    }

    /// Sandbox limits of a solution run with a given fuel limit and random seed.
    pub(crate) fn sandbox_limits(&self, fuel: u64, seed: u64) -> Limits {
        Limits {
            fuel: Some(fuel),
            memory_bytes: self.memory_mb << 20,
            timeout: Duration::from_millis(self.timeout_ms),
            stdout_bytes: self.output_bytes,
            stderr_bytes: STDERR_BYTES,
            seed,
            host_kernels: false,
        }
    }

    /// One line for prompts and reports.
    pub fn describe(&self) -> String {
        let fuel = match self.fuel_factor {
            None => format!("at most {} fuel", self.fuel),
            Some(factor) => format!(
                "the correct solution at most {} fuel; the wrong one max({}, {factor} x the correct solution's fuel on the same input), at most {}",
                self.fuel, self.fuel_floor, self.fuel
            ),
        };
        format!(
            "{fuel}; {} MiB of memory, {} ms of wall time and {} bytes of output each",
            self.memory_mb, self.timeout_ms, self.output_bytes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_mode_gives_the_same_fuel() {
        let limits = SolutionLimits {
            fuel: 1000,
            ..SolutionLimits::default()
        };
        assert_eq!(limits.wrong_fuel_limit(10), 1000);
        assert_eq!(limits.wrong_fuel_limit(999), 1000);
    }

    #[test]
    fn relative_mode_has_a_floor_and_a_cap() {
        let limits = SolutionLimits {
            fuel: 1_000_000,
            fuel_factor: Some(10.0),
            fuel_floor: 5_000,
            ..SolutionLimits::default()
        };
        assert_eq!(limits.wrong_fuel_limit(100), 5_000);
        assert_eq!(limits.wrong_fuel_limit(1_000), 10_000);
        assert_eq!(limits.wrong_fuel_limit(500_000), 1_000_000);
        assert_eq!(limits.wrong_fuel_limit(u64::MAX), 1_000_000);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let text = "validator = 'v.c'\ncorrect = 'c.c'\nwrong = 'w.c'\nrandom_generator = 'r.c'\n[solution_limits]\nfuel_facter = 2.0\n";
        let error = toml::from_str::<Section>(text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("fuel_facter"), "{error}");
    }
}
