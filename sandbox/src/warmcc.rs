//! The warm compiler for C and C++ candidates: compile servers (`warmcc/server.cpp`, built
//! by `build.rs` against clang 14 and lld 14) that have clang and lld loaded once and fork
//! one child per compile, which runs the clang driver's jobs in-process (cc1 through
//! clang's in-process entry, the link through `lld::wasm::link` with the arguments the
//! driver computed for wasm-ld). The module is byte-identical to the `clang` binary's;
//! what is saved is starting clang, loading and relocating its libraries, and starting
//! wasm-ld: about half of a small candidate's compile.
//!
//! Confinement is the cold path's: each server runs inside bubblewrap with the same mounts,
//! namespaces and empty environment, its `/build` being the scratch root; each child enters
//! its own user and mount namespaces, binds its compile's directory over `/build`, mounts a
//! fresh `/tmp` (so it sees exactly what a cold compile sees, and never another compile's
//! files) and takes the compile's limits (address space, file size, its own process
//! group). The server kills a child at the timeout.
//!
//! A server handles one compile at a time; concurrent compiles take idle servers from a
//! pool or start new ones. A server that dies is replaced at the next compile.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::compile::{CompilerConfig, confined_command};
use crate::error::SandboxError;

/// The server binary (empty when `build.rs` could not build it).
const SERVER: &[u8] = include_bytes!(env!("HONE_WARMCC_SERVER"));

/// Why `build.rs` did not build the server (empty when it did).
const NOT_BUILT: &str = env!("HONE_WARMCC_NOT_BUILT");

/// The first field of the server's hello.
const HELLO: &[u8] = b"hone-warmcc-1";

/// Where the server binary is mounted inside bubblewrap.
const SERVER_MOUNT: &str = "/hone-warmcc";

/// An environment variable of every server, of this many bytes, that each child overwrites
/// in place with its compile's [`crate::SCRATCH_ENV`], so that `/proc/PID/environ` of a
/// child names its compile as a cold compiler's does.
const SLOT_ENV: &str = "HONE_WARMCC_SLOT";
const SLOT_BYTES: usize = 4096;

/// How long a server may take to load clang and answer its hello.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long after a compile's own timeout the server must have answered (it kills the
/// child at the timeout itself; this bounds a server that stopped working).
const ANSWER_GRACE: Duration = Duration::from_secs(10);

/// Idle servers kept for the next compiles (more run while more compiles are in flight).
const IDLE_SERVERS: usize = 4;

/// The exit code of a child that could not enter its namespaces.
const CONFINE_FAILED: i32 = 121;

/// Whether the server is in this build: `Err` says why not.
pub(crate) fn built() -> Result<(), &'static str> {
    if SERVER.is_empty() {
        Err(NOT_BUILT)
    } else {
        Ok(())
    }
}

/// The warm compiler of one toolchain: its servers and what they need.
#[derive(Debug)]
pub(crate) struct WarmCompiler {
    config: CompilerConfig,
    /// Directories mounted read-only in every server (the wasi sysroot, the precompiled
    /// header's folder).
    mounts: Vec<PathBuf>,
    /// `clang --version`'s first line: the server must be built against the same clang.
    clang_version: String,
    /// Idle servers (dropped before `setup`: each leaves at the end of its input).
    idle: Mutex<Vec<Server>>,
    /// Set up at the first compile: the server binary on disk, the scratch root, the thread
    /// that starts servers; or why the warm compiler cannot be used here.
    setup: OnceLock<Result<Setup, String>>,
}

#[derive(Debug)]
struct Setup {
    /// Holds the server binary (and the scratch root when the configuration names none).
    _dir: tempfile::TempDir,
    binary: PathBuf,
    /// `/build` of every server: per-compile directories are made in it.
    root: PathBuf,
    /// Servers are started by one long-lived thread, since bubblewrap's
    /// `--die-with-parent` ends a server when the thread that started it ends.
    spawner: Mutex<mpsc::Sender<SpawnOrder>>,
}

type SpawnOrder = (Command, mpsc::Sender<std::io::Result<Child>>);

/// One compile's answer from a server.
pub(crate) enum WarmRun {
    /// As from a cold compiler: `None` when it was killed at the timeout, else its status
    /// and diagnostics (paths in its scratch directory made relative).
    Ran(Option<(ExitStatus, String)>),
    /// The warm compiler cannot compile here or now (the reason): compile cold.
    Unavailable(String),
}

/// A server that answered its hello.
#[derive(Debug)]
struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
}

