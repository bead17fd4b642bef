//! The library's error type: every failure names where it happened (chapter, query, file,
//! row) and knows which exit code it deserves: 1 when the book is wrong, 2 when the tool
//! could not run.

use std::path::PathBuf;

/// Result alias used across the engine and the chapters.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why one record, value or edit is refused, in words: the text that goes into a quarantine
/// record, a check's reason, an API answer or a table cell. Not an error of the run: the run
/// goes on and counts it (a whole-file or backend failure is an [`Error`] instead).
pub type Reason = String;

/// Any error, boxed with its chain of causes: what a backend or a library hands up.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A service the run needs did not answer, or refused the connection: the tool could not run
/// (exit 2), whatever layer wraps it. Backends return it; [`Error::exit_code`] finds it
/// anywhere in a chain of causes.
#[derive(Debug, thiserror::Error)]
#[error("no answer from the {service} at {address}")]
pub struct Unreachable {
    /// What kind of service: "Kafka broker", "document store", "S3 store", ...
    pub service: &'static str,
    /// Where it was looked for (never with a password).
    pub address: String,
    /// What the client library said.
    #[source]
    pub source: BoxError,
}

impl Unreachable {
    /// Wraps a client library's error as `service` at `address` being out of reach.
    pub fn new(
        service: &'static str,
        address: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Unreachable {
        Unreachable {
            service,
            address: address.into(),
            source: source.into(),
        }
    }
}

/// Everything that can go wrong while building the book.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A named SQL query failed in DuckDB.
    #[error("failed to run query `{query}` in chapter `{chapter}`: {message}")]
    Query {
        /// The chapter.
        chapter: String,
        /// The query's name.
        query: String,
        /// What DuckDB (or the query's declaration) said.
        message: String,
    },

    /// Input data that does not have the expected shape.
    #[error("bad input in chapter `{chapter}`, file `{file}`{}: {message}", row.map(|r| format!(", row {r}")).unwrap_or_default())]
    Data {
        /// The chapter.
        chapter: String,
        /// The file.
        file: String,
        /// The row (header = 1), when the problem is in one.
        row: Option<u64>,
        /// What is wrong.
        message: String,
    },

    /// The prose references a name the notebook does not hold, or its template is invalid.
    #[error("in chapter `{chapter}`, {file} line {line}: {message}")]
    Reference {
        /// The chapter.
        chapter: String,
        /// The prose or template file.
        file: String,
        /// The line.
        line: usize,
        /// What is wrong.
        message: String,
    },

    /// One or more checks of a chapter failed.
    #[error("chapter `{chapter}`: {} check(s) failed: {}", failed.len(), failed.join("; "))]
    ChecksFailed {
        /// The chapter.
        chapter: String,
        /// Each failed check, with its reason.
        failed: Vec<String>,
    },

    /// A dataset file does not match the sha256 recorded in the manifest.
    #[error("checksum mismatch for `{file}`: manifest says {expected}, file is {actual}")]
    Checksum {
        /// The file.
        file: String,
        /// The sha256 the manifest records.
        expected: String,
        /// The sha256 of the file as it is.
        actual: String,
    },

    /// A chapter produced something the engine cannot render (a bug in the chapter).
    #[error("chapter `{chapter}`: {message}")]
    Chapter {
        /// The chapter.
        chapter: String,
        /// What is wrong.
        message: String,
    },

    /// A backend the chapter needs (a server it starts or one the user named) could not be
    /// had: the tool could not run, the book is not wrong.
    #[error("chapter `{chapter}`: no {service}")]
    Unavailable {
        /// The chapter.
        chapter: String,
        /// Which service.
        service: &'static str,
        /// Why it could not be had.
        #[source]
        source: BoxError,
    },

    /// A step of a chapter failed; its typed cause is kept whole. Exit 2 when a backend out
    /// of reach or an I/O failure is anywhere in the chain, else 1.
    #[error("chapter `{chapter}`{}", step.as_ref().map_or_else(|| " failed".to_string(), |s| format!(": {s}")))]
    Failed {
        /// The chapter.
        chapter: String,
        /// What the chapter was doing, when the cause does not say.
        step: Option<String>,
        /// The cause, whole.
        #[source]
        source: BoxError,
    },

    /// A chapter's thread panicked: a bug, reported under the chapter's own name.
    #[error("chapter `{chapter}` panicked: {message}")]
    Panicked {
        /// The chapter.
        chapter: String,
        /// The panic's message.
        message: String,
    },

    /// A file of the engine's own (the manifest, a committed findings.json) is malformed.
    #[error("bad file `{file}`{}: {message}", row.map(|r| format!(", line {r}")).unwrap_or_default())]
    BadFile {
        /// The file.
        file: String,
        /// The line, when the problem is on one.
        row: Option<u64>,
        /// What is wrong.
        message: String,
    },

    /// `diff` found findings or check results that differ from the committed book.
    #[error("{count} finding(s) or check result(s) differ from {against}")]
    Differs {
        /// How many differ.
        count: usize,
        /// What this run was compared with.
        against: String,
    },

    /// The PDF could not be printed: no Chromium, or Chromium failed.
    #[error("printing the PDF: {message}")]
    Print {
        /// What went wrong, with Chromium's own words.
        message: String,
    },

    /// Bad command-line usage: unknown chapter, unknown or unparsable parameter.
    #[error("{0}")]
    Usage(String),

