//! Where results go: Parquet files (the `parquet` crate's writer) put through `object_store`
//! into a local directory by default or an S3 bucket when an endpoint is given. File names
//! are deterministic (by hour of window, by ticket sequence range), so a re-run, or a run
//! restarted from a checkpoint, writes the same objects with the same bytes.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

use super::generate::Ticket;
use super::window::{Closed, PRIORITIES, SIZE_MS};

/// Where the objects are written.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Local(std::path::PathBuf),
    S3 { endpoint: String, bucket: String, prefix: String },
}

/// An object store and the runtime its async calls run on.
pub struct Sink {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    runtime: tokio::runtime::Runtime,
    pub objects_written: usize,
}

impl Sink {
    pub fn open(target: &Target) -> Result<Sink, String> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("tokio runtime: {e}"))?;
        let (store, prefix): (Arc<dyn ObjectStore>, String) = match target {
            Target::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                (Arc::new(LocalFileSystem::new_with_prefix(dir).map_err(|e| format!("{}: {e}", dir.display()))?), String::new())
            }
            Target::S3 { endpoint, bucket, prefix } => {
                let s3 = AmazonS3Builder::from_env()
                    .with_endpoint(endpoint)
                    .with_bucket_name(bucket)
                    .with_allow_http(endpoint.starts_with("http://"))
                    .build()
                    .map_err(|e| format!("S3 bucket {bucket} at {endpoint}: {e}"))?;
                (Arc::new(s3), prefix.clone())
            }
        };
        Ok(Sink { store, prefix, runtime, objects_written: 0 })
    }

    fn path(&self, name: &str) -> ObjectPath {
        ObjectPath::from(if self.prefix.is_empty() { name.to_string() } else { format!("{}/{name}", self.prefix) })
    }

    pub fn put(&mut self, name: &str, bytes: Vec<u8>) -> Result<(), String> {
        let path = self.path(name);
        self.runtime.block_on(self.store.put(&path, PutPayload::from(bytes))).map_err(|e| format!("writing {path}: {e}"))?;
        self.objects_written += 1;
        Ok(())
    }

    /// An object's bytes, or `None` if there is none.
    pub fn get(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        let path = self.path(name);
        let store = self.store.clone();
        self.runtime.block_on(async move {
            match store.get(&path).await {
                Ok(r) => r.bytes().await.map(|b| Some(b.to_vec())).map_err(|e| format!("reading {path}: {e}")),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(format!("reading {path}: {e}")),
            }
        })
    }

    /// Every object name under `dir`, sorted.
    pub fn list(&self, dir: &str) -> Result<Vec<String>, String> {
        use futures_util::TryStreamExt;
        let prefix = self.path(dir);
        let store = self.store.clone();
        let strip = if self.prefix.is_empty() { String::new() } else { format!("{}/", self.prefix) };
        let mut names: Vec<String> = self
            .runtime
            .block_on(async move { store.list(Some(&prefix)).map_ok(|m| m.location.to_string()).try_collect::<Vec<_>>().await })
            .map_err(|e| format!("listing {dir}: {e}"))?
            .into_iter()
            .map(|n| n.strip_prefix(&strip).unwrap_or(&n).to_string())
            .collect();
        names.sort();
        Ok(names)
    }
}

fn writer_props() -> Arc<WriterProperties> {
    // Snappy, and the library's own created_by: bytes depend only on the rows.
    Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).build())
}

fn parquet_error(e: parquet::errors::ParquetError) -> String {
    format!("parquet: {e}")
}

/// Columns of one file, in schema order.
enum Col {
    I64(Vec<i64>),
    I32(Vec<i32>),
    Text(Vec<String>),
}

