//! Faults: named ways of breaking a chapter's input so that a check can be seen to fail.
//! Each chapter declares its faults as data in `chapters/<id>/faults.toml`:
//!
//! ```toml
//! [[fault]]
//! name = "late_batch_unlogged"
//! does = "drops the insertion log's lines of the late batch"  # shown on the verification page
//! trips = ["late_batch.found_equals_planted"]                  # the checks it must make fail
//! detail = ["1379"]            # text the failure must show (the offending rows or values)
//! # details = { "a.check" = ["…"] }  # the same, per check, when a fault trips several
//! params = { late_batch = "0" }                                # a generator parameter, or …
//! [[fault.edit]]                                               # … edits of a copy of a file:
//! data = "log.csv"             # a file of the chapter's input (after generation; `raw/*.parquet`: the first match), or
//! # declaration = "schema.sql" # a file of `chapters/<id>/` (SQL, dictionary, flow, …)
//! op = "drop_lines"            # drop_lines | duplicate_line | replace | truncate | remove_column | delete
//! matching = "2024-08-15"
//! ```
//!
//! A fault never touches `datasets/` or a user's `--data` folder: data edits are applied to a
//! copy the run makes (`RunContext::input_dir`), declaration edits to the embedded text the
//! run reads (`embedded::set_overlay`). An edit that finds nothing to change is an error, so a
//! fault cannot silently stop applying when the data changes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Deserialize;

use crate::embedded;
use crate::error::{Error, Reason, Result};

/// One declared fault.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// The fault's name, as given to `--fault`.
    pub name: String,
    /// What it does to the data or the declarations, in a sentence.
    pub does: String,
    /// The ids of the checks it must make fail.
    pub trips: Vec<String>,
    /// Text each tripped check's failure detail must contain: the offending rows or values.
    #[serde(default)]
    pub detail: Vec<String>,
    /// The same, for one check (in place of `detail`), when a fault trips several.
    #[serde(default)]
    pub details: BTreeMap<String, Vec<String>>,
    /// Parameters it sets (over the defaults; a `--param` of the same name is refused).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// The edits that make the fault.
    #[serde(default, rename = "edit")]
    pub edits: Vec<Edit>,
    /// A server the checks it trips exist only with (`"spark"`: they compare the chapter
    /// with Spark, so a run without `--spark` has none): the matrix runs it only when that
    /// server is named, and says so when it is not.
    #[serde(default)]
    pub needs: Option<String>,
}

impl Fault {
    /// Why this fault cannot run against `backends`, if it cannot.
    pub fn missing_server(&self, backends: &crate::chapter::Backends) -> Option<String> {
        match self.needs.as_deref() {
            Some("spark") if backends.spark_remote.is_none() => Some(format!(
                "fault `{}` needs a Spark cluster: give --spark sc://HOST:PORT",
                self.name
            )),
            Some("spark") | None => None,
            Some(other) => Some(format!(
                "fault `{}` needs `{other}`, which no option names",
                self.name
            )),
        }
    }
}

/// One edit of one file. (Unknown fields are refused by `Op`, which sees the rest.)
#[derive(Debug, Clone, Deserialize)]
pub struct Edit {
    /// A file of the chapter's input folder, by its name there.
    pub data: Option<String>,
    /// A file of `chapters/<id>/`, by its name there.
    pub declaration: Option<String>,
    /// What the edit does.
    #[serde(flatten)]
    pub op: Op,
}

/// What an edit does to the file's text.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    /// Removes the lines containing `matching` (the first `count` of them; 0: all).
    DropLines {
        /// The text the dropped lines contain.
        matching: String,
        /// How many to drop (0: every one).
        #[serde(default)]
        count: usize,
    },
    /// Writes the first line containing `matching` a second time, right after itself.
    DuplicateLine {
        /// The text the line contains.
        matching: String,
    },
    /// Replaces `find` by `with` (the first `count` occurrences; 0: all).
    Replace {
        /// The text to find.
        find: String,
        /// What replaces it.
        with: String,
        /// How many occurrences to replace (0: all).
        #[serde(default)]
        count: usize,
    },
    /// Keeps the first `keep_percent` % of the file's bytes, as a crash mid-write would.
    Truncate {
        /// The share of the bytes kept, in %.
        keep_percent: u32,
    },
    /// Removes the column `column` of a delimited file (header and every row).
    RemoveColumn {
        /// The column's header.
        column: String,
        /// The file's delimiter.
        delimiter: String,
    },
    /// Removes the file.
    Delete,
}

