//! hone's own WASI preview-1 surface: stdin/stdout/stderr, args, virtual clocks, seeded
//! random, `proc_exit`, and nothing else (no files, no environment, no sockets).
//!
//! It replaces `wasmtime-wasi` deliberately (see ARCHITECTURE.md): the clocks must advance
//! with fuel, a full stdout must end the run, and a guest must see no filesystem at all.
//! Any other preview-1 import a module has is answered with `ENOSYS` (see
//! [`define_missing_as_nosys`]).

use rand::RngCore;
use wasmtime::{Caller, Extern, Linker, Memory, Module, Val, ValType};

use crate::run::{GuestExit, OutputLimitHit, RunState};

pub(crate) const MODULE: &str = "wasi_snapshot_preview1";

const ERRNO_SUCCESS: i32 = 0;
const ERRNO_BADF: i32 = 8;
const ERRNO_FAULT: i32 = 21;
const ERRNO_INVAL: i32 = 28;
const ERRNO_NOSYS: i32 = 52;
const ERRNO_SPIPE: i32 = 70;

const FILETYPE_CHARACTER_DEVICE: u8 = 2;

/// The only argument a candidate sees.
const ARGV0: &[u8] = b"candidate\0";

/// Virtual wall clock at fuel 0: 2024-01-01T00:00:00Z.
const REALTIME_EPOCH_NS: u64 = 1_704_067_200_000_000_000;

/// Nanoseconds the virtual clocks advance per unit of fuel consumed.
pub const NANOS_PER_FUEL: u64 = 1;

type HostResult<T> = wasmtime::Result<T>;

pub(crate) fn memory(caller: &mut Caller<'_, RunState>) -> Option<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Some(memory),
        _ => None,
    }
}

/// Bounds-checked view of `len` bytes at `ptr` in the guest memory, as a range.
fn range(data_len: usize, ptr: i32, len: u64) -> Option<std::ops::Range<usize>> {
    let start = ptr as u32 as usize;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    (end <= data_len).then_some(start..end)
}

fn write_bytes(caller: &mut Caller<'_, RunState>, ptr: i32, bytes: &[u8]) -> Result<(), i32> {
    let memory = memory(caller).ok_or(ERRNO_FAULT)?;
    let data = memory.data_mut(caller);
    let r = range(data.len(), ptr, bytes.len() as u64).ok_or(ERRNO_FAULT)?;
    data[r].copy_from_slice(bytes);
    Ok(())
}

fn write_u32(caller: &mut Caller<'_, RunState>, ptr: i32, value: u32) -> Result<(), i32> {
    write_bytes(caller, ptr, &value.to_le_bytes())
}

fn write_u64(caller: &mut Caller<'_, RunState>, ptr: i32, value: u64) -> Result<(), i32> {
    write_bytes(caller, ptr, &value.to_le_bytes())
}

fn errno(result: Result<(), i32>) -> i32 {
    match result {
        Ok(()) => ERRNO_SUCCESS,
        Err(e) => e,
    }
}

/// Reads the (ptr, len) pairs of an iovec array.
fn iovecs(data: &[u8], iovs: i32, count: i32) -> Result<Vec<(i32, u32)>, i32> {
    let count = usize::try_from(count).map_err(|_| ERRNO_INVAL)?;
    if count > 1024 {
        return Err(ERRNO_INVAL);
    }
    let r = range(data.len(), iovs, count as u64 * 8).ok_or(ERRNO_FAULT)?;
    let raw = &data[r];
    Ok((0..count)
        .map(|i| {
            let p = u32::from_le_bytes([raw[i * 8], raw[i * 8 + 1], raw[i * 8 + 2], raw[i * 8 + 3]]);
            let l = u32::from_le_bytes([raw[i * 8 + 4], raw[i * 8 + 5], raw[i * 8 + 6], raw[i * 8 + 7]]);
            (p as i32, l)
        })
        .collect())
}

/// The virtual time: it advances with fuel consumed (and by one tick per read, so two reads
/// never return the same instant).
fn virtual_nanos(caller: &mut Caller<'_, RunState>) -> u64 {
    let fuel_left = caller.get_fuel().unwrap_or(0);
    let state = caller.data_mut();
    state.clock_reads += 1;
    state.fuel_given.saturating_sub(fuel_left).saturating_mul(NANOS_PER_FUEL) + state.clock_reads
}

