//! One candidate run: the per-run store state, the memory limiter and outcome classification.

use std::cell::Cell;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;
use wasmtime::{Store, Trap};

use crate::error::SandboxError;
use crate::fs::Files;
use crate::limits::Limits;
use crate::outcome::{Outcome, RunStatus};
use crate::sandbox::{EPOCH_TICK, Program, Sandbox, Start};
use crate::stream::{StdoutClosed, StreamIo, StreamTimeout};

/// Fuel given to a run whose fuel is "unlimited": far more than any deadline lets it burn.
const UNLIMITED_FUEL: u64 = u64::MAX / 4;

/// The streaming deadline of a run whose timeout overflows `Instant`: never reached.
const FAR_DEADLINE: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 24 * 3600);

/// Host stack a run needs beyond the wasm stack limit: wasmtime's entry and exit
/// trampolines, and host functions (WASI, kernels) called from the deepest wasm frame.
const HOST_STACK_HEADROOM: usize = 512 << 10;

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

/// Limits linear memory and records its peak. Wasmtime calls it for the initial memory at
/// instantiation too, so the peak includes the initial size.
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
            // An error, not `Ok(false)`: a failed `memory.grow` would otherwise come back to
            // the guest as -1 and surface later as an allocator abort (`unreachable`).
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
        Ok(desired <= crate::sandbox::MAX_TABLE_ELEMENTS)
    }
}

/// Everything the host side of one run holds. Host functions (WASI and kernels) reach it
/// through `Caller::data_mut`.
pub(crate) struct RunState {
    pub(crate) limiter: MemoryLimiter,
    pub(crate) stdin: Vec<u8>,
    pub(crate) stdin_position: usize,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stdout_cap: usize,
    pub(crate) stderr: Vec<u8>,
    pub(crate) stderr_cap: usize,
    pub(crate) stderr_dropped: u64,
    pub(crate) fuel_given: u64,
    /// Whether the engine meters fuel (off only in benchmarks).
    pub(crate) meter_fuel: bool,
    pub(crate) clock_reads: u64,
    /// Virtual nanoseconds the guest slept (`poll_oneoff` on a clock), added to its clocks.
    pub(crate) slept_nanos: u64,
    pub(crate) rng: ChaCha12Rng,
    /// The guest's exported memory, once instantiated (saves a lookup by name per host call).
    pub(crate) memory: Option<wasmtime::Memory>,
    /// Streamed stdin and stdout (`Sandbox::run_streaming`); `None`: the buffered `stdin`
    /// and `stdout` above.
    pub(crate) stream: Option<StreamIo>,
    /// The guest's arguments, each NUL-terminated (`candidate` for compiled candidates).
    pub(crate) args: Arc<[Vec<u8>]>,
    /// The guest's environment, `NAME=value` each NUL-terminated (empty for every guest).
    pub(crate) env: Arc<[Vec<u8>]>,
    /// The read-only files the guest sees, if any (the Python interpreter's library).
    pub(crate) files: Option<Files>,
    /// Whether stdin, stdout and stderr say they are character devices (terminals): true for
    /// compiled candidates (as before; their libc's buffering depends on it), false for
    /// Python, whose tracebacks would otherwise carry terminal colour codes into feedback.
    pub(crate) stdio_is_terminal: bool,
}

impl RunState {
    pub(crate) fn new(
        stdin: Vec<u8>,
        limits: &Limits,
        memory_bytes: u64,
        fuel_given: u64,
        meter_fuel: bool,
    ) -> RunState {
        RunState {
            limiter: MemoryLimiter {
                limit: usize::try_from(memory_bytes).unwrap_or(usize::MAX),
                peak: 0,
            },
            stdin,
            stdin_position: 0,
            stdout: Vec::new(),
            stdout_cap: usize::try_from(limits.stdout_bytes).unwrap_or(usize::MAX),
            stderr: Vec::new(),
            stderr_cap: usize::try_from(limits.stderr_bytes).unwrap_or(usize::MAX),
            stderr_dropped: 0,
            fuel_given,
            meter_fuel,
            clock_reads: 0,
            slept_nanos: 0,
            memory: None,
            rng: ChaCha12Rng::seed_from_u64(limits.seed),
            stream: None,
            args: Arc::from(vec![crate::wasi::ARGV0.to_vec()]),
            env: Arc::from(Vec::new()),
            files: None,
            stdio_is_terminal: true,
        }
    }

    /// Bytes of stdout the guest has written so far (kept or streamed).
    pub(crate) fn stdout_written(&self) -> usize {
        self.stdout.len() + self.stream.as_ref().map_or(0, |s| s.streamed)
    }
}

/// Where a run's stdin comes from and its stdout goes.
pub(crate) enum Io<'a> {
    /// All of stdin up front; stdout kept in the outcome.
    Buffered(&'a [u8]),
    /// Read and written as the guest calls `fd_read` / `fd_write` (see `stream.rs`).
    Streaming(Box<dyn Read + Send>, Box<dyn Write + Send>),
}

