//! What the tool installs on first use into its persistent cache folder (a Python venv for
//! the local MongoDB-wire server today; model packages and other venvs later): one install
//! at a time, across threads and across processes, and never a half-made one that looks
//! ready.
//!
//! The protocol, shared with the shell scripts (`scripts/lib/prerequisites.sh`, which install
//! their own venvs into the same folder the same way):
//!
//! 1. Take an exclusive `flock(2)` on `<cache>/<name>.lock`. Every installer opens the file
//!    itself, so two threads of one process exclude each other as two processes do (the lock
//!    belongs to the open file, not to the process).
//! 2. Under the lock, look again: if another installer finished meanwhile, reuse its result.
//! 3. Build into `<cache>/.<name>.partial-<pid>-<n>`, a folder unique to this installer
//!    (`n` counts the installers of this process: threads share a pid), after removing any
//!    partial folder an earlier installer left when it died (none can be alive: we hold the
//!    lock).
//! 4. Write the stamp `.auditbook-installed` into it, then rename it to `<cache>/<name>`.
//!    The rename is atomic, so a reader sees either nothing or a finished install; only a
//!    folder holding the stamp counts as installed.
//!
//! A failure names the step, the command with its arguments, its exit status and the end
//! of its output, so the user reads the real cause rather than a guess.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

/// The file that marks a finished install; it holds the install's description.
pub const STAMP: &str = ".auditbook-installed";

/// The tool's persistent cache folder: `$AUDITBOOK_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/auditbook`, else `~/.cache/auditbook`. It outlives a clone's `target/`
/// (installs and, later, embeddings are pure functions of their inputs).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AUDITBOOK_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("auditbook");
    }
    PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into()))
        .join(".cache")
        .join("auditbook")
}

/// Why an install failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The cache folder, the lock file or the partial folder could not be made or moved.
    #[error("installing {what}: {action} `{}`: {source}", path.display())]
    Io {
        /// What was being installed.
        what: String,
        /// What was being done to the path.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },

    /// A command the install runs could not be started (not found, not executable).
    #[error("installing {what}: could not run `{command}`: {source}{}", hint.map(|h| format!(" ({h})")).unwrap_or_default())]
    Spawn {
        /// What was being installed.
        what: String,
        /// The command that could not start.
        command: String,
        /// The operating system's reason.
        source: std::io::Error,
        /// What to install so it can run.
        hint: Option<&'static str>,
    },

    /// A command the install runs exited with an error.
    #[error("installing {what}: `{command}` {status}: {output}{}", hint.map(|h| format!(" ({h})")).unwrap_or_default())]
    Command {
        /// What was being installed.
        what: String,
        /// The command that failed.
        command: String,
        /// How it exited.
        status: String,
        /// The end of its output.
        output: String,
        /// What to install so it can run.
        hint: Option<&'static str>,
    },

    /// The build finished but what it made does not pass the install's own readiness test.
    #[error("installing {what}: {message} (in `{}`)", path.display())]
    Unusable {
        /// What was being installed.
        what: String,
        /// The path the other installer holds.
        path: PathBuf,
        /// What happened.
        message: String,
    },
}

/// One thing to install: a folder `<cache>/<name>` built by a function.
#[derive(Debug, Clone)]
pub struct Install {
    /// The folder name under the cache, with the pinned version: `secantusdb-0.7.0b3`.
    pub name: String,
    /// What the user is told: `SecantusDB 0.7.0b3 (a MongoDB-wire server)`.
    pub what: String,
}

/// Counts this process's installers, so that each gets a partial folder of its own.
static INSTALLERS: AtomicU64 = AtomicU64::new(0);

impl Install {
    /// Where the install lives once finished.
    pub fn dir(&self, cache: &Path) -> PathBuf {
        cache.join(&self.name)
    }

    /// Whether `<cache>/<name>` holds a finished install.
    pub fn is_installed(&self, cache: &Path) -> bool {
        self.dir(cache).join(STAMP).is_file()
    }

