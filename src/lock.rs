//! One run of the chapters per checkout at a time. Runs share the checkout's
//! `target/auditbook/` (generated data, artifacts such as the Seattle model), so two `build`s
//! started together would rewrite files the other is reading. The second waits for the
//! first, says so, then runs: each produces a complete result, never a mix.
//!
//! The lock is an `flock(2)` on `target/auditbook/run.lock`, released by the kernel when the
//! process ends, however it ends. A process that runs chapters in child processes (`bench
//! --chapter`) holds the lock for them and tells them so through
//! [`HELD_BY_PARENT`], naming the checkout.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Set by a process that holds the lock for its children, to the checkout's root.
pub const HELD_BY_PARENT: &str = "AUDITBOOK_RUN_LOCK_HELD";

/// The checkout's run lock, held until dropped.
#[derive(Debug)]
pub struct RunLock {
    _file: Option<File>,
}

/// The lock file of the checkout at `root`.
pub fn path(root: &Path) -> PathBuf {
    root.join("target").join("auditbook").join("run.lock")
}

impl RunLock {
    /// Takes the checkout's lock, waiting (and saying so on stderr) while another run holds it.
    pub fn acquire(root: &Path) -> Result<RunLock> {
        if std::env::var_os(HELD_BY_PARENT).is_some_and(|held| Path::new(&held) == root) {
            return Ok(RunLock { _file: None });
        }
        let path = path(root);
        let dir = path.parent().expect("the lock has a folder");
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(Error::io(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                eprintln!(
                    "another auditbook run is using this checkout ({}): waiting for it to finish",
                    path.display()
                );
                let started = std::time::Instant::now();
                file.lock().map_err(Error::io(&path))?;
                eprintln!(
                    "the other run finished after {:.1} s: running",
                    started.elapsed().as_secs_f64()
                );
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path)(e)),
        }
        Ok(RunLock { _file: Some(file) })
    }
}
