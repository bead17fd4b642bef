//! Workflows declared as data: a chapter's `flow.yaml` lists tasks (load a file, run a named
//! SQL file, extract tables), their dependencies, retries, timeouts and quality gates, and a
//! cron trigger. The engine parses it (`spec`), runs it on a DuckDB file with retries, gates
//! and resumable state (`runner`, `load`), computes its fire times (`schedule`) and exports it
//! to Kestra (`kestra`) and Airflow (`airflow`). Nothing here knows which chapter a flow belongs to.

pub mod airflow;
pub mod error;
pub mod kestra;
pub mod load;
pub mod runner;
pub mod schedule;
pub mod spec;

pub use error::FlowError;
pub use runner::{run, FlowRun, RunReport, TaskStatus};
pub use spec::FlowSpec;

use crate::error::{Error, Result};

/// The flow a chapter declares in `chapters/<id>/flow.yaml`, if it has one.
pub fn chapter_flow(chapter: &str) -> Result<Option<FlowSpec>> {
    match crate::embedded::chapter_file(chapter, "flow.yaml") {
        None => Ok(None),
        Some(text) => FlowSpec::parse(text)
            .map(Some)
            .map_err(Error::within(chapter)),
    }
}

/// A chapter's SQL files by name, for the runner and the export.
pub fn chapter_sql(chapter: &str) -> impl Fn(&str) -> Option<String> + '_ {
    move |name: &str| crate::embedded::chapter_file(chapter, name).map(str::to_string)
}
