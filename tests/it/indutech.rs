//! Chapter 3: the stream through the in-process broker equals a batch recomputation; a
//! processor that crashes mid-stream and restarts from its checkpoint writes the same files
//! as one that never stopped; an unreachable broker is a clear error, not a panic. With the
//! test servers `scripts/test` starts: the same pipeline through a real Kafka-protocol broker
//! (Tansu) and an S3-compatible store (moto).

use std::collections::BTreeMap;
use std::time::Duration;

use auditbook::backends::kafka::{Broker, BrokerError};
use auditbook::backends::objstore::{Storage, Target};
use auditbook::chapters::indutech::generate::{self, Plan};
use auditbook::chapters::indutech::payload::Payload;
use auditbook::chapters::indutech::stream::{self, ProcessorConfig};
use auditbook::chapters::indutech::window::{batch_counts, priority_index};
use auditbook::chapters::indutech::{run_group_on, run_pipeline, run_pipeline_on, Drive};
use proptest::prelude::*;

pub(crate) fn plan(seed: u64, tickets: usize) -> Plan {
    Plan {
        seed,
        tickets,
        start_ms: 1_793_577_600_000, // 2026-11-02T00:00:00Z, a Monday
        days: 1,
        clients: 50,
        disorder_share: 0.1,
        late_share: 0.02,
        lateness_ms: 120_000,
        bursts: 2,
    }
}

pub(crate) fn config(crash_after: Option<u64>) -> ProcessorConfig<'static> {
    ProcessorConfig {
        group: "indutech-test",
        lateness_ms: 120_000,
        crash_after,
        idle_timeout: Duration::from_secs(20),
        progress: None,
        holding: None,
    }
}

/// Every object the sink wrote but the checkpoint (which counts checkpoints), by name.
pub(crate) fn objects(sink: &Storage) -> BTreeMap<String, Vec<u8>> {
    sink.list("")
        .unwrap()
        .into_iter()
        .filter(|n| !n.starts_with("checkpoints/"))
        .map(|n| {
            let bytes = sink.get(&n).unwrap().unwrap();
            (n, bytes)
        })
        .collect()
}

/// The pipeline on the in-process broker into a fresh folder, and what it wrote.
pub(crate) fn local_run(
    p: &Plan,
    partitions: i32,
) -> (tempfile::TempDir, BTreeMap<String, Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    run_pipeline(
        p,
        partitions,
        None,
        &Target::Local(dir.path().to_path_buf()),
        "tickets",
    )
    .unwrap();
    let objects = objects(&Storage::open(&Target::Local(dir.path().to_path_buf())).unwrap());
    (dir, objects)
}

#[test]
fn the_book_run_passes_its_checks() {
    let nb = &super::book_notebooks()
        .iter()
        .find(|(c, _)| c.meta().id == "indutech")
        .unwrap()
        .1;
    assert!(nb.failures().is_empty(), "{:?}", nb.failures());
    for id in [
        "stream.every_ticket_read_once",
        "batch.equals_stream",
        "parquet.round_trip",
    ] {
        super::check_passed(nb, id);
    }
    assert!(
        nb.int("stream.late").unwrap() > 0,
        "the default plan has late tickets"
    );
}

