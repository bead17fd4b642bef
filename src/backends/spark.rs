//! Apache Spark through Spark Connect, with the Apache Spark project's Rust client
//! (`apache-spark-connect`): SQL over Parquet files and Structured Streaming, on the cluster
//! the user names with `--spark sc://HOST:PORT` (or `AUDITBOOK_SPARK_REMOTE`). There is no
//! embedded default: a chapter runs its Spark comparison only when a cluster is named.
//!
//! The cluster reads the files itself, so a path given to it must be one it can see: a local
//! path when the cluster runs on this machine (as in the tests), an `s3a://` URI when the
//! chapter wrote to S3 and the cluster has the S3A connector. Results come back over the
//! connection (Arrow batches, decoded by the client into typed rows), never through a shared
//! folder, so a remote cluster needs no access to this machine.

use spark_connect::row::Value;
use spark_connect::{SparkError, SparkSession, Trigger};

use crate::compare::{Cell, Grid};
use crate::error::{BoxError, Unreachable};

/// What went wrong on Spark: the cluster out of reach (exit 2), or a statement it refused or
/// failed (the chapter's comparison is wrong: exit 1).
#[derive(Debug, thiserror::Error)]
pub enum SparkFailure {
    /// No answer from the Spark Connect server.
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    /// Spark refused or failed a statement.
    #[error("Spark failed `{what}`: {message}")]
    Statement {
        /// Which statement: the query's name, or the step.
        what: String,
        /// What Spark said (its error class and message, first line).
        message: String,
    },
    /// A streaming query ended without processing its input.
    #[error("Spark's streaming query `{what}` {message}")]
    Stream {
        /// The query.
        what: String,
        /// What happened to it.
        message: String,
    },
}

/// A session on a Spark Connect server.
pub struct Spark {
    session: SparkSession,
    remote: String,
    version: String,
}

/// gRPC codes that mean the server is not there or went away: CANCELLED, DEADLINE_EXCEEDED,
/// UNAVAILABLE (the client reports a connection it could not make as UNAVAILABLE).
fn out_of_reach(error: &SparkError) -> bool {
    matches!(error.grpc_code(), Some(1) | Some(4) | Some(14))
}

/// How long a first TCP connection to the server may take.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Opens (and closes) a TCP connection to the server of `remote` (`sc://host:port/;…`):
/// the client retries an RPC to a server that is not there for about ten minutes, with
/// backoff (PySpark's policy), and has no setting to shorten it, so a cluster out of reach
/// is told here, in seconds. A server lost later in the run still goes through those
/// retries before the run fails.
fn probe(remote: &str) -> Result<(), BoxError> {
    use std::net::{TcpStream, ToSocketAddrs};
    let rest = remote
        .strip_prefix("sc://")
        .ok_or_else(|| format!("`{remote}` is not a Spark Connect address (sc://HOST:PORT)"))?;
    let authority = rest.split(['/', ';']).next().unwrap_or_default();
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else {
        format!("{authority}:15002")
    };
    let mut last = None;
    for address in with_port.to_socket_addrs()? {
        match TcpStream::connect_timeout(&address, PROBE_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => e.into(),
        None => format!("`{with_port}` names no address").into(),
    })
}

impl Spark {
    /// Connects to `remote` (`sc://host:port`) and asks the server its version, so that a
    /// cluster out of reach fails here, naming its address.
    pub fn connect(remote: &str) -> Result<Spark, SparkFailure> {
        let unreachable = |e: BoxError| Unreachable::new("Spark Connect server", remote, e);
        probe(remote).map_err(unreachable)?;
        let session = SparkSession::builder()
            .remote(remote)
            .get_or_create()
            .map_err(|e| unreachable(e.into()))?;
        let version = session.version().map_err(|e| unreachable(e.into()))?;
        let spark = Spark {
            session,
            remote: remote.to_string(),
            version,
        };
        // Windows and dates are read in UTC, as the chapters compute them.
        spark.execute("session time zone", "set spark.sql.session.timeZone=UTC")?;
        Ok(spark)
    }

