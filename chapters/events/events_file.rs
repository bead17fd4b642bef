//! The events file, `events.jsonl`: one JSON object per line with the fields of
//! [`Event`] (id, title, description, kind, family, audience, price_eur, date, start,
//! commune_code, commune, indoor, accessible). The generator writes it, `--data DIR` brings
//! a user's own, and both are read back by the same strict reader: a line that does not parse,
//! a field missing or of the wrong type, an unknown kind or audience, or an id seen twice is
//! refused, naming the file, the line and the field; nothing is skipped silently.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use super::facets::{Audience, KINDS};
use super::generate::Event;
use super::CHAPTER;
use crate::error::{Error, Result};

/// The file's name in the data folder.
pub const FILE: &str = "events.jsonl";

/// Writes `events` to `dir/events.jsonl`, one line each, in order. The file is written
/// beside its final name and renamed into place, so a run reading it at the same time (two
/// tests, two builds) sees the old file or the new one, never half of one.
pub fn write(dir: &Path, events: &[Event]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let path = dir.join(FILE);
    let mut text = Vec::with_capacity(events.len() * 400);
    for event in events {
        serde_json::to_writer(&mut text, event)
            .map_err(|e| Error::chapter(CHAPTER, e.to_string()))?;
        text.push(b'\n');
    }
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(Error::io(dir))?;
    file.write_all(&text).map_err(Error::io(&path))?;
    file.persist(&path)
        .map_err(|e| Error::io(&path)(e.error))
        .map(|_| ())
}

/// Every event of `dir/events.jsonl`, in file order.
pub fn read(dir: &Path) -> Result<Vec<Event>> {
    let path = dir.join(FILE);
    let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
    parse(&text, &path.display().to_string())
}

/// The events of `text` (the contents of `file`).
pub fn parse(text: &str, file: &str) -> Result<Vec<Event>> {
    let bad = |line: usize, message: String| Error::Data {
        chapter: CHAPTER.into(),
        file: file.to_string(),
        row: Some(line as u64),
        message,
    };
    let mut events = Vec::new();
    let mut ids = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        // serde names the field that is missing or of the wrong type.
        let event: Event = serde_json::from_str(line).map_err(|e| bad(number, e.to_string()))?;
        let Some(kind) = KINDS.iter().find(|k| k.id == event.kind) else {
            let known: Vec<&str> = KINDS.iter().map(|k| k.id).collect();
            return Err(bad(
                number,
                format!(
                    "field `kind`: `{}` is not one of {}",
                    event.kind,
                    known.join(", ")
                ),
            ));
        };
        if kind.family != event.family {
            return Err(bad(
                number,
                format!(
                    "field `family`: `{}` is not the family of `{}` ({})",
                    event.family, event.kind, kind.family
                ),
            ));
        }
        if Audience::from_id(&event.audience).is_none() {
            let known: Vec<&str> = Audience::ALL.iter().map(|(a, _)| a.id()).collect();
            return Err(bad(
                number,
                format!(
                    "field `audience`: `{}` is not one of {}",
                    event.audience,
                    known.join(", ")
                ),
            ));
        }
        if chrono::NaiveTime::parse_from_str(&event.start, "%H:%M").is_err() {
            return Err(bad(
                number,
                format!("field `start`: `{}` is not a time HH:MM", event.start),
            ));
        }
        for (field, value) in [
            ("id", &event.id),
            ("commune", &event.commune),
            ("description", &event.description),
        ] {
            if value.trim().is_empty() {
                return Err(bad(number, format!("field `{field}` is empty")));
            }
        }
        if !ids.insert(event.id.clone()) {
            return Err(bad(
                number,
                format!("field `id`: `{}` is used by an earlier line", event.id),
            ));
        }
        events.push(event);
    }
    if events.is_empty() {
        return Err(bad(1, "no event".into()));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chapters::events::generate::tests_support;

    #[test]
    fn what_is_written_reads_back_and_a_bad_line_is_refused_naming_line_and_field() {
        let (events, _) = tests_support::small_events(200);
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &events).unwrap();
        assert_eq!(read(dir.path()).unwrap(), events);

        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines[4] = lines[4].replace("\"price_eur\":", "\"prix\":");
        let err = parse(&lines.join("\n"), FILE).unwrap_err().to_string();
        assert!(err.contains("row 5") && err.contains("price_eur"), "{err}");

        let mut twice = text.lines().take(3).collect::<Vec<_>>();
        twice.push(twice[1]);
        let err = parse(&twice.join("\n"), FILE).unwrap_err().to_string();
        assert!(
            err.contains("row 4") && err.contains("earlier line"),
            "{err}"
        );
    }
}
