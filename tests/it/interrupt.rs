//! An interrupted build (SIGINT, SIGTERM) at points in different phases of a chapter that
//! starts a local server: the previous book intact, no temporary folder left (the book's,
//! the chapter's scratch folders, the server's data), no server left running, exit 128 + the
//! signal. The build runs on a copy of the project's datasets, so its folders are its own.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(
                    path.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    out
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn build(root: &Path, tmp: &Path, out: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_auditbook"));
    command
        .arg("--root")
        .arg(root)
        .args(["build", "--no-cache", "--chapter", "greencoop", "--out"])
        .arg(out)
        .env("TMPDIR", tmp)
        .env_remove("AUDITBOOK_MONGO_URI");
    command
}

#[test]
fn an_interrupted_build_leaves_the_previous_book_and_nothing_else() {
    let started = std::time::Instant::now();
    let mut exits = Vec::new();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("checkout");
    auditbook::commands::book::copy_dir(&super::root().join("datasets"), &root.join("datasets"))
        .unwrap();
    let tmp = work.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = work.path().join("site").join("book");
    let first = build(&root, &tmp, &out).output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let before = files(&out);
    let generated = root.join("target/auditbook/generated/greencoop");
    let generated_before = names(&generated);

    // After the chapter says it runs: while it stages and starts its server, while it loads,
    // while it audits and backs up (GreenCoop takes about 7 s here).
    for (signal, number, after_ms) in [("-INT", 2, 200), ("-TERM", 15, 1500), ("-TERM", 15, 4000)] {
        let mut child = build(&root, &tmp, &out)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut all = String::new();
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if line.starts_with("greencoop: running") {
                    let _ = tx.send(());
                }
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        rx.recv_timeout(Duration::from_secs(120))
            .expect("the chapter starts");
        std::thread::sleep(Duration::from_millis(after_ms));
        Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        let signalled = std::time::Instant::now();
        let status = child.wait().unwrap();
        let exited_after = signalled.elapsed();
        let said = reader.join().unwrap();
        assert_eq!(
            status.code(),
            Some(128 + number),
            "{signal} after {after_ms} ms: {said}"
        );
        assert!(said.contains("interrupted ("), "{said}");
        assert_eq!(
            files(&out),
            before,
            "{signal} after {after_ms} ms: the previous book changed"
        );
        let site = names(out.parent().unwrap());
        assert_eq!(
            site,
            vec!["book".to_string()],
            "{signal} after {after_ms} ms: the book's temporary folders are left: {site:?}"
        );
        assert!(
            names(&tmp).is_empty(),
            "{signal} after {after_ms} ms: left in TMPDIR: {:?}",
            names(&tmp)
        );
        assert_eq!(
            names(&generated),
            generated_before,
            "{signal} after {after_ms} ms: a scratch folder is left"
        );
        let servers = Command::new("pgrep")
            .args(["-f", &tmp.to_string_lossy()])
            .output()
            .unwrap();
        assert!(
            servers.stdout.is_empty(),
            "{signal} after {after_ms} ms: a server is still running: {}",
            String::from_utf8_lossy(&servers.stdout)
        );
        exits.push(format!(
            "SIG{} at {:.1} s: exit {} in {:.1} s",
            &signal[1..],
            after_ms as f64 / 1000.0,
            128 + number,
            exited_after.as_secs_f64()
        ));
    }
    crate::drill::record(
        "build.signals",
        &[
            ("interrupts", exits.join(", ")),
            (
                "left behind",
                "nothing: book, TMPDIR, scratch, servers".into(),
            ),
        ],
        started,
    );
}

/// The disk fills while the book is written (a small tmpfs, mounted as root): exit 2 naming
/// the file, the previous book intact, no partial folder left beside it.
#[test]
fn a_full_disk_while_writing_the_book_is_exit_2_and_keeps_the_previous_book() {
    let started = std::time::Instant::now();
    let work = tempfile::tempdir().unwrap();
    let normal = work.path().join("normal").join("book");
    let built = build_one_chapter(&normal);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let size: u64 = files(&normal).values().map(|b| b.len() as u64).sum();
    // Room for the previous book and half of the new one.
    let disk = work.path().join("small-disk");
    std::fs::create_dir_all(&disk).unwrap();
    let mounted = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            &format!("size={}k", (size + size / 2) / 1024 + 64),
            "tmpfs",
        ])
        .arg(&disk)
        .output();
    if !mounted.as_ref().is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var_os("AUDITBOOK_REQUIRE_SERVERS").is_none(),
            "no tmpfs could be mounted (needs root): {mounted:?}"
        );
        eprintln!("no tmpfs could be mounted (needs root): skipped");
        return;
    }
    let unmount = unmount_on_drop(&disk);
    let out = disk.join("book");
    auditbook::commands::book::copy_dir(&normal, &out).unwrap();
    let before = files(&out);
    let full = build_one_chapter(&out);
    let err = String::from_utf8_lossy(&full.stderr);
    assert_eq!(full.status.code(), Some(2), "{err}");
    assert!(
        err.contains("No space left on device")
            && err.contains(&disk.to_string_lossy().to_string()),
        "names the file: {err}"
    );
    assert_eq!(files(&out), before, "the previous book changed");
    assert_eq!(
        names(&disk),
        vec!["book".to_string()],
        "a partial folder was left"
    );
    drop(unmount);
    crate::drill::record(
        "build.disk_full",
        &[
            (
                "disk",
                format!(
                    "{} kB for a {} kB book",
                    (size + size / 2) / 1024 + 64,
                    size / 1024
                ),
            ),
            ("exit", "2, naming the file".into()),
        ],
        started,
    );
}

/// Unmounts the folder when dropped (also when an assertion fails).
fn unmount_on_drop(dir: &Path) -> impl Drop + '_ {
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    Unmount(dir)
}

/// `build --no-cache --chapter supersmartmarket --out OUT`, as a user runs it.
fn build_one_chapter(out: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_auditbook"))
        .arg("--root")
        .arg(super::root())
        .args([
            "build",
            "--no-cache",
            "--chapter",
            "supersmartmarket",
            "--out",
        ])
        .arg(out)
        .output()
        .unwrap()
}
