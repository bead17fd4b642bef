//! mongodump's directory format: `<dir>/<db>/<collection>.bson` (the documents' BSON, one
//! after another) and `<collection>.metadata.json` (indexes, in extended JSON). Writing adds a
//! `SHA256SUMS` file so a restore can refuse a damaged backup; reading walks the BSON by its
//! length prefixes and reports, rather than hides, a document it cannot read: a length that
//! runs past the end (a truncated file), or bytes that are not a document.

use std::path::{Path, PathBuf};

use mongodb::bson::{Bson, Document};

use crate::dataset::sha256_file;
use crate::error::{Error, Result};

/// A document read from a dump, with where it starts in the file.
#[derive(Debug, Clone)]
pub struct Read {
    /// Where the document starts in the file, in bytes.
    pub offset: usize,
    /// The document.
    pub doc: Document,
}

/// Bytes of the dump that are not a readable document.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    /// Where the unreadable bytes start.
    pub offset: usize,
    /// How many bytes are unreadable.
    pub bytes: usize,
    /// Why: a truncated length, or bytes that are not a document.
    pub reason: String,
}

/// Everything in one `.bson` file.
#[derive(Debug, Clone, Default)]
pub struct Contents {
    /// The documents read, in file order.
    pub docs: Vec<Read>,
    /// The stretches of bytes that are not documents.
    pub unreadable: Vec<Unreadable>,
}

/// Splits a `.bson` file's bytes into documents. A declared length that is too small or runs
/// past the end stops the walk (nothing after it can be framed); a frame that does not parse
/// is reported and skipped, since its length still says where the next one starts.
pub fn parse(bytes: &[u8]) -> Contents {
    let mut out = Contents::default();
    let mut at = 0usize;
    while at < bytes.len() {
        let remaining = bytes.len() - at;
        if remaining < 5 {
            out.unreadable.push(Unreadable {
                offset: at,
                bytes: remaining,
                reason: format!("truncated: {remaining} trailing bytes, too few for a document"),
            });
            break;
        }
        let declared = i32::from_le_bytes(bytes[at..at + 4].try_into().expect("four bytes")) as i64;
        if declared < 5 {
            out.unreadable.push(Unreadable {
                offset: at,
                bytes: remaining,
                reason: format!("invalid document length {declared}"),
            });
            break;
        }
        let declared = declared as usize;
        if declared > remaining {
            out.unreadable.push(Unreadable {
                offset: at,
                bytes: remaining,
                reason: format!(
                    "truncated: document declares {declared} bytes, {remaining} remain"
                ),
            });
            break;
        }
        match Document::from_reader(&bytes[at..at + declared]) {
            Ok(doc) => out.docs.push(Read { offset: at, doc }),
            Err(e) => out.unreadable.push(Unreadable {
                offset: at,
                bytes: declared,
                reason: format!("not a BSON document: {e}"),
            }),
        }
        at += declared;
    }
    out
}

/// The BSON bytes of `docs`, one after another.
pub fn encode(docs: &[Document]) -> Vec<u8> {
    let mut out = Vec::new();
    for d in docs {
        d.to_writer(&mut out).expect("a document serialises");
    }
    out
}

/// An index to record in the metadata: its key document and whether it is unique.
#[derive(Debug, Clone)]
pub struct IndexSpec {
    /// The index's name.
    pub name: String,
    /// Its keys, in order, each 1 (ascending) or -1.
    pub keys: Document,
    /// Whether it refuses duplicate keys.
    pub unique: bool,
}

/// Writes one collection as mongodump would (plus `SHA256SUMS` at the dump's root) and
/// returns the paths written.
pub fn write(
    root: &Path,
    db: &str,
    collection: &str,
    docs: &[Document],
    indexes: &[IndexSpec],
) -> Result<Vec<PathBuf>> {
    let dir = root.join(db);
    std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
    let bson_path = dir.join(format!("{collection}.bson"));
    let meta_path = dir.join(format!("{collection}.metadata.json"));
    std::fs::write(&bson_path, encode(docs)).map_err(Error::io(&bson_path))?;
    std::fs::write(&meta_path, metadata_json(db, collection, indexes))
        .map_err(Error::io(&meta_path))?;
    write_checksums(root)?;
    Ok(vec![bson_path, meta_path, root.join("SHA256SUMS")])
}

