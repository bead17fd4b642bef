//! The flow engine's errors: a flow file that is wrong, a run that cannot start, a state or a
//! history that cannot be kept. A task that fails is not an error of the engine: it is in the
//! run's report, with its reason, and the run goes on or stops as the flow says.

use std::path::PathBuf;

/// Why a flow could not be read, exported or run.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The flow file is not YAML of a flow.
    #[error("the flow file does not parse")]
    Yaml(#[source] serde_yaml::Error),
    /// The flow parses but is not a valid flow (ids, dependencies, actions).
    #[error("flow `{flow}`: {problem}")]
    Invalid {
        /// The flow.
        flow: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The trigger's cron does not parse, or has no next time.
    #[error("cron `{cron}`")]
    Cron {
        /// The cron expression.
        cron: String,
        /// What croner said.
        #[source]
        source: croner::errors::CronError,
    },
    /// The trigger's time zone is not an IANA name.
    #[error("unknown time zone `{0}`")]
    TimeZone(String),
    /// A `${name}` the flow does not declare, or an unclosed `${`.
    #[error("{0}")]
    Variable(String),
    /// A task names an SQL file the chapter does not have.
    #[error("task `{task}`: no SQL file `{file}`")]
    NoSqlFile {
        /// The task.
        task: String,
        /// The SQL file it names.
        file: String,
    },
    /// A task's SQL or a gate's query could not be prepared (an unknown variable in it).
    #[error("{what}")]
    Task {
        /// What was being prepared.
        what: String,
        /// Why it could not be.
        #[source]
        source: Box<FlowError>,
    },
    /// A `load` task's input is not in the data folder.
    #[error("chapter `{chapter}`: neither {} nor {} exists", xlsx.display(), csv.display())]
    NoInput {
        /// The chapter whose flow it is.
        chapter: String,
        /// The workbook looked for.
        xlsx: PathBuf,
        /// The CSV looked for instead.
        csv: PathBuf,
    },
    /// The run cannot start: an undeclared variable, another flow's state, nothing to resume.
    #[error("{0}")]
    Refused(String),
    /// The work folder's state file is not a flow state.
    #[error("{} is not a flow state", path.display())]
    State {
        /// The file.
        path: PathBuf,
        /// What did not parse.
        #[source]
        source: serde_json::Error,
    },
    /// The run history could not be written into the flow's database.
    #[error("writing the run history into {}", path.display())]
    History {
        /// The flow's database.
        path: PathBuf,
        /// What DuckDB said.
        #[source]
        source: duckdb::Error,
    },
    /// A task failed: its SQL, its input, or what it wrote.
    #[error("flow `{flow}`: {detail}")]
    TaskFailed {
        /// The flow.
        flow: String,
        /// Which task, after how many attempts, and why.
        detail: String,
    },
    /// The flow's database could not be used after every retry: the tool could not run.
    #[error("{0}")]
    Unavailable(#[source] crate::error::Unreachable),
    /// The Kestra export could not be serialised.
    #[error("the Kestra export")]
    Export(#[source] serde_yaml::Error),
    /// A file or folder could not be read or written.
    #[error("{0}")]
    Io(#[from] crate::error::Error),
}

impl FlowError {
    /// A problem of flow `flow`.
    pub fn invalid(flow: &str, problem: impl Into<String>) -> FlowError {
        FlowError::Invalid {
            flow: flow.to_string(),
            problem: problem.into(),
        }
    }
}
