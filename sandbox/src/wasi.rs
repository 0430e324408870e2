//! hone's own WASI preview-1 surface: stdin/stdout/stderr, args, virtual clocks (and
//! `poll_oneoff` sleeps on them), seeded random, `proc_exit`, and nothing else (no files,
//! no environment, no sockets).
//!
//! It replaces `wasmtime-wasi` deliberately (see ARCHITECTURE.md): the clocks must advance
//! with fuel, a full stdout must end the run, and a guest must see no filesystem at all.
//! Any other preview-1 import a module has is answered with `ENOSYS` (see
//! [`define_missing_as_nosys`]).
//!
//! Streaming runs (`stream.rs`) read stdin and write stdout through helper threads as the
//! guest calls `fd_read` / `fd_write`; everything else is the same.
//!
//! Fuel: host work proportional to a guest-chosen size is charged like kernel work, one unit
//! per [`BYTES_PER_FUEL`] bytes moved (`fd_read`, `fd_write`) or generated (`random_get`),
//! so a guest cannot make the host work for free.

use rand::RngCore;
use wasmtime::{Caller, Extern, Linker, Memory, Module, Val, ValType};

use crate::run::{GuestExit, OutputLimitHit, RunState};

pub(crate) const MODULE: &str = "wasi_snapshot_preview1";

pub(crate) const ERRNO_SUCCESS: i32 = 0;
pub(crate) const ERRNO_BADF: i32 = 8;
pub(crate) const ERRNO_FAULT: i32 = 21;
pub(crate) const ERRNO_INVAL: i32 = 28;
const ERRNO_NOSYS: i32 = 52;
const ERRNO_SPIPE: i32 = 70;

const FILETYPE_CHARACTER_DEVICE: u8 = 2;
/// What a pipe reports: neither a terminal nor a file.
const FILETYPE_UNKNOWN: u8 = 0;

/// The file type stdin, stdout and stderr report (see `RunState::stdio_is_terminal`).
fn std_filetype(state: &RunState) -> u8 {
    if state.stdio_is_terminal {
        FILETYPE_CHARACTER_DEVICE
    } else {
        FILETYPE_UNKNOWN
    }
}

/// The only argument a compiled candidate sees.
pub(crate) const ARGV0: &[u8] = b"candidate\0";

/// Virtual wall clock at fuel 0: 2024-01-01T00:00:00Z.
const REALTIME_EPOCH_NS: u64 = 1_704_067_200_000_000_000;

/// Nanoseconds the virtual clocks advance per unit of fuel consumed.
pub const NANOS_PER_FUEL: u64 = 1;

/// Bytes of host copying or random generation charged as one unit of fuel.
pub(crate) const BYTES_PER_FUEL: u64 = 8;

pub(crate) fn charge_bytes(caller: &mut Caller<'_, RunState>, bytes: u64) -> HostResult<()> {
    crate::kernels::charge(caller, bytes.div_ceil(BYTES_PER_FUEL))
}

type HostResult<T> = wasmtime::Result<T>;

/// The guest's exported memory (looked up once per run, after instantiation).
pub(crate) fn memory(caller: &mut Caller<'_, RunState>) -> Option<Memory> {
    if let Some(memory) = caller.data().memory {
        return Some(memory);
    }
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Some(memory),
        _ => None,
    }
}

/// Bounds-checked view of `len` bytes at `ptr` in the guest memory, as a range.
pub(crate) fn range(data_len: usize, ptr: i32, len: u64) -> Option<std::ops::Range<usize>> {
    let start = ptr as u32 as usize;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    (end <= data_len).then_some(start..end)
}

pub(crate) fn write_bytes(
    caller: &mut Caller<'_, RunState>,
    ptr: i32,
    bytes: &[u8],
) -> Result<(), i32> {
    let memory = memory(caller).ok_or(ERRNO_FAULT)?;
    let data = memory.data_mut(caller);
    let r = range(data.len(), ptr, bytes.len() as u64).ok_or(ERRNO_FAULT)?;
    data[r].copy_from_slice(bytes);
    Ok(())
}

pub(crate) fn write_u32(
    caller: &mut Caller<'_, RunState>,
    ptr: i32,
    value: u32,
) -> Result<(), i32> {
    write_bytes(caller, ptr, &value.to_le_bytes())
}

