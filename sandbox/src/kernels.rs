//! Native host kernels offered to guests as imports from module `hone`, and the helpers
//! kernels use to read guest memory and charge fuel for their work. Public: the fuel of a
//! call ([`CALL_FUEL`]) and the guest-side API ([`numeric::C_HEADER`],
//! [`numeric::RUST_MODULE`]); the kernels themselves are reached only through the linker.
//!
//! Fuel rule: every kernel charges [`CALL_FUEL`] plus one unit per floating-point
//! operation it performs (documented per kernel). A wasm loop doing the same work costs
//! several units per operation, so calling a kernel is cheaper, and never free.

pub mod numeric;

use wasmtime::{Caller, Linker, Trap};

use crate::run::RunState;

/// The import module name of host kernels.
pub(crate) const MODULE: &str = "hone";

/// Fixed fuel charged for every kernel call.
pub const CALL_FUEL: u64 = 10;

/// A kernel was called with arguments that do not fit the guest (a pointer or length out
/// of its memory, a negative size). Ends the run as a runtime error.
#[derive(Debug)]
pub(crate) struct KernelFault {
    pub(crate) kernel: &'static str,
    pub(crate) message: String,
}

impl std::fmt::Display for KernelFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "hone.{}: {}", self.kernel, self.message)
    }
}
impl std::error::Error for KernelFault {}

/// Charges `fuel` to the running guest; traps with out-of-fuel when it has less. Call it
/// before doing the work. (A no-op when the sandbox does not meter fuel: benchmarks only.)
pub(crate) fn charge(caller: &mut Caller<'_, RunState>, fuel: u64) -> wasmtime::Result<()> {
    if !caller.data().meter_fuel {
        return Ok(());
    }
    let left = caller.get_fuel()?;
    if left < fuel {
        caller.set_fuel(0)?;
        return Err(wasmtime::Error::new(Trap::OutOfFuel));
    }
    caller.set_fuel(left - fuel)?;
    Ok(())
}

fn fault(kernel: &'static str, message: impl Into<String>) -> wasmtime::Error {
    wasmtime::Error::new(KernelFault {
        kernel,
        message: message.into(),
    })
}

/// The guest's linear memory as bytes.
pub(crate) fn guest_memory<'a>(
    caller: &'a mut Caller<'_, RunState>,
    kernel: &'static str,
) -> wasmtime::Result<&'a mut [u8]> {
    let memory =
        crate::wasi::memory(caller).ok_or_else(|| fault(kernel, "the module exports no memory"))?;
    Ok(memory.data_mut(caller))
}

/// The byte range of `count` elements of `size` bytes at `ptr`, checked against the memory.
pub(crate) fn checked_range(
    memory_len: usize,
    kernel: &'static str,
    what: &str,
    ptr: i32,
    count: i32,
    size: usize,
) -> wasmtime::Result<std::ops::Range<usize>> {
    if count < 0 {
        return Err(fault(kernel, format!("{what}: negative length {count}")));
    }
    let start = ptr as u32 as usize;
    let end = (count as usize)
        .checked_mul(size)
        .and_then(|bytes| start.checked_add(bytes))
        .filter(|&end| end <= memory_len)
        .ok_or_else(|| {
            fault(kernel, format!("{what}: {count} elements at address {start:#x} lie outside guest memory ({memory_len} bytes)"))
        })?;
    Ok(start..end)
}

/// Reads `count` little-endian f64 values at `ptr`.
pub(crate) fn read_f64s(
    memory: &[u8],
    kernel: &'static str,
    what: &str,
    ptr: i32,
    count: i32,
) -> wasmtime::Result<Vec<f64>> {
    let r = checked_range(memory.len(), kernel, what, ptr, count, 8)?;
    Ok(memory[r]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect())
}

/// Writes f64 values at `ptr`.
pub(crate) fn write_f64s(
    memory: &mut [u8],
    kernel: &'static str,
    what: &str,
    ptr: i32,
    values: &[f64],
) -> wasmtime::Result<()> {
    let count = i32::try_from(values.len()).map_err(|_| fault(kernel, "too many values"))?;
    let r = checked_range(memory.len(), kernel, what, ptr, count, 8)?;
    for (chunk, v) in memory[r].chunks_exact_mut(8).zip(values) {
        chunk.copy_from_slice(&v.to_le_bytes());
    }
    Ok(())
}

/// Registers every kernel with the linker.
pub(crate) fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    // f64 hone.dot(const double *x, const double *y, int n): sum of x[i]*y[i].
    // Fuel: CALL_FUEL + 2n.
    linker.func_wrap(
        MODULE,
        "dot",
        |mut caller: Caller<'_, RunState>, x: i32, y: i32, n: i32| -> wasmtime::Result<f64> {
            charge(&mut caller, CALL_FUEL + 2 * n.max(0) as u64)?;
            let memory = guest_memory(&mut caller, "dot")?;
            let xr = checked_range(memory.len(), "dot", "x", x, n, 8)?;
            let yr = checked_range(memory.len(), "dot", "y", y, n, 8)?;
            let sum = memory[xr]
                .chunks_exact(8)
                .zip(memory[yr].chunks_exact(8))
                .map(|(a, b)| {
                    f64::from_le_bytes(a.try_into().unwrap_or([0; 8]))
                        * f64::from_le_bytes(b.try_into().unwrap_or([0; 8]))
                })
                .sum();
            Ok(sum)
        },
    )?;
    numeric::add_to_linker(linker)?;
    Ok(())
}
