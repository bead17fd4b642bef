//! The library's error type: every failure names where it happened (chapter, query, file,
//! row) and knows which exit code it deserves: 1 when the book is wrong, 2 when the tool
//! could not run.

use std::path::PathBuf;

/// Result alias used across the engine and the chapters.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while building the book.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A named SQL query failed in DuckDB.
    #[error("failed to run query `{query}` in chapter `{chapter}`: {message}")]
    Query {
        chapter: String,
        query: String,
        message: String,
    },

    /// Input data that does not have the expected shape.
    #[error("bad input in chapter `{chapter}`, file `{file}`{}: {message}", row.map(|r| format!(", row {r}")).unwrap_or_default())]
    Data {
        chapter: String,
        file: String,
        row: Option<u64>,
        message: String,
    },

    /// The prose references a name the notebook does not hold, or its template is invalid.
    #[error("in chapter `{chapter}`, {file} line {line}: {message}")]
    Reference {
        chapter: String,
        file: String,
        line: usize,
        message: String,
    },

    /// One or more checks of a chapter failed.
    #[error("chapter `{chapter}`: {} check(s) failed: {}", failed.len(), failed.join("; "))]
    ChecksFailed {
        chapter: String,
        failed: Vec<String>,
    },

    /// A dataset file does not match the sha256 recorded in the manifest.
    #[error("checksum mismatch for `{file}`: manifest says {expected}, file is {actual}")]
    Checksum {
        file: String,
        expected: String,
        actual: String,
    },

    /// A chapter produced something the engine cannot render (a bug in the chapter).
    #[error("chapter `{chapter}`: {message}")]
    Chapter { chapter: String, message: String },

    /// A backend the chapter needs (a server it starts or one the user named) could not be
    /// had: the tool could not run, the book is not wrong.
    #[error("chapter `{chapter}`: no {service}: {source}")]
    Unavailable {
        chapter: String,
        service: &'static str,
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// `diff` found findings or check results that differ from the committed book.
    #[error("{count} finding(s) or check result(s) differ from {against}")]
    Differs { count: usize, against: String },

    /// Bad command-line usage: unknown chapter, unknown or unparsable parameter.
    #[error("{0}")]
    Usage(String),

    /// A file could not be read or written.
    #[error("i/o error on `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    /// Several chapters failed; every failure is kept so the user sees all of them at once.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Many(Vec<Error>),
}

impl Error {
    /// The process exit code this error deserves: 1 the book is wrong, 2 the tool could not run.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Query { .. }
            | Error::Data { .. }
            | Error::Reference { .. }
            | Error::ChecksFailed { .. }
            | Error::Checksum { .. }
            | Error::Chapter { .. }
            | Error::Differs { .. } => 1,
            Error::Usage(_) | Error::Io { .. } | Error::Unavailable { .. } => 2,
            // The worst of the collected failures decides.
            Error::Many(errors) => errors.iter().map(Error::exit_code).max().unwrap_or(1),
        }
    }

    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    /// The document store a chapter needs could not be had.
    pub fn no_document_store(chapter: &str, source: crate::docstore::ConnectError) -> Error {
        Error::Unavailable {
            chapter: chapter.to_string(),
            service: "document store",
            source: Box::new(source),
        }
    }

    /// A chapter-level error with a free-form message.
    pub fn chapter(chapter: &str, message: impl Into<String>) -> Error {
        Error::Chapter {
            chapter: chapter.to_string(),
            message: message.into(),
        }
    }
}
