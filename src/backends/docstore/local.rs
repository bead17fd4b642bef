//! A MongoDB-wire server the tool starts itself, so the document-store chapters run with no
//! setup: SecantusDB (a MongoDB-compatible server on WiredTiger, from PyPI) installed once
//! into a cached virtualenv, started on a free loopback port with its data in a temporary
//! directory, and stopped when the handle is dropped. The chapters talk to it through the
//! official driver exactly as they would to a real MongoDB.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::ConnectError;
use crate::install::{self, Install, InstallError};

/// The pinned server release.
pub const SECANTUS_VERSION: &str = "0.7.0b3";

/// Starts the server, with a watchdog thread that ends it when its parent (this process) is
/// gone: a test binary that exits without dropping its handle (a static, a kill) must not
/// leave servers behind.
const LAUNCHER: &str = "\
import os, sys, threading, time
from secantus.cli import main
parent = os.getppid()
def watch():
    while True:
        time.sleep(1)
        if os.getppid() != parent:
            os._exit(0)
threading.Thread(target=watch, daemon=True).start()
sys.argv[0] = 'secantusd-py'
sys.exit(main())
";

/// A running local server; dropping it stops the process and deletes its data.
pub struct LocalServer {
    child: Child,
    /// The loopback port the server listens on.
    pub port: u16,
    /// Holds the storage directory and the server log until the server is stopped.
    dir: Option<tempfile::TempDir>,
    /// The process and the folder, for the interrupt handler.
    _interrupt: [crate::interrupt::Registered; 2],
}

impl LocalServer {
    /// Installs the server if needed, starts it and returns once it accepts connections.
    pub fn start() -> Result<LocalServer, ConnectError> {
        // Registered as it is made: an interrupt while the install is checked or the server
        // spawns (before `launch` registers it with the process) must not leave the folder
        // behind (the interrupt drill saw one, SIGINT 200 ms into a build).
        let (dir, _until_launched) = crate::interrupt::create_removed_on_interrupt(|| {
            tempfile::Builder::new()
                .prefix("auditbook-docstore-")
                .tempdir()
        })
        .map_err(StartError::io("creating its temporary directory"))?;
        LocalServer::spawn(dir, false)
    }

    fn spawn(dir: tempfile::TempDir, auth: bool) -> Result<LocalServer, ConnectError> {
        let python = ensure_installed()?;
        Ok(LocalServer::launch(&python, dir, auth)?)
    }

    fn launch(
        python: &std::path::Path,
        dir: tempfile::TempDir,
        auth: bool,
    ) -> Result<LocalServer, StartError> {
        let port = free_port()?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("server.log"))
            .map_err(StartError::io("opening its log"))?;
        let mut command = Command::new(python);
        command
            .args(["-c", LAUNCHER])
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--log-level",
                "WARNING",
                // No replica-set advertisement, hence no oplog: no chapter reads a change
                // stream, and the oplog costs a BSON encode and a write per document
                // (NosCités restores 105k of them).
                "--standalone",
                "--storage-path",
            ])
            .arg(dir.path().join("data"));
        if auth {
            command.arg("--auth");
        }
        let (child, stop) = crate::interrupt::spawn_stopped_on_interrupt(
            command
                .stdin(Stdio::null())
                .stdout(log.try_clone().map_err(StartError::io("opening its log"))?)
                .stderr(log),
        )
        .map_err(StartError::io(format!(
            "starting SecantusDB with {}",
            python.display()
        )))?;
        let _interrupt = [
            stop,
            crate::interrupt::remove_on_interrupt(dir.path().to_path_buf()),
        ];
        let mut server = LocalServer {
            child,
            port,
            dir: Some(dir),
            _interrupt,
        };
        server.wait_until_listening(Duration::from_secs(60))?;
        Ok(server)
    }

    /// Stops the server cleanly (SIGTERM, so what it holds is on disk) and starts it again on
    /// the same data with authentication required: the way to turn auth on once users exist.
    pub fn restart_with_auth(mut self) -> Result<LocalServer, ConnectError> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let dir = self
            .dir
            .take()
            .expect("a running server holds its directory");
        LocalServer::spawn(dir, true)
    }

    /// The server's URI (a direct connection to 127.0.0.1 on its port).
    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}/?directConnection=true", self.port)
    }

    /// Waits for the port to accept a TCP connection (the driver then does the handshake);
    /// a server that exits first is reported with the end of its log.
    fn wait_until_listening(&mut self, timeout: Duration) -> Result<(), StartError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(StartError::Exited {
                    status,
                    log: self.log_tail(),
                });
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(StartError::Silent {
                    port: self.port,
                    timeout,
                    log: self.log_tail(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_tail(&self) -> String {
        let Some(dir) = &self.dir else {
            return String::new();
        };
        let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().rev().take(8).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The install of the server: a venv under the tool's cache folder (shared with
/// `scripts/test`, which installs the same venv the same way).
pub fn install() -> Install {
    Install {
        name: format!("secantusdb-{SECANTUS_VERSION}"),
        what: format!("SecantusDB {SECANTUS_VERSION} (a MongoDB-wire server, from PyPI)"),
    }
}

/// The virtualenv the server lives in.
pub fn venv_dir() -> PathBuf {
    install().dir(&install::cache_dir())
}

/// The venv's python, installing `secantusdb==VERSION` from PyPI the first time, once for
/// every thread and process (see [`crate::install`]).
fn ensure_installed() -> Result<PathBuf, InstallError> {
    install::python_venv(
        &install::cache_dir(),
        &install(),
        &[&format!("secantusdb=={SECANTUS_VERSION}")],
        &[],
    )
}

fn free_port() -> Result<u16, StartError> {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|a| a.port())
        .map_err(StartError::io("finding a free loopback port"))
}

/// Why the local server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A file, a port or the process could not be had.
    #[error("{what}")]
    Io {
        /// What could not be had.
        what: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The server exited before it listened.
    #[error("the local SecantusDB server exited ({status}) before listening; its log ends: {log}")]
    Exited {
        /// How it exited.
        status: std::process::ExitStatus,
        /// The end of its log.
        log: String,
    },
    /// The server ran but never listened.
    #[error("the local SecantusDB server did not listen on port {port} within {timeout:?}; its log ends: {log}")]
    Silent {
        /// The port it was to listen on.
        port: u16,
        /// How long it was given.
        timeout: Duration,
        /// The end of its log.
        log: String,
    },
}

impl StartError {
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StartError {
        let what = what.into();
        move |source| StartError::Io { what, source }
    }
}
