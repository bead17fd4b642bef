//! `diff`: what a run changes in the book, number by number. The old side is the committed
//! `book/findings.json` and `book/checks.json` (or those files at a git revision); the new
//! side is this run. Each finding and check result that differs is listed old → new, so a
//! data refresh or a code change can be reviewed before the book is rebuilt.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::notebook::Notebook;

/// One side of the comparison: chapter id → findings, chapter id → check id → status label.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Side {
    /// Each chapter's findings, by key.
    pub findings: BTreeMap<String, serde_json::Map<String, Value>>,
    /// `None` when that side has no check results (a revision from before `checks.json`).
    pub checks: Option<BTreeMap<String, BTreeMap<String, String>>>,
}

/// One difference; `None` means absent on that side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The chapter.
    pub chapter: String,
    /// `finding` or `check`.
    pub kind: &'static str,
    /// The finding's key, or `check <id>`.
    pub key: String,
    /// The old value (`None`: the key is new).
    pub old: Option<String>,
    /// The new value (`None`: the key is gone).
    pub new: Option<String>,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
        write!(
            f,
            "{:<18} {:<8} {}: {} → {}",
            self.chapter,
            self.kind,
            self.key,
            show(&self.old),
            show(&self.new)
        )
    }
}

impl Side {
    /// This run's side.
    pub fn of(notebooks: &[(&str, &Notebook)]) -> Side {
        let mut side = Side {
            checks: Some(BTreeMap::new()),
            ..Side::default()
        };
        for (id, nb) in notebooks {
            if let Value::Object(map) = nb.findings_json() {
                side.findings.insert(id.to_string(), map);
            }
            let checks = nb
                .checks
                .iter()
                .map(|c| (c.id.clone(), c.status.label().to_string()))
                .collect();
            side.checks
                .as_mut()
                .expect("set above")
                .insert(id.to_string(), checks);
        }
        side
    }

    /// The side written in `findings.json` and `checks.json` texts (`checks` may be missing).
    pub fn parse(findings: &str, checks: Option<&str>, origin: &str) -> Result<Side> {
        let bad = |file: &str, e: serde_json::Error| Error::BadFile {
            file: format!("{origin}{file}"),
            row: Some(e.line() as u64),
            message: e.to_string(),
        };
        let findings = serde_json::from_str(findings).map_err(|e| bad("findings.json", e))?;
        let checks = checks
            .map(|text| serde_json::from_str(text).map_err(|e| bad("checks.json", e)))
            .transpose()?;
        Ok(Side { findings, checks })
    }

    /// The committed book's side, from `book_dir`.
    pub fn from_book(book_dir: &Path) -> Result<Side> {
        let findings_path = book_dir.join("findings.json");
        let findings =
            std::fs::read_to_string(&findings_path).map_err(Error::io(&findings_path))?;
        let checks = std::fs::read_to_string(book_dir.join("checks.json")).ok();
        Side::parse(
            &findings,
            checks.as_deref(),
            &format!("{}/", book_dir.display()),
        )
    }

    /// The side at git revision `rev` of the checkout at `root` (`git show REV:book/…`).
    pub fn at_revision(root: &Path, rev: &str) -> Result<Side> {
        let show = |file: &str| -> Result<Option<String>> {
            let out = std::process::Command::new("git")
                .arg("-C")
                .arg(root)
                .args(["show", &format!("{rev}:book/{file}")])
                .output()
                .map_err(Error::io("git"))?;
            Ok(out
                .status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
        };
        let findings = show("findings.json")?.ok_or_else(|| {
            Error::Usage(format!(
                "no book/findings.json at git revision `{rev}` of {}",
                root.display()
            ))
        })?;
        Side::parse(
            &findings,
            show("checks.json")?.as_deref(),
            &format!("{rev}:book/"),
        )
    }
}

/// Every finding and check result that differs between `old` and `new`, for the chapters
/// `new` holds (a one-chapter run compares that chapter only), in book order of `order`.
pub fn compare(old: &Side, new: &Side, order: &[&str]) -> Vec<Change> {
    let mut changes = Vec::new();
    for chapter in order.iter().filter(|id| new.findings.contains_key(**id)) {
        let empty = serde_json::Map::new();
        let (before, after) = (
            old.findings.get(*chapter).unwrap_or(&empty),
            &new.findings[*chapter],
        );
        let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
        for key in keys {
            let (o, n) = (before.get(key), after.get(key));
            if o != n {
                changes.push(Change {
                    chapter: chapter.to_string(),
                    kind: "finding",
                    key: key.clone(),
                    old: o.map(Value::to_string),
                    new: n.map(Value::to_string),
                });
            }
        }
        if let (Some(old_checks), Some(new_checks)) = (&old.checks, &new.checks) {
            let none = BTreeMap::new();
            let (before, after) = (
                old_checks.get(*chapter).unwrap_or(&none),
                new_checks.get(*chapter).unwrap_or(&none),
            );
            let ids: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
            for id in ids {
                let (o, n) = (before.get(id), after.get(id));
                if o != n {
                    changes.push(Change {
                        chapter: chapter.to_string(),
                        kind: "check",
                        key: id.clone(),
                        old: o.cloned(),
                        new: n.cloned(),
                    });
                }
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(findings: &str, checks: Option<&str>) -> Side {
        Side::parse(findings, checks, "test/").unwrap()
    }

    #[test]
    fn equal_sides_have_no_change() {
        let a = side(
            r#"{"c": {"n": 1, "s": "x"}}"#,
            Some(r#"{"c": {"k": "pass"}}"#),
        );
        assert!(compare(&a, &a.clone(), &["c"]).is_empty());
    }

    #[test]
    fn changed_added_and_removed_findings_and_checks_are_listed_old_to_new() {
        let old = side(
            r#"{"c": {"n": 1379, "gone": true, "same": 2}, "other": {"x": 1}}"#,
            Some(r#"{"c": {"k": "pass", "old": "pass"}}"#),
        );
        let new = side(
            r#"{"c": {"n": 777, "added": "y", "same": 2}}"#,
            Some(r#"{"c": {"k": "FAIL", "new": "n/a"}}"#),
        );
        let lines: Vec<String> = compare(&old, &new, &["c", "other"])
            .iter()
            .map(ToString::to_string)
            .collect();
        let lines: Vec<String> = lines
            .iter()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(
            lines,
            [
                "c finding added: (absent) → \"y\"",
                "c finding gone: true → (absent)",
                "c finding n: 1379 → 777",
                "c check k: pass → FAIL",
                "c check new: (absent) → n/a",
                "c check old: pass → (absent)",
            ]
        );
    }

    #[test]
    fn a_float_that_moves_in_its_last_digit_is_a_change() {
        let (old, new) = (
            side(r#"{"c": {"x": 3.68}}"#, None),
            side(r#"{"c": {"x": 3.69}}"#, None),
        );
        assert_eq!(compare(&old, &new, &["c"]).len(), 1);
    }

    #[test]
    fn without_check_results_on_one_side_only_findings_are_compared() {
        let (old, new) = (
            side(r#"{"c": {"x": 1}}"#, None),
            side(r#"{"c": {"x": 1}}"#, Some(r#"{"c": {"k": "FAIL"}}"#)),
        );
        assert!(compare(&old, &new, &["c"]).is_empty());
    }
}
