//! Test support (feature `testing`): a throwaway PostgreSQL server in a temporary directory.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use hone_store::testing::PostgresServer;
//! let server = PostgresServer::start()?;
//! let store = hone_store::Store::open(&server.create_database("t1")?).await?;
//! # drop(store); Ok(()) }
//! ```
//!
//! The server runs `initdb`/`postgres` from `/usr/lib/postgresql/*/bin` (or from `PATH`) with
//! trust authentication, listens on a free port of 127.0.0.1 and on a unix socket in its
//! directory, and is stopped (`pg_ctl stop -m immediate`) and removed when dropped. When the
//! process runs as root, the server runs as the `postgres` user through `runuser`, since
//! PostgreSQL refuses to run as root. This module reads no environment variable: callers that
//! honour `HONE_TEST_POSTGRES_URL` check it themselves. [`PostgresServer::start_with`] also
//! listens on further addresses and trusts further client subnets (workers on other hosts).

use std::io::Write;
use std::net::{IpAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A running PostgreSQL server owned by a test. Stopped on drop.
#[derive(Debug)]
pub struct PostgresServer {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    run_as: Option<String>,
    user: String,
}

/// Why a server could not be started (the caller usually prints it and skips).
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

fn fail(message: impl Into<String>) -> StartError {
    StartError(message.into())
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`.
fn find_bin() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    // Newest version first.
    candidates.sort_by_key(|p| {
        std::cmp::Reverse(
            p.parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0),
        )
    });
    candidates.push(PathBuf::from("/usr/local/pgsql/bin"));
    candidates
        .into_iter()
        .find(|dir| dir.join("initdb").is_file())
        .or_else(|| {
            let output = Command::new("pg_config").arg("--bindir").output().ok()?;
            let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
            dir.join("initdb").is_file().then_some(dir)
        })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> Result<u16, StartError> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| fail(format!("no free port: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| fail(format!("no free port: {e}")))
}

impl PostgresServer {
    /// Starts a fresh server, or explains why it cannot.
    pub fn start() -> Result<PostgresServer, StartError> {
        PostgresServer::start_with(&[], &[])
    }

    /// Starts a fresh server that also listens on `extra_listen` (on the same port as
    /// 127.0.0.1) and trusts clients from each CIDR of `allow` (e.g. `10.1.2.0/24`).
    pub fn start_with(
        extra_listen: &[IpAddr],
        allow: &[&str],
    ) -> Result<PostgresServer, StartError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let bin = find_bin().ok_or_else(|| fail("no PostgreSQL server binaries (initdb) found"))?;
        let run_as = is_root().then(|| "postgres".to_string());
        let dir = std::env::temp_dir().join(format!(
            "hone-pg-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
        let mut server = PostgresServer {
            dir,
            bin,
            port: 0,
            run_as,
            user: "hone".to_string(),
        };
        if let Some(user) = &server.run_as {
            let status = Command::new("chown")
                .arg(user)
                .arg(&server.dir)
                .status()
                .map_err(|e| fail(format!("chown: {e}")))?;
            if !status.success() {
                return Err(fail(format!(
                    "cannot chown {} to {user}",
                    server.dir.display()
                )));
            }
        }
        let data = server.dir.join("data");
        server.run(
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-A",
                "trust",
                "-U",
                &server.user.clone(),
                "--no-sync",
                "-E",
                "UTF8",
            ],
        )?;
        if !allow.is_empty() {
            let hba = data.join("pg_hba.conf");
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&hba)
                .map_err(|e| fail(format!("cannot open {}: {e}", hba.display())))?;
            for cidr in allow {
                writeln!(file, "host all all {cidr} trust")
                    .map_err(|e| fail(format!("cannot write {}: {e}", hba.display())))?;
            }
        }
        let listen = std::iter::once("127.0.0.1".to_string())
            .chain(extra_listen.iter().map(|a| a.to_string()))
            .collect::<Vec<_>>()
            .join(",");
        // The port can be taken between probing and binding; try a few.
        let mut last_error = fail("server did not start");
        for _ in 0..5 {
            server.port = free_port()?;
            let options = format!(
                "-p {} -k {} -c listen_addresses={listen} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100",
                server.port,
                server.dir.display()
            );
            let log = server.dir.join("server.log");
            match server.run(
                "pg_ctl",
                &[
                    "-D",
                    &data.to_string_lossy(),
                    "-l",
                    &log.to_string_lossy(),
                    "-o",
                    &options,
                    "-w",
                    "-t",
                    "30",
                    "start",
                ],
            ) {
                Ok(()) => {
                    if server.wait_ready(Duration::from_secs(30)) {
                        return Ok(server);
                    }
                    last_error = fail("server started but does not accept connections");
                }
                Err(e) => {
                    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
                    last_error = fail(format!("{e}\n{log_text}"));
                }
            }
        }
        Err(last_error)
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.arg("-u").arg(user).arg("--").arg(path);
                command
            }
            None => Command::new(path),
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<(), StartError> {
        let output = self
            .command(program)
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| fail(format!("cannot run {program}: {e}")))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(fail(format!(
                "{program} failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )))
        }
    }

    fn wait_ready(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// The TCP port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the server's data, log and unix socket.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The URL of database `name` (which may not exist yet).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{}@127.0.0.1:{}/{name}", self.user, self.port)
    }

    /// Creates database `name` and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String, StartError> {
        self.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                &self.user.clone(),
                name,
            ],
        )?;
        Ok(self.url(name))
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self
            .command("pg_ctl")
            .args([
                "-D",
                &data.to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
