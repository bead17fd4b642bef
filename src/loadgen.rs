//! A small HTTP/1.1 load generator for benchmarks: N keep-alive connections on loopback, each
//! sending the same request back to back for a fixed time, like `wrk -c N -d T`. It records
//! every request's latency, so percentiles are exact, and tallies status codes.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The request each connection repeats.
#[derive(Debug, Clone)]
pub struct Request {
    /// The HTTP method.
    pub method: &'static str,
    /// The path, with its query.
    pub path: String,
    /// The body's content type.
    pub content_type: Option<&'static str>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    fn bytes(&self, host: SocketAddr) -> Vec<u8> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n",
            self.method,
            self.path,
            self.body.len()
        );
        if let Some(ct) = self.content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

/// What one load run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Requests answered.
    pub requests: u64,
    /// Seconds the load ran.
    pub seconds: f64,
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Sorted latencies in microseconds.
    latencies_us: Vec<u32>,
}

impl LoadReport {
    /// Requests answered per second.
    pub fn requests_per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    /// The `q`-quantile of latency (0.5 for the median), in milliseconds.
    pub fn latency_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() - 1) as f64 * q).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

/// Runs `connections` connections against `addr` for `duration`.
pub fn run(
    addr: SocketAddr,
    request: &Request,
    connections: usize,
    duration: Duration,
) -> std::io::Result<LoadReport> {
    let bytes = request.bytes(addr);
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..connections.max(1))
        .map(|_| {
            let bytes = bytes.clone();
            std::thread::spawn(move || connection(addr, &bytes, deadline))
        })
        .collect();
    let mut statuses = BTreeMap::new();
    let mut latencies_us = Vec::new();
    for w in workers {
        let (s, l) = w
            .join()
            .map_err(|_| std::io::Error::other("a load connection panicked"))??;
        for (code, n) in s {
            *statuses.entry(code).or_insert(0) += n;
        }
        latencies_us.extend(l);
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies_us.sort_unstable();
    Ok(LoadReport {
        requests: latencies_us.len() as u64,
        seconds,
        statuses,
        latencies_us,
    })
}

type Tally = (BTreeMap<u16, u64>, Vec<u32>);

fn connection(addr: SocketAddr, request: &[u8], deadline: Instant) -> std::io::Result<Tally> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut statuses = BTreeMap::new();
    let mut latencies = Vec::new();
    let mut line = String::new();
    while Instant::now() < deadline {
        let sent = Instant::now();
        writer.write_all(request)?;
        let (status, length) = read_head(&mut reader, &mut line)?;
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
        *statuses.entry(status).or_insert(0) += 1;
    }
    Ok((statuses, latencies))
}

/// Reads a response's status line and headers; returns the status and Content-Length.
fn read_head(reader: &mut impl BufRead, line: &mut String) -> std::io::Result<(u16, usize)> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    line.clear();
    reader.read_line(line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no HTTP status line"))?;
    let mut length = None;
    loop {
        line.clear();
        if reader.read_line(line)? == 0 {
            return Err(bad("connection closed in the headers"));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok();
            }
        }
    }
    // The load generator only speaks to servers that send Content-Length (no chunked bodies).
    Ok((
        status,
        length.ok_or_else(|| bad("response without Content-Length"))?,
    ))
}
