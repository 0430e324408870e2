//! Compilers for candidate sources (rust, c, c++ -> wasm32-wasip1), run natively but
//! confined: bubblewrap with only the toolchain mounted read-only and a scratch directory, a
//! time limit and an address-space limit.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::cache::hash_parts;
use crate::error::SandboxError;
use crate::warmcc::{WarmCompiler, WarmRun};

/// A language a candidate may be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Rust,
    C,
    /// C++ (clang with libc++, `-std=gnu++20 -fno-exceptions`).
    Cpp,
    Wat,
    /// Run by CPython compiled to wasm (not compiled to wasm itself): see `python.rs`.
    Python,
}

impl Language {
    pub const ALL: [Language; 5] = [
        Language::Rust,
        Language::C,
        Language::Cpp,
        Language::Wat,
        Language::Python,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::C => "c",
            Language::Cpp => "cpp",
            Language::Wat => "wat",
            Language::Python => "python",
        }
    }

    /// The conventional file extension of a source in this language (without the dot).
    pub fn extension(self) -> &'static str {
        self.extensions()[0]
    }

    /// The conventional file name of a candidate in this language.
    pub fn file_name(self) -> &'static str {
        match self {
            Language::Rust => "main.rs",
            Language::C => "main.c",
            Language::Cpp => "main.cpp",
            Language::Wat => "main.wat",
            Language::Python => "main.py",
        }
    }

    /// The file extensions of sources in this language, the conventional one first.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Language::Rust => &["rs"],
            Language::C => &["c"],
            Language::Cpp => &["cpp", "cc", "cxx"],
            Language::Wat => &["wat"],
            Language::Python => &["py"],
        }
    }

    /// The language of a file extension (without the dot).
    pub fn from_extension(extension: &str) -> Option<Language> {
        Language::ALL
            .into_iter()
            .find(|l| l.extensions().contains(&extension))
    }

    /// The language of a file, by extension.
    pub fn from_path(path: &Path) -> Option<Language> {
        Language::from_extension(path.extension()?.to_str()?)
    }

    /// Every source extension hone compiles, in [`Language::ALL`] order.
    pub fn all_extensions() -> Vec<&'static str> {
        Language::ALL
            .into_iter()
            .flat_map(|l| l.extensions().iter().copied())
            .collect()
    }

    /// The accepted extensions for messages: `.rs, .c, .cpp, .wat`.
    pub fn extension_list() -> String {
        Language::ALL
            .into_iter()
            .map(|l| format!(".{}", l.extensions()[0]))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The accepted language names for messages: `rust, c, cpp, wat`.
    pub fn name_list() -> String {
        Language::ALL
            .into_iter()
            .map(Language::name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A language by its name; `c++` is accepted for `cpp`.
    pub fn parse(name: &str) -> Option<Language> {
        match name {
            "c++" => Some(Language::Cpp),
            _ => Language::ALL.into_iter().find(|l| l.name() == name),
        }
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How compilers are found and confined.
#[derive(Clone, Debug)]
pub struct CompilerConfig {
    /// The rustc binary (the real one inside a toolchain, or a rustup proxy).
    pub rustc: PathBuf,
    /// The clang binary.
    pub clang: PathBuf,
    /// The sysroot holding wasi-libc (`include/wasm32-wasi`, `lib/wasm32-wasi`).
    pub wasi_sysroot: PathBuf,
    /// Run compilers inside bubblewrap. Turning this off lets a hostile source read host files.
    pub confine: bool,
    /// The bubblewrap binary.
    pub bwrap: PathBuf,
    /// Wall-clock limit of one compile.
    pub timeout: Duration,
    /// Address-space limit of the compiler process, in bytes.
    pub memory_bytes: u64,
    /// Where per-compile scratch directories are made (each removed after its compile).
    /// `None`: the system temporary directory.
    pub scratch_dir: Option<PathBuf>,
    /// Compile C and C++ candidates with the warm compiler (compile servers with clang and
    /// lld loaded, one fork per compile; the same module as the `clang` binary's, about
    /// half the time) when it is built and compilers are confined; otherwise, or when
    /// `false`, with the `clang` binary.
    pub warm_compiler: bool,
}

impl Default for CompilerConfig {
    fn default() -> CompilerConfig {
        CompilerConfig {
            rustc: PathBuf::from("rustc"),
            clang: PathBuf::from("clang"),
            wasi_sysroot: PathBuf::from("/usr"),
            confine: true,
            bwrap: PathBuf::from("bwrap"),
            timeout: Duration::from_secs(60),
            memory_bytes: 4 << 30,
            scratch_dir: None,
            warm_compiler: true,
        }
    }
}

/// Environment variable naming the host scratch directory of the compile a process belongs to.
pub const SCRATCH_ENV: &str = "HONE_COMPILE_SCRATCH";

/// Flags that change the produced wasm; part of the cache key.
pub(crate) fn flags(language: Language) -> &'static [&'static str] {
    match language {
        Language::Rust => &[
            "--edition=2021",
            "-O",
            "--target=wasm32-wasip1",
            "-Cdebuginfo=0",
            "-Cstrip=debuginfo",
            "--crate-type=bin",
            "--crate-name=candidate",
            "--color=never",
        ],
        // `clock()` needs wasi-libc's emulated process clocks; they read the (virtual)
        // monotonic clock like every other clock of a run.
        Language::C => &[
            "--target=wasm32-wasi",
            "-O2",
            "-fno-color-diagnostics",
            "-D_WASI_EMULATED_PROCESS_CLOCKS",
            "-Wl,-z,stack-size=1048576",
            "-Wl,--stack-first",
        ],
        // wasm32-wasi's libc++ and libc++abi are built without exceptions (no `__cxa_throw`)
        // and single-threaded; `hone-include` holds hone's own `bits/stdc++.h`.
        Language::Cpp => &[
            "--driver-mode=g++",
            "--target=wasm32-wasi",
            "-std=gnu++20",
            "-O2",
            "-fno-exceptions",
            "-fno-color-diagnostics",
            "-D_WASI_EMULATED_PROCESS_CLOCKS",
            "-isystem",
            SUPPORT_INCLUDE_DIR,
            "-Wl,-z,stack-size=1048576",
            "-Wl,--stack-first",
        ],
        Language::Wat | Language::Python => &[],
    }
}

/// The directory, relative to the compile's scratch directory, where hone's own C++ headers
/// are written before each compile.
const SUPPORT_INCLUDE_DIR: &str = "hone-include";

/// hone's `<bits/stdc++.h>` for C++ candidates.
const BITS_STDCXX: &str = include_str!("include/bits/stdc++.h");

/// Headers hone adds to a language's include path (path below the include directory,
/// contents); part of the cache key.
pub(crate) fn support_headers(language: Language) -> &'static [(&'static str, &'static str)] {
    match language {
        Language::Cpp => &[("bits/stdc++.h", BITS_STDCXX)],
        Language::Rust | Language::C | Language::Wat | Language::Python => &[],
    }
}

/// Libraries linked after the source (after it, so the linker sees what the source needs).
pub(crate) fn libraries(language: Language) -> &'static [&'static str] {
    match language {
        Language::C => &["-lm", "-lwasi-emulated-process-clocks"],
        Language::Cpp => &["-lwasi-emulated-process-clocks"],
        Language::Rust | Language::Wat | Language::Python => &[],
    }
}

/// What hone adds to a compiler's diagnostics: the reason behind an error a candidate's
/// author may not expect of this target.
fn explain(language: Language, diagnostics: &str) -> Option<&'static str> {
    match language {
        Language::Cpp if diagnostics.contains("with exceptions disabled") => Some(
            "[hone: C++ candidates are compiled with -fno-exceptions: the wasm32-wasi libc++ has no exception support, so `throw` and `try` do not compile; report errors by return values, or call std::abort()]",
        ),
        Language::Cpp | Language::C
            if diagnostics.contains("is not supported on this single threaded system") =>
        {
            Some(
                "[hone: candidates run single-threaded: <thread>, <future>, <barrier>, <latch>, <semaphore> and <shared_mutex> are not available]",
            )
        }
        _ => None,
    }
}