fn write(schema: &str, columns: Vec<Col>) -> Result<Vec<u8>, String> {
    let schema = Arc::new(parse_message_type(schema).map_err(parquet_error)?);
    let mut out = Vec::new();
    {
        let mut writer = SerializedFileWriter::new(&mut out, schema, writer_props()).map_err(parquet_error)?;
        let mut row_group = writer.next_row_group().map_err(parquet_error)?;
        let mut columns = columns.into_iter();
        while let Some(mut column) = row_group.next_column().map_err(parquet_error)? {
            match columns.next().ok_or("more schema columns than data")? {
                Col::I64(v) => column.typed::<Int64Type>().write_batch(&v, None, None).map_err(parquet_error)?,
                Col::I32(v) => column.typed::<Int32Type>().write_batch(&v, None, None).map_err(parquet_error)?,
                Col::Text(v) => {
                    let v: Vec<ByteArray> = v.iter().map(|s| ByteArray::from(s.as_str())).collect();
                    column.typed::<ByteArrayType>().write_batch(&v, None, None).map_err(parquet_error)?
                }
            };
            column.close().map_err(parquet_error)?;
        }
        row_group.close().map_err(parquet_error)?;
        writer.close().map_err(parquet_error)?;
    }
    Ok(out)
}

/// Closed windows as rows: one per window and priority, zero counts included.
pub fn windows_parquet(closed: &[Closed]) -> Result<Vec<u8>, String> {
    let (mut start, mut end, mut priority, mut tickets, mut closed_at) = (vec![], vec![], vec![], vec![], vec![]);
    for c in closed {
        for (p, name) in PRIORITIES.iter().enumerate() {
            start.push(c.start_ms);
            end.push(c.start_ms + SIZE_MS);
            priority.push(name.to_string());
            tickets.push(c.counts[p]);
            closed_at.push(c.closed_at_arrival_ms);
        }
    }
    write(
        "message window_counts {
            required int64 window_start (TIMESTAMP(MILLIS,false));
            required int64 window_end (TIMESTAMP(MILLIS,false));
            required binary priority (STRING);
            required int64 tickets;
            required int64 closed_at (TIMESTAMP(MILLIS,false));
        }",
        vec![Col::I64(start), Col::I64(end), Col::Text(priority), Col::I64(tickets), Col::I64(closed_at)],
    )
}

/// Raw tickets with where they were read (partition, offset).
pub fn tickets_parquet(tickets: &[(Ticket, i32, i64)]) -> Result<Vec<u8>, String> {
    let col_i64 = |f: &dyn Fn(&(Ticket, i32, i64)) -> i64| Col::I64(tickets.iter().map(f).collect());
    let col_text = |f: &dyn Fn(&Ticket) -> &str| Col::Text(tickets.iter().map(|t| f(&t.0).to_string()).collect());
    write(
        "message tickets {
            required int64 seq;
            required binary ticket_id (STRING);
            required binary client_id (STRING);
            required int64 created_at (TIMESTAMP(MILLIS,false));
            required int64 arrival (TIMESTAMP(MILLIS,false));
            required binary request (STRING);
            required binary request_type (STRING);
            required binary priority (STRING);
            required int32 partition;
            required int64 offset;
        }",
        vec![
            col_i64(&|t| t.0.seq as i64),
            col_text(&|t| &t.ticket_id),
            col_text(&|t| &t.client_id),
            col_i64(&|t| t.0.created_at_ms),
            col_i64(&|t| t.0.arrival_ms),
            col_text(&|t| &t.request),
            col_text(&|t| &t.request_type),
            col_text(&|t| &t.priority),
            Col::I32(tickets.iter().map(|t| t.1).collect()),
            col_i64(&|t| t.2),
        ],
    )
}

/// Late tickets per window and priority.
pub fn late_parquet(late: &std::collections::BTreeMap<i64, [i64; 4]>) -> Result<Vec<u8>, String> {
    let (mut start, mut priority, mut n) = (vec![], vec![], vec![]);
    for (s, counts) in late {
        for (p, name) in PRIORITIES.iter().enumerate() {
            if counts[p] > 0 {
                start.push(*s);
                priority.push(name.to_string());
                n.push(counts[p]);
            }
        }
    }
    write(
        "message late_counts {
            required int64 window_start (TIMESTAMP(MILLIS,false));
            required binary priority (STRING);
            required int64 late_tickets;
        }",
        vec![Col::I64(start), Col::Text(priority), Col::I64(n)],
    )
}
