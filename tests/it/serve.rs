//! `serve` in its own process on a copy of the project: it serves the book with a reload
//! script, and an edited chapter is rebuilt and served without restarting.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn serve_rebuilds_an_edited_chapter_and_serves_it() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    for dir in ["chapters", "templates", "datasets"] {
        auditbook::commands::book::copy_dir(&super::root().join(dir), &root.join(dir)).unwrap();
    }
    // A folder of the test's own for the server's temporary files: stopped as a user stops
    // it (Ctrl-C, SIGTERM), serve must leave nothing there.
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_auditbook"))
        .env("TMPDIR", tmp.path())
        .args([
            "--root",
            root.to_str().unwrap(),
            "serve",
            "--port",
            "0",
            "--out",
        ])
        .arg(root.join("book"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let port: u16 = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(180))
            .expect("serve prints its address");
        if let Some(rest) = line.split("http://127.0.0.1:").nth(1) {
            break rest
                .trim_end_matches(|c: char| !c.is_ascii_digit())
                .split('/')
                .next()
                .unwrap()
                .parse()
                .unwrap();
        }
    };
    let result = std::panic::catch_unwind(|| {
        let index = get(port, "/index.html");
        assert!(index.starts_with("HTTP/1.1 200"), "{index}");
        assert!(
            index.contains("/__auditbook/version"),
            "served pages carry the reload script"
        );
        assert!(get(port, "/../Cargo.toml").starts_with("HTTP/1.1 400"));
        assert!(
            !std::fs::read_to_string(root.join("book/index.html"))
                .unwrap()
                .contains("__auditbook"),
            "the written book has no reload script"
        );

        let prose = root.join("chapters/supersmartmarket/chapter.md");
        let mut text = std::fs::read_to_string(&prose).unwrap();
        text.push_str("\nLive edit marker 7731.\n");
        std::fs::write(&prose, text).unwrap();
        let started = Instant::now();
        loop {
            let version = get(port, "/__auditbook/version");
            if version.trim_end().ends_with('2') || version.trim_end().ends_with('3') {
                break;
            }
            // Generous: the rebuild competes for two cores with the rest of the suite, whose
            // document-store chapters run their servers meanwhile (120 s once was not enough).
            assert!(
                started.elapsed() < Duration::from_secs(420),
                "no rebuild after the edit"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        assert!(get(port, "/supersmartmarket.html").contains("Live edit marker 7731"));
    });
    // SIGTERM, as a user's Ctrl-C or a supervisor stops it (SIGKILL left the document
    // server's data folder behind, 11 MB per run).
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "serve stopped by SIGTERM left {left:?}");
}
