//! A flow declared as data: YAML with an id, a trigger, variables and tasks. A task loads a
//! file, runs a named SQL file, or extracts tables to files; each declares what it reads and
//! writes, its retries, its timeout and the quality gates that run after it.

use super::error::FlowError;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// The whole flow file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FlowSpec {
    /// The flow's id.
    pub id: String,
    /// Its namespace (Kestra's).
    pub namespace: String,
    /// What it does.
    pub description: String,
    /// When it runs.
    pub trigger: Trigger,
    /// Values substituted for `${name}` in SQL and gates; `out_dir` and `data_dir` are given
    /// by the runner.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Retries and timeout of tasks that set none.
    #[serde(default)]
    pub defaults: TaskDefaults,
    /// The tasks, in file order.
    pub tasks: Vec<Task>,
}

/// When the flow runs by itself.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// Five-field cron (minute hour day month weekday).
    pub cron: String,
    /// IANA time zone the cron is read in, e.g. Europe/Paris.
    pub timezone: String,
}

/// Retries and timeout a task has unless it says otherwise.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TaskDefaults {
    /// How a task is retried.
    #[serde(default = "default_retry")]
    pub retry: Retry,
    /// How long an attempt may take.
    #[serde(default = "default_timeout")]
    pub timeout_s: u64,
}

impl Default for TaskDefaults {
    fn default() -> Self {
        TaskDefaults {
            retry: default_retry(),
            timeout_s: default_timeout(),
        }
    }
}

fn default_retry() -> Retry {
    Retry {
        max_attempts: 3,
        backoff_ms: 500,
        factor: 2.0,
    }
}

fn default_timeout() -> u64 {
    300
}

/// Attempts and exponential backoff: wait `backoff_ms × factor^(n−1)` before attempt n+1.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts in all (1: no retry).
    pub max_attempts: u32,
    /// The wait before the second attempt.
    pub backoff_ms: u64,
    /// How much longer each next wait is.
    pub factor: f64,
}

impl Retry {
    /// The wait before attempt `next` (2 for the first retry).
    pub fn wait_before(&self, next: u32) -> std::time::Duration {
        let ms = self.backoff_ms as f64 * self.factor.powi(next.saturating_sub(2) as i32);
        std::time::Duration::from_millis(ms.min(600_000.0) as u64)
    }
}

/// One task.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// The task's id.
    pub id: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// The tasks it waits for.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Exactly one of `load`, `sql`, `extract`: see [`Task::action`].
    pub load: Option<Load>,
    /// Run this SQL file of the chapter.
    pub sql: Option<String>,
    /// Write these tables as files.
    pub extract: Option<Vec<Extraction>>,
    /// Tables the task reads (their rows are the task's rows in).
    #[serde(default)]
    pub reads: Vec<String>,
    /// Tables the task writes (their rows are the task's rows out).
    #[serde(default)]
    pub writes: Vec<String>,
    /// Its own retries, if not the defaults.
    pub retry: Option<Retry>,
    /// Its own timeout, if not the default.
    pub timeout_s: Option<u64>,
    /// The quality gates run after it.
    #[serde(default)]
    pub gates: Vec<Gate>,
}

/// Load `<file>.xlsx` or `<file>.csv` from the data folder into a table of text columns.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// The input's base name (`.xlsx`, else `.csv`).
    pub file: String,
    /// The staging table it becomes.
    pub table: String,
}

/// What a task does.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    /// Load a file into a staging table.
    Load(&'a Load),
    /// Run a named SQL file of the chapter.
    Sql(&'a str),
    /// Write tables to files in the output folder.
    Extract(&'a [Extraction]),
}

impl Task {
    /// The one action the task declares.
    pub fn action(&self) -> Action<'_> {
        match (&self.load, &self.sql, &self.extract) {
            (Some(l), None, None) => Action::Load(l),
            (None, Some(s), None) => Action::Sql(s),
            (None, None, Some(e)) => Action::Extract(e),
            _ => unreachable!("FlowSpec::parse checks that a task has exactly one action"),
        }
    }
}

/// One table written out, in each format listed.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Extraction {
    /// The table written.
    pub table: String,
    /// The file's base name.
    pub file: String,
    /// The formats written.
    pub formats: Vec<Format>,
    /// Column to sort by, so the files are byte-identical from run to run.
    pub order_by: String,
}

/// A file format of an extraction.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Comma-separated, with a header.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// The file extension of the format.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        }
    }
}

/// A quality gate: a query that returns the rows breaking a rule. None: the gate passes.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// The gate's id.
    pub id: String,
    /// What it asserts.
    pub description: String,
    /// The query of the rows that break it (none: the gate holds).
    pub failing_rows: String,
    /// `stop` (the default): failing rows fail the task and stop what depends on it.
    /// `report`: the rows are counted and shown, the flow goes on (a profile of the input).
    #[serde(default)]
    pub on_fail: OnFail,
}

/// What a gate that found rows does.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnFail {
    /// Stop the flow: nothing downstream runs.
    #[default]
    Stop,
    /// Report the rows and go on.
    Report,
}

impl OnFail {
    /// The action as the flow file writes it.
    pub fn label(self) -> &'static str {
        match self {
            OnFail::Stop => "stop",
            OnFail::Report => "report",
        }
    }
}