/// Resolved toolchain locations (found once per sandbox).
#[derive(Clone, Debug)]
pub(crate) struct Toolchain {
    config: CompilerConfig,
    /// rustc's sysroot, mounted read-only for the confined compiler.
    rust_sysroot: Option<PathBuf>,
    /// The real rustc binary inside the sysroot (rustup proxies cannot run confined).
    rust_binary: Option<PathBuf>,
    pub(crate) rust_version: String,
    pub(crate) clang_version: String,
    /// The precompiled `<bits/stdc++.h>` (only with a cache directory to keep it in).
    pch: Option<Arc<PrecompiledHeader>>,
    /// The warm compiler for C and C++ (when configured and confined).
    warm: Option<Arc<WarmCompiler>>,
}

/// The file name of the precompiled `<bits/stdc++.h>` in its cache folder.
const PCH_FILE: &str = "stdc++.pch";

/// A precompiled `<bits/stdc++.h>`, built once per machine (per clang, flags and header)
/// into `CACHE/pch/KEY/`, for C++ candidates that include it first, as contest entries do:
/// clang then reads the parsed header instead of parsing all of libc++ again, about three
/// times faster for the AHC001 seed. The header is built with the candidates' own flags, so
/// a module compiled with it is byte-identical to one compiled without it (tested): the
/// compile cache, fuel and scores do not depend on it.
#[derive(Debug)]
struct PrecompiledHeader {
    /// `CACHE/pch/KEY`: `include/bits/stdc++.h` (the header the PCH was built from; clang
    /// checks it is still there) and the PCH.
    dir: PathBuf,
    built: OnceLock<Option<PathBuf>>,
    /// clang refused it once in this process: compile without it from then on.
    refused: AtomicBool,
}

