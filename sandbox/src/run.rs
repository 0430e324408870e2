//! One candidate run: the per-run store state, the memory limiter and outcome classification.

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;
use wasmtime::{Store, Trap};

use crate::error::SandboxError;
use crate::limits::Limits;
use crate::outcome::{Outcome, RunStatus};
use crate::sandbox::{EPOCH_TICK, Program, Sandbox};

/// Fuel given to a run whose fuel is "unlimited": far more than any deadline lets it burn.
const UNLIMITED_FUEL: u64 = u64::MAX / 4;

/// The guest asked for more linear memory than its limit (raised from the limiter so that
/// a failed `memory.grow` ends the run with its own status instead of a later trap).
#[derive(Debug)]
pub(crate) struct MemoryLimitHit;

impl std::fmt::Display for MemoryLimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("linear memory limit exceeded")
    }
}
impl std::error::Error for MemoryLimitHit {}

/// The guest wrote more to stdout than its cap.
#[derive(Debug)]
pub(crate) struct OutputLimitHit;

impl std::fmt::Display for OutputLimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stdout cap exceeded")
    }
}
impl std::error::Error for OutputLimitHit {}

/// The guest called `proc_exit(code)`.
#[derive(Debug)]
pub(crate) struct GuestExit(pub i32);

impl std::fmt::Display for GuestExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "proc_exit({})", self.0)
    }
}
impl std::error::Error for GuestExit {}

/// Limits linear memory and records its peak.
pub(crate) struct MemoryLimiter {
    limit: usize,
    pub(crate) peak: usize,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            return Err(wasmtime::Error::new(MemoryLimitHit));
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

/// Everything the host side of one run holds. Host functions (WASI and kernels) reach it
/// through `Caller::data_mut`.
pub struct RunState {
    pub(crate) limiter: MemoryLimiter,
    pub(crate) stdin: Vec<u8>,
    pub(crate) stdin_position: usize,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stdout_cap: usize,
    pub(crate) stderr: Vec<u8>,
    pub(crate) stderr_cap: usize,
    pub(crate) stderr_dropped: u64,
    pub(crate) fuel_given: u64,
    pub(crate) clock_reads: u64,
    pub(crate) rng: ChaCha12Rng,
}

impl RunState {
    fn new(stdin: Vec<u8>, limits: &Limits, fuel_given: u64) -> RunState {
        RunState {
            limiter: MemoryLimiter { limit: usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX), peak: 0 },
            stdin,
            stdin_position: 0,
            stdout: Vec::new(),
            stdout_cap: usize::try_from(limits.stdout_bytes).unwrap_or(usize::MAX),
            stderr: Vec::new(),
            stderr_cap: usize::try_from(limits.stderr_bytes).unwrap_or(usize::MAX),
            stderr_dropped: 0,
            fuel_given,
            clock_reads: 0,
            rng: ChaCha12Rng::seed_from_u64(limits.seed),
        }
    }
}

pub(crate) fn run(sandbox: &Sandbox, program: &Program, stdin: &[u8], limits: &Limits) -> Result<Outcome, SandboxError> {
    let started = Instant::now();
    let fuel_given = limits.fuel.unwrap_or(UNLIMITED_FUEL).min(UNLIMITED_FUEL);
    let mut store = Store::new(sandbox.engine(), RunState::new(stdin.to_vec(), limits, fuel_given));
    store.limiter(|state| &mut state.limiter);
    store
        .set_fuel(fuel_given)
        .map_err(|e| SandboxError::Instantiate { message: e.to_string() })?;
    let ticks = limits.timeout.as_micros().div_ceil(EPOCH_TICK.as_micros()).max(1) as u64;
    store.set_epoch_deadline(ticks);
    store.epoch_deadline_trap();

    let result = match program.instance_pre().instantiate(&mut store) {
        Ok(instance) => match instance.get_typed_func::<(), ()>(&mut store, "_start") {
            Ok(start) => start.call(&mut store, ()),
            Err(e) => Err(e),
        },
        Err(e) => {
            // Instantiation can fail for the candidate's own reasons (memory limit on its
            // initial size, a start function trap) or for ours (pool exhausted).
            if is_candidate_failure(&e) {
                Err(e)
            } else {
                return Err(SandboxError::Instantiate { message: format!("{e:#}") });
            }
        }
    };

    let fuel_left = store.get_fuel().unwrap_or(0);
    let fuel_used = fuel_given.saturating_sub(fuel_left);
    let status = match result {
        Ok(()) => RunStatus::Ok,
        Err(error) => classify(&error, fuel_left),
    };
    let state = store.into_data();
    let mut stderr = String::from_utf8_lossy(&state.stderr).into_owned();
    if state.stderr_dropped > 0 {
        stderr.push_str(&format!("\n[hone: {} more bytes of stderr dropped]\n", state.stderr_dropped));
    }
    Ok(Outcome {
        status,
        fuel_used,
        wall: started.elapsed(),
        peak_memory_bytes: state.limiter.peak as u64,
        stdout: state.stdout,
        stderr,
    })
}

fn is_candidate_failure(error: &wasmtime::Error) -> bool {
    error.downcast_ref::<Trap>().is_some()
        || error.downcast_ref::<MemoryLimitHit>().is_some()
        || error.downcast_ref::<GuestExit>().is_some()
}

fn classify(error: &wasmtime::Error, fuel_left: u64) -> RunStatus {
    if let Some(GuestExit(code)) = error.downcast_ref::<GuestExit>() {
        return if *code == 0 { RunStatus::Ok } else { RunStatus::Exit { code: *code } };
    }
    if error.downcast_ref::<MemoryLimitHit>().is_some() {
        return RunStatus::MemoryExceeded;
    }
    if error.downcast_ref::<OutputLimitHit>().is_some() {
        return RunStatus::OutputExceeded { stream: "stdout".into() };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => RunStatus::FuelExhausted,
        Some(Trap::Interrupt) => RunStatus::Timeout,
        Some(trap) => RunStatus::RuntimeError { trap: trap_kind(*trap).into(), message: trap_message(error) },
        None if fuel_left == 0 => RunStatus::FuelExhausted,
        None => RunStatus::RuntimeError { trap: "host_error".into(), message: trap_message(error) },
    }
}

fn trap_message(error: &wasmtime::Error) -> String {
    let text = format!("{error:?}");
    // The backtrace can be long; keep the head, which names the trap and the innermost frames.
    let mut out: String = text.lines().take(12).collect::<Vec<_>>().join("\n");
    if out.len() > 2000 {
        out.truncate(2000);
        out.push_str(" [...]");
    }
    out
}

fn trap_kind(trap: Trap) -> &'static str {
    match trap {
        Trap::StackOverflow => "stack_overflow",
        Trap::MemoryOutOfBounds => "memory_out_of_bounds",
        Trap::HeapMisaligned => "heap_misaligned",
        Trap::TableOutOfBounds => "table_out_of_bounds",
        Trap::IndirectCallToNull => "indirect_call_to_null",
        Trap::BadSignature => "bad_signature",
        Trap::IntegerOverflow => "integer_overflow",
        Trap::IntegerDivisionByZero => "integer_divide_by_zero",
        Trap::BadConversionToInteger => "bad_conversion_to_integer",
        Trap::UnreachableCodeReached => "unreachable",
        Trap::Interrupt => "interrupt",
        Trap::OutOfFuel => "out_of_fuel",
        _ => "trap",
    }
}