    /// The server's Spark version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The address it was reached at.
    pub fn remote(&self) -> &str {
        &self.remote
    }

    fn failure(&self, what: &str, error: SparkError) -> SparkFailure {
        if out_of_reach(&error) {
            SparkFailure::Unreachable(Unreachable::new(
                "Spark Connect server",
                self.remote.clone(),
                error,
            ))
        } else {
            let message = error.to_string();
            SparkFailure::Statement {
                what: what.to_string(),
                message: message.lines().next().unwrap_or_default().to_string(),
            }
        }
    }

    /// Runs a statement for its effect (a setting, a view).
    pub fn execute(&self, what: &str, sql: &str) -> Result<(), SparkFailure> {
        let df = self.session.sql(sql).map_err(|e| self.failure(what, e))?;
        df.collect().map(|_| ()).map_err(|e| self.failure(what, e))
    }

    /// Runs a query and brings its rows back, typed.
    pub fn query(&self, what: &str, sql: &str) -> Result<Grid, SparkFailure> {
        let df = self.session.sql(sql).map_err(|e| self.failure(what, e))?;
        let columns = match df.schema().map_err(|e| self.failure(what, e))? {
            spark_connect::DataType::Struct { fields } => {
                fields.iter().map(|f| f.name.clone()).collect()
            }
            _ => Vec::new(),
        };
        let rows = df.collect().map_err(|e| self.failure(what, e))?;
        Ok(Grid {
            columns,
            rows: rows
                .iter()
                .map(|row| row.values().iter().map(cell).collect())
                .collect(),
        })
    }

    /// Makes the Parquet files at `path` a temporary view named `view`.
    pub fn parquet_view(&self, view: &str, path: &str) -> Result<(), SparkFailure> {
        self.session
            .read()
            .parquet(path)
            .create_or_replace_temp_view(view)
            .map_err(|e| self.failure(&format!("reading {path} as `{view}`"), e))
    }

    /// Runs a Structured Streaming query to the end of its input: `source` (Parquet files
    /// under `input`, read `files_per_batch` files per micro-batch with the schema
    /// `schema`) is a temporary streaming view named `source_view` with an event-time
    /// watermark, `sql` reads it, and its result is appended as Parquet under `output`
    /// (checkpoint in `checkpoint`), with the `AvailableNow` trigger: every file present is
    /// processed, then the query stops. Returns the query's progress reports (JSON).
    pub fn stream_to_parquet(&self, job: &StreamJob<'_>) -> Result<Vec<String>, SparkFailure> {
        let what = job.name;
        let source = self
            .session
            .read_stream()
            .format("parquet")
            .schema(job.schema)
            .option("maxFilesPerTrigger", &job.files_per_batch.to_string())
            // Every file under the folder, and no column made of its `name=value` folders
            // (the archive's `partition=P` folders repeat a column of the files).
            .option("recursiveFileLookup", "true")
            .load(Some(job.input))
            .with_watermark(job.event_time, job.delay);
        source
            .create_or_replace_temp_view(job.source_view)
            .map_err(|e| self.failure(what, e))?;
        let windowed = self
            .session
            .sql(job.sql)
            .map_err(|e| self.failure(what, e))?;
        let query = windowed
            .write_stream()
            .format("parquet")
            .output_mode("append")
            .option("checkpointLocation", job.checkpoint)
            .query_name(job.name)
            .trigger(Trigger::AvailableNow)
            .start(job.output)
            .map_err(|e| self.failure(what, e))?;
        query
            .await_termination(None)
            .map_err(|e| self.failure(what, e))?;
        if let Some(exception) = query.exception().map_err(|e| self.failure(what, e))? {
            return Err(SparkFailure::Stream {
                what: what.to_string(),
                message: format!("failed: {exception:?}"),
            });
        }
        query.recent_progress().map_err(|e| self.failure(what, e))
    }
}