    /// Returns the finished install's folder, building it with `build` first if needed.
    /// `build` receives an empty folder of its own and fills it; it runs at most once across
    /// every thread and process sharing `cache`: the others wait for the lock and then reuse
    /// its result. Messages (installing, waiting) go to stderr.
    pub fn ensure(
        &self,
        cache: &Path,
        build: impl FnOnce(&Path) -> Result<(), InstallError>,
    ) -> Result<PathBuf, InstallError> {
        let dir = self.dir(cache);
        if self.is_installed(cache) {
            return Ok(dir);
        }
        let io = |action: &'static str, path: &Path| {
            let what = self.what.to_string();
            let path = path.to_path_buf();
            move |source| InstallError::Io {
                what,
                action,
                path,
                source,
            }
        };
        std::fs::create_dir_all(cache).map_err(io("creating the cache folder", cache))?;
        let lock_path = cache.join(format!("{}.lock", self.name));
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("opening the lock", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                eprintln!(
                    "waiting for another install of {} to finish (lock {})",
                    self.what,
                    lock_path.display()
                );
                lock.lock()
                    .map_err(io("waiting for the lock", &lock_path))?;
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(io("taking the lock", &lock_path)(e))
            }
        }
        // The lock is released when `lock` is dropped, at the end of this function.
        if self.is_installed(cache) {
            return Ok(dir);
        }
        self.remove_leftovers(cache)?;
        let partial = cache.join(format!(
            ".{}.partial-{}-{}",
            self.name,
            std::process::id(),
            INSTALLERS.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&partial).map_err(io("creating", &partial))?;
        eprintln!(
            "installing {} into {} (once per machine)",
            self.what,
            dir.display()
        );
        let started = std::time::Instant::now();
        if let Err(e) = build(&partial) {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
        std::fs::write(partial.join(STAMP), format!("{}\n", self.what))
            .map_err(io("writing the stamp into", &partial))?;
        // A folder without the stamp (an install from before this protocol) is replaced.
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io("removing an unfinished install", &dir))?;
        }
        std::fs::rename(&partial, &dir)
            .map_err(io("moving the finished install into place", &dir))?;
        eprintln!(
            "installed {} in {:.1} s",
            self.what,
            started.elapsed().as_secs_f64()
        );
        drop(lock);
        Ok(dir)
    }

    /// Removes partial folders of this install left by installers that died (none is alive
    /// while we hold the lock).
    fn remove_leftovers(&self, cache: &Path) -> Result<(), InstallError> {
        let prefix = format!(".{}.partial-", self.name);
        let entries = std::fs::read_dir(cache).map_err(|source| InstallError::Io {
            what: self.what.to_string(),
            action: "listing",
            path: cache.to_path_buf(),
            source,
        })?;
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let path = entry.path();
                std::fs::remove_dir_all(&path).map_err(|source| InstallError::Io {
                    what: self.what.to_string(),
                    action: "removing a dead installer's folder",
                    path,
                    source,
                })?;
            }
        }
        Ok(())
    }
}

/// Runs one step of an install; a failure carries the command line, its exit status and the
/// last lines of what it printed (stderr, else stdout). `hint` is added only for a cause the
/// output itself shows (see [`hint_for`]), never as a guess.
pub fn run_step(what: &str, command: &mut Command) -> Result<(), InstallError> {
    let line = command_line(command);
    let out = command.output().map_err(|source| InstallError::Spawn {
        what: what.to_string(),
        hint: (source.kind() == std::io::ErrorKind::NotFound).then_some("not found on PATH"),
        command: line.clone(),
        source,
    })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    let output = tail(&text, 12);
    Err(InstallError::Command {
        what: what.to_string(),
        hint: hint_for(&output),
        command: line,
        status: out.status.to_string(),
        output,
    })
}

/// A hint for causes recognised in a command's output.
fn hint_for(output: &str) -> Option<&'static str> {
    if output.contains("ensurepip is not available") || output.contains("No module named venv") {
        Some("Debian: apt-get install python3-venv")
    } else if output.contains("Could not find a version that satisfies")
        || output.contains("Failed to establish a new connection")
    {
        Some("PyPI could not be reached or has no such version")
    } else {
        None
    }
}

/// The command as a user would type it.
fn command_line(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The last `n` non-empty lines of `text`, joined with " | ".
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// Installs `packages` (pip requirement specifiers, pinned) into a Python venv at
/// `<cache>/<install.name>` and returns the venv's python. Run console scripts as
/// `python bin/SCRIPT` or `python -m MODULE`: a venv built beside its place and renamed keeps
/// the old path in its scripts' shebang lines.
pub fn python_venv(
    cache: &Path,
    install: &Install,
    packages: &[&str],
    pip_flags: &[&str],
) -> Result<PathBuf, InstallError> {
    let dir = install.ensure(cache, |partial| {
        run_step(
            &install.what,
            Command::new("python3").args(["-m", "venv"]).arg(partial),
        )?;
        run_step(
            &install.what,
            Command::new(partial.join("bin").join("python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-input",
                ])
                .args(pip_flags)
                .args(packages),
        )
    })?;
    Ok(dir.join("bin").join("python"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_step_names_its_command_status_and_output() {
        let err = run_step(
            "a thing",
            Command::new("sh").args(["-c", "echo first; echo 'the real cause' >&2; exit 3"]),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`sh -c echo first; echo 'the real cause' >&2; exit 3`"),
            "{text}"
        );
        assert!(text.contains("exit status: 3"), "{text}");
        assert!(text.contains("the real cause"), "{text}");
        assert!(!text.contains("apt-get"), "no guessed hint: {text}");
    }

    #[test]
    fn a_missing_program_is_named() {
        let err = run_step("a thing", &mut Command::new("auditbook-no-such-program")).unwrap_err();
        assert!(
            err.to_string()
                .contains("could not run `auditbook-no-such-program`"),
            "{err}"
        );
        assert!(err.to_string().contains("not found on PATH"), "{err}");
    }

    #[test]
    fn hints_come_only_from_the_output() {
        assert_eq!(hint_for("The virtual environment was not created successfully because ensurepip is not available."), Some("Debian: apt-get install python3-venv"));
        assert_eq!(
            hint_for("Command '[...ensurepip...]' returned non-zero exit status 1."),
            None
        );
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\n\nb\nc\n", 2), "b | c");
        assert_eq!(tail("", 3), "");
    }
}
