//! Failure drill rows that break the machinery around a chapter rather than its input. Each
//! row starts its own servers on free ports (never one that other tests share) and breaks
//! them at a known point through a proxy of its own on loopback:
//!
//! - the MongoDB-wire server killed (SIGKILL) once the chapter's first write into a
//!   collection has reached it and part of it is stored: the run fails with exit 2 naming the
//!   document store, and a rerun on the restarted server (same storage) leaves the collection
//!   a clean run leaves: same count, same content hash, no key twice;
//! - the S3 store answering 503 to some PUTs (retried with backoff, the run completes with
//!   the objects of a clean run), then to everything (exit 2 naming the S3 store within the
//!   retry budget, every object left whole).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auditbook::backends::docstore::{content_hash, local, DocStore, SharedLocal};

mod api;
mod broker;

/// One row at a time: runs on one checkout take turns anyway (its run lock), and a row's
/// time to fail must not include another's run.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The drill servers' administrator, for the rows whose chapter needs authentication on.
const ADMIN: &str = "drill-admin:drill-admin-pw";

/// The URI of the drill's server on `port`, with the administrator's credentials if `auth`.
fn uri(port: u16, auth: bool) -> String {
    if auth {
        format!("mongodb://{ADMIN}@127.0.0.1:{port}/?directConnection=true&authSource=admin")
    } else {
        format!("mongodb://127.0.0.1:{port}/?directConnection=true")
    }
}

/// Waits (up to a minute) until `what` accepts connections on `port`.
fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A SecantusDB of the drill's own, on `port`, its data in `storage`.
struct Server {
    child: Child,
}

impl Server {
    /// `None` when the server was never installed here (the tool installs it on first use).
    /// With `auth`, an administrator is created first with authentication off (the only way
    /// to create the first user), then the server is started again on that data with it on.
    fn start(storage: &Path, port: u16, auth: bool) -> Option<Server> {
        if auth && !storage.join("provisioned").exists() {
            let server = Server::start(storage, port, false)?;
            let (user, password) = ADMIN.split_once(':').unwrap();
            let python = local::venv_dir().join("bin/python");
            let created = Command::new(python)
                .arg("-c")
                .arg(format!(
                    "import pymongo; pymongo.MongoClient('{}').admin.command('createUser', '{user}', pwd='{password}', roles=[{{'role': 'root', 'db': 'admin'}}])",
                    uri(port, false)
                ))
                .status()
                .unwrap();
            assert!(created.success(), "creating the drill's administrator");
            let _ = Command::new("kill")
                .args(["-TERM", &server.child.id().to_string()])
                .status();
            let mut server = server;
            let _ = server.child.wait();
            std::fs::write(storage.join("provisioned"), "").unwrap();
        }
        let python = local::venv_dir().join("bin/python");
        if !python.is_file() {
            assert!(
                std::env::var_os("AUDITBOOK_REQUIRE_SERVERS").is_none(),
                "AUDITBOOK_REQUIRE_SERVERS is set but SecantusDB is not installed at {}",
                python.display()
            );
            return None;
        }
        let child = Command::new(python)
            .args([
                "-c",
                "import sys; from secantus.cli import main; sys.argv[0] = 'secantusd-py'; sys.exit(main())",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--standalone",
                "--log-level",
                "WARNING",
                "--storage-path",
            ])
            .arg(storage.join("data"))
            .args(auth.then_some("--auth"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_listening(port, "SecantusDB");
        Some(Server { child })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback proxy to the server that, once it has passed on a client's `insert` into
/// `db.collection`, watches the collection on the server directly and kills the server
/// (`pid`, SIGKILL) as soon as some of the write is stored: a crash in the middle of the
/// write, whatever the machine's speed.
struct KillingProxy {
    port: u16,
    fired: Arc<AtomicBool>,
}

impl KillingProxy {
    fn start(
        server_port: u16,
        auth: bool,
        pid: Arc<AtomicU32>,
        db: &str,
        collection: &str,
    ) -> KillingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let fired = Arc::new(AtomicBool::new(false));
        // The command's first element: a string named `insert` whose value is the collection.
        let mut pattern = b"\x02insert\x00".to_vec();
        pattern.extend_from_slice(&(collection.len() as u32 + 1).to_le_bytes());
        pattern.extend_from_slice(collection.as_bytes());
        pattern.push(0);
        let trigger = fired.clone();
        let (db, collection) = (db.to_string(), collection.to_string());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", server_port)) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (pattern, trigger, pid) = (pattern.clone(), trigger.clone(), pid.clone());
                let (db, collection) = (db.clone(), collection.clone());
                std::thread::spawn(move || {
                    pump(client, server, |seen| {
                        if !trigger.load(Ordering::SeqCst) && contains(seen, &pattern) {
                            trigger.store(true, Ordering::SeqCst);
                            let (pid, db, collection) =
                                (pid.clone(), db.clone(), collection.clone());
                            std::thread::spawn(move || {
                                kill_once_stored(&uri(server_port, auth), &pid, &db, &collection)
                            });
                        }
                    })
                });
                std::thread::spawn(move || pump(s2, c2, |_| {}));
            }
        });
        KillingProxy { port, fired }
    }