/// Whether the source's first preprocessing line is `#include <bits/stdc++.h>` (only
/// blank lines and comments before it), so that reading a precompiled copy of that header
/// first changes nothing: nothing the source defines can reach the header.
fn includes_bits_first(source: &str) -> bool {
    let mut rest = source;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("//") {
            match after.find('\n') {
                // A line comment continued by a backslash is not worth following.
                Some(end) if !after[..end].trim_end().ends_with('\\') => rest = &after[end..],
                _ => return false,
            }
        } else if let Some(after) = rest.strip_prefix("/*") {
            match after.find("*/") {
                Some(end) => rest = &after[end + 2..],
                None => return false,
            }
        } else {
            break;
        }
    }
    let Some(line) = rest.strip_prefix('#').and_then(|r| r.lines().next()) else {
        return false;
    };
    let Some(target) = line.trim_start().strip_prefix("include") else {
        return false;
    };
    // Anything after the include on its line (a comment) is fine; a backslash
    // continuation is not.
    target.trim_start().starts_with("<bits/stdc++.h>") && !line.trim_end().ends_with('\\')
}

/// What a compiler produced.
pub(crate) enum CompileResult {
    Wasm(Vec<u8>),
    Rejected(String),
}

fn command_output(program: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

impl Toolchain {
    /// Finds the toolchains; `cache_dir` is where a precompiled `<bits/stdc++.h>` is kept
    /// (none without one).
    pub(crate) fn discover(config: &CompilerConfig, cache_dir: Option<&Path>) -> Toolchain {
        let rust_sysroot =
            command_output(&config.rustc, &["--print", "sysroot"]).map(PathBuf::from);
        let rust_binary = rust_sysroot
            .as_ref()
            .map(|s| s.join("bin/rustc"))
            .filter(|p| p.is_file());
        let rust_version = command_output(&config.rustc, &["--version"]).unwrap_or_default();
        let clang_version = command_output(&config.clang, &["--version"])
            .and_then(|v| v.lines().next().map(str::to_string))
            .unwrap_or_default();
        let pch = cache_dir.map(|cache| {
            let key = hash_parts(&[
                b"pch-v1",
                clang_version.as_bytes(),
                config.wasi_sysroot.as_os_str().as_encoded_bytes(),
                flags(Language::Cpp).join("\0").as_bytes(),
                BITS_STDCXX.as_bytes(),
            ]);
            Arc::new(PrecompiledHeader {
                dir: cache.join("pch").join(&key[..16]),
                built: OnceLock::new(),
                refused: AtomicBool::new(false),
            })
        });
        let warm = (config.warm_compiler && config.confine).then(|| {
            let mut mounts = vec![config.wasi_sysroot.clone()];
            mounts.extend(pch.as_ref().map(|pch| pch.dir.clone()));
            Arc::new(WarmCompiler::new(config, mounts, &clang_version))
        });
        Toolchain {
            config: config.clone(),
            rust_sysroot,
            rust_binary,
            rust_version,
            clang_version,
            pch,
            warm,
        }
    }

    pub(crate) fn version(&self, language: Language) -> &str {
        match language {
            Language::Rust => &self.rust_version,
            Language::C | Language::Cpp => &self.clang_version,
            Language::Wat => "wat",
            Language::Python => "python",
        }
    }

    /// The library root a language compiles against; part of the cache key.
    pub(crate) fn sysroot(&self, language: Language) -> String {
        match language {
            Language::Rust => self
                .rust_sysroot
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            Language::C | Language::Cpp => self.config.wasi_sysroot.display().to_string(),
            Language::Wat | Language::Python => String::new(),
        }
    }

    /// Whether the rust target is installed (the sysroot has a wasm32-wasip1 std).
    pub(crate) fn has_rust_wasm_target(&self) -> bool {
        self.rust_sysroot
            .as_ref()
            .is_some_and(|s| s.join("lib/rustlib/wasm32-wasip1/lib").is_dir())
    }

    pub(crate) fn compile(
        &self,
        language: Language,
        source: &str,
    ) -> Result<CompileResult, SandboxError> {
        let header = match language {
            Language::Cpp if includes_bits_first(source) => self.precompiled_header(),
            _ => None,
        };
        let result = self.compile_with(language, source, header)?;
        // A precompiled header clang refuses (built by another clang, or its header changed
        // on disk) must not cost a candidate its compile: retry without it, and stop
        // offering it in this process.
        if let (Some(header), CompileResult::Rejected(diagnostics)) = (header, &result)
            && diagnostics.contains(PCH_FILE)
        {
            tracing::warn!(
                pch = %header.display(),
                "clang refused the precompiled <bits/stdc++.h>; compiling without it"
            );
            if let Some(pch) = &self.pch {
                pch.refused
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
            return self.compile_with(language, source, None);
        }
        Ok(result)
    }

    /// Whether the warm compiler can be used: `Ok` with what it runs, or why not (`None`
    /// when it is turned off or compilers are not confined).
    pub(crate) fn warm_compiler_status(&self) -> Option<Result<String, String>> {
        self.warm.as_ref().map(|warm| warm.status())
    }

    fn compile_with(
        &self,
        language: Language,
        source: &str,
        header: Option<&Path>,
    ) -> Result<CompileResult, SandboxError> {
        if matches!(language, Language::C | Language::Cpp)
            && let Some(warm) = &self.warm
            && let Some(scratch) = warm.scratch()?
            && let Some(result) =
                self.compile_in(language, source, header, scratch.path(), Some(warm))?
        {
            return Ok(result);
        }
        let scratch = self.scratch()?;
        let result = self.compile_in(language, source, header, scratch.path(), None)?;
        Ok(result.expect("a cold compile always has a result"))
    }

    /// Compiles in `scratch`, with the warm compiler when given one: `None` when it could
    /// not be used (compile cold).
    fn compile_in(
        &self,
        language: Language,
        source: &str,
        header: Option<&Path>,
        scratch: &Path,
        warm: Option<&WarmCompiler>,
    ) -> Result<Option<CompileResult>, SandboxError> {
        let file = language.file_name();
        std::fs::write(scratch.join(file), source)
            .map_err(|source| SandboxError::Scratch { source })?;
        for (relative, contents) in support_headers(language) {
            let path = scratch.join(SUPPORT_INCLUDE_DIR).join(relative);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|source| SandboxError::Scratch { source })?;
            }
            std::fs::write(&path, contents).map_err(|source| SandboxError::Scratch { source })?;
        }

        let (program, mut args, mut mounts): (PathBuf, Vec<String>, Vec<PathBuf>) = match language {
            Language::Rust => {
                let program = self
                    .rust_binary
                    .clone()
                    .unwrap_or_else(|| self.config.rustc.clone());
                let args = flags(language).iter().map(|s| s.to_string()).collect();
                (program, args, self.rust_sysroot.iter().cloned().collect())
            }
            Language::C | Language::Cpp => {
                let mut args: Vec<String> = flags(language).iter().map(|s| s.to_string()).collect();
                args.push(format!("--sysroot={}", self.config.wasi_sysroot.display()));
                (
                    self.config.clang.clone(),
                    args,
                    vec![self.config.wasi_sysroot.clone()],
                )
            }
            Language::Wat | Language::Python => {
                unreachable!("wat is parsed in-process; python is not compiled")
            }
        };
        if let Some(header) = header {
            args.push("-include-pch".into());
            args.push(header.display().to_string());
            if let Some(dir) = header.parent() {
                mounts.push(dir.to_path_buf());
            }
        }
        args.push(file.to_string());
        args.push("-o".into());
        args.push("out.wasm".into());
        args.extend(libraries(language).iter().map(|s| s.to_string()));

        let language_name = language.name();
        let ran = match warm {
            Some(warm) => match warm.run(scratch, &program, &args)? {
                WarmRun::Ran(ran) => ran,
                WarmRun::Unavailable(reason) => {
                    tracing::warn!("compiling this {language_name} candidate cold: {reason}");
                    return Ok(None);
                }
            },
            None => self.run_compiler(&program, &args, &mounts, scratch, language_name)?,
        };
        let memory_bytes = self.config.memory_bytes;
        let result = match ran {
            None => CompileResult::Rejected(format!(
                "the {language_name} compiler did not finish within {:.1} s and was stopped (the source may expand without bound: macros, templates, constant evaluation or includes)",
                self.config.timeout.as_secs_f64()
            )),
            Some((status, diagnostics)) if status.success() => {
                match std::fs::read(scratch.join("out.wasm")) {
                    Ok(wasm) => CompileResult::Wasm(wasm),
                    Err(_) => CompileResult::Rejected(format!(
                        "the {language_name} compiler reported success but wrote no module\n{}",
                        trim_diagnostics(&diagnostics)
                    )),
                }
            }
            Some((status, diagnostics)) => {
                let mut text = trim_diagnostics(&diagnostics);
                if let Some(note) = explain(language, &diagnostics) {
                    text.push_str(note);
                    text.push('\n');
                }
                if text.trim().is_empty() {
                    text = match status.code() {
                        Some(code) => format!(
                            "the {language_name} compiler exited with code {code} and printed nothing"
                        ),
                        None => format!(
                            "the {language_name} compiler was killed (it may have exceeded its memory limit of {} MiB)",
                            memory_bytes >> 20
                        ),
                    };
                }
                CompileResult::Rejected(text)
            }
        };
        Ok(Some(result))
    }

    /// The precompiled `<bits/stdc++.h>`, built at its first use in this process unless a
    /// process built it before; `None` without a cache directory, or when it cannot be
    /// built (the reason is logged once) or clang refused it.
    fn precompiled_header(&self) -> Option<&Path> {
        let pch = self.pch.as_ref()?;
        if pch.refused.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        pch.built
            .get_or_init(|| match self.build_precompiled_header(&pch.dir) {
                Ok(path) => Some(path),
                Err(reason) => {
                    tracing::warn!(
                        dir = %pch.dir.display(),
                        "C++ candidates compile without a precompiled <bits/stdc++.h>: {reason}"
                    );
                    None
                }
            })
            .as_deref()
    }

    /// Builds (or finds, built by an earlier process) the precompiled header in `dir`.
    fn build_precompiled_header(&self, dir: &Path) -> Result<PathBuf, String> {
        let header = dir.join("include/bits/stdc++.h");
        let pch = dir.join(PCH_FILE);
        let header_current =
            std::fs::read(&header).is_ok_and(|bytes| bytes == BITS_STDCXX.as_bytes());
        if header_current && pch.is_file() {
            return Ok(pch);
        }
        let write_atomically = |path: &Path, bytes: &[u8]| -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let staging = path.with_extension(format!("tmp-{}", std::process::id()));
            std::fs::write(&staging, bytes)?;
            std::fs::rename(&staging, path)
        };
        if !header_current {
            write_atomically(&header, BITS_STDCXX.as_bytes())
                .map_err(|e| format!("cannot write `{}`: {e}", header.display()))?;
        }
        let scratch = self.scratch().map_err(|e| e.to_string())?;
        // The candidates' flags but the linker's (there is nothing to link).
        let mut args: Vec<String> = flags(Language::Cpp)
            .iter()
            .filter(|flag| !flag.starts_with("-Wl,"))
            .map(|s| s.to_string())
            .collect();
        args.push(format!("--sysroot={}", self.config.wasi_sysroot.display()));
        args.extend(["-Xclang", "-fno-pch-timestamp", "-x", "c++-header"].map(str::to_string));
        args.push(header.display().to_string());
        args.extend(["-o", "out.pch"].map(str::to_string));
        let mounts = [self.config.wasi_sysroot.clone(), dir.to_path_buf()];
        let ran = self
            .run_compiler(&self.config.clang, &args, &mounts, scratch.path(), "c++")
            .map_err(|e| e.to_string())?;
        match ran {
            Some((status, _)) if status.success() => {
                let bytes = std::fs::read(scratch.path().join("out.pch"))
                    .map_err(|e| format!("clang wrote no precompiled header: {e}"))?;
                write_atomically(&pch, &bytes)
                    .map_err(|e| format!("cannot write `{}`: {e}", pch.display()))?;
                Ok(pch)
            }
            Some((_, diagnostics)) => Err(format!(
                "clang could not precompile it:\n{}",
                trim_diagnostics(&diagnostics)
            )),
            None => Err("clang did not finish precompiling it in time".into()),
        }
    }

    /// A fresh scratch directory for one compiler run.
    fn scratch(&self) -> Result<tempfile::TempDir, SandboxError> {
        let mut scratch = tempfile::Builder::new();
        scratch.prefix("hone-compile-");
        match &self.config.scratch_dir {
            Some(dir) => std::fs::create_dir_all(dir).and_then(|()| scratch.tempdir_in(dir)),
            None => scratch.tempdir(),
        }
        .map_err(|source| SandboxError::Scratch { source })
    }

    /// Runs `program` with `args` in `scratch` (confined unless configured otherwise, with
    /// `mounts` readable), under the time and memory limits. `None`: it did not finish in
    /// time and was killed. Otherwise its exit status and its diagnostics (stderr, then
    /// stdout, 1 MiB of each; paths inside the scratch directory made relative).
    /// bubblewrap's own failures are errors.
    fn run_compiler(
        &self,
        program: &Path,
        args: &[String],
        mounts: &[PathBuf],
        scratch: &Path,
        language_name: &'static str,
    ) -> Result<Option<(ExitStatus, String)>, SandboxError> {
        let build_dir = if self.config.confine {
            PathBuf::from("/build")
        } else {
            scratch.to_path_buf()
        };
        let mut command = if self.config.confine {
            let mut c = confined_command(&self.config.bwrap, mounts, scratch);
            // Names the compile a process belongs to (diagnosis, leak checks); not a path
            // the compiler can reach.
            c.arg("--setenv").arg(SCRATCH_ENV).arg(scratch);
            c.arg("--").arg(program);
            c
        } else {
            let mut c = Command::new(program);
            c.current_dir(scratch)
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .env("HOME", scratch)
                .env(SCRATCH_ENV, scratch);
            c
        };
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let memory_bytes = self.config.memory_bytes;
        // SAFETY: only async-signal-safe calls (setrlimit, setpgid) run between fork and exec.
        unsafe {
            command.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: memory_bytes,
                    rlim_max: memory_bytes,
                };
                libc::setrlimit(libc::RLIMIT_AS, &limit);
                let file_limit = libc::rlimit {
                    rlim_cur: 256 << 20,
                    rlim_max: 256 << 20,
                };
                libc::setrlimit(libc::RLIMIT_FSIZE, &file_limit);
                libc::setpgid(0, 0);
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(|source| {
            if self.config.confine && source.kind() == std::io::ErrorKind::NotFound {
                SandboxError::ConfinementUnavailable {
                    message: format!("`{}` was not found", self.config.bwrap.display()),
                }
            } else {
                SandboxError::CompilerMissing {
                    language: language_name,
                    program: program.display().to_string(),
                    source,
                }
            }
        })?;
        // Drain both pipes at once so the compiler never blocks on a full one; keep 1 MiB of each.
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut text = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.by_ref().take(1 << 20).read_to_end(&mut text);
                    let _ = std::io::copy(&mut pipe, &mut std::io::sink());
                }
                text
            })
        };
        let stderr_reader = drain(
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let stdout_reader = drain(
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let status = wait_or_kill(&mut child, self.config.timeout);
        let mut output = stderr_reader.join().unwrap_or_default();
        output.extend(stdout_reader.join().unwrap_or_default());
        let diagnostics = String::from_utf8_lossy(&output).into_owned();
        let diagnostics = diagnostics.replace(&format!("{}/", build_dir.display()), "");
        // bubblewrap's own failures come before the compiler runs, so its message is the
        // first line; a source can only put "bwrap:" after a compiler's prefix (`error: `,
        // `main.c:1:2: `), never there.
        if let Some(status) = status
            && !status.success()
            && self.config.confine
            && diagnostics.starts_with("bwrap: ")
        {
            let first = diagnostics.lines().next().unwrap_or_default().to_string();
            if first.starts_with("bwrap: execvp") {
                return Err(SandboxError::CompilerMissing {
                    language: language_name,
                    program: program.display().to_string(),
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, first),
                });
            }
            return Err(SandboxError::ConfinementUnavailable { message: first });
        }
        Ok(status.map(|status| (status, diagnostics)))
    }
}

