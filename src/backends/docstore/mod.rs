//! The document store the chapters write to and query: one code path, the official `mongodb`
//! driver. With `--mongo-uri` (or `AUDITBOOK_MONGO_URI`) it talks to that server; without,
//! it starts a local MongoDB-wire server itself ([`local`]) and stops it afterwards. Calls
//! are blocking for the chapters; the driver's async client runs on a private runtime.
//!
//! [`dump`] reads and writes mongodump's directory format (BSON plus metadata), with
//! checksums, for backups and restores.

pub mod calls;
pub mod dump;
pub mod local;

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::{ClientOptions, Credential, IndexOptions};
use mongodb::{Client, Collection, IndexModel};
use polars::prelude::{Column, DataFrame};
use sha2::{Digest, Sha256};

use local::LocalServer;

use crate::error::Unreachable;
use crate::install::InstallError;

/// Why no document store could be had: the tool could not run (exit 2), unlike a wrong book.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The local server's install failed (the command and its output are in the error).
    #[error(transparent)]
    Install(#[from] InstallError),
    /// The local server was installed but did not start.
    #[error("the local MongoDB-wire server did not start")]
    Start(#[from] local::StartError),
    /// The driver's runtime could not be made.
    #[error("the document store client's runtime")]
    Runtime(#[source] std::io::Error),
    /// The address is not a MongoDB URI.
    #[error("document store URI {uri}")]
    Uri {
        /// The URI given (without its password).
        uri: String,
        /// What the driver said.
        #[source]
        source: mongodb::error::Error,
    },
    /// The server named by the address did not answer, or refused the credentials.
    #[error("{0}")]
    Unreachable(#[from] Unreachable),
    /// The local server's administrator could not be created.
    #[error("creating the administrator of the local server")]
    Admin(#[source] mongodb::error::Error),
}

/// A call to a connected document store that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The server stopped answering (network, server selection): the tool could not run.
    #[error("{0}")]
    Unreachable(#[from] Unreachable),
    /// The server answered the call with an error.
    #[error("{operation}, on the {server}")]
    Refused {
        /// The call refused.
        operation: String,
        /// Which server (never with a password).
        server: String,
        /// What the server said.
        #[source]
        source: Box<mongodb::error::Error>,
    },
    /// The server refused one document of a batch for a reason other than a duplicate key.
    #[error("insert into {namespace}: document {index} refused: {message}")]
    DocumentRefused {
        /// The collection, `db.collection`.
        namespace: String,
        /// The document's position in the batch.
        index: usize,
        /// What the server said.
        message: String,
    },
    /// Result documents that do not make a table.
    #[error("the table of {columns:?}")]
    Table {
        /// The columns asked for.
        columns: Vec<String>,
        /// What Polars said.
        #[source]
        source: Box<polars::error::PolarsError>,
    },
}

impl StoreError {
    /// What the server said, when it refused the call (its own words, for a table of
    /// refusals); else this error's message.
    pub fn server_message(&self) -> String {
        match self {
            StoreError::Refused { source, .. } => source.to_string(),
            other => other.to_string(),
        }
    }
}

/// The local server the chapters of one run share (one Python process started, not one per
/// chapter): started by the first chapter that asks, with authentication on and an
/// administrator every chapter connects as, and stopped when the last store holding it is
/// dropped. Clones share the server; a new `SharedLocal` starts its own, so two runs of the
/// same chapter (two tests at once) never write to one database.
#[derive(Clone, Default)]
pub struct SharedLocal(Arc<Mutex<Weak<LocalServer>>>);

impl std::fmt::Debug for SharedLocal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let running = self.0.lock().map(|w| w.strong_count() > 0).unwrap_or(false);
        f.debug_struct("SharedLocal")
            .field("running", &running)
            .finish()
    }
}

/// The administrator of the shared local server (a server on loopback that lives as long
/// as the run: the password guards nothing outside it).
pub const LOCAL_ADMIN: (&str, &str) = ("auditbook-admin", "auditbook-local-only");

impl SharedLocal {
    /// The running server, or one started now (the lock is held while it starts, so a
    /// second chapter waits for it instead of starting another).
    fn server(&self) -> Result<Arc<LocalServer>, ConnectError> {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(server) = slot.upgrade() {
            return Ok(server);
        }
        let server = Arc::new(calls::timed("start", || {
            start_with_admin(LOCAL_ADMIN.0, LOCAL_ADMIN.1)
        })?);
        *slot = Arc::downgrade(&server);
        Ok(server)
    }
}

/// Starts a local server, creates `admin` (role `root`) and restarts it with
/// authentication required: the server has no localhost exception, so the first user is
/// made before authentication is switched on.
fn start_with_admin(admin: &str, password: &str) -> Result<LocalServer, ConnectError> {
    let runtime = runtime()?;
    let open = LocalServer::start()?;
    runtime.block_on(async {
        let client = client_for(&open.uri(), None).await?;
        client
            .database("admin")
            .run_command(doc! {"createUser": admin, "pwd": password, "roles": [{"role": "root", "db": "admin"}]})
            .await
            .map_err(ConnectError::Admin)?;
        Ok::<_, ConnectError>(())
    })?;
    open.restart_with_auth()
}

/// What the book says of the local server with authentication on.
fn local_with_auth_name() -> String {
    format!(
        "local SecantusDB {} with authentication on (started by auditbook)",
        local::SECANTUS_VERSION
    )
}

/// A connected client and, for the default, the server it started.
pub struct DocStore {
    client: Client,
    runtime: tokio::runtime::Runtime,
    /// Said in the book and in errors: which server this is (never a password).
    pub server: String,
    /// The address, for clients of other users ([`DocStore::connect_as`]).
    uri: String,
    // Dropped after the client: the local server outlives every connection to it.
    _local: Option<Arc<LocalServer>>,
}

/// What an unordered insert did: rows inserted, rows the unique indexes refused.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InsertOutcome {
    /// Documents inserted.
    pub inserted: usize,
    /// Positions (in the batch given) of documents refused as duplicate keys (E11000).
    pub duplicates: Vec<usize>,
}

impl DocStore {
    /// Connects to `uri`, or starts the local server when it is `None`.
    pub fn connect(uri: Option<&str>) -> Result<DocStore, ConnectError> {
        let runtime = runtime()?;
        let (local, uri, server) = match uri {
            Some(uri) => (None, uri.to_string(), format!("MongoDB at {}", redact(uri))),
            None => {
                let local = calls::timed("start", LocalServer::start)?;
                let uri = local.uri();
                (
                    Some(local),
                    uri,
                    format!(
                        "local SecantusDB {} (started by auditbook)",
                        local::SECANTUS_VERSION
                    ),
                )
            }
        };
        let client = calls::timed("connect", || runtime.block_on(client_for(&uri, None)))?;
        Ok(DocStore {
            client,
            runtime,
            server,
            uri,
            _local: local.map(Arc::new),
        })
    }

    /// Connects to `uri`, or to the run's shared local server (started if none runs) as
    /// its administrator when it is `None`: what the chapters call.
    pub fn open(uri: Option<&str>, shared: &SharedLocal) -> Result<DocStore, ConnectError> {
        if uri.is_some() {
            return DocStore::connect(uri);
        }
        let local = shared.server()?;
        DocStore::as_admin_of(local, LOCAL_ADMIN.0, LOCAL_ADMIN.1)
    }

    /// Starts a local server of its own with authentication on and connects as its
    /// administrator (a `root` user created before authentication was switched on).
    pub fn connect_local_with_auth(admin: &str, password: &str) -> Result<DocStore, ConnectError> {
        DocStore::as_admin_of(
            Arc::new(start_with_admin(admin, password)?),
            admin,
            password,
        )
    }

    fn as_admin_of(
        local: Arc<LocalServer>,
        admin: &str,
        password: &str,
    ) -> Result<DocStore, ConnectError> {
        let runtime = runtime()?;
        let uri = local.uri();
        let client = calls::timed("connect", || {
            runtime.block_on(client_for(&uri, Some((admin, password, "admin"))))
        })?;
        Ok(DocStore {
            client,
            runtime,
            server: local_with_auth_name(),
            uri,
            _local: Some(local),
        })
    }

    /// Another client to the same server, authenticated as `user` against `source`.
    pub fn connect_as(
        &self,
        user: &str,
        password: &str,
        source: &str,
    ) -> Result<DocStore, ConnectError> {
        let runtime = runtime()?;
        let client = calls::timed("connect", || {
            runtime.block_on(client_for(&self.uri, Some((user, password, source))))
        })?;
        Ok(DocStore {
            client,
            runtime,
            server: format!("{} as {user}", self.server),
            uri: self.uri.clone(),
            _local: self._local.clone(),
        })
    }

    /// Runs a driver future to completion.
    pub fn block_on<F: std::future::IntoFuture>(&self, future: F) -> F::Output {
        self.call("other", future)
    }

    /// Runs a driver future, its wait counted under `kind` ([`calls`]).
    fn call<F: std::future::IntoFuture>(&self, kind: &'static str, future: F) -> F::Output {
        calls::timed(kind, || self.runtime.block_on(future.into_future()))
    }

    /// The port of the local server this store started, if it started one.
    pub fn server_port(&self) -> Option<u16> {
        self._local.as_ref().map(|l| l.port)
    }

    /// The driver's client, for calls the store does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The collection `name` of database `db`.
    pub fn collection(&self, db: &str, name: &str) -> Collection<Document> {
        self.client.database(db).collection(name)
    }

    /// How a driver error is reported: out of reach (exit 2) when the network or server
    /// selection failed, else the server's refusal of `operation`.
    pub fn failure(
        &self,
        operation: impl Into<String>,
    ) -> impl FnOnce(mongodb::error::Error) -> StoreError {
        let operation = operation.into();
        let server = self.server.clone();
        move |source| {
            use mongodb::error::ErrorKind;
            match *source.kind {
                ErrorKind::ServerSelection { .. }
                | ErrorKind::Io(_)
                | ErrorKind::ConnectionPoolCleared { .. } => {
                    StoreError::Unreachable(Unreachable::new("document store", server, source))
                }
                _ => StoreError::Refused {
                    operation,
                    server,
                    source: Box::new(source),
                },
            }
        }
    }

    /// Drops a database (and everything in it).
    pub fn drop_database(&self, db: &str) -> Result<(), StoreError> {
        self.call("drop", self.client.database(db).drop())
            .map_err(self.failure(format!("dropping database {db}")))
    }

    /// Runs a database command.
    pub fn command(&self, db: &str, command: Document) -> Result<Document, StoreError> {
        let name = command.keys().next().cloned().unwrap_or_default();
        self.call("command", self.client.database(db).run_command(command))
            .map_err(self.failure(format!("command {name} on {db}")))
    }

    /// Creates a unique index on `keys` (idempotent).
    pub fn unique_index(
        &self,
        coll: &Collection<Document>,
        keys: Document,
        name: &str,
    ) -> Result<(), StoreError> {
        let model = IndexModel::builder()
            .keys(keys)
            .options(
                IndexOptions::builder()
                    .unique(true)
                    .name(name.to_string())
                    .build(),
            )
            .build();
        self.call("index", coll.create_index(model))
            .map(|_| ())
            .map_err(self.failure(format!("index {name} on {}", coll.namespace())))
    }

    /// Inserts without stopping at the first refusal: documents whose key already exists are
    /// counted as duplicates, any other write error fails the call.
    pub fn insert_unordered(
        &self,
        coll: &Collection<Document>,
        docs: Vec<Document>,
    ) -> Result<InsertOutcome, StoreError> {
        if docs.is_empty() {
            return Ok(InsertOutcome::default());
        }
        let total = docs.len();
        match self.call("insert", coll.insert_many(docs).ordered(false)) {
            Ok(result) => Ok(InsertOutcome {
                inserted: result.inserted_ids.len(),
                duplicates: vec![],
            }),
            Err(e) => match *e.kind {
                mongodb::error::ErrorKind::InsertMany(ref failure)
                    if failure.write_concern_error.is_none() =>
                {
                    let errors = failure.write_errors.clone().unwrap_or_default();
                    if let Some(other) = errors.iter().find(|w| w.code != 11000) {
                        return Err(StoreError::DocumentRefused {
                            namespace: coll.namespace().to_string(),
                            index: other.index,
                            message: other.message.clone(),
                        });
                    }
                    let mut duplicates: Vec<usize> = errors.iter().map(|w| w.index).collect();
                    duplicates.sort_unstable();
                    Ok(InsertOutcome {
                        inserted: total - duplicates.len(),
                        duplicates,
                    })
                }
                _ => Err(self.failure(format!("insert into {}", coll.namespace()))(e)),
            },
        }
    }

    /// Runs an aggregation pipeline and collects its documents.
    pub fn aggregate(
        &self,
        coll: &Collection<Document>,
        pipeline: Vec<Document>,
    ) -> Result<Vec<Document>, StoreError> {
        self.call("aggregate", async {
            coll.aggregate(pipeline)
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .map_err(self.failure(format!("aggregation on {}", coll.namespace())))
    }

    /// Every document of the collection in `_id` order.
    pub fn all_by_id(&self, coll: &Collection<Document>) -> Result<Vec<Document>, StoreError> {
        self.call("find", async {
            coll.find(doc! {})
                .sort(doc! {"_id": 1})
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .map_err(self.failure(format!("reading {}", coll.namespace())))
    }

    /// Every `_id` of the collection (one round of the cursor, no document bodies).
    pub fn ids(&self, coll: &Collection<Document>) -> Result<Vec<Bson>, StoreError> {
        let docs: Vec<Document> = self
            .call("find", async {
                coll.find(doc! {})
                    .projection(doc! {"_id": 1})
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .map_err(self.failure(format!("reading the ids of {}", coll.namespace())))?;
        Ok(docs
            .into_iter()
            .filter_map(|mut d| d.remove("_id"))
            .collect())
    }

    /// How many documents match `filter`.
    pub fn count(&self, coll: &Collection<Document>, filter: Document) -> Result<u64, StoreError> {
        self.call("count", coll.count_documents(filter))
            .map_err(self.failure(format!("counting {}", coll.namespace())))
    }
}

/// The driver's private runtime (one worker: the calls are blocking for the chapters).
fn runtime() -> Result<tokio::runtime::Runtime, ConnectError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(ConnectError::Runtime)
}

/// A client for `uri` that has answered a ping, with `credential` (user, password, auth
/// database) replacing any in the URI.
async fn client_for(
    uri: &str,
    credential: Option<(&str, &str, &str)>,
) -> Result<Client, ConnectError> {
    let mut options = ClientOptions::parse(uri)
        .await
        .map_err(|source| ConnectError::Uri {
            uri: redact(uri),
            source,
        })?;
    options
        .server_selection_timeout
        .get_or_insert(Duration::from_secs(10));
    options.app_name = Some("auditbook".into());
    if let Some((user, password, source)) = credential {
        options.credential = Some(
            Credential::builder()
                .username(user.to_string())
                .password(password.to_string())
                .source(source.to_string())
                .build(),
        );
    }
    let unreachable = |e: mongodb::error::Error| Unreachable::new("document store", redact(uri), e);
    let client = Client::with_options(options).map_err(unreachable)?;
    // A ping needs no privilege; a wrong password fails the handshake here.
    client
        .database("admin")
        .run_command(doc! {"ping": 1})
        .await
        .map_err(unreachable)?;
    Ok(client)
}

/// SHA-256 over the documents' BSON bytes in the order given: two collections read in `_id`
/// order have the same hash exactly when they hold the same documents, field order included.
pub fn content_hash(docs: &[Document]) -> String {
    let mut hasher = Sha256::new();
    let mut bytes = Vec::new();
    for d in docs {
        bytes.clear();
        d.to_writer(&mut bytes)
            .expect("a document read from the store serialises");
        hasher.update(&bytes);
    }
    hex::encode(hasher.finalize())
}

/// A number from a result document, whatever numeric BSON type the server chose.
pub fn number(d: &Document, key: &str) -> Option<f64> {
    d.get(key).and_then(as_f64)
}

/// A numeric BSON value as f64; `None` for anything else.
pub fn as_f64(v: &Bson) -> Option<f64> {
    match v {
        Bson::Int32(v) => Some(*v as f64),
        Bson::Int64(v) => Some(*v as f64),
        Bson::Double(v) => Some(*v),
        _ => None,
    }
}

/// A pipeline as the book shows it: MongoDB's relaxed extended JSON, indented.
pub fn pipeline_text(pipeline: &[Document]) -> String {
    let json: Vec<serde_json::Value> = pipeline
        .iter()
        .map(|d| Bson::Document(d.clone()).into_relaxed_extjson())
        .collect();
    serde_json::to_string_pretty(&json).expect("a pipeline serialises")
}

/// Result documents as a table with `columns` in that order: integers stay integers,
/// any double makes the column floating, dates become RFC 3339 text, sub-documents JSON.
pub fn to_frame(docs: &[Document], columns: &[&str]) -> Result<DataFrame, StoreError> {
    let mut series: Vec<Column> = Vec::new();
    for name in columns {
        let values: Vec<Option<&Bson>> = docs
            .iter()
            .map(|d| d.get(*name).filter(|v| !matches!(v, Bson::Null)))
            .collect();
        let all = |f: fn(&Bson) -> bool| values.iter().flatten().all(|v| f(v));
        let column = if all(|v| matches!(v, Bson::Int32(_) | Bson::Int64(_))) {
            Column::new(
                (*name).into(),
                values
                    .iter()
                    .map(|v| v.and_then(|v| v.as_i64().or(v.as_i32().map(i64::from))))
                    .collect::<Vec<_>>(),
            )
        } else if all(|v| matches!(v, Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_))) {
            Column::new(
                (*name).into(),
                values
                    .iter()
                    .map(|v| v.and_then(as_f64))
                    .collect::<Vec<_>>(),
            )
        } else if all(|v| matches!(v, Bson::Boolean(_))) {
            Column::new(
                (*name).into(),
                values
                    .iter()
                    .map(|v| v.and_then(Bson::as_bool))
                    .collect::<Vec<_>>(),
            )
        } else {
            Column::new(
                (*name).into(),
                values
                    .iter()
                    .map(|v| {
                        v.map(|v| match v {
                            Bson::String(s) => s.clone(),
                            Bson::DateTime(t) => {
                                t.try_to_rfc3339_string().unwrap_or_else(|_| t.to_string())
                            }
                            other => other.clone().into_relaxed_extjson().to_string(),
                        })
                    })
                    .collect::<Vec<_>>(),
            )
        };
        series.push(column);
    }
    DataFrame::new(series).map_err(|source| StoreError::Table {
        columns: columns.iter().map(|c| c.to_string()).collect(),
        source: Box::new(source),
    })
}

/// The URI without its password, for messages.
pub fn redact(uri: &str) -> String {
    match (uri.find("://"), uri.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &uri[..scheme], &uri[at + 1..])
        }
        _ => uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_credentials() {
        assert_eq!(
            redact("mongodb://admin:secret@host:27017/db"),
            "mongodb://***@host:27017/db"
        );
        assert_eq!(redact("mongodb://host:27017"), "mongodb://host:27017");
    }

    #[test]
    fn content_hash_depends_on_order_and_content() {
        let a = vec![doc! {"_id": 1, "v": 1.5}, doc! {"_id": 2, "v": "x"}];
        let b = vec![doc! {"_id": 2, "v": "x"}, doc! {"_id": 1, "v": 1.5}];
        assert_ne!(content_hash(&a), content_hash(&b));
        assert_eq!(content_hash(&a), content_hash(&a.clone()));
        assert_ne!(
            content_hash(&a),
            content_hash(&[doc! {"_id": 1, "v": 1.5000001}, doc! {"_id": 2, "v": "x"}])
        );
    }
}