    /// The embedding model could not be had or run: the tool could not run.
    #[error("the embedding model")]
    Model(#[from] crate::backends::embedding::EmbedError),

    /// A file could not be read or written.
    #[error("i/o error on `{}`", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },

    /// Several chapters failed; every failure is kept, each with its causes, so the user sees
    /// all of them at once.
    #[error("{}", .0.iter().map(Error::report).collect::<Vec<_>>().join("\n"))]
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
            | Error::Panicked { .. }
            | Error::BadFile { .. }
            | Error::Differs { .. } => 1,
            Error::Failed { source, .. } => {
                if could_not_run(source.as_ref()) {
                    2
                } else {
                    1
                }
            }
            Error::Usage(_)
            | Error::Io { .. }
            | Error::Unavailable { .. }
            | Error::Model(_)
            | Error::Print { .. } => 2,
            // The worst of the collected failures decides.
            Error::Many(errors) => errors.iter().map(Error::exit_code).max().unwrap_or(1),
        }
    }

    /// The message and every cause under it, one per line (`caused by: ...`), as `main`
    /// prints it.
    pub fn report(&self) -> String {
        messages(self).join("\n  caused by: ")
    }

    /// A chapter step failed with a typed error; used as `.map_err(Error::failed(CHAPTER,
    /// "restoring the backup"))`.
    pub fn failed<E: Into<BoxError>>(
        chapter: &str,
        step: impl Into<String>,
    ) -> impl FnOnce(E) -> Error {
        let chapter = chapter.to_string();
        let step = Some(step.into());
        move |source| Error::Failed {
            chapter,
            step,
            source: source.into(),
        }
    }

    /// A chapter call failed with a typed error that already says what it was doing
    /// (`.map_err(Error::within(CHAPTER))`).
    pub fn within<E: Into<BoxError>>(chapter: &str) -> impl FnOnce(E) -> Error {
        let chapter = chapter.to_string();
        move |source| Error::Failed {
            chapter,
            step: None,
            source: source.into(),
        }
    }

    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    /// The document store a chapter needs could not be had.
    pub fn no_document_store(
        chapter: &str,
        source: crate::backends::docstore::ConnectError,
    ) -> Error {
        Error::Unavailable {
            chapter: chapter.to_string(),
            service: "document store",
            source: Box::new(source),
        }
    }

    /// A chapter thread's panic, with the panic's message when it has one.
    pub fn panicked(chapter: &str, payload: &(dyn std::any::Any + Send)) -> Error {
        Error::Panicked {
            chapter: chapter.to_string(),
            message: panic_message(payload),
        }
    }

    /// A template the build embeds is not there (a packaging bug).
    pub fn missing_template(file: &str) -> Error {
        Error::BadFile {
            file: file.to_string(),
            row: None,
            message: "missing from the build".into(),
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

/// An error and its causes on one line (`what: why: deeper why`), for a check's reason or a
/// table cell, where [`Error::report`]'s lines do not fit.
pub fn one_line(error: &(dyn std::error::Error + 'static)) -> String {
    messages(error).join(": ")
}

/// The messages of an error and of every cause under it, in order; a wrapper that shows its
/// inner error's message (`#[error("{0}")]`) is said once.
fn messages(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cause = Some(error);
    while let Some(e) = cause {
        let line = e.to_string();
        if out.last() != Some(&line) {
            out.push(line);
        }
        cause = e.source();
    }
    out
}

/// The line of a TOML parse error in `text` (1 when it has no position in the text).
pub fn toml_line(text: &str, error: &toml::de::Error) -> Option<u64> {
    error
        .span()
        .map(|span| text[..span.start].lines().count().max(1) as u64)
}

/// Whether a chain of causes says the tool could not run: a service out of reach, or an I/O
/// failure, anywhere in it.
fn could_not_run(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<Unreachable>()
            || e.is::<std::io::Error>()
            || e.is::<crate::backends::embedding::EmbedError>()
        {
            return true;
        }
        if let Some(inner) = e.downcast_ref::<Error>() {
            if inner.exit_code() == 2 {
                return true;
            }
        }
        cause = e.source();
    }
    false
}

/// The message a panic carried (`panic!` with a literal or a formatted one), or "no message".
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backend_out_of_reach_anywhere_in_the_chain_exits_2() {
        #[derive(Debug, thiserror::Error)]
        #[error("loading the readings")]
        struct Step(#[source] Unreachable);
        let deep = Step(Unreachable::new(
            "document store",
            "mongodb://db:27017",
            "connection refused",
        ));
        let error = Error::failed("greencoop", "load")(deep);
        assert_eq!(error.exit_code(), 2);
        let report = error.report();
        assert!(
            report.contains("caused by: loading the readings"),
            "{report}"
        );
        assert!(
            report.contains("no answer from the document store at mongodb://db:27017"),
            "{report}"
        );
        assert!(
            report.ends_with("caused by: connection refused"),
            "{report}"
        );
    }

    #[test]
    fn a_wrong_result_exits_1() {
        let error = Error::failed("greencoop", "units")("`12 km` is not a speed".to_string());
        assert_eq!(error.exit_code(), 1);
        assert_eq!(
            Error::Many(vec![error, Error::Usage("bad".into())]).exit_code(),
            2
        );
    }
}
