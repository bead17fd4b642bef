//! Object storage for the chapters: one API over a local directory (the default, so the
//! book needs no server) and an S3 bucket (any S3-compatible endpoint), through the
//! `object_store` crate. Calls are blocking; the async client runs on a private runtime.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::error::Unreachable;

/// An object-store call that failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An endpoint without a bucket, or a bucket without an endpoint.
    #[error("chapter `{chapter}`: --s3-endpoint and --s3-bucket go together")]
    HalfTarget {
        /// The chapter run.
        chapter: String,
    },
    /// The store could not be opened or answered with an error: the tool could not run.
    #[error("{0}")]
    Unreachable(#[from] Unreachable),
    /// The local folder could not be made.
    #[error("the local object folder {}", dir.display())]
    Folder {
        /// The folder.
        dir: std::path::PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The client's runtime could not be made.
    #[error("the object store client's runtime")]
    Runtime(#[source] std::io::Error),
}

/// Where the objects are written.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A local folder (the default: the book needs no server).
    Local(std::path::PathBuf),
    /// An S3 bucket on any S3-compatible endpoint.
    S3 {
        /// The endpoint's URL.
        endpoint: String,
        /// The bucket.
        bucket: String,
        /// The prefix every object name goes under (one per run).
        prefix: String,
    },
}

impl Target {
    /// The target of one chapter run: S3 under `<chapter>/<unique>/` when an endpoint and a
    /// bucket are given, else `local`. One without the other is a usage error.
    pub fn for_run(
        endpoint: Option<&str>,
        bucket: Option<&str>,
        chapter: &str,
        unique: &str,
        local: std::path::PathBuf,
    ) -> Result<Target, StorageError> {
        Target::at(
            endpoint,
            bucket,
            chapter,
            &format!("{chapter}/{unique}"),
            local,
        )
    }

    /// S3 under `prefix` when an endpoint and a bucket are given, else `local`; one without
    /// the other is a usage error naming `chapter`.
    pub fn at(
        endpoint: Option<&str>,
        bucket: Option<&str>,
        chapter: &str,
        prefix: &str,
        local: std::path::PathBuf,
    ) -> Result<Target, StorageError> {
        match (endpoint, bucket) {
            (Some(endpoint), Some(bucket)) => Ok(Target::S3 {
                endpoint: endpoint.to_string(),
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
            }),
            (Some(_), None) | (None, Some(_)) => Err(StorageError::HalfTarget {
                chapter: chapter.to_string(),
            }),
            (None, None) => Ok(Target::Local(local)),
        }
    }
}

/// An object store (local or S3) and the runtime its async calls run on.
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    runtime: tokio::runtime::Runtime,
    /// Said in errors: "S3 store" or "local object folder", and where it is.
    service: &'static str,
    address: String,
    /// How many objects this handle has written.
    pub objects_written: usize,
}

impl Storage {
    /// Opens the target: the local folder is created, an S3 client is built (it connects on
    /// the first call).
    pub fn open(target: &Target) -> Result<Storage, StorageError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StorageError::Runtime)?;
        let folder = |dir: &std::path::Path| {
            let dir = dir.to_path_buf();
            move |source: std::io::Error| StorageError::Folder { dir, source }
        };
        let (store, prefix, service, address): (Arc<dyn ObjectStore>, String, _, String) =
            match target {
                Target::Local(dir) => {
                    std::fs::create_dir_all(dir).map_err(folder(dir))?;
                    let store = LocalFileSystem::new_with_prefix(dir).map_err(|e| {
                        Unreachable::new("local object folder", dir.display().to_string(), e)
                    })?;
                    let address = dir.display().to_string();
                    (
                        Arc::new(store),
                        String::new(),
                        "local object folder",
                        address,
                    )
                }
                Target::S3 {
                    endpoint,
                    bucket,
                    prefix,
                } => {
                    let address = format!("bucket {bucket} of {endpoint}");
                    // A few quick retries with backoff (a store that hiccups), then a clear
                    // error: the library's default keeps retrying for three minutes.
                    let retry = object_store::RetryConfig {
                        backoff: object_store::BackoffConfig {
                            init_backoff: std::time::Duration::from_millis(100),
                            max_backoff: std::time::Duration::from_secs(2),
                            base: 2.0,
                        },
                        max_retries: 4,
                        retry_timeout: std::time::Duration::from_secs(30),
                    };
                    let s3 = AmazonS3Builder::from_env()
                        .with_retry(retry)
                        .with_endpoint(endpoint)
                        .with_bucket_name(bucket)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .build()
                        .map_err(|e| Unreachable::new("S3 store", address.clone(), e))?;
                    (Arc::new(s3), prefix.clone(), "S3 store", address)
                }
            };
        Ok(Storage {
            store,
            prefix,
            runtime,
            service,
            address,
            objects_written: 0,
        })
    }

    /// A failed call: the store out of reach or refusing it, the tool could not run.
    fn failed(&self, operation: String) -> impl FnOnce(object_store::Error) -> StorageError {
        let service = self.service;
        let address = format!("{} ({operation})", self.address);
        move |e| StorageError::Unreachable(Unreachable::new(service, address, e))
    }

    fn path(&self, name: &str) -> ObjectPath {
        ObjectPath::from(if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        })
    }

    /// Writes one object (whole: a reader never sees part of it).
    pub fn put(&mut self, name: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        let path = self.path(name);
        self.runtime
            .block_on(self.store.put(&path, PutPayload::from(bytes)))
            .map_err(self.failed(format!("writing {path}")))?;
        self.objects_written += 1;
        Ok(())
    }

    /// An object's bytes, or `None` if there is none.
    pub fn get(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let path = self.path(name);
        let store = self.store.clone();
        let failed = self.failed(format!("reading {path}"));
        self.runtime
            .block_on(async move {
                match store.get(&path).await {
                    Ok(r) => r.bytes().await.map(|b| Some(b.to_vec())),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .map_err(failed)
    }

    /// Every object name under `dir`, sorted.
    pub fn list(&self, dir: &str) -> Result<Vec<String>, StorageError> {
        use futures_util::TryStreamExt;
        let prefix = self.path(dir);
        let store = self.store.clone();
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut names: Vec<String> = self
            .runtime
            .block_on(async move {
                store
                    .list(Some(&prefix))
                    .map_ok(|m| m.location.to_string())
                    .try_collect::<Vec<_>>()
                    .await
            })
            .map_err(self.failed(format!("listing {dir}")))?
            .into_iter()
            .map(|n| n.strip_prefix(&strip).unwrap_or(&n).to_string())
            .collect();
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_put_get_list_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Storage::open(&Target::Local(dir.path().join("lake"))).unwrap();
        store.put("b/2.txt", b"two".to_vec()).unwrap();
        store.put("b/1.txt", b"one".to_vec()).unwrap();
        store.put("a.txt", b"a".to_vec()).unwrap();
        assert_eq!(store.list("b").unwrap(), vec!["b/1.txt", "b/2.txt"]);
        assert_eq!(store.get("b/1.txt").unwrap().as_deref(), Some(&b"one"[..]));
        assert_eq!(store.get("missing").unwrap(), None);
        assert_eq!(store.objects_written, 3);
    }
}