/// A Structured Streaming job for [`Spark::stream_to_parquet`].
pub struct StreamJob<'a> {
    /// The query's name (also the name errors give).
    pub name: &'a str,
    /// Folder (or URI) of the Parquet input files.
    pub input: &'a str,
    /// The input's schema, as Spark's DDL (`created_at timestamp, priority string`).
    pub schema: &'a str,
    /// Files read per micro-batch (Spark's `maxFilesPerTrigger`).
    pub files_per_batch: usize,
    /// The event-time column and the watermark's delay (`"12 minutes"`).
    pub event_time: &'a str,
    /// The watermark's delay, as Spark writes durations.
    pub delay: &'a str,
    /// The name the SQL reads the stream under.
    pub source_view: &'a str,
    /// The aggregation, over `source_view`.
    pub sql: &'a str,
    /// Where the result is appended, and the query's checkpoint.
    pub output: &'a str,
    /// The checkpoint folder.
    pub checkpoint: &'a str,
}

/// One value Spark sent, as the comparison reads it.
fn cell(value: &Value) -> Cell {
    match value {
        Value::Null => Cell::Null,
        Value::Bool(b) => Cell::Bool(*b),
        Value::Byte(v) => Cell::Int(*v as i128),
        Value::Short(v) => Cell::Int(*v as i128),
        Value::Integer(v) => Cell::Int(*v as i128),
        Value::Long(v) => Cell::Int(*v as i128),
        Value::Float(v) => Cell::Float(*v as f64),
        Value::Double(v) => Cell::Float(*v),
        Value::String(s) => Cell::Text(s.clone()),
        Value::Date(days) => Cell::Date(*days),
        Value::Timestamp(micros) => Cell::Timestamp(*micros),
        Value::Decimal { value, .. } => match value.parse() {
            Ok(d) => Cell::Exact(d),
            Err(_) => Cell::Text(value.clone()),
        },
        other => Cell::Text(format!("{other:?}")),
    }
}

/// The statistic of Spark's progress reports that says how many rows the watermark dropped
/// (`stateOperators[].numRowsDroppedByWatermark`), summed over the reports.
pub fn rows_dropped_by_watermark(progress: &[String]) -> u64 {
    progress
        .iter()
        .filter_map(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        .flat_map(|p| {
            p.get("stateOperators")
                .and_then(|s| s.as_array())
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|op| op.get("numRowsDroppedByWatermark").and_then(|n| n.as_u64()))
        .sum()
}

/// Spark's watermark after the last micro-batch (`eventTime.watermark` of the last report
/// that has one), milliseconds since the epoch: the windows ending after it are still open.
pub fn final_watermark_ms(progress: &[String]) -> Option<i64> {
    progress
        .iter()
        .rev()
        .filter_map(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        .find_map(|p| {
            let text = p.get("eventTime")?.get("watermark")?.as_str()?.to_string();
            chrono::DateTime::parse_from_rfc3339(&text)
                .ok()
                .map(|t| t.timestamp_millis())
        })
}

/// The rows one progress report says its sources read (`sources[].numInputRows`).
fn rows_in(report: &serde_json::Value) -> u64 {
    report
        .get("sources")
        .and_then(|s| s.as_array())
        .map(|sources| {
            sources
                .iter()
                .filter_map(|s| s.get("numInputRows").and_then(|n| n.as_u64()))
                .sum()
        })
        .unwrap_or(0)
}

/// The rows the streaming query read, summed over its progress reports.
pub fn input_rows(progress: &[String]) -> u64 {
    progress
        .iter()
        .filter_map(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        .map(|p| rows_in(&p))
        .sum()
}

/// The micro-batches that read input.
pub fn batches_with_input(progress: &[String]) -> usize {
    progress
        .iter()
        .filter_map(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        .filter(|p| rows_in(p) > 0)
        .count()
}
