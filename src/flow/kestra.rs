//! The same flow as a Kestra flow, for teams that move to a real orchestrator: one DuckDB
//! task per step with the same SQL (variables resolved), the same retries and timeouts, each
//! gate a count query followed by a `Fail` task when it finds rows (a log line for `report`
//! gates), and the same cron trigger and time zone. Inputs become Kestra FILE inputs.
//!
//! Kestra runs a flow's tasks one after the other in file order, which is the dependency
//! order computed here.

use super::error::FlowError;
use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

use super::spec::{substitute, Action, FlowSpec, Format, OnFail};

fn map(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Mapping::new();
    for (k, v) in pairs {
        m.insert(Value::from(k), v);
    }
    Value::Mapping(m)
}

fn s(text: &str) -> Value {
    Value::from(text)
}

/// ISO-8601 duration of milliseconds, as Kestra writes them.
fn iso(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("PT{}S", ms / 1000)
    } else {
        format!("PT{}S", ms as f64 / 1000.0)
    }
}

/// The Kestra YAML of `spec`; `sql_file` gives each SQL task's text.
pub fn export(
    spec: &FlowSpec,
    sql_file: &dyn Fn(&str) -> Option<String>,
) -> Result<String, FlowError> {
    const DATABASE: &str = "{{ workingDir }}/flow.duckdb";
    let mut variables: BTreeMap<String, String> = spec.variables.clone();
    variables.insert("out_dir".into(), "{{ workingDir }}/out".into());
    variables.insert("data_dir".into(), "{{ workingDir }}".into());
    let mut inputs = Vec::new();
    let mut tasks = Vec::new();
    for task in spec.order()? {
        let retry = spec.retry(task);
        let common = |kind: &str, id: &str, sql: String, fetch: &str| {
            map(vec![
                ("id", s(id)),
                ("type", s(kind)),
                ("databaseUri", s(DATABASE)),
                ("sql", s(&sql)),
                ("fetchType", s(fetch)),
                (
                    "retry",
                    map(vec![
                        ("type", s("exponential")),
                        ("interval", s(&iso(retry.backoff_ms))),
                        (
                            "maxInterval",
                            s(&iso(
                                retry.wait_before(retry.max_attempts).as_millis() as u64
                            )),
                        ),
                        ("maxAttempts", Value::from(retry.max_attempts)),
                    ]),
                ),
                (
                    "timeout",
                    s(&format!("PT{}S", spec.timeout(task).as_secs())),
                ),
            ])
        };
        const QUERY: &str = "io.kestra.plugin.jdbc.duckdb.Query";
        let sql = match task.action() {
            Action::Load(l) => {
                inputs.push(map(vec![("id", s(&l.file)), ("type", s("FILE")), ("description", s(&format!("{}.xlsx or .csv", l.file)))]));
                format!(
                    "-- xlsx inputs need DuckDB's excel extension (read_xlsx); CSV inputs use read_csv.\ncreate or replace table {} as\nselect row_number() over () + 1 as source_row, *\nfrom read_csv('{{{{ inputs.{} }}}}', header = true, all_varchar = true);",
                    l.table, l.file
                )
            }
            Action::Sql(name) => {
                let text = sql_file(name).ok_or_else(|| FlowError::NoSqlFile {
                    task: task.id.clone(),
                    file: name.to_string(),
                })?;
                substitute(&text, &variables).map_err(|e| FlowError::Task {
                    what: format!("task `{}`", task.id),
                    source: Box::new(e),
                })?
            }
            Action::Extract(extractions) => extractions
                .iter()
                .flat_map(|x| {
                    x.formats.iter().map(move |f| {
                        let options = if *f == Format::Csv { "format csv, header true" } else { "format parquet" };
                        format!("copy (select * from {} order by {}) to '{{{{ workingDir }}}}/out/{}.{}' ({options});", x.table, x.order_by, x.file, f.extension())
                    })
                })
                .collect::<Vec<_>>()
                .join("\n"),
        };
        tasks.push(common(QUERY, &task.id, sql, "NONE"));
        for gate in &task.gates {
            let failing =
                substitute(&gate.failing_rows, &variables).map_err(|e| FlowError::Task {
                    what: format!("gate `{}`", gate.id),
                    source: Box::new(e),
                })?;
            let count = format!(
                "select count(*) as failing from (\n{}\n)",
                failing.trim().trim_end_matches(';')
            );
            tasks.push(common(QUERY, &gate.id, count, "FETCH_ONE"));
            let condition = format!("{{{{ outputs['{}'].row.failing > 0 }}}}", gate.id);
            tasks.push(match gate.on_fail {
                OnFail::Stop => map(vec![
                    ("id", s(&format!("{}_stop", gate.id))),
                    ("type", s("io.kestra.plugin.core.execution.Fail")),
                    ("condition", s(&condition)),
                    (
                        "errorMessage",
                        s(&format!(
                            "quality gate {} failed: {}",
                            gate.id, gate.description
                        )),
                    ),
                ]),
                OnFail::Report => map(vec![
                    ("id", s(&format!("{}_report", gate.id))),
                    ("type", s("io.kestra.plugin.core.log.Log")),
                    (
                        "message",
                        s(&format!(
                            "{}: {{{{ outputs['{}'].row.failing }}}} rows ({})",
                            gate.id, gate.id, gate.description
                        )),
                    ),
                ]),
            });
        }
    }
    let doc = map(vec![
        ("id", s(&spec.id)),
        ("namespace", s(&spec.namespace)),
        ("description", s(&spec.description)),
        ("inputs", Value::Sequence(inputs)),
        ("tasks", Value::Sequence(tasks)),
        (
            "triggers",
            Value::Sequence(vec![map(vec![
                ("id", s("schedule")),
                ("type", s("io.kestra.plugin.core.trigger.Schedule")),
                ("cron", s(&spec.trigger.cron)),
                ("timezone", s(&spec.trigger.timezone)),
            ])]),
        ),
    ]);
    let yaml = serde_yaml::to_string(&doc).map_err(FlowError::Export)?;
    Ok(format!("# Generated by `auditbook flow export --kestra` from the flow `{}`; edit the flow, not this file.\n{yaml}", spec.id))
}