impl Drop for Server {
    fn drop(&mut self) {
        // An idle server leaves at the end of its input; one that does not is killed.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Why a server failed a request.
enum Lost {
    /// It died or broke the protocol (the reason): another server may do.
    Server(String),
    /// It did not answer in time; it has been killed.
    Silent,
}

impl WarmCompiler {
    pub(crate) fn new(
        config: &CompilerConfig,
        mounts: Vec<PathBuf>,
        clang_version: &str,
    ) -> WarmCompiler {
        WarmCompiler {
            config: config.clone(),
            mounts,
            clang_version: clang_version.to_string(),
            idle: Mutex::new(Vec::new()),
            setup: OnceLock::new(),
        }
    }

    /// Whether it can be used: `Ok` with the clang it runs, or why not. Starts a server
    /// the first time (and keeps it for the next compile).
    pub(crate) fn status(&self) -> Result<String, String> {
        let setup = self.setup()?;
        let server = self.take_or_start(setup).map_err(|e| match e {
            StartError::Unavailable(reason) => reason,
            StartError::Sandbox(error) => error.to_string(),
        })?;
        self.give_back(server);
        Ok(format!(
            "{} loaded in a compile server (one fork per compile)",
            self.clang_version
        ))
    }

    /// A fresh scratch directory for one compile, in the servers' root; `None` when the
    /// warm compiler cannot be used (compile cold).
    pub(crate) fn scratch(&self) -> Result<Option<tempfile::TempDir>, SandboxError> {
        let Ok(setup) = self.setup() else {
            return Ok(None);
        };
        tempfile::Builder::new()
            .prefix("hone-compile-")
            .tempdir_in(&setup.root)
            .map(Some)
            .map_err(|source| SandboxError::Scratch { source })
    }

    /// Compiles in `scratch` (made by [`WarmCompiler::scratch`]): `argv0` and `args` are
    /// the clang command line of a cold compile.
    pub(crate) fn run(
        &self,
        scratch: &Path,
        argv0: &Path,
        args: &[String],
    ) -> Result<WarmRun, SandboxError> {
        let setup = match self.setup() {
            Ok(setup) => setup,
            Err(reason) => return Ok(WarmRun::Unavailable(reason.to_string())),
        };
        let Some(dir) = scratch.file_name().and_then(|n| n.to_str()) else {
            return Ok(WarmRun::Unavailable(format!(
                "the scratch directory `{}` has no usable name",
                scratch.display()
            )));
        };
        let mut fields: Vec<Vec<u8>> = vec![
            dir.as_bytes().to_vec(),
            scratch.as_os_str().as_encoded_bytes().to_vec(),
            self.config.timeout.as_millis().to_string().into_bytes(),
            self.config.memory_bytes.to_string().into_bytes(),
            argv0.as_os_str().as_encoded_bytes().to_vec(),
        ];
        fields.extend(args.iter().map(|a| a.as_bytes().to_vec()));
        let request = encode(&fields);
        // A server that died since its last compile (or could not confine this one) is
        // replaced once.
        let mut last = String::new();
        for _ in 0..2 {
            let mut server = match self.take_or_start(setup) {
                Ok(server) => server,
                Err(StartError::Sandbox(error)) => return Err(error),
                Err(StartError::Unavailable(reason)) => return Ok(WarmRun::Unavailable(reason)),
            };
            match self.ask(&mut server, &request) {
                Ok(reply) => match parse_reply(reply) {
                    Ok(Reply::Confinement(message)) => last = message,
                    Ok(Reply::Ran(ran)) => {
                        self.give_back(server);
                        return Ok(WarmRun::Ran(ran));
                    }
                    Err(reason) => last = reason,
                },
                Err(Lost::Server(reason)) => last = reason,
                Err(Lost::Silent) => return Ok(WarmRun::Ran(None)),
            }
        }
        if last.starts_with("hone-warmcc: cannot confine") {
            return Err(SandboxError::ConfinementUnavailable { message: last });
        }
        Ok(WarmRun::Unavailable(last))
    }

    fn setup(&self) -> Result<&Setup, &str> {
        self.setup
            .get_or_init(|| {
                let result = self.prepare();
                if let Err(reason) = &result {
                    tracing::warn!("C and C++ candidates compile cold: {reason}");
                }
                result
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// Writes the server binary out and starts the spawner thread.
    fn prepare(&self) -> Result<Setup, String> {
        built().map_err(|reason| format!("the warm compiler is not built: {reason}"))?;
        if !self.config.confine {
            return Err("compilers are not confined (the warm compiler runs only confined)".into());
        }
        let dir = tempfile::Builder::new()
            .prefix("hone-warmcc-")
            .tempdir()
            .map_err(|e| format!("cannot make a directory for the compile server: {e}"))?;
        let binary = dir.path().join("hone-warmcc");
        std::fs::write(&binary, SERVER)
            .and_then(|()| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o555))
            })
            .map_err(|e| format!("cannot write `{}`: {e}", binary.display()))?;
        let root = match &self.config.scratch_dir {
            Some(root) => root.clone(),
            None => dir.path().join("build"),
        };
        std::fs::create_dir_all(&root)
            .map_err(|e| format!("cannot make the scratch root `{}`: {e}", root.display()))?;
        for mount in &self.mounts {
            // A folder filled later (the precompiled header's) must exist to be mounted.
            let _ = std::fs::create_dir_all(mount);
        }
        let (sender, orders) = mpsc::channel::<SpawnOrder>();
        std::thread::Builder::new()
            .name("hone-warmcc-spawner".into())
            .spawn(move || {
                for (mut command, answer) in orders {
                    let _ = answer.send(command.spawn());
                }
            })
            .map_err(|e| format!("cannot start the compile servers' thread: {e}"))?;
        let setup = Setup {
            _dir: dir,
            binary,
            root,
            spawner: Mutex::new(sender),
        };
        // The first server says whether servers work here at all (the clang it is built
        // against, nested namespaces); it serves the first compile.
        let server = self.start(&setup).map_err(|e| match e {
            StartError::Unavailable(reason) => reason,
            StartError::Sandbox(error) => error.to_string(),
        })?;
        self.give_back(server);
        Ok(setup)
    }

    fn take_or_start(&self, setup: &Setup) -> Result<Server, StartError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(server) => Ok(server),
            None => self.start(setup),
        }
    }

