//! Bad input, generated: the readers of the files a user gives (`--data`) fed with the
//! committed corpus (`tests/fuzz/<reader>/`: real files cut small, and every input a run ever
//! found wrong, kept), then with mutations of that corpus and arbitrary bytes. Every input
//! must be read or refused within seconds, without a panic, and a refusal must name the file
//! and where in it; a reader that keeps going past bad records must account for every byte
//! or row.
//!
//! `cargo test` replays the corpus and draws a few hundred mutations per reader (stable
//! Rust: libFuzzer's `cargo fuzz` needs a nightly toolchain, which no registry here has).
//! The long run is `AUDITBOOK_FUZZ_CASES=N cargo test --test it fuzz:: -- --nocapture`; it
//! prints how many inputs each reader was given.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use auditbook::backends::docstore::dump;
use proptest::prelude::*;

/// What a reader must hold for one input: `Err(why)` when it does not.
type Holds = fn(&[u8]) -> Result<(), String>;

/// A reader under test: its corpus folder and what it must hold.
struct Reader {
    name: &'static str,
    holds: Holds,
}

const READERS: &[Reader] = &[
    Reader {
        name: "bson_dump",
        holds: bson_dump,
    },
    Reader {
        name: "infoclimat_json",
        holds: infoclimat_json,
    },
    Reader {
        name: "events_jsonl",
        holds: events_jsonl,
    },
    Reader {
        name: "events_csv",
        holds: events_csv,
    },
    Reader {
        name: "communes_csv",
        holds: communes_csv,
    },
    Reader {
        name: "flow_yaml",
        holds: flow_yaml,
    },
    Reader {
        name: "xlsx",
        holds: xlsx,
    },
    Reader {
        name: "supersmartmarket_csv",
        holds: supersmartmarket_csv,
    },
    Reader {
        name: "wunderground_xlsx",
        holds: wunderground_xlsx,
    },
];

fn corpus_dir(reader: &str) -> PathBuf {
    super::root().join("tests").join("fuzz").join(reader)
}

/// The corpus of `reader`, sorted by name.
fn corpus(reader: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(reader);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    files
}

/// Runs `holds` on `input` on a thread of its own: a panic or 10 s without an answer is a
/// failure, as is a broken rule.
fn try_input(reader: &Reader, input: &[u8]) -> Result<(), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let owned = input.to_vec();
    let holds = reader.holds;
    std::thread::spawn(move || {
        let outcome = std::panic::catch_unwind(|| holds(&owned));
        let _ = tx.send(outcome);
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(held)) => held,
        Ok(Err(panic)) => Err(format!(
            "panicked: {}",
            auditbook::error::panic_message(panic.as_ref())
        )),
        Err(_) => Err("no answer within 10 s (a hang)".into()),
    }
}

/// The full text of an error, causes included.
fn said(error: &auditbook::Error) -> String {
    error.report()
}

/// A refusal from a reader that names the file it read and a line or row in it.
fn names_file_and_row(error: &auditbook::Error, file: &str) -> Result<(), String> {
    match error {
        auditbook::Error::Data {
            file: named,
            row: Some(row),
            ..
        } if named.ends_with(file) && *row >= 1 => Ok(()),
        other => Err(format!(
            "the refusal does not name {file} and a row ≥ 1: {}",
            said(other)
        )),
    }
}

// ---- the readers and what each must hold ----

/// mongodump's BSON: the documents read and the stretches refused cover the file exactly,
/// in order, each refusal with its reason.
fn bson_dump(bytes: &[u8]) -> Result<(), String> {
    let contents = dump::parse(bytes);
    let mut frames: Vec<(usize, usize, bool)> = contents
        .docs
        .iter()
        .map(|d| {
            let declared = i32::from_le_bytes(bytes[d.offset..d.offset + 4].try_into().unwrap());
            (d.offset, declared as usize, true)
        })
        .chain(contents.unreadable.iter().map(|u| {
            assert!(!u.reason.is_empty(), "a refusal without a reason");
            (u.offset, u.bytes, false)
        }))
        .collect();
    frames.sort();
    let mut at = 0;
    for (offset, len, _) in &frames {
        if *offset != at || *len == 0 {
            return Err(format!("frames {frames:?} leave bytes unaccounted at {at}"));
        }
        at += len;
    }
    if at != bytes.len() {
        return Err(format!("frames cover {at} of {} bytes", bytes.len()));
    }
    Ok(())
}