/// mongodump's metadata document: the `_id` index first, then the others, in extended JSON.
pub fn metadata_json(db: &str, collection: &str, indexes: &[IndexSpec]) -> String {
    let mut list = vec![serde_json::json!({"v": 2, "key": {"_id": 1}, "name": "_id_"})];
    for index in indexes {
        let keys: serde_json::Map<String, serde_json::Value> = index
            .keys
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    match v {
                        Bson::Int32(n) => serde_json::json!({"$numberInt": n.to_string()}),
                        Bson::Int64(n) => serde_json::json!({"$numberLong": n.to_string()}),
                        other => serde_json::Value::String(other.to_string()),
                    },
                )
            })
            .collect();
        let mut entry = serde_json::json!({"v": 2, "key": keys, "name": index.name});
        if index.unique {
            entry["unique"] = serde_json::Value::Bool(true);
        }
        list.push(entry);
    }
    let meta = serde_json::json!({"indexes": list, "collectionName": collection, "type": "collection", "db": db});
    serde_json::to_string(&meta).expect("metadata serialises")
}

/// Every regular file under `root` except `SHA256SUMS`, as sorted relative paths.
fn files_under(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(Error::io(&dir))? {
            let path = entry.map_err(Error::io(&dir))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n != "SHA256SUMS") {
                out.push(
                    path.strip_prefix(root)
                        .expect("under root")
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Writes `SHA256SUMS` (sha256sum's format) for every file of the dump.
pub fn write_checksums(root: &Path) -> Result<()> {
    let mut text = String::new();
    for rel in files_under(root)? {
        text.push_str(&format!("{}  {rel}\n", sha256_file(&root.join(&rel))?));
    }
    let sums = root.join("SHA256SUMS");
    std::fs::write(&sums, text).map_err(Error::io(&sums))
}

/// Checks every file against `SHA256SUMS`: the files that differ, are missing, or are not
/// listed. An empty list means the dump is as written.
pub fn verify_checksums(root: &Path) -> Result<Vec<String>> {
    let sums_path = root.join("SHA256SUMS");
    let sums = std::fs::read_to_string(&sums_path).map_err(Error::io(&sums_path))?;
    let mut problems = Vec::new();
    let mut listed = Vec::new();
    for (n, line) in sums.lines().enumerate() {
        let Some((sum, rel)) = line.split_once("  ") else {
            problems.push(format!("SHA256SUMS line {}: not `<sha256>  <file>`", n + 1));
            continue;
        };
        listed.push(rel.to_string());
        match sha256_file(&root.join(rel)) {
            Ok(actual) if actual == sum => {}
            Ok(actual) => problems.push(format!("{rel}: sha256 {actual}, SHA256SUMS says {sum}")),
            Err(_) if !root.join(rel).is_file() => problems.push(format!(
                "{rel}: listed in SHA256SUMS, missing from the dump"
            )),
            Err(e) => problems.push(format!("{rel}: {}", e.report().replace('\n', ";"))),
        }
    }
    for rel in files_under(root)? {
        if !listed.contains(&rel) {
            problems.push(format!("{rel}: not listed in SHA256SUMS"));
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;

    #[test]
    fn documents_round_trip_and_truncation_is_reported() {
        let docs = vec![
            doc! {"_id": 1, "a": "x"},
            doc! {"_id": 2, "b": 2.5},
            doc! {"_id": 3},
        ];
        let bytes = encode(&docs);
        let read = parse(&bytes);
        assert_eq!(
            read.docs.iter().map(|r| r.doc.clone()).collect::<Vec<_>>(),
            docs
        );
        assert!(read.unreadable.is_empty());

        let cut = parse(&bytes[..bytes.len() - 3]);
        assert_eq!(cut.docs.len(), 2);
        assert_eq!(cut.unreadable.len(), 1);
        assert!(
            cut.unreadable[0].reason.starts_with("truncated"),
            "{:?}",
            cut.unreadable
        );
        assert_eq!(
            cut.unreadable[0].offset,
            cut.docs[1].offset + encode(&docs[1..2]).len()
        );
    }

    #[test]
    fn a_corrupt_frame_is_skipped_and_the_next_one_read() {
        let docs = vec![doc! {"_id": 1, "a": "x"}, doc! {"_id": 2}];
        let mut bytes = encode(&docs);
        bytes[4] = 0x7f; // the first element's type byte: no such BSON type
        let read = parse(&bytes);
        assert_eq!(read.unreadable.len(), 1);
        assert_eq!(read.docs.len(), 1);
        assert_eq!(read.docs[0].doc, docs[1]);
    }

    #[test]
    fn checksums_catch_a_changed_byte_and_an_extra_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "db", "c", &[doc! {"_id": 1}], &[]).unwrap();
        assert!(verify_checksums(dir.path()).unwrap().is_empty());
        let bson = dir.path().join("db/c.bson");
        let mut bytes = std::fs::read(&bson).unwrap();
        bytes[5] ^= 1;
        std::fs::write(&bson, bytes).unwrap();
        std::fs::write(dir.path().join("db/extra.bson"), b"").unwrap();
        let problems = verify_checksums(dir.path()).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("db/c.bson: sha256"));
        assert!(problems[1].starts_with("db/extra.bson: not listed"));
    }
}