    fn give_back(&self, server: Server) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_SERVERS {
            idle.push(server);
        }
    }

    /// Starts a server and reads its hello.
    fn start(&self, setup: &Setup) -> Result<Server, StartError> {
        let mut mounts = self.mounts.clone();
        mounts.retain(|m| m.is_dir());
        let mut command = confined_command(&self.config.bwrap, &mounts, &setup.root);
        command
            .arg("--ro-bind")
            .arg(&setup.binary)
            .arg(SERVER_MOUNT)
            .arg("--setenv")
            .arg(SLOT_ENV)
            .arg("x".repeat(SLOT_BYTES))
            .arg("--")
            .arg(SERVER_MOUNT)
            .arg(&self.config.clang)
            // Each compile's fresh /tmp keeps the mounts below it.
            .args(mounts.iter().filter(|m| m.starts_with("/tmp")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: only an async-signal-safe call (setpgid) runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::setpgid(0, 0);
                Ok(())
            });
        }
        let (answer, spawned) = mpsc::channel();
        let sent = setup
            .spawner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send((command, answer));
        let spawned = match sent {
            Ok(()) => spawned.recv().map_err(|_| {
                StartError::Unavailable("the compile servers' thread has ended".into())
            })?,
            Err(_) => {
                return Err(StartError::Unavailable(
                    "the compile servers' thread has ended".into(),
                ));
            }
        };
        let mut child = spawned.map_err(|source| {
            StartError::Sandbox(if source.kind() == std::io::ErrorKind::NotFound {
                SandboxError::ConfinementUnavailable {
                    message: format!("`{}` was not found", self.config.bwrap.display()),
                }
            } else {
                SandboxError::ConfinementUnavailable {
                    message: format!(
                        "`{}` could not be started: {source}",
                        self.config.bwrap.display()
                    ),
                }
            })
        })?;
        let (Some(stdin), Some(stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            unreachable!("all three streams are piped");
        };
        let mut server = Server {
            child,
            stdin: Some(stdin),
            stdout,
        };
        let hello = read_message(&mut server.stdout, Instant::now() + START_TIMEOUT);
        let hello = match hello {
            Ok(hello) => hello,
            Err(reason) => {
                // bubblewrap's own failure (it printed why before the server ran).
                let _ = server.child.kill();
                let mut text = String::new();
                let _ = stderr.read_to_string(&mut text);
                let first = text.lines().next().unwrap_or_default().to_string();
                return Err(if first.starts_with("bwrap: ") {
                    StartError::Sandbox(SandboxError::ConfinementUnavailable { message: first })
                } else {
                    StartError::Unavailable(format!(
                        "the compile server did not start ({reason}){}",
                        if first.is_empty() {
                            String::new()
                        } else {
                            format!(": {first}")
                        }
                    ))
                });
            }
        };
        drop(stderr);
        match hello.as_slice() {
            [tag, version, probe] if tag == HELLO => {
                let version = String::from_utf8_lossy(version);
                if version != self.clang_version {
                    return Err(StartError::Unavailable(format!(
                        "the warm compiler is built against {version}, but `{}` is {}",
                        self.config.clang.display(),
                        if self.clang_version.is_empty() {
                            "not found".to_string()
                        } else {
                            self.clang_version.clone()
                        }
                    )));
                }
                if probe != b"ok" {
                    return Err(StartError::Unavailable(format!(
                        "a compile cannot be confined in the compile server: {}",
                        String::from_utf8_lossy(probe)
                    )));
                }
                Ok(server)
            }
            _ => Err(StartError::Unavailable(
                "the compile server answered with an unknown hello".into(),
            )),
        }
    }

    /// Sends one request and reads the reply.
    fn ask(&self, server: &mut Server, request: &[u8]) -> Result<Vec<Vec<u8>>, Lost> {
        let Some(stdin) = server.stdin.as_mut() else {
            return Err(Lost::Server("the compile server's input is closed".into()));
        };
        stdin
            .write_all(request)
            .and_then(|()| stdin.flush())
            .map_err(|e| Lost::Server(format!("the compile server is gone: {e}")))?;
        let deadline = Instant::now() + self.config.timeout + ANSWER_GRACE;
        match read_message(&mut server.stdout, deadline) {
            Ok(reply) => Ok(reply),
            Err(ReadError::Late) => {
                let _ = server.child.kill();
                Err(Lost::Silent)
            }
            Err(ReadError::Broken(reason)) => Err(Lost::Server(reason)),
        }
    }
}

