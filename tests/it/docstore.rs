//! The document-store layer against real MongoDB-wire servers: the one the tool starts
//! itself, and the one `scripts/test` starts (`AUDITBOOK_TEST_MONGO_URI`).

use auditbook::backends::docstore::{content_hash, dump, DocStore};
use mongodb::bson::{doc, Document};

fn exercise(store: &DocStore, db: &str) {
    store.drop_database(db).unwrap();
    let coll = store.collection(db, "readings");
    store
        .unique_index(&coll, doc! {"station": 1, "ts": 1}, "station_ts")
        .unwrap();
    let docs: Vec<Document> = (0..50).map(|i| doc! {"_id": format!("s{}/{i}", i % 2), "station": format!("s{}", i % 2), "ts": i, "v": i as f64 / 4.0}).collect();
    let first = store.insert_unordered(&coll, docs.clone()).unwrap();
    assert_eq!((first.inserted, first.duplicates.len()), (50, 0));
    // A re-run loads nothing twice: every document is refused by a unique index.
    let mut again = docs.clone();
    again.push(doc! {"_id": "new", "station": "s9", "ts": 0, "v": 1.0});
    let second = store.insert_unordered(&coll, again).unwrap();
    assert_eq!((second.inserted, second.duplicates.len()), (1, 50));
    // Same key under another _id: refused by the (station, ts) index, not the _id one.
    let third = store
        .insert_unordered(&coll, vec![doc! {"_id": "other", "station": "s0", "ts": 0}])
        .unwrap();
    assert_eq!(third.duplicates, vec![0]);

    let groups = store
        .aggregate(
            &coll,
            vec![
                doc! {"$group": {"_id": "$station", "n": {"$sum": 1}}},
                doc! {"$sort": {"_id": 1}},
            ],
        )
        .unwrap();
    assert_eq!(
        groups,
        vec![
            doc! {"_id": "s0", "n": 25},
            doc! {"_id": "s1", "n": 25},
            doc! {"_id": "s9", "n": 1}
        ]
    );

    // Dump, restore into an empty database, compare.
    let original = store.all_by_id(&coll).unwrap();
    let dir = tempfile::tempdir().unwrap();
    dump::write(dir.path(), db, "readings", &original, &[]).unwrap();
    assert!(dump::verify_checksums(dir.path()).unwrap().is_empty());
    let read = dump::parse(&std::fs::read(dir.path().join(db).join("readings.bson")).unwrap());
    let restored_db = format!("{db}_restored");
    store.drop_database(&restored_db).unwrap();
    let restored = store.collection(&restored_db, "readings");
    store
        .insert_unordered(&restored, read.docs.into_iter().map(|r| r.doc).collect())
        .unwrap();
    let back = store.all_by_id(&restored).unwrap();
    assert_eq!(back.len(), 51);
    assert_eq!(content_hash(&back), content_hash(&original));
    store.drop_database(db).unwrap();
    store.drop_database(&restored_db).unwrap();
}

#[test]
fn the_local_server_the_tool_starts_serves_the_driver() {
    let store = DocStore::connect(None).unwrap();
    assert!(store.server.contains("SecantusDB"));
    exercise(&store, "auditbook_docstore_local");
}

/// The chapters of one run share one local server (one Python process, not one per
/// chapter); a run of its own starts its own, and a server nobody holds is stopped.
#[test]
fn the_chapters_of_one_run_share_one_local_server() {
    use auditbook::backends::docstore::SharedLocal;
    let run = SharedLocal::default();
    let first = DocStore::open(None, &run).unwrap();
    let second = DocStore::open(None, &run.clone()).unwrap();
    let port = first.server_port().unwrap();
    assert_eq!(second.server_port(), Some(port), "one run, one server");
    assert!(
        first.server.contains("authentication on"),
        "{}",
        first.server
    );
    // Each chapter writes its own database; what one writes the other sees on the server.
    exercise(&first, "auditbook_docstore_shared");
    let other_run = DocStore::open(None, &SharedLocal::default()).unwrap();
    assert_ne!(
        other_run.server_port(),
        Some(port),
        "another run, another server"
    );
    drop((first, second));
    let port_free = || std::net::TcpStream::connect(("127.0.0.1", port)).is_err();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !port_free() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        port_free(),
        "the run's server stopped when its last store was dropped"
    );
}

#[test]
fn the_test_server_serves_the_same_code_path() {
    let Some(uri) = crate::server("AUDITBOOK_TEST_MONGO_URI") else {
        return;
    };
    let store = DocStore::connect(Some(&uri)).unwrap();
    exercise(&store, "auditbook_docstore_it");
}

#[test]
fn an_unreachable_server_is_a_clear_error_not_a_hang() {
    let started = std::time::Instant::now();
    let err = DocStore::connect(Some("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500"))
        .err()
        .expect("nothing listens on port 1")
        .to_string();
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

/// A server started by a process that dies without stopping it ends by itself.
#[test]
fn a_local_server_does_not_outlive_its_process() {
    // A child test process starts a server and exits without dropping the handle.
    if std::env::var_os("AUDITBOOK_LEAK_A_SERVER").is_some() {
        let store = DocStore::connect(None).unwrap();
        println!("PORT {}", store.server_port().unwrap());
        std::mem::forget(store);
        std::process::exit(0);
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "docstore::a_local_server_does_not_outlive_its_process",
            "--nocapture",
        ])
        .env("AUDITBOOK_LEAK_A_SERVER", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let port: u16 = text
        .lines()
        .find_map(|l| l.strip_prefix("PORT "))
        .expect("the child printed its server's port")
        .trim()
        .parse()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server on {port} outlived the process that started it"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
