//! The fault matrix (`auditbook faults`): every declared fault of every chapter is applied in
//! turn, and each must make the checks it names fail, with the offending rows or values in
//! the failure's detail. A check that no fault was seen to trip is reported by name: a check
//! that cannot fail proves nothing. Chapters run on parallel threads, a chapter's faults one
//! after the other (a fault's declaration edits are in force for its chapter's run only).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::time::Instant;

use crate::commands::book::{self, RunOptions};
use crate::error::{Error, Result};
use crate::fault::{self, Fault};
use crate::notebook::Status;

/// What became of one check a fault names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It failed, and its detail shows every text the fault asks for.
    Tripped {
        /// The check's reason.
        detail: String,
    },
    /// It failed, but its detail lacks some of the texts the fault asks for.
    VagueDetail {
        /// The check's reason when it failed.
        detail: String,
        /// The words the fault says the reason must contain, missing from it.
        missing: Vec<String>,
    },
    /// It did not fail.
    Held {
        /// What the check said instead.
        status: String,
    },
    /// The run has no check of that id.
    NoSuchCheck,
    /// The run stopped with an error instead of a failed check.
    RunError {
        /// The error the run stopped with.
        error: String,
    },
}

impl Verdict {
    /// Whether the check failed as the fault says it should.
    pub fn bites(&self) -> bool {
        matches!(self, Verdict::Tripped { .. })
    }
}

/// One fault's run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The chapter.
    pub chapter: String,
    /// The fault applied.
    pub fault: Fault,
    /// Each check the fault must trip, and what happened to it.
    pub checks: Vec<(String, Verdict)>,
    /// Other checks the fault made fail (allowed: one break often shows in several places).
    pub also_failed: Vec<String>,
    /// How long the run took.
    pub seconds: f64,
}

/// The matrix's result.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every (chapter, fault) run.
    pub outcomes: Vec<Outcome>,
    /// Checks (chapter, id) seen in the runs that no fault tripped; empty when one fault
    /// was asked for (coverage needs them all).
    pub unguarded: Vec<(String, String)>,
    /// Faults not run because a server they need was not named: (chapter, fault, why).
    pub skipped: Vec<(String, String, String)>,
}

/// Runs the faults of `only` (or of every chapter), or the one fault named.
pub fn run(only: Option<&str>, one_fault: Option<&str>, options: &RunOptions) -> Result<Report> {
    if one_fault.is_some() && only.is_none() {
        return Err(Error::Usage(
            "`faults --fault NAME` needs `--chapter`".into(),
        ));
    }
    let chapters: Vec<&'static str> = match only {
        Some(id) => vec![book::chapter_by_id(id)?.meta().id],
        None => book::all_meta().iter().map(|m| m.id).collect(),
    };
    let mut plans: Vec<(&str, Vec<Fault>)> = Vec::new();
    let mut skipped = Vec::new();
    for id in &chapters {
        let faults = match one_fault {
            Some(name) => vec![fault::find(id, name)?],
            None => fault::declared(id)?,
        };
        let (runnable, not): (Vec<Fault>, Vec<Fault>) = faults
            .into_iter()
            .partition(|f| f.missing_server(&options.backends).is_none());
        for f in not {
            let why = f.missing_server(&options.backends).unwrap_or_default();
            if one_fault.is_some() {
                return Err(Error::Usage(why));
            }
            skipped.push((id.to_string(), f.name.clone(), why));
        }
        plans.push((id, runnable));
    }
    let results: Vec<Result<(Vec<Outcome>, BTreeSet<String>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = plans
            .iter()
            .map(|(id, faults)| scope.spawn(move || run_chapter_faults(id, faults, options)))
            .collect();
        handles
            .into_iter()
            .zip(&plans)
            .map(|(h, (id, _))| {
                h.join()
                    .unwrap_or_else(|panic| Err(Error::panicked(id, &*panic)))
            })
            .collect()
    });
    let mut report = Report {
        skipped,
        ..Report::default()
    };
    for ((id, _), result) in plans.iter().zip(results) {
        let (outcomes, seen) = result?;
        if one_fault.is_none() {
            let tripped: BTreeSet<&str> = outcomes
                .iter()
                .flat_map(|o| {
                    o.checks
                        .iter()
                        .filter(|(_, v)| v.bites())
                        .map(|(c, _)| c.as_str())
                })
                .collect();
            report.unguarded.extend(
                seen.iter()
                    .filter(|c| !tripped.contains(c.as_str()))
                    .map(|c| (id.to_string(), c.clone())),
            );
        }
        report.outcomes.extend(outcomes);
    }
    Ok(report)
}