enum StartError {
    /// The confinement itself failed, as it would for a cold compile.
    Sandbox(SandboxError),
    Unavailable(String),
}

enum Reply {
    Ran(Option<(ExitStatus, String)>),
    /// The child could not enter its namespaces (the message).
    Confinement(String),
}

fn parse_reply(reply: Vec<Vec<u8>>) -> Result<Reply, String> {
    let diagnostics = |stderr: &[u8], stdout: &[u8]| {
        let mut output = stderr.to_vec();
        output.extend_from_slice(stdout);
        String::from_utf8_lossy(&output).replace("/build/", "")
    };
    match reply.as_slice() {
        [kind, ..] if kind == b"timeout" => Ok(Reply::Ran(None)),
        [kind, status, stderr, stdout] if kind == b"status" => {
            let raw: i32 = std::str::from_utf8(status)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or("the compile server sent an unreadable status")?;
            // A cold compiler runs under bubblewrap, which exits with 128 + the signal
            // that killed the compiler: report a killed child the same way.
            let status = match ExitStatus::from_raw(raw).signal() {
                Some(signal) => ExitStatus::from_raw((128 + signal) << 8),
                None => ExitStatus::from_raw(raw),
            };
            let text = diagnostics(stderr, stdout);
            if status.code() == Some(CONFINE_FAILED)
                && text.starts_with("hone-warmcc: cannot confine")
            {
                return Ok(Reply::Confinement(text.trim().to_string()));
            }
            Ok(Reply::Ran(Some((status, text))))
        }
        [kind, message] if kind == b"error" => Err(format!(
            "the compile server failed: {}",
            String::from_utf8_lossy(message)
        )),
        _ => Err("the compile server sent an unknown reply".into()),
    }
}

/// A message: a u32 count of fields, each a u32 length and its bytes (little-endian).
fn encode(fields: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(fields.len() as u32).to_le_bytes());
    for field in fields {
        out.extend_from_slice(&(field.len() as u32).to_le_bytes());
        out.extend_from_slice(field);
    }
    out
}

enum ReadError {
    Late,
    Broken(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Late => f.write_str("it did not answer in time"),
            ReadError::Broken(reason) => f.write_str(reason),
        }
    }
}

/// Reads one message by `deadline`.
fn read_message(pipe: &mut ChildStdout, deadline: Instant) -> Result<Vec<Vec<u8>>, ReadError> {
    let mut read_exact = |buffer: &mut [u8]| -> Result<(), ReadError> {
        let mut filled = 0;
        while filled < buffer.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ReadError::Late);
            }
            let mut poll = libc::pollfd {
                fd: pipe.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let millis = i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1);
            // SAFETY: one valid pollfd, for the duration of the call.
            let ready = unsafe { libc::poll(&mut poll, 1, millis) };
            if ready <= 0 {
                continue;
            }
            match pipe.read(&mut buffer[filled..]) {
                Ok(0) => {
                    return Err(ReadError::Broken(
                        "the compile server ended its output".into(),
                    ));
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(ReadError::Broken(format!(
                        "reading the compile server's output: {e}"
                    )));
                }
            }
        }
        Ok(())
    };
    let mut word = [0u8; 4];
    read_exact(&mut word)?;
    let count = u32::from_le_bytes(word);
    if count > 4096 {
        return Err(ReadError::Broken(format!(
            "the compile server sent a message of {count} fields"
        )));
    }
    let mut fields = Vec::with_capacity(count as usize);
    for _ in 0..count {
        read_exact(&mut word)?;
        let length = u32::from_le_bytes(word) as usize;
        if length > 64 << 20 {
            return Err(ReadError::Broken(format!(
                "the compile server sent a field of {length} bytes"
            )));
        }
        let mut field = vec![0u8; length];
        read_exact(&mut field)?;
        fields.push(field);
    }
    Ok(fields)
}