/// bubblewrap, set up as for every compiler run (up to the program to run): no namespace
/// shared, read-only `/usr` (and `/lib`, `/lib64`, `/bin`), `mounts` read-only, a fresh
/// `/proc`, `/dev` and `/tmp`, `build` read-write at `/build` (the working directory), an
/// empty environment but `PATH`, `HOME` and `TMPDIR`.
pub(crate) fn confined_command(bwrap: &Path, mounts: &[PathBuf], build: &Path) -> Command {
    let mut c = Command::new(bwrap);
    c.args(["--unshare-all", "--die-with-parent", "--new-session"]);
    c.args(["--ro-bind", "/usr", "/usr"]);
    for dir in ["/lib", "/lib64", "/bin"] {
        let path = Path::new(dir);
        match std::fs::read_link(path) {
            Ok(target) => {
                c.arg("--symlink").arg(target).arg(dir);
            }
            Err(_) if path.is_dir() => {
                c.args(["--ro-bind", dir, dir]);
            }
            Err(_) => {}
        }
    }
    // The fresh /tmp first, so that a mount below it (a cache in a temporary
    // directory) is not hidden by it.
    c.args(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]);
    for mount in mounts {
        if !mount.starts_with("/usr") {
            c.arg("--ro-bind").arg(mount).arg(mount);
        }
    }
    c.arg("--bind").arg(build).arg("/build");
    c.args(["--chdir", "/build", "--clearenv"]);
    c.args([
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "HOME",
        "/build",
        "--setenv",
        "TMPDIR",
        "/tmp",
    ]);
    c
}

