//! Object storage for the chapters: one API over a local directory (the default, so the
//! book needs no server) and an S3 bucket (any S3-compatible endpoint), through the
//! `object_store` crate. Calls are blocking; the async client runs on a private runtime.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// Where the objects are written.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Local(std::path::PathBuf),
    S3 {
        endpoint: String,
        bucket: String,
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
    ) -> Result<Target, String> {
        match (endpoint, bucket) {
            (Some(endpoint), Some(bucket)) => Ok(Target::S3 {
                endpoint: endpoint.to_string(),
                bucket: bucket.to_string(),
                prefix: format!("{chapter}/{unique}"),
            }),
            (Some(_), None) | (None, Some(_)) => Err(format!(
                "chapter `{chapter}`: --s3-endpoint and --s3-bucket go together"
            )),
            (None, None) => Ok(Target::Local(local)),
        }
    }
}

/// An object store (local or S3) and the runtime its async calls run on.
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    runtime: tokio::runtime::Runtime,
    pub objects_written: usize,
}

impl Storage {
    pub fn open(target: &Target) -> Result<Storage, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        let (store, prefix): (Arc<dyn ObjectStore>, String) = match target {
            Target::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                (
                    Arc::new(
                        LocalFileSystem::new_with_prefix(dir)
                            .map_err(|e| format!("{}: {e}", dir.display()))?,
                    ),
                    String::new(),
                )
            }
            Target::S3 {
                endpoint,
                bucket,
                prefix,
            } => {
                let s3 = AmazonS3Builder::from_env()
                    .with_endpoint(endpoint)
                    .with_bucket_name(bucket)
                    .with_allow_http(endpoint.starts_with("http://"))
                    .build()
                    .map_err(|e| format!("S3 bucket {bucket} at {endpoint}: {e}"))?;
                (Arc::new(s3), prefix.clone())
            }
        };
        Ok(Storage {
            store,
            prefix,
            runtime,
            objects_written: 0,
        })
    }

    fn path(&self, name: &str) -> ObjectPath {
        ObjectPath::from(if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        })
    }

    pub fn put(&mut self, name: &str, bytes: Vec<u8>) -> Result<(), String> {
        let path = self.path(name);
        self.runtime
            .block_on(self.store.put(&path, PutPayload::from(bytes)))
            .map_err(|e| format!("writing {path}: {e}"))?;
        self.objects_written += 1;
        Ok(())
    }

    /// An object's bytes, or `None` if there is none.
    pub fn get(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        let path = self.path(name);
        let store = self.store.clone();
        self.runtime.block_on(async move {
            match store.get(&path).await {
                Ok(r) => r
                    .bytes()
                    .await
                    .map(|b| Some(b.to_vec()))
                    .map_err(|e| format!("reading {path}: {e}")),
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
            .map_err(|e| format!("listing {dir}: {e}"))?
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