impl Edit {
    fn target(&self) -> Result<String> {
        match (&self.data, &self.declaration) {
            (Some(f), None) => Ok(format!("data file `{f}`")),
            (None, Some(f)) => Ok(format!("declaration `{f}`")),
            _ => Err(Error::Usage(
                "a fault edit names exactly one of `data` or `declaration`".into(),
            )),
        }
    }
}

impl Op {
    /// The edited bytes (`None`: the file is removed), or why the edit could not apply.
    /// Truncating and removing work on any file; the other edits need text.
    pub fn apply_bytes(&self, bytes: &[u8]) -> std::result::Result<Option<Vec<u8>>, Reason> {
        match self {
            Op::Truncate { keep_percent } if *keep_percent < 100 => Ok(Some(
                bytes[..bytes.len() * *keep_percent as usize / 100].to_vec(),
            )),
            Op::Delete => Ok(None),
            _ => {
                let text = std::str::from_utf8(bytes).map_err(|_| {
                    "the file is not text (only `truncate` and `delete` apply to it)".to_string()
                })?;
                Ok(self.apply(text)?.map(String::into_bytes))
            }
        }
    }

    /// The edited text, or why the edit could not apply.
    pub fn apply(&self, text: &str) -> std::result::Result<Option<String>, Reason> {
        let lines = || text.split_inclusive('\n');
        match self {
            Op::DropLines { matching, count } => {
                let mut dropped = 0;
                let kept: String = lines()
                    .filter(|line| {
                        let drop =
                            line.contains(matching.as_str()) && (*count == 0 || dropped < *count);
                        dropped += drop as usize;
                        !drop
                    })
                    .collect();
                if dropped == 0 {
                    return Err(format!("no line contains `{matching}`"));
                }
                Ok(Some(kept))
            }
            Op::DuplicateLine { matching } => {
                let mut done = false;
                let mut out = String::with_capacity(text.len() + 256);
                for line in lines() {
                    out.push_str(line);
                    if !done && line.contains(matching.as_str()) {
                        if !line.ends_with('\n') {
                            out.push('\n');
                        }
                        out.push_str(line);
                        done = true;
                    }
                }
                if !done {
                    return Err(format!("no line contains `{matching}`"));
                }
                Ok(Some(out))
            }
            Op::Replace { find, with, count } => {
                let found = text.matches(find.as_str()).count();
                if found == 0 {
                    return Err(format!("`{find}` is not in the file"));
                }
                Ok(Some(if *count == 0 {
                    text.replace(find.as_str(), with)
                } else {
                    text.replacen(find.as_str(), with, *count)
                }))
            }
            Op::Truncate { keep_percent } => {
                if *keep_percent >= 100 {
                    return Err("keep_percent must be below 100".into());
                }
                let mut cut = text.len() * *keep_percent as usize / 100;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                Ok(Some(text[..cut].to_string()))
            }
            Op::RemoveColumn { column, delimiter } => {
                let mut out = String::with_capacity(text.len());
                let mut index = None;
                for (n, line) in lines().enumerate() {
                    let (body, end) = split_line_end(line);
                    let mut fields: Vec<&str> = body.split(delimiter.as_str()).collect();
                    if n == 0 {
                        let header = fields.iter().position(|f| {
                            f.trim_start_matches('\u{feff}').trim_matches('"') == column
                        });
                        index = Some(
                            header.ok_or_else(|| format!("the header has no column `{column}`"))?,
                        );
                    }
                    let i = index.expect("set on the header line");
                    if i < fields.len() {
                        fields.remove(i);
                    }
                    out.push_str(&fields.join(delimiter));
                    out.push_str(end);
                }
                Ok(Some(out))
            }
            Op::Delete => Ok(None),
        }
    }
}