/// Waits for `child` at most `timeout`: its exit status, or `None` once its process group
/// has been killed for running too long (or it could not be waited for). Sleeps in poll(2)
/// on a pidfd, woken the moment the child exits; where the kernel has no pidfds, it looks
/// every 5 ms.
fn wait_or_kill(child: &mut std::process::Child, timeout: Duration) -> Option<ExitStatus> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let started = Instant::now();
    // SAFETY: pidfd_open(2) on our own child, not yet reaped, so its pid is not reused; the
    // descriptor it returns is ours and closed when `pidfd` drops.
    let pidfd = unsafe {
        let fd = libc::syscall(libc::SYS_pidfd_open, child.id() as libc::pid_t, 0);
        (fd >= 0).then(|| OwnedFd::from_raw_fd(fd as i32))
    };
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => return None,
        }
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            // SAFETY: kill(2) on the process group we created for the child.
            unsafe {
                libc::kill(-(child.id() as i32), libc::SIGKILL);
            }
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        match &pidfd {
            Some(fd) => {
                let mut poll = libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                let millis = i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1);
                // SAFETY: one valid pollfd, for the duration of the call. Its result does
                // not matter: the loop looks at the child again either way.
                unsafe {
                    libc::poll(&mut poll, 1, millis);
                }
            }
            None => std::thread::sleep(left.min(Duration::from_millis(5))),
        }
    }
}

