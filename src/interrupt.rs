//! What an interrupted run (Ctrl-C, SIGTERM) leaves behind: nothing of its own. Temporary
//! folders and local servers register here while they live; on a signal, the servers are
//! stopped, the folders removed, and the process exits with 128 + the signal's number (130
//! for SIGINT, 143 for SIGTERM), as shells expect. A section that must not be cut in two
//! (the swap of the new book for the old) holds [`critical`]; the handler waits for it, so the
//! previous book is either still there or fully replaced.
//!
//! Without a handler (the library used from tests), registering costs a map insert and does
//! nothing else: the owners clean up on drop as usual.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Registry {
    next: u64,
    /// Folders to remove, by registration.
    paths: BTreeMap<u64, PathBuf>,
    /// Processes to stop (local servers), by registration.
    children: BTreeMap<u64, u32>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    next: 0,
    paths: BTreeMap::new(),
    children: BTreeMap::new(),
});
static CRITICAL: Mutex<()> = Mutex::new(());

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A registration, withdrawn when dropped (its owner cleans up itself from then on).
#[must_use = "the registration ends when this is dropped"]
#[derive(Debug)]
pub struct Registered {
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut r = registry();
        r.paths.remove(&self.id);
        r.children.remove(&self.id);
    }
}

impl Registry {
    /// Adds one registration, under the lock the caller holds.
    fn enter(&mut self, add: impl FnOnce(&mut Registry, u64)) -> Registered {
        let id = self.next;
        self.next += 1;
        add(self, id);
        Registered { id }
    }
}

fn register(add: impl FnOnce(&mut Registry, u64)) -> Registered {
    registry().enter(add)
}

/// Removes `path` (a folder) if the run is interrupted while the registration lives.
pub fn remove_on_interrupt(path: PathBuf) -> Registered {
    register(|r, id| {
        r.paths.insert(id, path);
    })
}

/// Creates a folder with `create` (a `tempfile` builder's call) and registers it for removal
/// on an interrupt, both under the registry's lock: the handler holds that lock from its list
/// of folders to the exit, so the folder is either on the list or never made. (Made first and
/// registered after, a folder made while the handler stops the servers, which takes seconds,
/// was on no list: the interrupt drill found one left.)
pub fn create_removed_on_interrupt<T: AsRef<Path>>(
    create: impl FnOnce() -> std::io::Result<T>,
) -> std::io::Result<(T, Registered)> {
    let mut r = registry();
    let made = create()?;
    let path = made.as_ref().to_path_buf();
    let registered = r.enter(|r, id| {
        r.paths.insert(id, path);
    });
    Ok((made, registered))
}

/// Stops process `pid` (SIGTERM, then waits for it) if the run is interrupted.
pub fn stop_on_interrupt(pid: u32) -> Registered {
    register(|r, id| {
        r.children.insert(id, pid);
    })
}

/// Starts `command` and registers the process to be stopped on an interrupt, both under
/// the registry's lock: the handler holds that lock from its list of processes to the exit,
/// so a server started while an interrupt is handled (the restart of a server the handler
/// has just stopped) is either on the list or never started, never left running.
pub fn spawn_stopped_on_interrupt(
    command: &mut std::process::Command,
) -> std::io::Result<(std::process::Child, Registered)> {
    let mut r = registry();
    let child = command.spawn()?;
    let pid = child.id();
    let registered = r.enter(|r, id| {
        r.children.insert(id, pid);
    });
    Ok((child, registered))
}

/// Holds off an interrupt's cleanup and exit until the guard is dropped.
pub fn critical() -> MutexGuard<'static, ()> {
    CRITICAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Installs the handler for SIGINT and SIGTERM (once, from `main`).