pub(crate) fn run(
    sandbox: &Sandbox,
    program: &Program,
    io: Io<'_>,
    limits: &Limits,
) -> Result<Outcome, SandboxError> {
    if !sandbox.owns(program.instance_pre().module().engine()) {
        return Err(SandboxError::Instantiate {
            message:
                "the program was compiled by another Sandbox; run it with the one that made it"
                    .into(),
        });
    }
    if !limits.host_kernels && !program.kernel_imports().is_empty() {
        return Ok(Outcome {
            status: RunStatus::RuntimeError {
                trap: "host_kernels_off".into(),
                message: format!(
                    "the module imports host kernels ({}), which are not offered here: do the work in the program itself",
                    program
                        .kernel_imports()
                        .iter()
                        .map(|name| format!("`{}.{name}`", crate::kernels::MODULE))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
            fuel_used: 0,
            wall: std::time::Duration::ZERO,
            peak_memory_bytes: 0,
            stdout: Vec::new(),
            stderr: String::new(),
        });
    }
    let wasm_stack = match program.start() {
        Start::Command => sandbox.max_wasm_stack_bytes(),
        Start::Python(_) => crate::python::STACK_BYTES,
    };
    let needed = wasm_stack + HOST_STACK_HEADROOM;
    if stack_left().is_some_and(|left| left >= needed) {
        return run_on_this_thread(sandbox, program, io, limits);
    }
    // Too little stack here (or unknown): a wasm stack overflow would hit this thread's
    // guard page and kill the process instead of trapping. Run on a thread with room.
    std::thread::scope(|scope| {
        let helper = std::thread::Builder::new()
            .name("hone-run".into())
            .stack_size(needed + HOST_STACK_HEADROOM)
            .spawn_scoped(scope, || run_on_this_thread(sandbox, program, io, limits))
            .map_err(|e| SandboxError::Instantiate {
                message: format!("could not start a run thread: {e}"),
            })?;
        helper.join().map_err(|_| SandboxError::Instantiate {
            message: "the run thread panicked".into(),
        })?
    })
}

/// Bytes of stack left below this point on the current thread, when the platform says.
fn stack_left() -> Option<usize> {
    thread_local! {
        /// The lowest usable address of this thread's stack (0: unknown).
        static STACK_LOW: Cell<Option<usize>> = const { Cell::new(None) };
    }
    let low = STACK_LOW.with(|cell| {
        if let Some(low) = cell.get() {
            return low;
        }
        let low = stack_low_address().unwrap_or(0);
        cell.set(Some(low));
        low
    });
    if low == 0 {
        return None;
    }
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    here.checked_sub(low)
}

#[cfg(target_os = "linux")]
fn stack_low_address() -> Option<usize> {
    // SAFETY: pthread_getattr_np fills `attr` for the calling thread; we read the stack
    // bounds from it and destroy it. No pointer escapes.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut address: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let got = libc::pthread_attr_getstack(&attr, &mut address, &mut size);
        let mut guard: libc::size_t = 0;
        libc::pthread_attr_getguardsize(&attr, &mut guard);
        libc::pthread_attr_destroy(&mut attr);
        // The reported range may include the guard page(s) at its low end.
        (got == 0 && !address.is_null()).then(|| address as usize + guard.max(4096))
    }
}

#[cfg(not(target_os = "linux"))]
fn stack_low_address() -> Option<usize> {
    None
}

fn run_on_this_thread(
    sandbox: &Sandbox,
    program: &Program,
    io: Io<'_>,
    limits: &Limits,
) -> Result<Outcome, SandboxError> {
    let _slot = sandbox.acquire_slot();
    let started = Instant::now();
    let meter_fuel = sandbox.meter_fuel();
    let fuel_given = if meter_fuel {
        limits.fuel.unwrap_or(UNLIMITED_FUEL).min(UNLIMITED_FUEL)
    } else {
        0
    };
    let memory_bytes = limits.memory_bytes.min(sandbox.max_memory_bytes());
    let (stdin, streams) = match io {
        Io::Buffered(stdin) => (stdin.to_vec(), None),
        Io::Streaming(stdin, stdout) => (Vec::new(), Some((stdin, stdout))),
    };
    let mut state = RunState::new(stdin, limits, memory_bytes, fuel_given, meter_fuel);
    if let Some((stdin, stdout)) = streams {
        let deadline = started
            .checked_add(limits.timeout)
            .unwrap_or(started + FAR_DEADLINE);
        state.stream = Some(StreamIo::start(stdin, stdout, deadline)?);
    }
    if let Start::Python(guest) = program.start() {
        state.args = guest.args.clone();
        state.files = Some(Files::new(guest.volume.clone()));
        state.stdio_is_terminal = false;
        // The clocks go on from where the interpreter's start-up left them.
        state.slept_nanos = guest.started.clock_nanos();
    }
    let mut store = Store::new(program.instance_pre().module().engine(), state);
    store.limiter(|state| &mut state.limiter);
    if meter_fuel {
        store
            .set_fuel(fuel_given)
            .map_err(|e| SandboxError::Instantiate {
                message: e.to_string(),
            })?;
    }
    let ticks = limits
        .timeout
        .as_micros()
        .div_ceil(EPOCH_TICK.as_micros())
        .max(1);
    store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
    store.epoch_deadline_trap();

    let result = match program.instance_pre().instantiate(&mut store) {
        Ok(instance) => {
            store.data_mut().memory = instance.get_memory(&mut store, "memory");
            match program.start() {
                Start::Command => instance
                    .get_typed_func::<(), ()>(&mut store, "_start")
                    .and_then(|start| start.call(&mut store, ())),
                Start::Python(guest) => crate::python::run(&mut store, &instance, guest),
            }
        }
        Err(e) => {
            // Instantiation can fail for the candidate's own reasons (memory limit on its
            // initial size, a start function trap) or for ours.
            if is_candidate_failure(&e) {
                Err(e)
            } else {
                return Err(SandboxError::Instantiate {
                    message: format!("{e:#}"),
                });
            }
        }
    };

    let fuel_left = if meter_fuel {
        store.get_fuel().unwrap_or(0)
    } else {
        0
    };
    let fuel_used = fuel_given.saturating_sub(fuel_left);
    let status = match result {
        Ok(()) => RunStatus::Ok,
        Err(error) => classify(&error, meter_fuel && fuel_left == 0),
    };
    let mut state = store.into_data();
    let mut stderr = String::from_utf8_lossy(&state.stderr).into_owned();
    if state.stderr_dropped > 0 {
        stderr.push_str(&format!(
            "\n[hone: {} more bytes of stderr dropped]\n",
            state.stderr_dropped
        ));
    }
    // Ends the stdout thread (dropping the writer) before the outcome is returned.
    if let Some(stream) = state.stream.take()
        && let Some(error) = &stream.read_error
    {
        stderr.push_str(&format!("\n[hone: reading stdin failed: {error}]\n"));
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

fn classify(error: &wasmtime::Error, out_of_fuel: bool) -> RunStatus {
    if let Some(GuestExit(code)) = error.downcast_ref::<GuestExit>() {
        return if *code == 0 {
            RunStatus::Ok
        } else {
            RunStatus::Exit { code: *code }
        };
    }
    if error.downcast_ref::<MemoryLimitHit>().is_some() {
        return RunStatus::MemoryExceeded;
    }
    if error.downcast_ref::<OutputLimitHit>().is_some() {
        return RunStatus::OutputExceeded {
            stream: "stdout".into(),
        };
    }
    if error.downcast_ref::<StreamTimeout>().is_some() {
        return RunStatus::Timeout;
    }
    if let Some(StdoutClosed(message)) = error.downcast_ref::<StdoutClosed>() {
        return RunStatus::RuntimeError {
            trap: "stdout_closed".into(),
            message: message.clone(),
        };
    }
    if let Some(fault) = error.downcast_ref::<crate::kernels::KernelFault>() {
        return RunStatus::RuntimeError {
            trap: "kernel_fault".into(),
            message: fault.to_string(),
        };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => RunStatus::FuelExhausted,
        Some(Trap::Interrupt) => RunStatus::Timeout,
        Some(trap) => RunStatus::RuntimeError {
            trap: trap_kind(*trap),
            message: trap_message(error),
        },
        None if out_of_fuel => RunStatus::FuelExhausted,
        None => RunStatus::RuntimeError {
            trap: "host_error".into(),
            message: trap_message(error),
        },
    }
}

/// The trap's cause, then the innermost frames of the wasm backtrace.
fn trap_message(error: &wasmtime::Error) -> String {
    let mut out = error.root_cause().to_string();
    if let Some(backtrace) = error.downcast_ref::<wasmtime::WasmBacktrace>() {
        for line in backtrace.to_string().lines().take(11) {
            out.push('\n');
            out.push_str(line);
        }
    }
    if out.len() > 2000 {
        let mut cut = 2000;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str(" [...]");
    }
    out
}

/// A stable snake_case name for every trap: the common ones spelled out, any other (wasmtime
/// adds kinds over time) derived from its variant name.
fn trap_kind(trap: Trap) -> String {
    let name = match trap {
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
        other => return snake_case(&format!("{other:?}")),
    };
    name.to_string()
}

fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        }
    }
    if out.is_empty() { "trap".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_trap_has_a_snake_case_kind() {
        assert_eq!(trap_kind(Trap::UnreachableCodeReached), "unreachable");
        assert_eq!(trap_kind(Trap::NullReference), "null_reference");
        assert_eq!(trap_kind(Trap::AllocationTooLarge), "allocation_too_large");
        assert_eq!(snake_case("CastFailure"), "cast_failure");
    }

    #[test]
    fn stack_left_is_known_and_plausible() {
        let left = stack_left().expect("linux reports stack bounds");
        assert!(left > 16 << 10 && left < 1 << 30, "{left}");
        let on_small_thread = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(|| stack_left().unwrap_or(usize::MAX))
            .unwrap()
            .join()
            .unwrap();
        assert!(on_small_thread < 512 << 10, "{on_small_thread}");
    }
}
