//! `serve`: a local preview of the book. It builds the book, serves it on 127.0.0.1, watches
//! `chapters/`, `templates/` and `datasets/`, rebuilds the chapter whose files changed (the
//! whole book when templates or data change), and pages reload themselves when a rebuild
//! lands. Files are read live from disk (`embedded::set_live_root`). A failed rebuild is
//! printed and the last good book keeps being served.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::commands::book::{self, RunOptions};
use crate::embedded;
use crate::error::{Error, Result};
use crate::lock::RunLock;

/// Injected into served HTML only (never into the written book): polls the build version
/// and reloads the page when it changes.
const RELOAD_SCRIPT: &str = r#"<script>(function(){var v=null;setInterval(function(){fetch("/__auditbook/version").then(function(r){return r.text()}).then(function(t){if(v!==null&&t!==v)location.reload();v=t}).catch(function(){})},700)})();</script>"#;

/// A running preview: its address, and a flag that stops it.
pub struct Server {
    /// The port the preview listens on.
    pub port: u16,
    /// Bumped at each rebuild; the page polls it to reload.
    pub version: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Stops the watcher and the listener.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the listener with one connection so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Modification times of every file under the watched folders.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, SystemTime> {
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, SystemTime>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
                out.insert(path, modified);
            }
        }
    }
    let mut out = BTreeMap::new();
    for dir in ["chapters", "templates", "datasets"] {
        walk(&root.join(dir), &mut out);
    }
    out
}

/// The chapter a changed file belongs to, if it is one chapter's file.
fn chapter_of(root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root.join("chapters")).ok()?;
    let first = relative
        .components()
        .next()?
        .as_os_str()
        .to_string_lossy()
        .to_string();
    (relative.components().count() > 1).then_some(first)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("md") => "text/markdown; charset=utf-8",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

fn respond(stream: &mut TcpStream, status: &str, kind: &str, body: &[u8]) {
    let head = format!("HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n", body.len());
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

fn handle(mut stream: TcpStream, out: &Path, version: &AtomicU64) {
    let mut line = String::new();
    if BufReader::new(&stream).read_line(&mut line).is_err() {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("/");
    let path = target
        .split(['?', '#'])
        .next()
        .unwrap_or("/")
        .trim_start_matches('/');
    if path == "__auditbook/version" {
        return respond(
            &mut stream,
            "200 OK",
            "text/plain",
            version.load(Ordering::SeqCst).to_string().as_bytes(),
        );
    }
    let path = if path.is_empty() { "index.html" } else { path };
    // Only files inside the book: no `..`, no absolute paths.
    if path.split('/').any(|part| part == ".." || part.is_empty()) {
        return respond(&mut stream, "400 Bad Request", "text/plain", b"bad path");
    }
    match std::fs::read(out.join(path)) {
        Ok(mut body) => {
            if path.ends_with(".html") {
                let text = String::from_utf8_lossy(&body)
                    .replace("</body>", &format!("{RELOAD_SCRIPT}</body>"));
                body = text.into_bytes();
            }
            respond(&mut stream, "200 OK", content_type(path), &body)
        }
        Err(_) => respond(&mut stream, "404 Not Found", "text/plain", b"not found"),
    }
}

/// Builds the book into `out`, then serves and watches it until stopped.
pub fn start(mut options: RunOptions, out: PathBuf, port: u16) -> Result<Server> {
    embedded::set_live_root(options.root.clone());
    // A prose edit reruns nothing: the run cache serves every chapter whose inputs held.
    if options.cache.is_none() {
        options.cache = Some(std::sync::Arc::new(crate::run_cache::RunCache::under(
            &options.root,
        )));
    }
    {
        let _lock = RunLock::acquire(&options.root)?;
        book::build(None, &options, &out)?;
    }
    let listener =
        TcpListener::bind(("127.0.0.1", port)).map_err(Error::io(format!("127.0.0.1:{port}")))?;
    let port = listener.local_addr().map_err(Error::io("listener"))?.port();
    let stop = Arc::new(AtomicBool::new(false));
    let version = Arc::new(AtomicU64::new(1));

    let (serve_out, serve_stop, serve_version) = (out.clone(), stop.clone(), version.clone());
    let server = std::thread::spawn(move || {
        for stream in listener.incoming() {
            if serve_stop.load(Ordering::SeqCst) {
                break;
            }
            if let Ok(stream) = stream {
                let (out, version) = (serve_out.clone(), serve_version.clone());
                std::thread::spawn(move || handle(stream, &out, &version));
            }
        }
    });

    let (watch_stop, watch_version) = (stop.clone(), version.clone());
    // Taken before `start` returns: an edit made as soon as the address is printed must be
    // seen as a change (a snapshot taken inside the new thread could already include it).
    let mut seen = snapshot(&options.root);
    let watcher = std::thread::spawn(move || {
        let root = options.root.clone();
        // Files whose change a failed rebuild did not bring into the book: the next rebuild
        // (on the next change) takes them in too, so a failure never loses an edit.
        let mut pending: std::collections::BTreeSet<PathBuf> = std::collections::BTreeSet::new();
        while !watch_stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(400));
            let now = snapshot(&root);
            if now == seen {
                continue;
            }
            let changed: std::collections::BTreeSet<PathBuf> = now
                .keys()
                .chain(seen.keys())
                .filter(|p| now.get(*p) != seen.get(*p))
                .chain(pending.iter())
                .cloned()
                .collect();
            let chapters: std::collections::BTreeSet<Option<String>> =
                changed.iter().map(|p| chapter_of(&root, p)).collect();
            let only = match chapters.iter().collect::<Vec<_>>().as_slice() {
                [Some(id)] => Some(id.clone()),
                _ => None,
            };
            eprintln!(
                "change in {}: rebuilding {}",
                changed.len(),
                only.as_deref().unwrap_or("the whole book")
            );
            let built = RunLock::acquire(&options.root)
                .and_then(|_lock| book::build(only.as_deref(), &options, &out));
            match built {
                Ok(_) => {
                    watch_version.fetch_add(1, Ordering::SeqCst);
                    pending.clear();
                    eprintln!("rebuilt");
                }
                Err(e) => {
                    eprintln!(
                        "rebuild failed, still serving the last good book:\n{}",
                        e.report()
                    );
                    pending = changed;
                }
            }
            seen = now;
        }
    });
    Ok(Server {
        port,
        version,
        stop,
        threads: vec![server, watcher],
    })
}