/// Every row GreenCoop's readers quarantined carries its reason and the file it came from.
fn quarantine_names_its_rows(
    parsed: &auditbook::chapters::greencoop::reading::Parsed,
    file: &str,
) -> Result<(), String> {
    match parsed
        .quarantined
        .iter()
        .find(|q| q.reason.is_empty() || q.origin.file != file)
    {
        Some(q) => Err(format!(
            "a quarantined row without its reason or file: {q:?}"
        )),
        None => Ok(()),
    }
}

/// InfoClimat's JSON: read (every row of every station a reading or quarantined with its
/// reason, naming the file) or refused naming the file (and line and column if not JSON).
fn infoclimat_json(bytes: &[u8]) -> Result<(), String> {
    use auditbook::chapters::greencoop::infoclimat;
    match infoclimat::parse("fuzz.json", bytes) {
        Ok((parsed, _stations)) => {
            let json: serde_json::Value = serde_json::from_slice(bytes).unwrap();
            let rows: usize = json["hourly"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| *k != "_params")
                .map(|(_, v)| v.as_array().map_or(0, Vec::len))
                .sum();
            let accounted = parsed.rows_read() + parsed.blank_rows;
            if accounted != rows {
                return Err(format!("{rows} rows, {accounted} accounted for"));
            }
            quarantine_names_its_rows(&parsed, "fuzz.json")
        }
        Err(e) => {
            let text = format!(
                "{e} {}",
                e.source.as_ref().map(|s| s.to_string()).unwrap_or_default()
            );
            if e.file != "fuzz.json" {
                Err(format!("the refusal names {}: {text}", e.file))
            } else if e.problem == "not JSON" && !text.contains("line") {
                Err(format!("not JSON, but where: {text}"))
            } else {
                Ok(())
            }
        }
    }
}

/// Writes `bytes` as `name` in a folder of its own, for the readers that take a folder.
fn as_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

fn events_file(name: &str, bytes: &[u8]) -> Result<(), String> {
    use auditbook::chapters::events::events_file;
    let (dir, _) = as_file(name, bytes);
    match events_file::read_named(dir.path(), name) {
        Ok(_) => Ok(()),
        Err(e) => names_file_and_row(&e, name),
    }
}

/// The events as JSON Lines: read, or refused naming the file and the line.
fn events_jsonl(bytes: &[u8]) -> Result<(), String> {
    events_file("events.jsonl", bytes)
}

/// The events as CSV: read, or refused naming the file and the line.
fn events_csv(bytes: &[u8]) -> Result<(), String> {
    events_file("events.csv", bytes)
}

/// The communes: read, or refused naming the file and the row.
fn communes_csv(bytes: &[u8]) -> Result<(), String> {
    use auditbook::chapters::events::communes;
    let (dir, _) = as_file("communes.csv", bytes);
    match communes::read(dir.path()) {
        Ok(_) => Ok(()),
        Err(e) => names_file_and_row(&e, "communes.csv"),
    }
}

/// A flow: parsed, or refused with a message (YAML errors with their line).
fn flow_yaml(bytes: &[u8]) -> Result<(), String> {
    use auditbook::flow::error::FlowError;
    let text = String::from_utf8_lossy(bytes);
    match auditbook::flow::FlowSpec::parse(&text) {
        Ok(_) => Ok(()),
        Err(FlowError::Yaml(e)) if e.location().is_none() && !e.to_string().contains("line") => {
            Err(format!("a YAML error without its place: {e}"))
        }
        Err(e) if e.to_string().is_empty() => Err("an empty message".into()),
        Err(_) => Ok(()),
    }
}