fn is_std_fd(fd: i32) -> bool {
    (0..=2).contains(&fd)
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
    linker.func_wrap(MODULE, "args_sizes_get", |mut caller: Caller<'_, RunState>, argc: i32, size: i32| -> i32 {
        errno(write_u32(&mut caller, argc, 1).and_then(|_| write_u32(&mut caller, size, ARGV0.len() as u32)))
    })?;
    linker.func_wrap(MODULE, "args_get", |mut caller: Caller<'_, RunState>, argv: i32, buf: i32| -> i32 {
        errno(write_u32(&mut caller, argv, buf as u32).and_then(|_| write_bytes(&mut caller, buf, ARGV0)))
    })?;
    linker.func_wrap(MODULE, "environ_sizes_get", |mut caller: Caller<'_, RunState>, count: i32, size: i32| -> i32 {
        errno(write_u32(&mut caller, count, 0).and_then(|_| write_u32(&mut caller, size, 0)))
    })?;
    linker.func_wrap(MODULE, "environ_get", |_: Caller<'_, RunState>, _environ: i32, _buf: i32| -> i32 {
        ERRNO_SUCCESS
    })?;
    linker.func_wrap(MODULE, "clock_res_get", |mut caller: Caller<'_, RunState>, id: i32, res: i32| -> i32 {
        if !(0..=3).contains(&id) {
            return ERRNO_INVAL;
        }
        errno(write_u64(&mut caller, res, NANOS_PER_FUEL))
    })?;
    linker.func_wrap(
        MODULE,
        "clock_time_get",
        |mut caller: Caller<'_, RunState>, id: i32, _precision: i64, time: i32| -> i32 {
            let base = match id {
                0 => REALTIME_EPOCH_NS,
                1..=3 => 0,
                _ => return ERRNO_INVAL,
            };
            let now = base + virtual_nanos(&mut caller);
            errno(write_u64(&mut caller, time, now))
        },
    )?;
    linker.func_wrap(MODULE, "random_get", |mut caller: Caller<'_, RunState>, buf: i32, len: i32| -> i32 {
        let Ok(len) = usize::try_from(len as u32) else { return ERRNO_INVAL };
        let mut bytes = vec![0u8; len.min(1 << 20)];
        if bytes.len() < len {
            return ERRNO_INVAL;
        }
        caller.data_mut().rng.fill_bytes(&mut bytes);
        errno(write_bytes(&mut caller, buf, &bytes))
    })?;
    linker.func_wrap(MODULE, "proc_exit", |_: Caller<'_, RunState>, code: i32| -> HostResult<()> {
        Err(wasmtime::Error::new(GuestExit(code)))
    })?;
    linker.func_wrap(MODULE, "sched_yield", |_: Caller<'_, RunState>| -> i32 { ERRNO_SUCCESS })?;
    linker.func_wrap(MODULE, "fd_close", |_: Caller<'_, RunState>, fd: i32| -> i32 {
        if is_std_fd(fd) { ERRNO_SUCCESS } else { ERRNO_BADF }
    })?;
    linker.func_wrap(MODULE, "fd_prestat_get", |_: Caller<'_, RunState>, _fd: i32, _buf: i32| -> i32 {
        // No preopened directories: libc stops asking at the first EBADF.
        ERRNO_BADF
    })?;
    linker.func_wrap(MODULE, "fd_prestat_dir_name", |_: Caller<'_, RunState>, _fd: i32, _p: i32, _l: i32| -> i32 {
        ERRNO_BADF
    })?;
    linker.func_wrap(MODULE, "fd_fdstat_get", |mut caller: Caller<'_, RunState>, fd: i32, buf: i32| -> i32 {
        if !is_std_fd(fd) {
            return ERRNO_BADF;
        }
        let mut stat = [0u8; 24];
        stat[0] = FILETYPE_CHARACTER_DEVICE;
        let rights: u64 = if fd == 0 { 1 << 1 } else { 1 << 6 }; // fd_read / fd_write
        stat[8..16].copy_from_slice(&rights.to_le_bytes());
        errno(write_bytes(&mut caller, buf, &stat))
    })?;
    linker.func_wrap(MODULE, "fd_fdstat_set_flags", |_: Caller<'_, RunState>, fd: i32, _flags: i32| -> i32 {
        if is_std_fd(fd) { ERRNO_SUCCESS } else { ERRNO_BADF }
    })?;
    linker.func_wrap(MODULE, "fd_filestat_get", |mut caller: Caller<'_, RunState>, fd: i32, buf: i32| -> i32 {
        if !is_std_fd(fd) {
            return ERRNO_BADF;
        }
        let mut stat = [0u8; 64];
        stat[16] = FILETYPE_CHARACTER_DEVICE;
        errno(write_bytes(&mut caller, buf, &stat))
    })?;
    linker.func_wrap(
        MODULE,
        "fd_seek",
        |_: Caller<'_, RunState>, fd: i32, _offset: i64, _whence: i32, _new: i32| -> i32 {
            if is_std_fd(fd) { ERRNO_SPIPE } else { ERRNO_BADF }
        },
    )?;
    linker.func_wrap(MODULE, "fd_tell", |_: Caller<'_, RunState>, fd: i32, _offset: i32| -> i32 {
        if is_std_fd(fd) { ERRNO_SPIPE } else { ERRNO_BADF }
    })?;
    linker.func_wrap(MODULE, "fd_sync", |_: Caller<'_, RunState>, fd: i32| -> i32 {
        if is_std_fd(fd) { ERRNO_SUCCESS } else { ERRNO_BADF }
    })?;
    linker.func_wrap(MODULE, "fd_datasync", |_: Caller<'_, RunState>, fd: i32| -> i32 {
        if is_std_fd(fd) { ERRNO_SUCCESS } else { ERRNO_BADF }
    })?;
    linker.func_wrap(
        MODULE,
        "fd_read",
        |mut caller: Caller<'_, RunState>, fd: i32, iovs: i32, count: i32, nread: i32| -> i32 {
            if fd != 0 {
                return ERRNO_BADF;
            }
            let Some(memory) = memory(&mut caller) else { return ERRNO_FAULT };
            let (data, state) = memory.data_and_store_mut(&mut caller);
            let vecs = match iovecs(data, iovs, count) {
                Ok(v) => v,
                Err(e) => return e,
            };
            let mut total = 0usize;
            for (ptr, len) in vecs {
                let remaining = &state.stdin[state.stdin_position..];
                let n = remaining.len().min(len as usize);
                let Some(r) = range(data.len(), ptr, n as u64) else { return ERRNO_FAULT };
                data[r].copy_from_slice(&remaining[..n]);
                state.stdin_position += n;
                total += n;
                if n < len as usize {
                    break;
                }
            }
            errno(write_u32(&mut caller, nread, total as u32))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_write",
        |mut caller: Caller<'_, RunState>, fd: i32, iovs: i32, count: i32, nwritten: i32| -> HostResult<i32> {
            if fd != 1 && fd != 2 {
                return Ok(ERRNO_BADF);
            }
            let Some(memory) = memory(&mut caller) else { return Ok(ERRNO_FAULT) };
            let (data, state) = memory.data_and_store_mut(&mut caller);
            let vecs = match iovecs(data, iovs, count) {
                Ok(v) => v,
                Err(e) => return Ok(e),
            };
            let mut total = 0usize;
            for (ptr, len) in vecs {
                let Some(r) = range(data.len(), ptr, len as u64) else { return Ok(ERRNO_FAULT) };
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
            Ok(errno(write_u32(&mut caller, nwritten, total as u32)))
        },
    )?;
    Ok(())
}

/// Answers every preview-1 import of `module` that hone does not implement with `ENOSYS`,
/// so that programs linking, say, `path_open` still instantiate and get a clean error if
/// they call it.
pub(crate) fn define_missing_as_nosys(linker: &mut Linker<RunState>, module: &Module) -> wasmtime::Result<()> {
    for import in module.imports() {
        if import.module() != MODULE {
            continue;
        }
        let Some(func_type) = import.ty().func().cloned() else { continue };
        if IMPLEMENTED.contains(&import.name()) {
            continue;
        }
        let returns_errno = func_type.results().len() == 1 && matches!(func_type.results().next(), Some(ValType::I32));
        linker.func_new(MODULE, import.name(), func_type, move |_, _, results| {
            if returns_errno {
                results[0] = Val::I32(ERRNO_NOSYS);
            }
            Ok(())
        })?;
    }
    Ok(())
}