    fn uri(&self, auth: bool) -> String {
        uri(self.port, auth)
    }
}

/// Kills the server once `db.collection` holds a document, or 20 s into the write if none
/// is visible by then.
fn kill_once_stored(uri: &str, pid: &AtomicU32, db: &str, collection: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    if let Ok(store) = DocStore::open(Some(uri), &SharedLocal::default()) {
        let coll = store.collection(db, collection);
        while Instant::now() < deadline
            && store.count(&coll, mongodb::bson::doc! {}).unwrap_or(0) == 0
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let _ = Command::new("kill")
        .args(["-KILL", &pid.load(Ordering::SeqCst).to_string()])
        .status();
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Copies `from` to `to` until either side closes; `look` sees what passed (with the tail
/// of the previous read, so a pattern cut between two reads is still seen).
fn pump(mut from: TcpStream, mut to: TcpStream, mut look: impl FnMut(&[u8])) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut seen: Vec<u8> = Vec::new();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
        look(&seen);
        let keep = seen.len().saturating_sub(64);
        seen.drain(..keep);
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// `chapter` run through the binary against the server at `uri`.
fn run(chapter: &str, uri: &str) -> (std::process::Output, Duration) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_auditbook"))
        .arg("--root")
        .arg(super::root())
        .args(["--mongo-uri", uri, "findings", chapter])
        .output()
        .unwrap();
    (out, started.elapsed())
}

/// The collection as a reader finds it: documents, content hash, and whether a key is there
/// twice (`key` names the fields of the chapter's natural key).
fn collection_state(uri: &str, db: &str, name: &str, key: &[&str]) -> (usize, String, bool) {
    let store = DocStore::open(Some(uri), &SharedLocal::default()).unwrap();
    let docs = store.all_by_id(&store.collection(db, name)).unwrap();
    let keys: std::collections::BTreeSet<String> = docs
        .iter()
        .map(|d| {
            key.iter()
                .map(|k| format!("{:?}", d.get(k)))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    (docs.len(), content_hash(&docs), keys.len() < docs.len())
}

/// One row: `chapter`'s write into `collection` is cut by a killed server, then rerun. With
/// `auth`, the servers require authentication (NosCités' roles are enforced by the server).
fn server_killed_during_the_write(
    row: &str,
    chapter: &str,
    db: &str,
    collection: &str,
    key: &[&str],
    auth: bool,
) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let scratch = tempfile::tempdir().unwrap();
    // The reference: an uninterrupted run on a server of its own.
    let clean_port = free_port();
    let Some(clean_server) = Server::start(&scratch.path().join("clean"), clean_port, auth) else {
        eprintln!("SecantusDB is not installed here: the drill row did not run");
        return;
    };
    let clean_uri = uri(clean_port, auth);
    let (out, _) = run(chapter, &clean_uri);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let clean = collection_state(&clean_uri, db, collection, key);
    assert!(
        clean.0 > 0,
        "the clean run left no document in {db}.{collection}"
    );
    drop(clean_server);

    // The drill: the server dies once the first write into the collection has reached it.
    let storage = scratch.path().join("drilled");
    let port = free_port();
    let server = Server::start(&storage, port, auth).unwrap();
    let pid = Arc::new(AtomicU32::new(server.child.id()));
    let proxy = KillingProxy::start(port, auth, pid.clone(), db, collection);
    let (out, failed_after) = run(chapter, &proxy.uri(auth));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        proxy.fired.load(Ordering::SeqCst),
        "the write was never seen: {stderr}"
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "a dead server is exit 2: {stderr}"
    );
    assert!(
        stderr.contains("document store") || stderr.contains("MongoDB"),
        "the error names the document store: {stderr}"
    );
    drop(server);

    // Restarted on the same storage, the rerun completes the collection, once.
    let restarted = Server::start(&storage, port, auth).unwrap();
    pid.store(restarted.child.id(), Ordering::SeqCst);
    let uri = uri(port, auth);
    let left = collection_state(&uri, db, collection, key);
    assert!(
        left.0 > 0 && left.0 < clean.0,
        "the crash should leave part of the write ({} of {} documents): the rerun must complete it",
        left.0,
        clean.0
    );
    let (out, _) = run(chapter, &uri);
    assert!(
        out.status.success(),
        "the rerun after the crash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = collection_state(&uri, db, collection, key);
    assert!(!after.2, "a key is in the collection twice after the rerun");
    assert_eq!(
        (after.0, &after.1),
        (clean.0, &clean.1),
        "the rerun leaves the collection a clean run leaves"
    );
    eprintln!(
        "drill: {chapter}: server killed during the write into {collection}: failed after {:.1} s with exit 2; \
         {} of {} documents were stored before the crash, none visible twice; the rerun completed the collection ({} documents, same content hash)",
        failed_after.as_secs_f64(),
        left.0,
        clean.0,
        after.0
    );
    record(
        row,
        &[
            ("exit", "2".into()),
            (
                "failed after",
                format!("{:.1} s", failed_after.as_secs_f64()),
            ),
            ("stored at the kill", format!("{} of {}", left.0, clean.0)),
            (
                "after the rerun",
                format!("{} documents, same hash, none twice", after.0),
            ),
        ],
        started,
    );
}

/// Records a passing row for the drill's table (see `auditbook::commands::drill`).
pub(crate) fn record(row: &str, figures: &[(&str, String)], started: Instant) {
    auditbook::commands::drill::record(row, figures, started.elapsed().as_secs_f64()).unwrap();
}

#[test]
fn greencoop_survives_its_server_killed_during_the_load() {
    server_killed_during_the_write(
        "docstore.load_killed",
        "greencoop",
        "greencoop",
        "readings",
        &["station", "ts"],
        false,
    );
}

#[test]
fn noscites_survives_its_server_killed_during_the_restore() {
    server_killed_during_the_write(
        "docstore.restore_killed",
        "noscites",
        "noscites_restored",
        "listings",
        &["_id"],
        true,
    );
}

/// moto's S3 server of the drill's own on `port`, with the bucket `drill`; `None` when moto
/// was never installed here (`scripts/test` installs it).
fn start_moto(port: u16) -> Option<Server> {
    let venv = local::venv_dir().with_file_name("moto-5.2.5");
    let python = venv.join("bin/python");
    if !python.is_file() {
        assert!(
            std::env::var_os("AUDITBOOK_REQUIRE_SERVERS").is_none(),
            "AUDITBOOK_REQUIRE_SERVERS is set but moto is not installed at {}",
            venv.display()
        );
        return None;
    }
    let child = Command::new(&python)
        .arg(venv.join("bin/moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child };
    wait_listening(port, "moto");
    let made = Command::new(&python)
        .arg("-c")
        .arg(format!(
            "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:{port}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test').create_bucket(Bucket='drill')"
        ))
        .status()
        .unwrap();
    assert!(made.success(), "creating the drill's bucket");
    Some(server)
}

/// What the faulty S3 proxy does to the requests it is sent.
#[derive(Clone, Copy)]
enum S3Fault {
    /// Answers 503 to the first `n` PUTs, then passes everything on.
    RefuseFirstPuts(usize),
    /// Passes on the first `n` PUTs, then answers 503 to every request (a store going away).
    GoneAfterPuts(usize),
}

/// A loopback HTTP proxy in front of moto that injects `fault`; counts the 503s it answered.
struct S3Proxy {
    port: u16,
    refused: Arc<AtomicU32>,
}

impl S3Proxy {
    fn start(upstream: u16, fault: S3Fault) -> S3Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let refused = Arc::new(AtomicU32::new(0));
        let puts = Arc::new(AtomicU32::new(0));
        let counted = refused.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (refused, puts) = (counted.clone(), puts.clone());
                std::thread::spawn(move || serve_s3(client, upstream, fault, &refused, &puts));
            }
        });
        S3Proxy { port, refused }
    }
}

/// One client connection, one request: answered by a 503, or by moto on a connection of its
/// own (`Connection: close` both ways, so the client never reuses a connection we closed).
fn serve_s3(
    mut client: TcpStream,
    upstream: u16,
    fault: S3Fault,
    refused: &AtomicU32,
    puts: &AtomicU32,
) {
    let Some((head, body)) = read_request(&mut client) else {
        return;
    };
    let is_put = head.starts_with("PUT ");
    let put_number = if is_put {
        puts.fetch_add(1, Ordering::SeqCst) as usize + 1
    } else {
        0
    };
    let refuse = match fault {
        S3Fault::RefuseFirstPuts(n) => is_put && put_number <= n,
        S3Fault::GoneAfterPuts(n) => puts.load(Ordering::SeqCst) as usize > n,
    };
    if refuse {
        refused.fetch_add(1, Ordering::SeqCst);
        let _ = client.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    let mut request: String = head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:") && !l.is_empty())
        .map(|l| format!("{l}\r\n"))
        .collect();
    request.push_str("Connection: close\r\n\r\n");
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
        return;
    };
    if server
        .write_all(request.as_bytes())
        .and_then(|_| server.write_all(&body))
        .is_err()
    {
        return;
    }
    let mut response = Vec::new();
    let _ = server.read_to_end(&mut response);
    let _ = client.write_all(&response);
}

/// A request's head (up to its blank line) and its body (by Content-Length), or `None` when
/// the client closed.
fn read_request(client: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = client.read(&mut buf).ok().filter(|n| *n > 0)?;
        bytes.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = bytes[head_end + 4..].to_vec();
    while body.len() < length {
        let n = client.read(&mut buf).ok().filter(|n| *n > 0)?;
        body.extend_from_slice(&buf[..n]);
    }
    Some((head, body))
}

/// Every object GreenCoop landed in the bucket, by its name under the run's own prefix
/// (`greencoop/<run>/`), with its bytes.
fn landed_objects(moto_port: u16) -> std::collections::BTreeMap<String, Vec<u8>> {
    use futures_util::TryStreamExt;
    use object_store::{ObjectStore, ObjectStoreExt};
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(format!("http://127.0.0.1:{moto_port}"))
        .with_allow_http(true)
        .with_bucket_name("drill")
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listed: Vec<object_store::ObjectMeta> = store
            .list(Some(&object_store::path::Path::from("greencoop")))
            .try_collect()
            .await
            .unwrap();
        let mut objects = std::collections::BTreeMap::new();
        for meta in listed {
            let bytes = store
                .get(&meta.location)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let name = meta.location.to_string();
            let relative = name.splitn(3, '/').nth(2).unwrap_or_default().to_string();
            objects.insert(relative, bytes.to_vec());
        }
        objects
    })
}