impl FlowSpec {
    /// Parses and checks a flow: unique task and gate ids, known dependencies, no cycle, a
    /// cron that parses, a time zone that exists.
    pub fn parse(text: &str) -> Result<FlowSpec, FlowError> {
        let spec: FlowSpec = serde_yaml::from_str(text).map_err(FlowError::Yaml)?;
        let mut ids = BTreeSet::new();
        let mut gates = BTreeSet::new();
        for task in &spec.tasks {
            let actions = [
                task.load.is_some(),
                task.sql.is_some(),
                task.extract.is_some(),
            ]
            .iter()
            .filter(|a| **a)
            .count();
            if actions != 1 {
                return Err(FlowError::invalid(
                    &spec.id,
                    format!(
                        "task `{}` needs exactly one of `load`, `sql`, `extract`",
                        task.id
                    ),
                ));
            }
            if !ids.insert(task.id.as_str()) {
                return Err(FlowError::invalid(
                    &spec.id,
                    format!("task `{}` is declared twice", task.id),
                ));
            }
            for gate in &task.gates {
                if !gates.insert(gate.id.as_str()) {
                    return Err(FlowError::invalid(
                        &spec.id,
                        format!("gate `{}` is declared twice", gate.id),
                    ));
                }
            }
        }
        for task in &spec.tasks {
            for dep in &task.depends_on {
                if !ids.contains(dep.as_str()) {
                    return Err(FlowError::invalid(
                        &spec.id,
                        format!("task `{}` depends on unknown task `{dep}`", task.id),
                    ));
                }
            }
        }
        spec.order()?;
        super::schedule::Schedule::new(&spec.trigger)?;
        Ok(spec)
    }

    /// Tasks in an order that respects every dependency; among ready tasks, file order.
    pub fn order(&self) -> Result<Vec<&Task>, FlowError> {
        let mut done: BTreeSet<&str> = BTreeSet::new();
        let mut order = Vec::new();
        while order.len() < self.tasks.len() {
            let next = self
                .tasks
                .iter()
                .find(|t| {
                    !done.contains(t.id.as_str())
                        && t.depends_on.iter().all(|d| done.contains(d.as_str()))
                })
                .ok_or_else(|| FlowError::invalid(&self.id, "the dependencies form a cycle"))?;
            done.insert(&next.id);
            order.push(next);
        }
        Ok(order)
    }

    /// The task `id`.
    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id == id)
    }

    /// The retries of `task` (its own, or the defaults).
    pub fn retry(&self, task: &Task) -> Retry {
        task.retry.unwrap_or(self.defaults.retry)
    }

    /// The timeout of `task` (its own, or the default).
    pub fn timeout(&self, task: &Task) -> std::time::Duration {
        std::time::Duration::from_secs(task.timeout_s.unwrap_or(self.defaults.timeout_s))
    }

    /// Every task that depends on `id`, directly or not.
    pub fn downstream(&self, id: &str) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = BTreeSet::new();
        let mut frontier = vec![id.to_string()];
        while let Some(current) = frontier.pop() {
            for t in &self.tasks {
                if t.depends_on.contains(&current) && out.insert(t.id.clone()) {
                    frontier.push(t.id.clone());
                }
            }
        }
        out
    }
}

/// Replaces every `${name}` in `text`; an unknown name is an error naming it.
pub fn substitute(text: &str, variables: &BTreeMap<String, String>) -> Result<String, FlowError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| {
            FlowError::Variable(format!(
                "unclosed `${{` in: {}",
                &rest[start..rest.len().min(start + 40)]
            ))
        })?;
        let name = &after[..end];
        let value = variables
            .get(name)
            .ok_or_else(|| FlowError::Variable(format!("unknown variable `${{{name}}}`")))?;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOW: &str = r#"
id: demo
namespace: test
description: a demo
trigger: { cron: "0 9 15 * *", timezone: Europe/Paris }
tasks:
  - id: b
    depends_on: [a]
    sql: b.sql
  - id: a
    load: { file: input, table: raw }
  - id: c
    depends_on: [b]
    extract: [{ table: t, file: t, formats: [csv], order_by: id }]
"#;

    #[test]
    fn tasks_run_after_what_they_depend_on() {
        let spec = FlowSpec::parse(FLOW).unwrap();
        let order: Vec<&str> = spec
            .order()
            .unwrap()
            .iter()
            .map(|t| t.id.as_str())
            .collect();
        assert_eq!(order, ["a", "b", "c"]);
        assert_eq!(
            spec.downstream("a").into_iter().collect::<Vec<_>>(),
            ["b", "c"]
        );
    }

    #[test]
    fn cycles_unknown_dependencies_and_bad_triggers_are_refused() {
        assert!(
            FlowSpec::parse(&FLOW.replace("depends_on: [a]", "depends_on: [c]"))
                .unwrap_err()
                .to_string()
                .contains("cycle")
        );
        assert!(
            FlowSpec::parse(&FLOW.replace("depends_on: [a]", "depends_on: [z]"))
                .unwrap_err()
                .to_string()
                .contains("unknown task `z`")
        );
        assert!(FlowSpec::parse(&FLOW.replace("Europe/Paris", "Europe/Atlantis")).is_err());
        assert!(FlowSpec::parse(&FLOW.replace("0 9 15 * *", "0 25 15 * *")).is_err());
        assert!(
            FlowSpec::parse(&FLOW.replace("sql: b.sql", "sql: b.sql\n    colour: red")).is_err()
        );
    }

    #[test]
    fn variables_are_substituted_or_named() {
        let vars: BTreeMap<String, String> = [("out".to_string(), "/tmp/x".to_string())].into();
        assert_eq!(
            substitute("read '${out}/a.csv'", &vars).unwrap(),
            "read '/tmp/x/a.csv'"
        );
        assert!(substitute("${nope}", &vars)
            .unwrap_err()
            .to_string()
            .contains("nope"));
    }

    #[test]
    fn backoff_grows_by_its_factor() {
        let r = Retry {
            max_attempts: 4,
            backoff_ms: 100,
            factor: 2.0,
        };
        assert_eq!(
            [2, 3, 4].map(|n| r.wait_before(n).as_millis()),
            [100, 200, 400]
        );
    }
}