/// Keeps the first diagnostics (errors first), at most 40 lines / 4000 bytes, with a marker
/// saying how much was cut.
pub fn trim_diagnostics(text: &str) -> String {
    const MAX_LINES: usize = 40;
    const MAX_BYTES: usize = 4000;
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    let mut kept = 0;
    for line in &lines {
        if kept == MAX_LINES || out.len() + line.len() > MAX_BYTES {
            break;
        }
        out.push_str(line);
        out.push('\n');
        kept += 1;
    }
    if kept < lines.len() {
        out.push_str(&format!(
            "[hone: {} more lines of diagnostics cut]\n",
            lines.len() - kept
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::includes_bits_first;

    #[test]
    fn only_a_leading_bits_include_takes_the_precompiled_header() {
        for first in [
            "#include <bits/stdc++.h>\nint main() {}\n",
            "  # include <bits/stdc++.h> // all\nint main() {}\n",
            "// a\n// b\n/* c\n d */\n#include<bits/stdc++.h>\n",
            "\u{20}\n\t#include <bits/stdc++.h>",
        ] {
            assert!(includes_bits_first(first), "{first:?}");
        }
        for not_first in [
            "#define int long long\n#include <bits/stdc++.h>\n",
            "#pragma GCC optimize(\"O3\")\n#include <bits/stdc++.h>\n",
            "#include <vector>\n#include <bits/stdc++.h>\n",
            "#include \"bits/stdc++.h\"\n",
            "#includex <bits/stdc++.h>\n",
            "// continued \\\n#define X\n#include <bits/stdc++.h>\n",
            "#include <bits/stdc++.h> \\\n",
            "/* unterminated #include <bits/stdc++.h>\n",
            "int x;\n#include <bits/stdc++.h>\n",
            "",
        ] {
            assert!(!includes_bits_first(not_first), "{not_first:?}");
        }
    }
}