/// One chapter's faults, in order; also the ids of every check the runs produced.
fn run_chapter_faults(
    id: &str,
    faults: &[Fault],
    options: &RunOptions,
) -> Result<(Vec<Outcome>, BTreeSet<String>)> {
    let mut outcomes = Vec::new();
    let mut seen = BTreeSet::new();
    for f in faults {
        let opts = RunOptions {
            fault: Some(f.name.clone()),
            progress: false,
            ..options.clone()
        };
        let started = Instant::now();
        let result = book::run_selected(Some(id), &opts)?
            .pop()
            .map(|(_, r)| r)
            .expect("one chapter was run");
        let seconds = started.elapsed().as_secs_f64();
        let (checks, also_failed) = match result {
            Err(e) => (
                f.trips
                    .iter()
                    .map(|c| {
                        (
                            c.clone(),
                            Verdict::RunError {
                                error: e.to_string(),
                            },
                        )
                    })
                    .collect(),
                Vec::new(),
            ),
            Ok(nb) => {
                seen.extend(nb.checks.iter().map(|c| c.id.clone()));
                let statuses: BTreeMap<&str, &Status> = nb
                    .checks
                    .iter()
                    .map(|c| (c.id.as_str(), &c.status))
                    .collect();
                let checks = f
                    .trips
                    .iter()
                    .map(|c| {
                        (
                            c.clone(),
                            verdict(statuses.get(c.as_str()).copied(), f.detail_for(c)),
                        )
                    })
                    .collect();
                let also = nb
                    .checks
                    .iter()
                    .filter(|c| matches!(c.status, Status::Failed(_)) && !f.trips.contains(&c.id))
                    .map(|c| c.id.clone())
                    .collect();
                (checks, also)
            }
        };
        let outcome = Outcome {
            chapter: id.to_string(),
            fault: f.clone(),
            checks,
            also_failed,
            seconds,
        };
        eprintln!(
            "{id}: fault {}: {} ({seconds:.1} s)",
            f.name,
            if outcome.checks.iter().all(|(_, v)| v.bites()) {
                "bites"
            } else {
                "DOES NOT BITE"
            }
        );
        outcomes.push(outcome);
    }
    Ok((outcomes, seen))
}

fn verdict(status: Option<&Status>, wanted: &[String]) -> Verdict {
    match status {
        None => Verdict::NoSuchCheck,
        Some(Status::Failed(detail)) => {
            let missing: Vec<String> = wanted
                .iter()
                .filter(|w| !detail.contains(w.as_str()))
                .cloned()
                .collect();
            if missing.is_empty() {
                Verdict::Tripped {
                    detail: detail.clone(),
                }
            } else {
                Verdict::VagueDetail {
                    detail: detail.clone(),
                    missing,
                }
            }
        }
        Some(other) => Verdict::Held {
            status: other.label().to_string(),
        },
    }
}

impl Report {
    /// The matrix as a text table: one line per (fault, check).
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<17} {:<34} {:<40} {:<7} {:>6}  detail\n",
            "chapter", "fault", "check", "result", "s"
        );
        for o in &self.outcomes {
            for (check, v) in &o.checks {
                let (result, detail) = match v {
                    Verdict::Tripped { detail } => ("bites", detail.clone()),
                    Verdict::VagueDetail { detail, missing } => {
                        ("VAGUE", format!("lacks {missing:?}: {detail}"))
                    }
                    Verdict::Held { status } => {
                        ("HELD", format!("the check's result was `{status}`"))
                    }
                    Verdict::NoSuchCheck => {
                        ("NO-CHECK", "the run has no check of that id".to_string())
                    }
                    Verdict::RunError { error } => ("ERROR", error.clone()),
                };
                let detail: String = detail.chars().take(110).collect();
                let _ = writeln!(
                    out,
                    "{:<17} {:<34} {:<40} {:<7} {:>6.1}  {detail}",
                    o.chapter, o.fault.name, check, result, o.seconds
                );
            }
        }
        for (chapter, check) in &self.unguarded {
            let _ = writeln!(
                out,
                "{chapter:<17} {:<34} {check:<40} {:<7}",
                "(none)", "NO-FAULT"
            );
        }
        for (chapter, name, why) in &self.skipped {
            let _ = writeln!(out, "{chapter:<17} {name:<34} {:<40} SKIPPED {why}", "");
        }
        let pairs: usize = self.outcomes.iter().map(|o| o.checks.len()).sum();
        let seconds: f64 = self.outcomes.iter().map(|o| o.seconds).sum();
        let _ = writeln!(
            out,
            "{} faults, {pairs} (check, fault) pairs, {seconds:.0} s of chapter runs",
            self.outcomes.len()
        );
        out
    }

    /// Ok when every fault bit every check it names and every check has a fault.
    pub fn verdict(&self) -> Result<()> {
        let mut failed: Vec<String> = Vec::new();
        for o in &self.outcomes {
            for (check, v) in o.checks.iter().filter(|(_, v)| !v.bites()) {
                failed.push(format!(
                    "{}: fault `{}` does not make `{check}` fail as declared ({v:?})",
                    o.chapter, o.fault.name
                ));
            }
        }
        for (chapter, check) in &self.unguarded {
            failed.push(format!(
                "{chapter}: check `{check}` has no fault that was seen to make it fail"
            ));
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Error::ChecksFailed {
                chapter: "fault matrix".into(),
                failed,
            })
        }
    }
}