pub(crate) fn write_u64(
    caller: &mut Caller<'_, RunState>,
    ptr: i32,
    value: u64,
) -> Result<(), i32> {
    write_bytes(caller, ptr, &value.to_le_bytes())
}

pub(crate) fn errno(result: Result<(), i32>) -> i32 {
    match result {
        Ok(()) => ERRNO_SUCCESS,
        Err(e) => e,
    }
}

/// Writes NUL-terminated `strings` one after another at `buf` and a pointer to each at
/// `pointers` (`args_get`, `environ_get`).
fn write_strings(
    caller: &mut Caller<'_, RunState>,
    strings: &[Vec<u8>],
    pointers: i32,
    buf: i32,
) -> Result<(), i32> {
    let mut at = buf as u32;
    for (i, string) in strings.iter().enumerate() {
        write_u32(caller, pointers.wrapping_add(4 * i as i32), at)?;
        write_bytes(caller, at as i32, string)?;
        at = at.wrapping_add(string.len() as u32);
    }
    Ok(())
}

/// Reads the (ptr, len) pairs of an iovec array.
pub(crate) fn iovecs(data: &[u8], iovs: i32, count: i32) -> Result<Vec<(i32, u32)>, i32> {
    let count = usize::try_from(count).map_err(|_| ERRNO_INVAL)?;
    if count > 1024 {
        return Err(ERRNO_INVAL);
    }
    let r = range(data.len(), iovs, count as u64 * 8).ok_or(ERRNO_FAULT)?;
    let raw = &data[r];
    Ok((0..count)
        .map(|i| {
            let p =
                u32::from_le_bytes([raw[i * 8], raw[i * 8 + 1], raw[i * 8 + 2], raw[i * 8 + 3]]);
            let l = u32::from_le_bytes([
                raw[i * 8 + 4],
                raw[i * 8 + 5],
                raw[i * 8 + 6],
                raw[i * 8 + 7],
            ]);
            (p as i32, l)
        })
        .collect())
}

/// The virtual time: it advances with fuel consumed, with virtual sleeps, and by one tick
/// per read (so two reads never return the same instant). A pure function of the run's
/// history, hence identical on every run.
fn virtual_nanos(caller: &mut Caller<'_, RunState>) -> u64 {
    let fuel_left = if caller.data().meter_fuel {
        caller.get_fuel().unwrap_or(0)
    } else {
        0
    };
    let state = caller.data_mut();
    state.clock_reads += 1;
    state
        .fuel_given
        .saturating_sub(fuel_left)
        .saturating_mul(NANOS_PER_FUEL)
        .saturating_add(state.slept_nanos)
        .saturating_add(state.clock_reads)
}

/// The virtual time of a store between calls (as [`virtual_nanos`] would read it, without
/// counting a read).
pub(crate) fn virtual_nanos_of(store: &mut wasmtime::Store<RunState>) -> u64 {
    let fuel_left = if store.data().meter_fuel {
        store.get_fuel().unwrap_or(0)
    } else {
        0
    };
    let state = store.data();
    state
        .fuel_given
        .saturating_sub(fuel_left)
        .saturating_mul(NANOS_PER_FUEL)
        .saturating_add(state.slept_nanos)
        .saturating_add(state.clock_reads)
}

/// The value of clock `id` now, or `None` for an unknown clock.
fn clock_now(caller: &mut Caller<'_, RunState>, id: u32) -> Option<u64> {
    let base = match id {
        CLOCK_REALTIME => REALTIME_EPOCH_NS,
        1..=3 => 0,
        _ => return None,
    };
    Some(base.saturating_add(virtual_nanos(caller)))
}

const CLOCK_REALTIME: u32 = 0;
const EVENTTYPE_CLOCK: u8 = 0;
const EVENTTYPE_FD_READ: u8 = 1;
const EVENTTYPE_FD_WRITE: u8 = 2;
const SUBCLOCKFLAG_ABSTIME: u16 = 1;
const SUBSCRIPTION_BYTES: usize = 48;
const EVENT_BYTES: usize = 32;