#[test]
fn a_crash_and_restart_writes_what_an_uninterrupted_run_writes() {
    let tickets = generate::generate(&plan(11, 6000));
    let whole_dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(None, "tickets", 3).unwrap();
    stream::produce(&broker.endpoint, &tickets, None).unwrap();
    let mut whole = Storage::open(&Target::Local(whole_dir.path().to_path_buf())).unwrap();
    let done = stream::process(&broker.endpoint, &mut whole, &config(None)).unwrap();
    assert!(done.finished);

    let crashed_dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(None, "tickets", 3).unwrap();
    stream::produce(&broker.endpoint, &tickets, None).unwrap();
    let mut crashed = Storage::open(&Target::Local(crashed_dir.path().to_path_buf())).unwrap();
    let first = stream::process(&broker.endpoint, &mut crashed, &config(Some(4000))).unwrap();
    assert!(!first.finished);
    assert_eq!(
        first.checkpoint.next_seq, 4000,
        "stopped after 4000 tickets"
    );
    let second = stream::process(&broker.endpoint, &mut crashed, &config(None)).unwrap();
    assert!(second.finished);
    assert!(
        second.tickets_this_run < 6000,
        "the restart re-read only what followed its checkpoint"
    );
    assert_eq!(second.checkpoint.next_seq as usize, tickets.len());
    assert_eq!(
        objects(&crashed),
        objects(&whole),
        "same objects, same bytes"
    );
    assert_eq!(second.checkpoint.windows, done.checkpoint.windows);
}

/// A run that failed while writing one cut leaves some partitions' checkpoints a cut ahead
/// of the others' (the failure drill's killed broker did): the restart rolls those back to
/// the state their last cut replaced and writes what an uninterrupted run writes. The same
/// restart with that earlier state lost is refused, naming the file.
#[test]
fn a_restart_with_partitions_a_cut_apart_rolls_back_and_writes_the_same_files() {
    use auditbook::chapters::indutech::task::PartitionState;
    let p = plan(13, 6000);
    let tickets = generate::generate(&p);
    let (_keep, uninterrupted) = local_run(&p, 3);
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(None, "tickets", 3).unwrap();
    stream::produce(&broker.endpoint, &tickets, None).unwrap();
    let mut sink = Storage::open(&Target::Local(dir.path().to_path_buf())).unwrap();
    let first = stream::process(&broker.endpoint, &mut sink, &config(Some(4000))).unwrap();
    assert!(!first.finished);
    // Partitions 1 and 2 as if their last cut had never been written.
    for partition in [1, 2] {
        let previous = sink.get(&PartitionState::previous_file(partition)).unwrap();
        let previous = previous.expect("a cut replaced an earlier one");
        sink.put(&PartitionState::file(partition), previous)
            .unwrap();
    }
    // First with partition 0's earlier state lost (overwritten by its latest).
    let kept = sink
        .get(&PartitionState::previous_file(0))
        .unwrap()
        .unwrap();
    let latest = sink.get(&PartitionState::file(0)).unwrap().unwrap();
    sink.put(&PartitionState::previous_file(0), latest).unwrap();
    let refused = stream::process(&broker.endpoint, &mut sink, &config(None))
        .expect_err("partition 0 cannot go back without its earlier state");
    assert!(
        matches!(&refused, stream::StreamError::Block { problem, .. } if problem.contains("partition=0.previous.json")),
        "{refused}"
    );
    sink.put(&PartitionState::previous_file(0), kept).unwrap();
    let resumed = stream::process(&broker.endpoint, &mut sink, &config(None)).unwrap();
    assert!(resumed.finished);
    assert_eq!(objects(&sink), uninterrupted, "same objects, same bytes");
}

/// The broker goes away after the tickets were produced: the processor ends with an error
/// that names the broker and what it was waiting for, within its idle timeout, no panic.
#[test]
fn a_broker_that_goes_away_is_a_clear_error() {
    let tickets = generate::generate(&plan(12, 3000));
    let broker = Broker::start(None, "tickets", 3).unwrap();
    stream::produce(&broker.endpoint, &tickets, None).unwrap();
    let endpoint = broker.endpoint.clone();
    drop(broker); // the in-process cluster shuts down with everything it held
    let dir = tempfile::tempdir().unwrap();
    let mut sink = Storage::open(&Target::Local(dir.path().to_path_buf())).unwrap();
    let cfg = ProcessorConfig {
        idle_timeout: Duration::from_secs(5),
        ..config(None)
    };
    let started = std::time::Instant::now();
    let error = stream::process(&endpoint, &mut sink, &cfg)
        .expect_err("nothing can be read from a broker that is gone");
    // Out of reach, not a wrong book: the tool could not run (exit 2), naming the broker.
    assert!(
        matches!(&error, stream::StreamError::Unreachable(u) if u.address == endpoint.bootstrap),
        "{error:?}"
    );
    let error = auditbook::error::Error::within("indutech")(error);
    assert_eq!(error.exit_code(), 2, "{}", error.report());
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(
        sink.list("checkpoints").unwrap().is_empty(),
        "no checkpoint claims tickets that were not read"
    );
}