/// A workbook: read, or refused naming the file.
fn xlsx(bytes: &[u8]) -> Result<(), String> {
    let (_dir, path) = as_file("fuzz.xlsx", bytes);
    match auditbook::xlsx::read_sheet("fuzz", &path, None) {
        Ok(_) => Ok(()),
        Err(auditbook::Error::Data { file, .. }) if file == "fuzz.xlsx" => Ok(()),
        Err(e) => Err(format!("the refusal does not name the file: {}", said(&e))),
    }
}

/// A Weather Underground workbook, as GreenCoop reads it: read (every row a reading, a
/// quarantine record naming the file, or blank) or refused naming the file.
fn wunderground_xlsx(bytes: &[u8]) -> Result<(), String> {
    use auditbook::chapters::greencoop::wunderground::{self, Station};
    let station = Station {
        id: "IICHTE19".into(),
        timezone: chrono_tz::Europe::Brussels,
        pressure_bug: false,
    };
    match wunderground::parse("fuzz.xlsx", bytes, &station) {
        Ok(parsed) => quarantine_names_its_rows(&parsed, "fuzz.xlsx"),
        Err(e) if e.file == "fuzz.xlsx" => Ok(()),
        Err(e) => Err(format!("the refusal names {}: {e}", e.file)),
    }
}

/// SuperSmartMarket's sales export (`Fact_vente.csv`, beside the real layout's other files),
/// through the whole chapter: DuckDB reads it, rows that do not fit are kept aside. The run
/// ends with every row read either loaded or rejected, or is refused naming a file.
fn supersmartmarket_csv(bytes: &[u8]) -> Result<(), String> {
    let fixture = super::root().join("tests/fixtures/supersmartmarket_real_layout");
    let dir = tempfile::tempdir().unwrap();
    auditbook::commands::book::copy_dir(&fixture, dir.path()).unwrap();
    std::fs::write(dir.path().join("Fact_vente.csv"), bytes).unwrap();
    let chapter = auditbook::commands::book::chapter_by_id("supersmartmarket").unwrap();
    let options = super::options("supersmartmarket", &[], Some(dir.path().to_path_buf()));
    match auditbook::commands::book::run_chapter(chapter, &options) {
        Ok(nb) => {
            let (read, loaded, rejected) = (
                nb.int("load.rows_read").ok(),
                nb.int("load.rows_loaded").ok(),
                nb.int("load.rows_rejected").ok(),
            );
            match (read, loaded, rejected) {
                (Some(r), Some(l), Some(j)) if r == l + j => Ok(()),
                other => Err(format!("rows read, loaded, rejected: {other:?}")),
            }
        }
        Err(e) => {
            let text = said(&e);
            if text.contains(".csv") {
                Ok(())
            } else {
                Err(format!("the refusal names no file: {text}"))
            }
        }
    }
}

// ---- the corpus replay ----

#[test]
fn every_reader_takes_its_committed_corpus() {
    let started = std::time::Instant::now();
    let mut files = 0;
    for reader in READERS {
        for (name, bytes) in corpus(reader.name) {
            if let Err(why) = try_input(reader, &bytes) {
                panic!("{}/{name}: {why}", reader.name);
            }
            files += 1;
        }
    }
    crate::drill::record(
        "input.fuzz",
        &[
            ("readers", READERS.len().to_string()),
            ("corpus replayed", format!("{files} files")),
            ("mutations per reader in cargo test", cases().to_string()),
        ],
        started,
    );
}

// ---- mutations ----

/// One change to an input, positions taken modulo its length.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Truncate { at: usize },
    Delete { at: usize, len: usize },
    Insert { at: usize, token: usize },
    Duplicate { at: usize, len: usize, to: usize },
}

/// What insertions put in: the bytes that make text formats go wrong.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b",",
    b"\n",
    b"\r\n",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"null",
    b"-1",
    b"1e400",
    b"\0",
    b"'",
    b"  - ",
    b"\t",
    b"\xff\xfe",
    b"\xc3",
    b"99999999999999999999",
    b"NaN",
    b"\xef\xbb\xbf",
    b"\x7f\xff\xff\xff",
    b"\x00\x00\x00\x80",
    b"&",
    b"*",
    b"!!binary",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, token)| Mutation::Insert { at, token }),
        (any::<usize>(), 1usize..256, any::<usize>())
            .prop_map(|(at, len, to)| Mutation::Duplicate { at, len, to }),
    ]
}