/// A line without its line break, and the break (`\r\n`, `\n` or none).
fn split_line_end(line: &str) -> (&str, &str) {
    if let Some(body) = line.strip_suffix("\r\n") {
        (body, "\r\n")
    } else if let Some(body) = line.strip_suffix('\n') {
        (body, "\n")
    } else {
        (line, "")
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsFile {
    #[serde(rename = "fault", default)]
    faults: Vec<Fault>,
}

/// The faults `chapters/<chapter>/faults.toml` declares (none when the file is absent).
pub fn declared(chapter: &str) -> Result<Vec<Fault>> {
    let Some(text) = embedded::chapter_file(chapter, "faults.toml") else {
        return Ok(Vec::new());
    };
    let file: FaultsFile = toml::from_str(text).map_err(|e| Error::Data {
        chapter: chapter.to_string(),
        file: format!("chapters/{chapter}/faults.toml"),
        row: None,
        message: e.to_string(),
    })?;
    let mut names = BTreeSet::new();
    for fault in &file.faults {
        if !names.insert(fault.name.clone()) {
            return Err(Error::chapter(
                chapter,
                format!("faults.toml declares `{}` twice", fault.name),
            ));
        }
        if fault.trips.is_empty() {
            return Err(Error::chapter(
                chapter,
                format!("fault `{}` names no check it trips", fault.name),
            ));
        }
        if fault.params.is_empty() && fault.edits.is_empty() {
            return Err(Error::chapter(
                chapter,
                format!("fault `{}` sets no parameter and edits no file", fault.name),
            ));
        }
        for edit in &fault.edits {
            edit.target()?;
        }
        if let Some(check) = fault.details.keys().find(|c| !fault.trips.contains(c)) {
            return Err(Error::chapter(
                chapter,
                format!(
                    "fault `{}` gives details for `{check}`, which it does not trip",
                    fault.name
                ),
            ));
        }
    }
    Ok(file.faults)
}

impl Fault {
    /// The texts the failure of `check` must show.
    pub fn detail_for(&self, check: &str) -> &[String] {
        self.details
            .get(check)
            .map(Vec::as_slice)
            .unwrap_or(&self.detail)
    }
}

/// The fault `name` of `chapter`, or a usage error listing the chapter's faults.
pub fn find(chapter: &str, name: &str) -> Result<Fault> {
    let all = declared(chapter)?;
    let names: Vec<String> = all.iter().map(|f| f.name.clone()).collect();
    all.into_iter().find(|f| f.name == name).ok_or_else(|| {
        Error::Usage(format!(
            "chapter `{chapter}` has no fault `{name}` (it declares: {})",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ))
    })
}

/// A fault in force for one run: which of its data edits were applied, and the copies made.
pub struct ActiveFault {
    /// The chapter whose input is broken.
    pub chapter: String,
    /// The fault in force.
    pub fault: Fault,
    applied: Mutex<BTreeSet<usize>>,
    copies: Mutex<Vec<crate::chapter::ScratchDir>>,
    _overlay: Overlay,
    held: Option<embedded::DeclarationsHeld>,
}

/// Removes the declaration overlay of a run when the run ends.
struct Overlay(Vec<String>);

impl Drop for Overlay {
    fn drop(&mut self) {
        for path in &self.0 {
            embedded::clear_overlay(path);
        }
    }
}

impl std::fmt::Debug for ActiveFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveFault")
            .field("chapter", &self.chapter)
            .field("fault", &self.fault.name)
            .finish()
    }
}

impl ActiveFault {
    /// Whether this fault holds its chapter's declarations alone (it edits some).
    pub fn edits_declarations(&self) -> bool {
        self.held.is_some()
    }

    /// Puts `fault`'s declaration edits in force for `chapter` (until dropped).
    pub fn start(chapter: &str, fault: Fault) -> Result<ActiveFault> {
        let mut edited: BTreeMap<String, Option<String>> = BTreeMap::new();
        for edit in &fault.edits {
            let Some(name) = &edit.declaration else {
                continue;
            };
            let path = format!("chapters/{chapter}/{name}");
            let current = match edited.get(&path) {
                Some(text) => text.clone(),
                None => embedded::file(&path).map(str::to_string),
            };
            let Some(text) = current else {
                return Err(fault_error(
                    chapter,
                    &fault,
                    &format!("there is no declaration `{path}`"),
                ));
            };
            let new = edit
                .op
                .apply(&text)
                .map_err(|why| fault_error(chapter, &fault, &format!("edit of `{path}`: {why}")))?;
            edited.insert(path, new);
        }
        // Only a fault that edits declarations needs them alone; the guard is taken before
        // the overlay is set and dropped after it is cleared (fields drop in order).
        let held = if edited.is_empty() {
            None
        } else {
            Some(embedded::edit_declarations(chapter))
        };
        for (path, text) in &edited {
            embedded::set_overlay(path, text.clone());
        }
        Ok(ActiveFault {
            chapter: chapter.to_string(),
            fault,
            applied: Mutex::new(BTreeSet::new()),
            copies: Mutex::new(Vec::new()),
            _overlay: Overlay(edited.into_keys().collect()),
            held,
        })
    }