#[test]
fn an_unreachable_broker_is_a_clear_error() {
    let started = std::time::Instant::now();
    let error = Broker::start(Some("127.0.0.1:9"), "tickets-x", 2)
        .err()
        .expect("no broker listens on port 9");
    // Out of reach, named: the tool could not run (exit 2), not a wrong book.
    assert!(
        matches!(&error, BrokerError::Unreachable(u) if u.address == "127.0.0.1:9"),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(40));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: super::cases(4), ..ProptestConfig::default() })]

    /// Through the broker, with random disorder, lateness and partitions: every (window,
    /// priority) count written plus its late count equals the batch count.
    #[test]
    fn the_stream_through_the_broker_equals_the_batch(seed in 0u64..1000, late_share in 0.0f64..0.1, disorder in 0.0f64..0.5, partitions in 1i32..5) {
        let mut p = plan(seed, 1500);
        p.late_share = late_share;
        p.disorder_share = disorder;
        let dir = tempfile::tempdir().unwrap();
        let run = run_pipeline(&p, partitions, None, &Target::Local(dir.path().to_path_buf()), "tickets").unwrap();
        let w = &run.processed.checkpoint.windows;
        let tickets = generate::generate(&p);
        let batch = batch_counts(tickets.iter().map(|t| (t.created_at_ms, priority_index(&t.priority).unwrap())));
        prop_assert_eq!(w.on_time_events + w.late_events, tickets.len() as i64);
        // The windows as written, read back by DuckDB.
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let glob = dir.path().join("windows").join("*.parquet");
        let mut stmt = conn.prepare(&format!("select epoch_ms(window_start), priority, tickets from read_parquet('{}')", glob.display())).unwrap();
        let rows: Vec<(i64, String, i64)> = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
        let mut stream: BTreeMap<i64, [i64; 4]> = BTreeMap::new();
        for (start, priority, n) in rows {
            stream.entry(start).or_insert([0; 4])[priority_index(&priority).unwrap()] += n;
        }
        for (start, counts) in &batch {
            for i in 0..4 {
                let late = w.late.get(start).map_or(0, |c| c[i]);
                let streamed = stream.get(start).map_or(0, |c| c[i]);
                prop_assert_eq!(streamed + late, counts[i], "window {} priority {}", start, i);
            }
        }
        let streamed_total: i64 = stream.values().flat_map(|c| c.iter()).sum();
        let batch_total: i64 = batch.values().flat_map(|c| c.iter()).sum();
        prop_assert_eq!(streamed_total + w.added_late, batch_total);
    }
}

/// The compact record form is a transport choice only: the files it leads to are the JSON
/// run's, byte for byte.
#[test]
fn compact_records_give_the_same_files_as_json_records() {
    let p = plan(11, 4000);
    let (_keep, json) = local_run(&p, 3);
    let dir = tempfile::tempdir().unwrap();
    let tickets = generate::generate(&p);
    let drive = Drive {
        crash_after: None,
        payload: Payload::Compact,
    };
    let target = Target::Local(dir.path().to_path_buf());
    let run = run_pipeline_on(&p, &tickets, 3, None, &target, "tickets", drive).unwrap();
    assert!(run.processed.finished);
    let compact = objects(&Storage::open(&target).unwrap());
    assert!(
        json.keys().any(|n| n.starts_with("raw/")),
        "{:?}",
        json.keys()
    );
    assert_eq!(json, compact);
}