pub fn install_handler() {
    std::thread::Builder::new()
        .name("interrupt".into())
        .spawn(|| {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            else {
                return;
            };
            let signal = runtime.block_on(async {
                use tokio::signal::unix::{signal, SignalKind};
                let (Ok(mut int), Ok(mut term)) = (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) else {
                    return None;
                };
                tokio::select! {
                    _ = int.recv() => Some(2),
                    _ = term.recv() => Some(15),
                }
            });
            if let Some(signal) = signal {
                clean_up_and_exit(signal);
            }
        })
        .expect("the interrupt thread starts");
}

fn clean_up_and_exit(signal: i32) -> ! {
    let _swap = critical();
    let r = registry();
    for pid in r.children.values() {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    // A server writes on its way out: wait for it before removing its folder.
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.children.values().any(|pid| is_running(*pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let removed = r.paths.values().filter(|path| remove_folder(path)).count();
    eprintln!(
        "interrupted ({}): stopped {} local server(s), removed {removed} temporary folder(s); no partial book was written",
        if signal == 2 { "SIGINT" } else { "SIGTERM" },
        r.children.len()
    );
    std::process::exit(128 + signal)
}

/// Removes the folder `path`; true once it is gone. Its owner goes on while the handler runs:
/// a server's restart opens its log in the folder, a stopped server fails its chapter, whose
/// folders are then dropped. A removal lists the folder, empties it and fails if a file was
/// added meanwhile (not empty), leaving the folder behind: so a failure is tried again while
/// the folder is there, for up to a second.
fn remove_folder(path: &Path) -> bool {
    for _ in 0..100 {
        match std::fs::remove_dir_all(path) {
            Ok(()) => return true,
            // Gone, the owner's removal done first. (Not any `NotFound`: an entry inside
            // may be the one not found, the folder still there.)
            Err(_) if !path.exists() => return true,
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    !path.exists()
}

/// Whether `pid` is alive and not a zombie (our children are not reaped before we exit).
fn is_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree of `folders` × `files` under `root`.
    fn tree(root: &Path, folders: usize, files: usize) {
        for d in 0..folders {
            let dir = root.join(format!("d{d}"));
            std::fs::create_dir_all(&dir).unwrap();
            for f in 0..files {
                std::fs::write(dir.join(format!("f{f}")), b"x").unwrap();
            }
        }
    }

    #[test]
    fn a_folder_written_to_while_it_is_removed_is_still_removed() {
        // The owner goes on writing for a while (a server's restart opens its log in the
        // folder while the handler removes it): a removal that lists the folder, then finds
        // it not empty, must try again.
        let scratch = tempfile::tempdir().unwrap();
        let root = scratch.path().join("busy");
        tree(&root, 4, 50);
        let writer = {
            let root = root.clone();
            std::thread::spawn(move || {
                let started = std::time::Instant::now();
                let mut i = 0;
                while started.elapsed() < Duration::from_millis(100) {
                    // Fails once the folder is gone, which is the point.
                    let _ = std::fs::write(root.join(format!("late{i}")), b"x");
                    i += 1;
                }
            })
        };
        let gone = remove_folder(&root);
        writer.join().unwrap();
        assert!(gone, "remove_folder gave up");
        assert!(!root.exists(), "the folder is left");
    }

    #[test]
    fn a_folder_made_under_the_lock_is_on_the_list_until_its_registration_ends() {
        let scratch = tempfile::tempdir().unwrap();
        let (dir, registered) = create_removed_on_interrupt(|| {
            tempfile::Builder::new()
                .prefix("made-")
                .tempdir_in(scratch.path())
        })
        .unwrap();
        assert!(registry().paths.values().any(|p| p == dir.path()));
        drop(registered);
        assert!(!registry().paths.values().any(|p| p == dir.path()));
        // A failed creation registers nothing.
        let missing = scratch.path().join("missing");
        let failed = create_removed_on_interrupt(|| tempfile::Builder::new().tempdir_in(&missing));
        assert!(failed.is_err());
        assert!(!registry().paths.values().any(|p| p.starts_with(&missing)));
    }
}
