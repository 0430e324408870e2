//! The per-process sandbox handle: engine, linker, caches and the epoch ticker.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module, OptLevel, PoolingAllocationConfig};

use crate::cache::{DiskCache, hash_parts};
use crate::compile::{CompileResult, CompilerConfig, Language, Toolchain, flags};
use crate::error::SandboxError;
use crate::limits::Limits;
use crate::outcome::Outcome;
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
    /// Wasm call-stack limit (host stack used by compiled wasm frames).
    pub max_wasm_stack_bytes: usize,
    /// Instances that may exist at once (the pooling allocator's slots).
    pub max_concurrent_runs: u32,
}

impl Default for SandboxConfig {
    fn default() -> SandboxConfig {
        SandboxConfig {
            cache_dir: None,
            compilers: CompilerConfig::default(),
            max_memory_bytes: 4 << 30,
            max_wasm_stack_bytes: 1 << 20,
            max_concurrent_runs: 64,
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
    wasm_hash: String,
    wasm_len: usize,
}

impl Program {
    pub(crate) fn instance_pre(&self) -> &InstancePre<RunState> {
        &self.inner.pre
    }

    /// SHA-256 of the module's bytes.
    pub fn wasm_hash(&self) -> &str {
        &self.inner.wasm_hash
    }

    pub fn wasm_len(&self) -> usize {
        self.inner.wasm_len
    }
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program").field("wasm_hash", &self.inner.wasm_hash).finish()
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
    /// wasm hash -> program, for repeated loads within the process.
    programs: Mutex<HashMap<String, Program>>,
    stop_ticker: Arc<AtomicBool>,
}

impl Drop for SandboxInner {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

const PROGRAM_MEMO_CAPACITY: usize = 512;

impl Sandbox {
    pub fn new(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let engine_error = |e: wasmtime::Error| SandboxError::Engine { message: format!("{e:#}") };
        let mut wasm_config = Config::new();
        wasm_config.consume_fuel(true);
        wasm_config.epoch_interruption(true);
        wasm_config.max_wasm_stack(config.max_wasm_stack_bytes);
        wasm_config.cranelift_opt_level(OptLevel::Speed);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(config.max_concurrent_runs);
        pool.total_memories(config.max_concurrent_runs);
        pool.total_tables(config.max_concurrent_runs);
        pool.max_memories_per_module(1);
        pool.max_tables_per_module(1);
        pool.max_memory_size(usize::try_from(config.max_memory_bytes).unwrap_or(usize::MAX));
        pool.table_elements(100_000);
        pool.max_core_instance_size(1 << 20);
        wasm_config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm_config).map_err(engine_error)?;

        let mut linker = Linker::new(&engine);
        crate::wasi::add_to_linker(&mut linker).map_err(engine_error)?;
        crate::kernels::add_to_linker(&mut linker).map_err(engine_error)?;

        let compat = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            engine.precompile_compatibility_hash().hash(&mut hasher);
            format!("{:016x}", hasher.finish())
        };
        let wasm_cache = config.cache_dir.as_ref().map(|d| DiskCache::new(d.join("wasm")));
        let artifact_cache = config.cache_dir.as_ref().map(|d| DiskCache::new(d.join("artifacts").join(compat)));

        let stop_ticker = Arc::new(AtomicBool::new(false));
        {
            let engine = engine.clone();
            let stop = stop_ticker.clone();
            std::thread::Builder::new()
                .name("hone-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| SandboxError::Engine { message: format!("could not start the epoch ticker: {e}") })?;
        }
        Ok(Sandbox {
            inner: Arc::new(SandboxInner {
                engine,
                linker,
                toolchain: Toolchain::discover(&config.compilers),
                wasm_cache,
                artifact_cache,
                programs: Mutex::new(HashMap::new()),
                stop_ticker,
            }),
        })
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Compiles a source in `language` (cached by language, source hash, flags and
    /// compiler version) and links it.
    pub fn compile(&self, language: Language, source: &str) -> Result<Compilation, SandboxError> {
        if language == Language::Wat {
            return match wat::parse_str(source) {
                Ok(wasm) => self.load_wasm(&wasm),
                Err(e) => Ok(Compilation::Rejected(format!("main.wat: {e}"))),
            };
        }
        let toolchain = &self.inner.toolchain;
        let key = hash_parts(&[
            language.name().as_bytes(),
            source.as_bytes(),
            flags(language).join(" ").as_bytes(),
            toolchain.version(language).as_bytes(),
        ]);
        if let Some(wasm) = self.inner.wasm_cache.as_ref().and_then(|c| c.read(&key, "wasm")) {
            tracing::debug!(%language, key = &key[..12], "compile cache hit");
            return self.load_wasm(&wasm);
        }
        match toolchain.compile(language, source)? {
            CompileResult::Wasm(wasm) => {
                if let Some(cache) = &self.inner.wasm_cache {
                    cache.write(&key, "wasm", &wasm)?;
                }
                self.load_wasm(&wasm)
            }
            CompileResult::Rejected(diagnostics) => Ok(Compilation::Rejected(diagnostics)),
        }
    }

    /// Loads a wasm module (binary, or text starting with `(`), validating and linking it.
    /// The machine-code artifact is cached on disk by module hash and engine compatibility.
    pub fn load_wasm(&self, bytes: &[u8]) -> Result<Compilation, SandboxError> {
        let wasm_hash = hash_parts(&[bytes]);
        if let Ok(memo) = self.inner.programs.lock()
            && let Some(program) = memo.get(&wasm_hash)
        {
            return Ok(Compilation::Ready(program.clone()));
        }
        let engine = &self.inner.engine;
        let mut module = None;
        if let Some(cache) = &self.inner.artifact_cache {
            let path = cache.path(&wasm_hash, "cwasm");
            if crate::cache::exists(&path) {
                // SAFETY: the artifact was written by `Engine::precompile_module` of an engine
                // with the same compatibility hash (part of the directory name), into a cache
                // directory only hone writes, atomically.
                module = unsafe { Module::deserialize_file(engine, &path) }.ok();
            }
        }
        let module = match module {
            Some(m) => m,
            None => {
                let module = match Module::new(engine, bytes) {
                    Ok(m) => m,
                    Err(e) => return Ok(Compilation::Rejected(format!("invalid wasm module: {e:#}"))),
                };
                if let Some(cache) = &self.inner.artifact_cache
                    && let Ok(artifact) = module.serialize()
                {
                    cache.write(&wasm_hash, "cwasm", &artifact)?;
                }
                module
            }
        };
        if module.get_export("_start").and_then(|e| e.func().cloned()).is_none() {
            return Ok(Compilation::Rejected(
                "the module exports no `_start` function: candidates must be WASI command modules".into(),
            ));
        }
        for import in module.imports() {
            let known = import.module() == crate::wasi::MODULE || import.module() == crate::kernels::MODULE;
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
        let mut linker = self.inner.linker.clone();
        if let Err(e) = crate::wasi::define_missing_as_nosys(&mut linker, &module) {
            return Ok(Compilation::Rejected(format!("could not link the module: {e:#}")));
        }
        let pre = match linker.instantiate_pre(&module) {
            Ok(pre) => pre,
            Err(e) => return Ok(Compilation::Rejected(format!("could not link the module: {e:#}"))),
        };
        let program = Program { inner: Arc::new(ProgramInner { pre, wasm_hash: wasm_hash.clone(), wasm_len: bytes.len() }) };
        if let Ok(mut memo) = self.inner.programs.lock() {
            if memo.len() >= PROGRAM_MEMO_CAPACITY {
                memo.clear();
            }
            memo.insert(wasm_hash, program.clone());
        }
        Ok(Compilation::Ready(program))
    }

    /// Runs a program once with `stdin` under `limits`. The candidate's failures are in
    /// the [`Outcome`]; an `Err` means the sandbox itself failed.
    pub fn run(&self, program: &Program, stdin: &[u8], limits: &Limits) -> Result<Outcome, SandboxError> {
        crate::run::run(self, program, stdin, limits)
    }

    /// Versions of the toolchains this sandbox found, for `hone doctor` and cache keys.
    pub fn toolchain_report(&self) -> ToolchainReport {
        let t = &self.inner.toolchain;
        ToolchainReport {
            rustc: (!t.rust_version.is_empty()).then(|| t.rust_version.clone()),
            rust_wasm_target: t.has_rust_wasm_target(),
            clang: (!t.clang_version.is_empty()).then(|| t.clang_version.clone()),
        }
    }
}

/// What the sandbox found of its toolchains.
#[derive(Clone, Debug)]
pub struct ToolchainReport {
    pub rustc: Option<String>,
    pub rust_wasm_target: bool,
    pub clang: Option<String>,
}