/// Every raw ticket archived under `dir`, as text, in stream order, without the offset it
/// was read at.
fn raw_tickets_without_offsets(dir: &std::path::Path) -> Vec<String> {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let sql = format!(
        "SELECT concat_ws('|', seq, ticket_id, client_id, created_at, arrival, request, request_type, priority, partition) \
         FROM read_parquet('{}/raw/*/*.parquet') ORDER BY seq",
        dir.display()
    );
    let mut stmt = conn.prepare(&sql).unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Batched records are a transport choice too: each ticket lands in the partition it would
/// one per record, so the windows and late counts are the JSON run's, byte for byte; the raw
/// archive holds the same tickets, each read at its batch's offset.
#[test]
fn batched_records_give_the_windows_of_one_ticket_per_record() {
    let p = plan(11, 4000);
    let (json_dir, json) = local_run(&p, 3);
    let dir = tempfile::tempdir().unwrap();
    let tickets = generate::generate(&p);
    let drive = Drive {
        crash_after: None,
        payload: Payload::Batched,
    };
    let target = Target::Local(dir.path().to_path_buf());
    let run = run_pipeline_on(&p, &tickets, 3, None, &target, "tickets", drive).unwrap();
    assert!(run.processed.finished);
    // 4 blocks: per partition a batch and a heartbeat each, and the end marker.
    let records: i64 = run.processed.checkpoint.next_offset.values().sum();
    assert!(
        records < 100,
        "{records} records for {} tickets: not batched",
        tickets.len()
    );
    let batched = objects(&Storage::open(&target).unwrap());
    assert_eq!(
        json.keys().collect::<Vec<_>>(),
        batched.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &json {
        if !name.starts_with("raw/") {
            assert!(batched[name] == *bytes, "{name} differs");
        }
    }
    let archived = raw_tickets_without_offsets(dir.path());
    assert_eq!(archived.len(), tickets.len());
    assert_eq!(archived, raw_tickets_without_offsets(json_dir.path()));
}

/// The producer's batches go to the partition librdkafka's default partitioner gives each
/// ticket's client key: what a record keyed by client gets.
#[test]
fn batches_are_partitioned_as_librdkafka_partitions_keys() {
    use auditbook::chapters::indutech::payload::partition_of;
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    let tickets = generate::generate(&plan(3, 600));
    let broker = Broker::start(None, "tickets", 5).unwrap();
    stream::produce(&broker.endpoint, &tickets, None).unwrap();
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &broker.endpoint.bootstrap)
        .set("group.id", "partitions")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&["tickets"]).unwrap();
    let mut seen = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while seen < tickets.len() && std::time::Instant::now() < deadline {
        let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let Some(key) = m.key().filter(|k| !k.starts_with(b"__")) else {
            continue;
        };
        let key = std::str::from_utf8(key).unwrap();
        assert_eq!(m.partition(), partition_of(key, 5), "client {key}");
        seen += 1;
    }
    assert_eq!(seen, tickets.len());
}

#[test]
fn a_real_broker_gives_the_same_files_as_the_in_process_one() {
    let Some(brokers) = crate::server("AUDITBOOK_TEST_KAFKA_BROKERS") else {
        return;
    };
    let p = plan(5, 3000);
    let dir = tempfile::tempdir().unwrap();
    let topic = format!("tickets-same-{}", std::process::id());
    let run = run_pipeline(
        &p,
        3,
        Some(&brokers),
        &Target::Local(dir.path().to_path_buf()),
        &topic,
    )
    .unwrap();
    assert!(run.processed.finished);
    let real = objects(&Storage::open(&Target::Local(dir.path().to_path_buf())).unwrap());
    let (_keep, mock) = local_run(&p, 3);
    assert_eq!(
        real.keys().collect::<Vec<_>>(),
        mock.keys().collect::<Vec<_>>()
    );
    assert!(real == mock, "same partitions, offsets, windows and bytes");
}