/// `poll_oneoff`: stdin is always readable (to its end), stdout and stderr always writable;
/// when nothing else is ready, the earliest clock subscription fires after advancing the
/// virtual clocks to it. Nothing ever blocks. A streamed stdin is reported readable too,
/// with the bytes already arrived as its size (possibly 0: the next `fd_read` then waits
/// for the peer).
fn poll_oneoff(
    caller: &mut Caller<'_, RunState>,
    subscriptions: i32,
    events: i32,
    count: i32,
    nevents: i32,
) -> Result<(), i32> {
    let count = usize::try_from(count).map_err(|_| ERRNO_INVAL)?;
    if count == 0 || count > 1024 {
        return Err(ERRNO_INVAL);
    }
    let memory = memory(caller).ok_or(ERRNO_FAULT)?;
    let raw = {
        let data = memory.data(&*caller);
        let r = range(
            data.len(),
            subscriptions,
            (count * SUBSCRIPTION_BYTES) as u64,
        )
        .ok_or(ERRNO_FAULT)?;
        data[r].to_vec()
    };
    let u64_at =
        |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]));
    let u32_at =
        |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]));
    // (userdata, type, error, nbytes)
    let mut ready: Vec<(u64, u8, u16, u64)> = Vec::new();
    let mut earliest_clock: Option<(u64, u64, u16)> = None; // (wait nanos, userdata, error)
    for sub in raw.chunks_exact(SUBSCRIPTION_BYTES) {
        let userdata = u64_at(sub, 0);
        match sub[8] {
            EVENTTYPE_CLOCK => {
                let id = u32_at(sub, 16);
                let timeout = u64_at(sub, 24);
                let flags = u16::from_le_bytes([sub[40], sub[41]]);
                let (wait, error) = match clock_now(caller, id) {
                    None => (0, ERRNO_INVAL as u16),
                    Some(now) if flags & SUBCLOCKFLAG_ABSTIME != 0 => {
                        (timeout.saturating_sub(now), 0)
                    }
                    Some(_) => (timeout, 0),
                };
                if earliest_clock.is_none_or(|(w, _, _)| wait < w) {
                    earliest_clock = Some((wait, userdata, error));
                }
            }
            kind @ (EVENTTYPE_FD_READ | EVENTTYPE_FD_WRITE) => {
                let fd = u32_at(sub, 16);
                let state = caller.data_mut();
                let event = match (kind, fd) {
                    (EVENTTYPE_FD_READ, 0) => match state.stream.as_mut() {
                        Some(stream) => (0, stream.ready().len() as u64),
                        None => (0, (state.stdin.len() - state.stdin_position) as u64),
                    },
                    (EVENTTYPE_FD_WRITE, 1) => (
                        0,
                        state.stdout_cap.saturating_sub(state.stdout_written()) as u64,
                    ),
                    (EVENTTYPE_FD_WRITE, 2) => (
                        0,
                        state.stderr_cap.saturating_sub(state.stderr.len()).max(1) as u64,
                    ),
                    _ => (ERRNO_BADF as u16, 0),
                };
                ready.push((userdata, kind, event.0, event.1));
            }
            _ => return Err(ERRNO_INVAL),
        }
    }
    if ready.is_empty()
        && let Some((wait, userdata, error)) = earliest_clock
    {
        let state = caller.data_mut();
        state.slept_nanos = state.slept_nanos.saturating_add(wait);
        ready.push((userdata, EVENTTYPE_CLOCK, error, 0));
    }
    let mut out = vec![0u8; ready.len() * EVENT_BYTES];
    for (event, (userdata, kind, error, nbytes)) in out.chunks_exact_mut(EVENT_BYTES).zip(&ready) {
        event[0..8].copy_from_slice(&userdata.to_le_bytes());
        event[8..10].copy_from_slice(&error.to_le_bytes());
        event[10] = *kind;
        event[16..24].copy_from_slice(&nbytes.to_le_bytes());
    }
    write_bytes(caller, events, &out)?;
    write_u32(caller, nevents, ready.len() as u32)
}

fn is_std_fd(fd: i32) -> bool {
    (0..=2).contains(&fd)
}

/// `errno` for stdin, stdout or stderr; `EBADF` for any other descriptor.
fn on_std_fd(fd: i32, errno: i32) -> i32 {
    if is_std_fd(fd) { errno } else { ERRNO_BADF }
}

