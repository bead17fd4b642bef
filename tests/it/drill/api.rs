//! The APIs under abuse, on loopback and bounded in time: the real server (`auditbook api`
//! for Seattle's model, `auditbook ask --serve` for the events assistant, a process of the
//! row's own) is given 1,000 connections at once, slow clients sending a byte a second,
//! bodies at and over its limits, JSON nested 10,000 deep and bytes that are not UTF-8,
//! while a client of its own keeps sending valid requests. No answer is a 5xx, every valid
//! request is answered 200, the server's peak memory stays bounded; the valid requests' p99
//! under abuse is recorded for the drill's table, not asserted.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auditbook::chapters::seattle::api::{App, BATCH_LIMIT, SINGLE_LIMIT};
use auditbook::chapters::seattle::validate;

use super::{free_port, record, wait_listening};

/// How long a client waits for an answer. The events assistant answers a thousand requests
/// at once one search after another (25 s here, alone): a valid request sent then waits its
/// turn, which is a figure for the table, not a failure.
const ANSWER_WITHIN: Duration = Duration::from_secs(240);

/// The API server, killed when dropped.
struct Api {
    child: Child,
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Api {
    /// Peak resident memory of the server so far, KiB (`VmHWM`).
    fn peak_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

/// One HTTP/1.1 request on a connection of its own: the status and the time to the answer.
fn request(port: u16, path: &str, content_type: &str, body: &[u8]) -> (u16, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(ANSWER_WITHIN)).unwrap();
    stream
        .write_all(&head(path, content_type, body.len()))
        .unwrap();
    stream.write_all(body).unwrap();
    (status_of(&mut stream), started.elapsed())
}

fn head(path: &str, content_type: &str, length: usize) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n\
         Content-Length: {length}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// The status of the answer on `stream`, read to its end (0 when there is none).
fn status_of(stream: &mut TcpStream) -> u16 {
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The `q`-quantile of `values` (sorted here).
fn quantile(values: &mut [Duration], q: f64) -> Duration {
    values.sort();
    values[((values.len() as f64 - 1.0) * q).round() as usize]
}

/// One API as the abuse sees it.
struct Service {
    /// The drill row it records.
    row: &'static str,
    /// What it is called in messages.
    name: &'static str,
    /// The `auditbook` arguments that serve it on `{port}`.
    args: Vec<String>,
    /// A valid request's body, and its route.
    valid: String,
    route: &'static str,
    /// The route's body limit.
    limit: usize,
    /// A route and limit for a body over a larger limit, if it has one (Seattle's batch).
    larger: Option<(&'static str, usize)>,
    /// Where JSON nested 10,000 deep (20,000 bytes) goes, and the answer it must get.
    deep: (&'static str, u16),
}

#[test]
fn the_api_under_abuse_answers_no_5xx_and_keeps_serving() {
    super::super::book_notebooks();
    let model = super::super::root().join("target/auditbook/artifacts/seattle/default/model.json");
    let app = App::load(&model).unwrap();
    abuse(Service {
        row: "api.abuse",
        name: "the Seattle API",
        args: vec![
            "api".into(),
            "--port".into(),
            "{port}".into(),
            "--model".into(),
            model.display().to_string(),
        ],
        valid: validate::example(&app.predictor.metadata.domains).to_string(),
        route: "/predict",
        limit: SINGLE_LIMIT,
        larger: Some(("/predict/batch", BATCH_LIMIT)),
        // 20,000 bytes: over the single route's 16 KiB, so through the batch route.
        deep: ("/predict/batch", 422),
    });
}

#[test]
fn the_events_assistant_under_abuse_answers_no_5xx_and_keeps_serving() {
    abuse(Service {
        row: "api.abuse_events",
        name: "the events assistant",
        args: vec![
            "ask".into(),
            "--serve".into(),
            "--port".into(),
            "{port}".into(),
        ],
        valid: serde_json::json!({"request": "un concert gratuit ce week-end à Lyon", "top": 3})
            .to_string(),
        route: "/recommend",
        limit: auditbook::chapters::events::api::BODY_LIMIT,
        larger: None,
        // 20,000 bytes: over its only limit, refused before it is parsed.
        deep: ("/recommend", 413),
    });
}

fn abuse(service: Service) {
    let started = Instant::now();
    let valid = service.valid.clone();
    let route = service.route;
    let port = free_port();
    let args: Vec<String> = service
        .args
        .iter()
        .map(|a| a.replace("{port}", &port.to_string()))
        .collect();
    let child = Command::new(env!("CARGO_BIN_EXE_auditbook"))
        .arg("--root")
        .arg(super::super::root())
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let api = Api { child };
    wait_listening(port, service.name);
    assert_eq!(
        request(port, route, "application/json", valid.as_bytes()).0,
        200,
        "{}: a valid request",
        service.name
    );
    let resting_kib = api.peak_kib();

    // A client of its own sends a valid request every 20 ms throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let answered: Arc<Mutex<Vec<(u16, Duration)>>> = Arc::default();
    let watcher = {
        let (stop, answered, valid) = (stop.clone(), answered.clone(), valid.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let answer = request(port, route, "application/json", valid.as_bytes());
                answered.lock().unwrap().push(answer);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    // 1,000 connections at once, each with a valid request, answered after all are open.
    let mut open: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    for stream in &mut open {
        stream.set_read_timeout(Some(ANSWER_WITHIN)).unwrap();
        stream
            .write_all(&head(route, "application/json", valid.len()))
            .unwrap();
        stream.write_all(valid.as_bytes()).unwrap();
    }
    let many: Vec<u16> = open.iter_mut().map(status_of).collect();
    drop(open);
    let not_ok = many.iter().filter(|s| **s != 200).count();
    assert_eq!(
        not_ok, 0,
        "of 1,000 connections at once, {not_ok} were not answered 200"
    );

    // 50 slow clients, a byte a second for 5 s, each of a valid request.
    let request_bytes = [
        head(route, "application/json", valid.len()),
        valid.clone().into_bytes(),
    ]
    .concat();
    let mut slow: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    for second in 0..5 {
        for stream in &mut slow {
            let _ = stream.write_all(&request_bytes[second..second + 1]);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    drop(slow);

    // Bodies at and over the limits, JSON nested 10,000 deep, bytes that are not UTF-8.
    let mut at_limit = valid.clone().into_bytes();
    at_limit.resize(service.limit, b' ');
    let deep = [vec![b'['; 10_000], vec![b']'; 10_000]].concat();
    let not_utf8 = b"{\"request\": \"\xff\xfe\"}".to_vec();
    let (deep_route, deep_answer) = service.deep;
    for (what, path, body, expected) in [
        ("a body at the limit", route, &at_limit, 200),
        ("JSON nested 10,000 deep", deep_route, &deep, deep_answer),
        ("bytes that are not UTF-8", route, &not_utf8, 422),
    ] {
        let (status, _) = request(port, path, "application/json", body);
        assert_eq!(status, expected, "{}: {what}", service.name);
    }
    // Over the limits: the server stops reading at the limit and answers, so the rest of
    // the body may meet a closed connection (not a failure of the client's).
    let over = [("a body one byte over", route, service.limit + 1)]
        .into_iter()
        .chain(
            service
                .larger
                .map(|(path, limit)| ("a body one byte over the larger limit", path, limit + 1)),
        );
    for (what, path, length) in over {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(ANSWER_WITHIN)).unwrap();
        stream
            .write_all(&head(path, "application/json", length))
            .unwrap();
        let _ = stream.write_all(&vec![b' '; length]);
        assert_eq!(status_of(&mut stream), 413, "{}: {what}", service.name);
    }

    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    let answered = answered.lock().unwrap().clone();
    let failed: Vec<&(u16, Duration)> = answered.iter().filter(|(s, _)| *s != 200).collect();
    assert!(
        failed.is_empty(),
        "valid requests not answered 200 during the abuse: {failed:?}"
    );
    let peak_kib = api.peak_kib();
    assert!(
        peak_kib < 1024 * 1024,
        "the server's peak memory reached {} MiB",
        peak_kib / 1024
    );
    let mut latencies: Vec<Duration> = answered.iter().map(|(_, d)| *d).collect();
    let p50 = quantile(&mut latencies, 0.5);
    let p99 = quantile(&mut latencies, 0.99);
    eprintln!(
        "drill: {} under abuse: {} valid requests answered 200 meanwhile (p50 {:.1} ms, p99 {:.1} ms); peak memory {} MiB (before the abuse: {} MiB)",
        service.name,
        answered.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        peak_kib / 1024,
        resting_kib / 1024
    );
    let larger = service.larger.map_or(String::new(), |(_, limit)| {
        format!("; {} MiB + 1 → 413", limit / (1024 * 1024))
    });
    record(
        service.row,
        &[
            ("1,000 at once", "all 200".into()),
            (
                "limits",
                format!(
                    "{} KiB → 200, +1 → 413{larger}; 10,000 deep → {deep_answer}; not UTF-8 → 422",
                    service.limit / 1024
                ),
            ),
            (
                "valid meanwhile",
                format!(
                    "{} answered 200, p50 {:.1} ms, p99 {:.1} ms",
                    answered.len(),
                    p50.as_secs_f64() * 1e3,
                    p99.as_secs_f64() * 1e3
                ),
            ),
            (
                "peak memory",
                format!(
                    "{} MiB (before the abuse: {} MiB)",
                    peak_kib / 1024,
                    resting_kib / 1024
                ),
            ),
        ],
        started,
    );
}