#[test]
fn a_restart_from_committed_offsets_on_a_real_broker() {
    let Some(brokers) = crate::server("AUDITBOOK_TEST_KAFKA_BROKERS") else {
        return;
    };
    let p = plan(6, 3000);
    let tickets = generate::generate(&p);
    let topic = format!("tickets-restart-{}", std::process::id());
    let broker = Broker::start(Some(&brokers), &topic, 3).unwrap();
    stream::produce(&broker.endpoint, &tickets, None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut sink = Storage::open(&Target::Local(dir.path().to_path_buf())).unwrap();
    let crash = ProcessorConfig {
        group: "indutech-restart",
        lateness_ms: p.lateness_ms,
        crash_after: Some(2000),
        idle_timeout: Duration::from_secs(30),
        progress: None,
        holding: None,
    };
    assert!(
        !stream::process(&broker.endpoint, &mut sink, &crash)
            .unwrap()
            .finished
    );
    let resumed = stream::process(
        &broker.endpoint,
        &mut sink,
        &ProcessorConfig {
            crash_after: None,
            ..crash
        },
    )
    .unwrap();
    assert!(resumed.finished && resumed.tickets_this_run < 3000);
    let (_keep, mock) = local_run(&p, 3);
    assert!(
        objects(&sink) == mock,
        "the restarted run wrote what an uninterrupted one writes"
    );
}

#[test]
fn two_consumers_of_one_group_share_the_partitions() {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
    use rdkafka::message::Message;
    let Some(brokers) = crate::server("AUDITBOOK_TEST_KAFKA_BROKERS") else {
        return;
    };
    let tickets = generate::generate(&plan(7, 2000));
    let topic = format!("tickets-group-{}", std::process::id());
    let broker = Broker::start(Some(&brokers), &topic, 4).unwrap();
    stream::produce(&broker.endpoint, &tickets, None).unwrap();
    let consumer = || -> BaseConsumer {
        let c: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("group.id", format!("group-{topic}"))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        c.subscribe(&[&topic]).unwrap();
        c
    };
    let (a, b) = (consumer(), consumer());
    let mut seen: Vec<Vec<u64>> = vec![vec![], vec![]];
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while seen.iter().map(Vec::len).sum::<usize>() < tickets.len()
        && std::time::Instant::now() < deadline
    {
        for (i, c) in [&a, &b].into_iter().enumerate() {
            if let Some(Ok(m)) = c.poll(Duration::from_millis(50)) {
                // Tickets only: end markers and heartbeats carry keys starting with "__".
                if !m.key().is_some_and(|k| k.starts_with(b"__")) {
                    let t: generate::Ticket = serde_json::from_slice(m.payload().unwrap()).unwrap();
                    seen[i].push(t.seq);
                }
                // Committed as read: a partition that moves in a rebalance goes on from here.
                c.commit_message(&m, CommitMode::Sync).unwrap();
            }
        }
    }
    assert!(
        !seen[0].is_empty() && !seen[1].is_empty(),
        "both consumers got a share: {} and {}",
        seen[0].len(),
        seen[1].len()
    );
    let owned = |c: &BaseConsumer| {
        c.assignment()
            .unwrap()
            .elements()
            .iter()
            .map(|e| e.partition())
            .collect::<std::collections::BTreeSet<i32>>()
    };
    let (pa, pb) = (owned(&a), owned(&b));
    assert!(
        pa.is_disjoint(&pb) && pa.len() + pb.len() == 4,
        "the group split the 4 partitions: {pa:?} {pb:?}"
    );
    let mut all: Vec<u64> = seen.concat();
    all.sort();
    assert_eq!(
        all,
        (0..tickets.len() as u64).collect::<Vec<_>>(),
        "every ticket once"
    );
}

#[test]
fn the_lake_on_s3_holds_the_same_objects() {
    let (Some(endpoint), Some(bucket)) = (
        crate::server("AUDITBOOK_TEST_S3_ENDPOINT"),
        crate::server("AUDITBOOK_TEST_S3_BUCKET"),
    ) else {
        return;
    };
    let p = plan(8, 2000);
    let target = Target::S3 {
        endpoint,
        bucket,
        prefix: format!("test-{}", std::process::id()),
    };
    run_pipeline(&p, 3, None, &target, "tickets").unwrap();
    let on_s3 = objects(&Storage::open(&target).unwrap());
    let (_keep, local) = local_run(&p, 3);
    assert!(
        on_s3 == local,
        "the same objects on S3 as in the local folder"
    );
}

/// Two processors in one consumer group on `brokers` (the in-process cluster when `None`),
/// sharing the 4 partitions of a topic of their own; the second leaves the group after
/// `leave_after` of its tickets, when given. Returns what the sink holds, and each member's
/// run.
fn two_members(
    brokers: Option<&str>,
    p: &Plan,
    name: &str,
    leave_after: Option<u64>,
) -> (
    tempfile::TempDir,
    BTreeMap<String, Vec<u8>>,
    [stream::Processed; 2],
) {
    let tickets = generate::generate(p);
    let topic = format!("tickets-{name}-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let target = Target::Local(dir.path().to_path_buf());
    let run = run_group_on(
        p,
        &tickets,
        4,
        brokers,
        &target,
        &topic,
        &[None, leave_after],
        Payload::Json,
    )
    .unwrap();
    let objects = objects(&Storage::open(&target).unwrap());
    let [a, b]: [stream::Processed; 2] = run.members.try_into().unwrap();
    (dir, objects, [a, b])
}

/// Two members of one group, each windowing the partitions the group gives it against the
/// watermark over all partitions, write what one processor of the whole topic writes.
fn two_members_write_what_one_processor_writes(brokers: Option<&str>) {
    let p = plan(21, 6000);
    let (_keep, group, [a, b]) = two_members(brokers, &p, "share", None);
    assert!(a.finished && b.finished);
    assert!(
        a.tickets_this_run > 0 && b.tickets_this_run > 0,
        "both windowed a share: {} and {}",
        a.tickets_this_run,
        b.tickets_this_run
    );
    let (_keep, one) = local_run(&p, 4);
    assert_eq!(
        group.keys().collect::<Vec<_>>(),
        one.keys().collect::<Vec<_>>()
    );
    assert!(group == one, "the same objects, byte for byte");
}

/// One member leaves mid-stream: the other takes its partitions from their checkpoints
/// and committed offsets, and the files are one processor's, nothing counted twice or lost.
fn a_member_that_leaves_hands_its_partitions_over(brokers: Option<&str>) {
    let p = plan(22, 6000);
    let (_keep, group, [a, b]) = two_members(brokers, &p, "leave", Some(1000));
    assert!(
        a.finished && !b.finished,
        "the second left, the first finished"
    );
    assert!(b.tickets_this_run >= 1000);
    let (_keep, one) = local_run(&p, 4);
    assert_eq!(
        group.keys().collect::<Vec<_>>(),
        one.keys().collect::<Vec<_>>()
    );
    assert!(group == one, "the same objects, byte for byte");
}

#[test]
fn two_members_of_a_group_on_the_in_process_broker() {
    two_members_write_what_one_processor_writes(None);
    a_member_that_leaves_hands_its_partitions_over(None);
}

#[test]
fn two_members_of_a_group_on_a_real_broker() {
    let Some(brokers) = crate::server("AUDITBOOK_TEST_KAFKA_BROKERS") else {
        return;
    };
    two_members_write_what_one_processor_writes(Some(&brokers));
    a_member_that_leaves_hands_its_partitions_over(Some(&brokers));
}

/// The stream scaled as Kafka users scale it, one process per member: two `stream-process`
/// commands join one group on the real broker, then `stream-produce` sends the tickets; the
/// lake the two write together is one processor's, byte for byte.
#[test]
fn members_in_separate_processes_write_one_processors_lake() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let Some(brokers) = crate::server("AUDITBOOK_TEST_KAFKA_BROKERS") else {
        return;
    };
    let topic = format!("tickets-processes-{}", std::process::id());
    let lake = tempfile::tempdir().unwrap();
    let lake_arg = lake.path().to_str().unwrap();
    let params = ["--param", "tickets=6000", "--param", "partitions=4"];
    // Each member's latest share, from the "holding N of 4 partitions" lines it prints.
    let (said, heard) = std::sync::mpsc::channel::<(usize, usize)>();
    let mut members = Vec::new();
    for m in 0..2 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_auditbook"))
            .arg("--root")
            .arg(crate::root())
            .args(["--brokers", &brokers, "stream-process", "--topic", &topic])
            .args(["--lake", lake_arg, "--idle-timeout-s", "60"])
            .args(params)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let said = said.clone();
        let lines = std::thread::spawn(move || {
            let mut all = Vec::new();
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(n) = line
                    .strip_prefix("holding ")
                    .and_then(|r| r.split(' ').next()?.parse().ok())
                {
                    let _ = said.send((m, n));
                }
                all.push(line);
            }
            all
        });
        members.push((child, lines));
    }
    let mut holding = [0usize; 2];
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while holding.contains(&0) && std::time::Instant::now() < deadline {
        if let Ok((m, n)) = heard.recv_timeout(Duration::from_millis(200)) {
            holding[m] = n;
        }
    }
    assert!(!holding.contains(&0), "the group formed: {holding:?}");
    let produced = crate::auditbook(
        &[
            &["--brokers", &brokers, "stream-produce", "--topic", &topic][..],
            &params[..],
        ]
        .concat(),
    );
    assert!(
        produced.status.success(),
        "{}",
        String::from_utf8_lossy(&produced.stderr)
    );
    let mut windowed = Vec::new();
    for (child, lines) in members {
        let out = child.wait_with_output().unwrap();
        let lines = lines.join().unwrap();
        assert!(
            out.status.success(),
            "a member failed: {lines:?} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let last = lines.last().cloned().unwrap_or_default();
        assert!(last.ends_with("is written whole"), "{last}");
        windowed.push(last);
    }
    assert!(
        windowed.iter().all(|l| !l.starts_with("windowed 0 ")),
        "both windowed a share: {windowed:?}"
    );
    // One processor of the whole topic, in process, on the chapter's plan with the same
    // parameters.
    let given: BTreeMap<String, String> = [("tickets", "6000"), ("partitions", "4")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
    let meta = *auditbook::chapter::Chapter::meta(&auditbook::chapters::indutech::InduTech);
    let params = auditbook::chapter::Params::resolve(&meta, &given).unwrap();
    let p = auditbook::chapters::indutech::InduTech::plan_of(&params).unwrap();
    let (_keep, one) = local_run(&p, 4);
    let group = objects(&Storage::open(&Target::Local(lake.path().to_path_buf())).unwrap());
    assert_eq!(
        group.keys().collect::<Vec<_>>(),
        one.keys().collect::<Vec<_>>()
    );
    assert!(group == one, "the same objects, byte for byte");
}

/// Without a real cluster the member commands refuse to start (exit 2), naming the option.
#[test]
fn the_member_commands_need_a_real_cluster() {
    let commands: [&[&str]; 2] = [
        &["stream-process", "--topic", "t", "--lake", "x"],
        &["stream-produce", "--topic", "t"],
    ];
    for args in commands {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_auditbook"))
            .arg("--root")
            .arg(crate::root())
            .args(args)
            .env_remove("AUDITBOOK_KAFKA_BROKERS")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--brokers"), "{args:?}: {stderr}");
    }
}