/// GreenCoop landing its files on S3 through `fault`: its output, time, and the 503s.
fn greencoop_through(fault: S3Fault) -> Option<(std::process::Output, Duration, u32, u16, Server)> {
    let moto_port = free_port();
    let moto = start_moto(moto_port)?;
    let proxy = S3Proxy::start(moto_port, fault);
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_auditbook"))
        .arg("--root")
        .arg(super::root())
        .args(["--s3-endpoint", &format!("http://127.0.0.1:{}", proxy.port)])
        .args(["--s3-bucket", "drill", "findings", "greencoop"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    Some((
        out,
        started.elapsed(),
        proxy.refused.load(Ordering::SeqCst),
        moto_port,
        moto,
    ))
}

/// The object store refusing PUTs, then going away: two 503s are retried with backoff and
/// the run lands every file as a clean run does; a store that stops answering fails the run
/// with exit 2 naming the S3 store, within the retry budget, and every object it left is
/// whole (the bytes a clean run writes under that name: an S3 PUT is seen whole or not at all).
#[test]
fn the_object_store_refusing_then_gone_is_retried_then_a_clear_error() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let Some((out, _, refused, moto_port, _moto)) = greencoop_through(S3Fault::RefuseFirstPuts(0))
    else {
        eprintln!("moto is not installed here: the drill row did not run");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(refused, 0);
    let clean = landed_objects(moto_port);
    assert!(
        clean.len() >= 2,
        "GreenCoop lands its files: {:?}",
        clean.keys()
    );

    let (out, retried_took, refused, moto_port, _moto) =
        greencoop_through(S3Fault::RefuseFirstPuts(2)).unwrap();
    assert!(
        out.status.success(),
        "two 503s are retried: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(refused, 2, "the proxy refused two PUTs");
    assert_eq!(
        landed_objects(moto_port),
        clean,
        "the retried run lands what a clean run lands"
    );
    eprintln!(
        "drill: S3 answering 503 to 2 PUTs: retried, run complete in {:.1} s, {} objects as a clean run's",
        retried_took.as_secs_f64(),
        clean.len()
    );

    let (out, took, refused, moto_port, _moto) =
        greencoop_through(S3Fault::GoneAfterPuts(1)).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a store gone is exit 2: {stderr}"
    );
    assert!(
        stderr.contains("S3 store"),
        "the error names the S3 store: {stderr}"
    );
    assert!(
        refused >= 2,
        "the PUT after the first was retried ({refused} refusals)"
    );
    assert!(took < Duration::from_secs(60), "gave up after {took:?}");
    let left = landed_objects(moto_port);
    assert!(
        left.len() < clean.len(),
        "the store went away before the last file"
    );
    for (name, bytes) in &left {
        assert_eq!(Some(bytes), clean.get(name), "{name} is not whole");
    }
    eprintln!(
        "drill: S3 gone after the first PUT: exit 2 after {:.1} s and {refused} refused requests; {} whole object(s) left, none partial",
        took.as_secs_f64(),
        left.len()
    );
    record(
        "objstore.refusing_then_gone",
        &[
            ("503s retried", "2".into()),
            (
                "retried run",
                format!(
                    "{:.1} s, {} objects as a clean run's",
                    retried_took.as_secs_f64(),
                    clean.len()
                ),
            ),
            (
                "gone",
                format!(
                    "exit 2 after {:.1} s, {refused} refusals",
                    took.as_secs_f64()
                ),
            ),
            (
                "left",
                format!("{} whole object(s), none partial", left.len()),
            ),
        ],
        started,
    );
}