    fn data_edits(&self) -> impl Iterator<Item = (usize, &String, &Op)> {
        self.fault
            .edits
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.data.as_ref().map(|f| (i, f, &e.op)))
    }

    /// The folder the chapter should read instead of `dir`: a copy with this fault's data
    /// edits applied to the files it holds, or `dir` itself when none applies there.
    pub fn input_dir(&self, ctx: &crate::chapter::RunContext, dir: &Path) -> Result<PathBuf> {
        let here: Vec<(usize, String, &Op)> = self
            .data_edits()
            .filter_map(|(i, f, op)| resolve(dir, f).map(|f| (i, f, op)))
            .collect();
        if here.is_empty() {
            return Ok(dir.to_path_buf());
        }
        let copy = ctx.scratch_dir("fault-")?;
        crate::commands::book::copy_dir(dir, copy.path())?;
        for (i, file, op) in here {
            let path = copy.path().join(&file);
            let bytes = std::fs::read(&path).map_err(Error::io(&path))?;
            match op.apply_bytes(&bytes).map_err(|why| {
                fault_error(
                    &self.chapter,
                    &self.fault,
                    &format!("edit of data file `{file}`: {why}"),
                )
            })? {
                Some(new) => std::fs::write(&path, new).map_err(Error::io(&path))?,
                None => std::fs::remove_file(&path).map_err(Error::io(&path))?,
            }
            self.applied.lock().expect("fault bookkeeping").insert(i);
        }
        let path = copy.path().to_path_buf();
        self.copies.lock().expect("fault bookkeeping").push(copy);
        Ok(path)
    }

    /// After the run: a data edit that never met its file is an error (the fault did not
    /// apply, so its checks proved nothing).
    pub fn finish(&self) -> Result<()> {
        let applied = self.applied.lock().expect("fault bookkeeping");
        if let Some((_, file, _)) = self.data_edits().find(|(i, _, _)| !applied.contains(i)) {
            return Err(fault_error(
                &self.chapter,
                &self.fault,
                &format!("the run never read a data file `{file}` through its input folder"),
            ));
        }
        Ok(())
    }
}

/// The file `pattern` names in `dir`: itself, or, when its last component holds one `*`,
/// the first matching file in name order (for outputs whose names carry a sequence).
fn resolve(dir: &Path, pattern: &str) -> Option<String> {
    if !pattern.contains('*') {
        return dir.join(pattern).is_file().then(|| pattern.to_string());
    }
    let (folder, name) = pattern.rsplit_once('/').unwrap_or(("", pattern));
    let (prefix, suffix) = name.split_once('*')?;
    let mut names: Vec<String> = std::fs::read_dir(dir.join(folder))
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| {
            n.starts_with(prefix) && n.ends_with(suffix) && n.len() >= prefix.len() + suffix.len()
        })
        .collect();
    names.sort();
    let first = names.into_iter().next()?;
    Some(if folder.is_empty() {
        first
    } else {
        format!("{folder}/{first}")
    })
}

fn fault_error(chapter: &str, fault: &Fault, why: &str) -> Error {
    Error::Usage(format!(
        "chapter `{chapter}`, fault `{}` cannot apply: {why}",
        fault.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_lines_drops_the_first_matches_only() {
        let op = Op::DropLines {
            matching: "b".into(),
            count: 1,
        };
        assert_eq!(op.apply("a\nb1\nb2\n").unwrap().unwrap(), "a\nb2\n");
        assert!(
            op.apply("a\n").is_err(),
            "an edit that finds nothing is an error"
        );
    }

    #[test]
    fn duplicate_line_keeps_crlf_and_a_last_line_without_break() {
        let op = Op::DuplicateLine {
            matching: "x".into(),
        };
        assert_eq!(
            op.apply("h\r\nx;1\r\n").unwrap().unwrap(),
            "h\r\nx;1\r\nx;1\r\n"
        );
        assert_eq!(op.apply("h\nx;1").unwrap().unwrap(), "h\nx;1\nx;1");
    }

    #[test]
    fn remove_column_removes_it_from_every_row() {
        let op = Op::RemoveColumn {
            column: "b".into(),
            delimiter: ";".into(),
        };
        assert_eq!(
            op.apply("\u{feff}a;b;c\r\n1;2;3\r\n").unwrap().unwrap(),
            "\u{feff}a;c\r\n1;3\r\n"
        );
        assert!(Op::RemoveColumn {
            column: "z".into(),
            delimiter: ";".into()
        }
        .apply("a;b\n")
        .is_err());
    }

    #[test]
    fn truncate_cuts_on_a_character_boundary() {
        let op = Op::Truncate { keep_percent: 50 };
        assert_eq!(op.apply("éé").unwrap().unwrap(), "é");
    }
}