/// The preview-1 functions [`add_to_linker`] defines.
const IMPLEMENTED: &[&str] = &[
    "args_sizes_get",
    "args_get",
    "environ_sizes_get",
    "environ_get",
    "clock_res_get",
    "clock_time_get",
    "random_get",
    "proc_exit",
    "poll_oneoff",
    "sched_yield",
    "fd_close",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "fd_fdstat_get",
    "fd_fdstat_set_flags",
    "fd_filestat_get",
    "fd_seek",
    "fd_tell",
    "fd_sync",
    "fd_datasync",
    "fd_read",
    "fd_write",
];

pub(crate) fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        "args_sizes_get",
        |mut caller: Caller<'_, RunState>, argc: i32, size: i32| -> i32 {
            let args = caller.data().args.clone();
            let bytes: usize = args.iter().map(Vec::len).sum();
            errno(
                write_u32(&mut caller, argc, args.len() as u32)
                    .and_then(|_| write_u32(&mut caller, size, bytes as u32)),
            )
        },
    )?;
    linker.func_wrap(
        MODULE,
        "args_get",
        |mut caller: Caller<'_, RunState>, argv: i32, buf: i32| -> i32 {
            let args = caller.data().args.clone();
            errno(write_strings(&mut caller, &args, argv, buf))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "environ_sizes_get",
        |mut caller: Caller<'_, RunState>, count: i32, size: i32| -> i32 {
            let env = caller.data().env.clone();
            let bytes: usize = env.iter().map(Vec::len).sum();
            errno(
                write_u32(&mut caller, count, env.len() as u32)
                    .and_then(|_| write_u32(&mut caller, size, bytes as u32)),
            )
        },
    )?;
    linker.func_wrap(
        MODULE,
        "environ_get",
        |mut caller: Caller<'_, RunState>, environ: i32, buf: i32| -> i32 {
            let env = caller.data().env.clone();
            errno(write_strings(&mut caller, &env, environ, buf))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "clock_res_get",
        |mut caller: Caller<'_, RunState>, id: i32, res: i32| -> i32 {
            if !(0..=3).contains(&id) {
                return ERRNO_INVAL;
            }
            errno(write_u64(&mut caller, res, NANOS_PER_FUEL))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "clock_time_get",
        |mut caller: Caller<'_, RunState>, id: i32, _precision: i64, time: i32| -> i32 {
            match clock_now(&mut caller, id as u32) {
                Some(now) => errno(write_u64(&mut caller, time, now)),
                None => ERRNO_INVAL,
            }
        },
    )?;
    linker.func_wrap(
        MODULE,
        "random_get",
        |mut caller: Caller<'_, RunState>, buf: i32, len: i32| -> HostResult<i32> {
            let Some(memory) = memory(&mut caller) else {
                return Ok(ERRNO_FAULT);
            };
            if range(memory.data_size(&caller), buf, u64::from(len as u32)).is_none() {
                return Ok(ERRNO_FAULT);
            }
            charge_bytes(&mut caller, u64::from(len as u32))?;
            let (data, state) = memory.data_and_store_mut(&mut caller);
            let Some(r) = range(data.len(), buf, u64::from(len as u32)) else {
                return Ok(ERRNO_FAULT);
            };
            state.rng.fill_bytes(&mut data[r]);
            Ok(ERRNO_SUCCESS)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "poll_oneoff",
        |mut caller: Caller<'_, RunState>,
         subscriptions: i32,
         events: i32,
         count: i32,
         nevents: i32|
         -> i32 {
            errno(poll_oneoff(
                &mut caller,
                subscriptions,
                events,
                count,
                nevents,
            ))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "proc_exit",
        |_: Caller<'_, RunState>, code: i32| -> HostResult<()> {
            Err(wasmtime::Error::new(GuestExit(code)))
        },
    )?;
    linker.func_wrap(MODULE, "sched_yield", |_: Caller<'_, RunState>| -> i32 {
        ERRNO_SUCCESS
    })?;
    linker.func_wrap(
        MODULE,
        "fd_close",
        |mut caller: Caller<'_, RunState>, fd: i32| -> i32 {
            if is_std_fd(fd) {
                return ERRNO_SUCCESS;
            }
            crate::fs::close(&mut caller, fd)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_prestat_get",
        |mut caller: Caller<'_, RunState>, fd: i32, buf: i32| -> i32 {
            // Without a volume there are no preopened directories: libc stops asking at
            // the first EBADF.
            crate::fs::prestat_get(&mut caller, fd, buf)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_prestat_dir_name",
        |mut caller: Caller<'_, RunState>, fd: i32, path: i32, len: i32| -> i32 {
            crate::fs::prestat_dir_name(&mut caller, fd, path, len)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_fdstat_get",
        |mut caller: Caller<'_, RunState>, fd: i32, buf: i32| -> i32 {
            if !is_std_fd(fd) {
                return crate::fs::fdstat_get(&mut caller, fd, buf);
            }
            let mut stat = [0u8; 24];
            stat[0] = std_filetype(caller.data());
            let rights: u64 = if fd == 0 { 1 << 1 } else { 1 << 6 }; // fd_read / fd_write
            stat[8..16].copy_from_slice(&rights.to_le_bytes());
            errno(write_bytes(&mut caller, buf, &stat))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_fdstat_set_flags",
        |_: Caller<'_, RunState>, fd: i32, _flags: i32| -> i32 { on_std_fd(fd, ERRNO_SUCCESS) },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_filestat_get",
        |mut caller: Caller<'_, RunState>, fd: i32, buf: i32| -> i32 {
            if !is_std_fd(fd) {
                return crate::fs::filestat_get(&mut caller, fd, buf);
            }
            let mut stat = [0u8; 64];
            stat[16] = std_filetype(caller.data());
            errno(write_bytes(&mut caller, buf, &stat))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_seek",
        |mut caller: Caller<'_, RunState>, fd: i32, offset: i64, whence: i32, new: i32| -> i32 {
            if is_std_fd(fd) {
                return ERRNO_SPIPE;
            }
            crate::fs::seek(&mut caller, fd, offset, whence, new)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_tell",
        |mut caller: Caller<'_, RunState>, fd: i32, offset: i32| -> i32 {
            if is_std_fd(fd) {
                return ERRNO_SPIPE;
            }
            crate::fs::seek(&mut caller, fd, 0, 1, offset)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_sync",
        |_: Caller<'_, RunState>, fd: i32| -> i32 { on_std_fd(fd, ERRNO_SUCCESS) },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_datasync",
        |_: Caller<'_, RunState>, fd: i32| -> i32 { on_std_fd(fd, ERRNO_SUCCESS) },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_read",
        |mut caller: Caller<'_, RunState>,
         fd: i32,
         iovs: i32,
         count: i32,
         nread: i32|
         -> HostResult<i32> {
            if fd != 0 {
                if is_std_fd(fd) {
                    return Ok(ERRNO_BADF);
                }
                return crate::fs::read(&mut caller, fd, iovs, count, None, nread);
            }
            let Some(memory) = memory(&mut caller) else {
                return Ok(ERRNO_FAULT);
            };
            let (data, state) = memory.data_and_store_mut(&mut caller);
            let vecs = match iovecs(data, iovs, count) {
                Ok(v) => v,
                Err(e) => return Ok(e),
            };
            if let Some(stream) = state.stream.as_mut() {
                // Streaming: one line at a time, once it has arrived (see `stream.rs`).
                let capacity = vecs.iter().map(|&(_, len)| len as usize).sum::<usize>();
                if capacity > 0 {
                    stream.fill_line(capacity).map_err(wasmtime::Error::new)?;
                }
                let mut left = stream.line(capacity);
                let mut total = 0usize;
                for (ptr, len) in vecs {
                    let n = left.min(len as usize);
                    let Some(r) = range(data.len(), ptr, n as u64) else {
                        return Ok(ERRNO_FAULT);
                    };
                    data[r].copy_from_slice(&stream.ready()[..n]);
                    stream.consume(n);
                    total += n;
                    left -= n;
                    if left == 0 {
                        break;
                    }
                }
                charge_bytes(&mut caller, total as u64)?;
                return Ok(errno(write_u32(&mut caller, nread, total as u32)));
            }
            let mut total = 0usize;
            for (ptr, len) in vecs {
                let remaining = &state.stdin[state.stdin_position..];
                let n = remaining.len().min(len as usize);
                let Some(r) = range(data.len(), ptr, n as u64) else {
                    return Ok(ERRNO_FAULT);
                };
                data[r].copy_from_slice(&remaining[..n]);
                state.stdin_position += n;
                total += n;
                if n < len as usize {
                    break;
                }
            }
            charge_bytes(&mut caller, total as u64)?;
            Ok(errno(write_u32(&mut caller, nread, total as u32)))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_write",
        |mut caller: Caller<'_, RunState>,
         fd: i32,
         iovs: i32,
         count: i32,
         nwritten: i32|
         -> HostResult<i32> {
            if fd != 1 && fd != 2 {
                return Ok(ERRNO_BADF);
            }
            let Some(memory) = memory(&mut caller) else {
                return Ok(ERRNO_FAULT);
            };
            let (data, state) = memory.data_and_store_mut(&mut caller);
            let vecs = match iovecs(data, iovs, count) {
                Ok(v) => v,
                Err(e) => return Ok(e),
            };
            if fd == 1
                && let Some(stream) = state.stream.as_mut()
            {
                // Streaming: the whole call goes out in one write, flushed, before it returns.
                let mut out = Vec::new();
                let mut over_cap = false;
                for (ptr, len) in vecs {
                    let Some(r) = range(data.len(), ptr, len as u64) else {
                        return Ok(ERRNO_FAULT);
                    };
                    let bytes = &data[r];
                    let room = state.stdout_cap.saturating_sub(stream.streamed + out.len());
                    if bytes.len() > room {
                        out.extend_from_slice(&bytes[..room]);
                        over_cap = true;
                        break;
                    }
                    out.extend_from_slice(bytes);
                }
                let total = out.len();
                if total > 0 {
                    stream.write(out)?;
                    stream.streamed += total;
                }
                if over_cap {
                    return Err(wasmtime::Error::new(OutputLimitHit));
                }
                charge_bytes(&mut caller, total as u64)?;
                return Ok(errno(write_u32(&mut caller, nwritten, total as u32)));
            }
            let mut total = 0usize;
            for (ptr, len) in vecs {
                let Some(r) = range(data.len(), ptr, len as u64) else {
                    return Ok(ERRNO_FAULT);
                };
                let bytes = &data[r];
                if fd == 1 {
                    if state.stdout.len() + bytes.len() > state.stdout_cap {
                        let room = state.stdout_cap - state.stdout.len();
                        state.stdout.extend_from_slice(&bytes[..room]);
                        return Err(wasmtime::Error::new(OutputLimitHit));
                    }
                    state.stdout.extend_from_slice(bytes);
                } else {
                    let room = state.stderr_cap.saturating_sub(state.stderr.len());
                    let kept = room.min(bytes.len());
                    state.stderr.extend_from_slice(&bytes[..kept]);
                    state.stderr_dropped += (bytes.len() - kept) as u64;
                }
                total += bytes.len();
            }
            charge_bytes(&mut caller, total as u64)?;
            Ok(errno(write_u32(&mut caller, nwritten, total as u32)))
        },
    )?;
    Ok(())
}

/// Answers every preview-1 import of `module` that hone does not implement (nor
/// `also_defined` names) with `ENOSYS`,
/// so that programs linking, say, `path_open` still instantiate and get a clean error if
/// they call it.
pub(crate) fn define_missing_as_nosys(
    linker: &mut Linker<RunState>,
    module: &Module,
    also_defined: &[&str],
) -> wasmtime::Result<()> {
    for import in module.imports() {
        if import.module() != MODULE {
            continue;
        }
        let Some(func_type) = import.ty().func().cloned() else {
            continue;
        };
        if IMPLEMENTED.contains(&import.name()) || also_defined.contains(&import.name()) {
            continue;
        }
        let returns_errno = func_type.results().len() == 1
            && matches!(func_type.results().next(), Some(ValType::I32));
        linker.func_new(MODULE, import.name(), func_type, move |_, _, results| {
            if returns_errno {
                results[0] = Val::I32(ERRNO_NOSYS);
            }
            Ok(())
        })?;
    }
    Ok(())
}