fn mutate(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for m in mutations {
        let n = out.len().max(1);
        match *m {
            Mutation::Flip { at, bit } => {
                if !out.is_empty() {
                    out[at % n] ^= 1 << bit;
                }
            }
            Mutation::Truncate { at } => out.truncate(at % n),
            Mutation::Delete { at, len } => {
                let start = (at % n).min(out.len());
                let end = (start + len).min(out.len());
                out.drain(start..end);
            }
            Mutation::Insert { at, token } => {
                let at = (at % n).min(out.len());
                out.splice(at..at, TOKENS[token].iter().copied());
            }
            Mutation::Duplicate { at, len, to } => {
                let start = (at % n).min(out.len());
                let end = (start + len).min(out.len());
                let piece: Vec<u8> = out[start..end].to_vec();
                let to = (to % n).min(out.len());
                out.splice(to..to, piece);
            }
        }
    }
    out
}

/// Inputs given to each reader in this process, for the long run's report.
static GIVEN: [AtomicU64; 9] = [const { AtomicU64::new(0) }; 9];

fn cases() -> u32 {
    std::env::var("AUDITBOOK_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(48)
}

/// Mutated corpus files and arbitrary bytes, for every reader.
fn input_for(seeds: usize) -> impl Strategy<Value = Result<(usize, Vec<Mutation>), Vec<u8>>> {
    prop_oneof![
        4 => (0..seeds, prop::collection::vec(mutation(), 1..6)).prop_map(Ok),
        1 => prop::collection::vec(any::<u8>(), 0..512).prop_map(Err),
    ]
}

fn fuzz(index: usize) {
    let reader = &READERS[index];
    let seeds = corpus(reader.name);
    // A whole chapter run per input: a tenth of the others' draws.
    let cases = if reader.name == "supersmartmarket_csv" {
        (cases() / 10).max(4)
    } else {
        cases()
    };
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let outcome = runner.run(&input_for(seeds.len()), |drawn| {
        let input = match &drawn {
            Ok((seed, mutations)) => mutate(&seeds[*seed].1, mutations),
            Err(bytes) => bytes.clone(),
        };
        GIVEN[index].fetch_add(1, Ordering::Relaxed);
        try_input(reader, &input).map_err(|why| {
            // The last input written is the smallest that fails: for the corpus, once mended.
            let found = super::root().join("target/auditbook/fuzz-found");
            std::fs::create_dir_all(&found).unwrap();
            std::fs::write(found.join(reader.name), &input).unwrap();
            let shown: String = String::from_utf8_lossy(&input).chars().take(400).collect();
            TestCaseError::fail(format!(
                "{why}\ninput ({} bytes, kept in {}), its start: {shown:?}",
                input.len(),
                found.join(reader.name).display(),
            ))
        })
    });
    eprintln!(
        "fuzz: {}: {} inputs given",
        reader.name,
        GIVEN[index].load(Ordering::Relaxed)
    );
    if let Err(e) = outcome {
        panic!("{}: {e}", reader.name);
    }
}

#[test]
fn the_bson_dump_reader_survives_mutations() {
    fuzz(0);
}

#[test]
fn the_infoclimat_reader_survives_mutations() {
    fuzz(1);
}

#[test]
fn the_events_jsonl_reader_survives_mutations() {
    fuzz(2);
}

#[test]
fn the_events_csv_reader_survives_mutations() {
    fuzz(3);
}

#[test]
fn the_communes_reader_survives_mutations() {
    fuzz(4);
}

#[test]
fn the_flow_reader_survives_mutations() {
    fuzz(5);
}

#[test]
fn the_xlsx_reader_survives_mutations() {
    fuzz(6);
}

#[test]
fn the_supersmartmarket_export_survives_mutations() {
    fuzz(7);
}

#[test]
fn the_wunderground_reader_survives_mutations() {
    fuzz(8);
}
