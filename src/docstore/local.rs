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
    pub port: u16,
    /// Holds the storage directory and the server log until the server is stopped.
    dir: Option<tempfile::TempDir>,
    /// The process and the folder, for the interrupt handler.
    _interrupt: [crate::interrupt::Registered; 2],
}

impl LocalServer {
    /// Installs the server if needed, starts it and returns once it accepts connections.
    pub fn start() -> Result<LocalServer, ConnectError> {
        let dir = tempfile::Builder::new()
            .prefix("auditbook-docstore-")
            .tempdir()
            .map_err(|e| ConnectError::Start(format!("temporary directory: {e}")))?;
        LocalServer::spawn(dir, false)
    }

    fn spawn(dir: tempfile::TempDir, auth: bool) -> Result<LocalServer, ConnectError> {
        let python = ensure_installed()?;
        LocalServer::launch(&python, dir, auth).map_err(ConnectError::Start)
    }

    fn launch(
        python: &std::path::Path,
        dir: tempfile::TempDir,
        auth: bool,
    ) -> Result<LocalServer, String> {
        let port = free_port()?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("server.log"))
            .map_err(|e| format!("server log: {e}"))?;
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
                "--storage-path",
            ])
            .arg(dir.path().join("data"));
        if auth {
            command.arg("--auth");
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting SecantusDB with {}: {e}", python.display()))?;
        let _interrupt = [
            crate::interrupt::stop_on_interrupt(child.id()),
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

    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}/?directConnection=true", self.port)
    }

    /// Waits for the port to accept a TCP connection (the driver then does the handshake);
    /// a server that exits first is reported with the end of its log.
    fn wait_until_listening(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the local SecantusDB server exited ({status}) before listening: {}",
                    self.log_tail()
                ));
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the local SecantusDB server did not listen on port {} within {timeout:?}: {}",
                    self.port,
                    self.log_tail()
                ));
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

fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind(("127.0.0.1", 0)).map_err(|e| format!("no free loopback port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}
