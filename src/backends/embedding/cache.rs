//! Vectors already computed, kept across runs: a vector is a pure function of the model's
//! weights, the truncation and the text, so it is stored under the sha256 of the three and
//! never computed twice on one machine. The store lives in the tool's cache folder (not in a clone's `target/`), one
//! file per model, and survives `--no-cache` (which reruns chapters, not arithmetic that
//! cannot change).
//!
//! The file is a sequence of records, each `key (32 bytes) · check (8 bytes) · vector (384
//! little-endian f32)`, where `check` is the start of the sha256 of the vector's bytes.
//! Writers append whole records under an exclusive `flock`; a reader drops a record whose
//! check does not match and a torn last record (a writer killed mid-append), so a damaged
//! store costs a recomputation, never a wrong vector.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::minilm::DIMENSIONS;
use super::{EmbedError, Embedder};

/// A model the store can hold vectors of: what decides a vector besides the text, and how
/// to compute vectors it does not hold.
pub trait Vectorizer {
    /// The hex sha256 of the model's weights (one store file per model).
    fn weights_sha256(&self) -> &str;
    /// Whatever else, besides the weights and the text, changes a vector (a truncation, a
    /// role prefix, an engine build).
    fn variant(&self) -> Vec<u8>;
    /// The vectors of `texts`, in their order.
    fn vectorize(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

impl Vectorizer for Embedder {
    fn weights_sha256(&self) -> &str {
        &self.files.weights_sha256
    }

    fn variant(&self) -> Vec<u8> {
        // A text cut shorter is another input to the model.
        (self.max_tokens() as u64).to_le_bytes().to_vec()
    }

    fn vectorize(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embed(texts)
    }
}

/// A folder to keep the vectors in instead of the tool's cache folder's `vectors/`.
pub const DIR_ENV: &str = "AUDITBOOK_VECTORS_DIR";

/// Where the vectors are kept: `AUDITBOOK_VECTORS_DIR`, else `vectors/` in the tool's cache
/// folder. (The test script's first-run step empties the cache folder but keeps this one:
/// the vectors are a pure function of model and text, and recomputing them would only
/// repeat the embedding the tests already check.)
pub fn store_dir() -> PathBuf {
    std::env::var_os(DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::install::cache_dir().join("vectors"))
}

const KEY: usize = 32;
const CHECK: usize = 8;
const RECORD: usize = KEY + CHECK + DIMENSIONS * 4;

/// The vectors of one model, as stored.
pub struct VectorCache {
    path: PathBuf,
    weights_sha256: String,
    vectors: HashMap<[u8; KEY], Vec<f32>>,
    /// Records dropped when the file was read (a bad check, a torn end).
    pub dropped: usize,
}

/// What one call found in the store and what it computed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reuse {
    /// Texts whose vector was stored.
    pub stored: usize,
    /// Texts embedded now (and stored).
    pub computed: usize,
}

impl VectorCache {
    /// The store of the model whose weights hash to `weights_sha256`, in `dir` (created if
    /// missing).
    pub fn open(dir: &Path, weights_sha256: &str) -> Result<VectorCache, EmbedError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| EmbedError::Read { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join(format!(
            "vectors-{}.bin",
            &weights_sha256[..16.min(weights_sha256.len())]
        ));
        let mut cache = VectorCache {
            path: path.clone(),
            weights_sha256: weights_sha256.to_string(),
            vectors: HashMap::new(),
            dropped: 0,
        };
        let mut bytes = Vec::new();
        match File::open(&path) {
            Ok(mut file) => {
                file.lock_shared().map_err(io(&path))?;
                file.read_to_end(&mut bytes).map_err(io(&path))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
        }
        let whole = bytes.len() / RECORD;
        cache.dropped += usize::from(bytes.len() % RECORD != 0);
        for record in bytes.chunks_exact(RECORD).take(whole) {
            let (key, rest) = record.split_at(KEY);
            let (check, vector) = rest.split_at(CHECK);
            if Sha256::digest(vector)[..CHECK] != *check {
                cache.dropped += 1;
                continue;
            }
            let vector = vector
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            cache
                .vectors
                .insert(key.try_into().expect("32 bytes"), vector);
        }
        Ok(cache)
    }

    /// The file the vectors are stored in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many vectors are stored.
    pub fn len(&self) -> usize {
        self.vectors.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }

    /// A vector's key: the weights, the model's variant (see [`Vectorizer::variant`]) and
    /// the text.
    fn key(&self, variant: &[u8], text: &str) -> [u8; KEY] {
        let mut hasher = Sha256::new();
        hasher.update(self.weights_sha256.as_bytes());
        hasher.update([0]);
        hasher.update(variant);
        hasher.update(text.as_bytes());
        hasher.finalize().into()
    }

    /// Every text's vector: the stored ones as stored, the others embedded by `embedder` (in
    /// one call, so they batch by length together) and appended to the store.
    ///
    /// # Panics
    /// When `embedder` is another model than the store's.
    pub fn embed(
        &mut self,
        embedder: &dyn Vectorizer,
        texts: &[&str],
    ) -> Result<(Vec<Vec<f32>>, Reuse), EmbedError> {
        assert_eq!(
            embedder.weights_sha256(),
            self.weights_sha256,
            "a vector store holds one model's vectors"
        );
        let variant = embedder.variant();
        let keys: Vec<[u8; KEY]> = texts.iter().map(|t| self.key(&variant, t)).collect();
        let mut missing: Vec<usize> = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let first_time =
                !self.vectors.contains_key(key) && !missing.iter().any(|&m| keys[m] == *key);
            if first_time {
                missing.push(i);
            }
        }
        let new_texts: Vec<&str> = missing.iter().map(|&i| texts[i]).collect();
        let computed = if new_texts.is_empty() {
            Vec::new()
        } else {
            embedder.vectorize(&new_texts)?
        };
        let mut appended = Vec::with_capacity(computed.len() * RECORD);
        for (&i, vector) in missing.iter().zip(computed) {
            let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
            appended.extend_from_slice(&keys[i]);
            appended.extend_from_slice(&Sha256::digest(&bytes)[..CHECK]);
            appended.extend_from_slice(&bytes);
            self.vectors.insert(keys[i], vector);
        }
        if !appended.is_empty() {
            self.append(&appended)?;
        }
        let vectors = keys.iter().map(|k| self.vectors[k].clone()).collect();
        Ok((
            vectors,
            Reuse {
                stored: texts.len() - missing.len(),
                computed: missing.len(),
            },
        ))
    }

    /// Appends whole records under an exclusive lock, in one write.
    fn append(&self, records: &[u8]) -> Result<(), EmbedError> {
        let io = |source| EmbedError::Read {
            path: self.path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        file.lock().map_err(io)?;
        // A torn record left by a writer that died would shift every record after it: cut
        // the file back to whole records before appending.
        let length = file.metadata().map_err(io)?.len();
        let whole = length - length % RECORD as u64;
        if whole != length {
            file.set_len(whole).map_err(io)?;
        }
        file.write_all(records).map_err(io)?;
        file.sync_data().map_err(io)
    }
}
