//! The events file, `events.jsonl`: one JSON object per line with the fields of
//! [`Event`] (id, title, description, kind, family, audience, price_eur, date, start,
//! commune_code, commune, indoor, accessible). The generator writes it; `--data DIR` brings
//! a user's own, as `events.jsonl` or as `events.csv` (the same fields as columns, a header
//! row first, in any order). Both are read by the same strict rules: a line that does not
//! parse, a field missing or of the wrong type, a column unknown or missing, an unknown kind or
//! audience, or an id seen twice is refused, naming the file, the line and the field; nothing
//! is skipped silently.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use super::facets::{Audience, KINDS};
use super::generate::Event;
use super::CHAPTER;
use crate::error::{Error, Result};

/// The file's name in the data folder.
pub const FILE: &str = "events.jsonl";
/// The same events as CSV, which `--data` also reads.
pub const CSV_FILE: &str = "events.csv";
/// The columns (and JSON fields) of an event, in the order the generator writes them.
pub const COLUMNS: &[&str] = &[
    "id",
    "title",
    "description",
    "kind",
    "family",
    "audience",
    "price_eur",
    "date",
    "start",
    "commune_code",
    "commune",
    "indoor",
    "accessible",
];

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

/// The events file of `dir`: `events.jsonl`, or `events.csv` (having both is refused, as
/// one would be ignored).
pub fn locate(dir: &Path) -> Result<&'static str> {
    match (dir.join(FILE).is_file(), dir.join(CSV_FILE).is_file()) {
        (true, false) => Ok(FILE),
        (false, true) => Ok(CSV_FILE),
        (true, true) => Err(Error::Data {
            chapter: CHAPTER.into(),
            file: dir.join(CSV_FILE).display().to_string(),
            row: None,
            message: format!("both {FILE} and {CSV_FILE} are in the folder: keep one"),
        }),
        (false, false) => Err(Error::io(dir.join(FILE))(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("neither {FILE} nor {CSV_FILE} is in the folder"),
        ))),
    }
}

/// Every event of `dir`'s events file (see [`locate`]), in file order.
pub fn read(dir: &Path) -> Result<Vec<Event>> {
    read_named(dir, locate(dir)?)
}

/// Every event of `dir/name` (`events.jsonl` or `events.csv`), in file order.
pub fn read_named(dir: &Path, name: &str) -> Result<Vec<Event>> {
    let path = dir.join(name);
    let text = crate::dataset::read_text(CHAPTER, &path)?;
    let file = path.display().to_string();
    if name == CSV_FILE {
        parse_csv(&text, &file)
    } else {
        parse(&text, &file)
    }
}

/// The events of CSV `text` (the contents of `file`): a header naming every column of
/// [`COLUMNS`] once, in any order, then one event per record. Rows are counted as lines of
/// the file (the header is line 1).
pub fn parse_csv(text: &str, file: &str) -> Result<Vec<Event>> {
    let bad = |line: u64, message: String| Error::Data {
        chapter: CHAPTER.into(),
        file: file.to_string(),
        row: Some(line),
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| bad(1, format!("header: {e}")))?
        .clone();
    let named: Vec<&str> = header.iter().collect();
    if let Some(unknown) = named.iter().find(|c| !COLUMNS.contains(c)) {
        return Err(bad(
            1,
            format!(
                "column `{unknown}` is not one of the events' columns ({})",
                COLUMNS.join(", ")
            ),
        ));
    }
    if let Some(missing) = COLUMNS.iter().find(|c| !named.contains(c)) {
        return Err(bad(1, format!("column `{missing}` is missing")));
    }
    if let Some(twice) = named
        .iter()
        .enumerate()
        .find(|(i, c)| named[..*i].contains(c))
        .map(|(_, c)| c)
    {
        return Err(bad(1, format!("column `{twice}` is named twice")));
    }
    let mut checker = Checker::default();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            bad(line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        // serde names the field whose cell does not parse.
        let event: Event = record.deserialize(Some(&header)).map_err(|e| {
            let message = match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => {
                    let column = err.field().and_then(|i| header.get(i as usize));
                    match column {
                        Some(c) => format!("column `{c}`: {}", err.kind()),
                        None => err.kind().to_string(),
                    }
                }
                _ => e.to_string(),
            };
            bad(line, message)
        })?;
        checker.admit(event).map_err(|m| bad(line, m))?;
    }
    checker.events(|m| bad(2, m))
}

/// The events of JSON Lines `text` (the contents of `file`).
pub fn parse(text: &str, file: &str) -> Result<Vec<Event>> {
    let bad = |line: u64, message: String| Error::Data {
        chapter: CHAPTER.into(),
        file: file.to_string(),
        row: Some(line),
        message,
    };
    let mut checker = Checker::default();
    for (i, line) in text.lines().enumerate() {
        let number = i as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        // serde names the field that is missing or of the wrong type.
        let event: Event = serde_json::from_str(line).map_err(|e| bad(number, e.to_string()))?;
        checker.admit(event).map_err(|m| bad(number, m))?;
    }
    checker.events(|m| bad(1, m))
}

/// The rules every event is held to, whatever the file's format: a known kind of its
/// family, a known audience, a time HH:MM, no empty id, commune or description, an id not
/// seen before.
#[derive(Default)]
struct Checker {
    events: Vec<Event>,
    ids: BTreeSet<String>,
}

impl Checker {
    /// Keeps `event`, or says which field is wrong.
    fn admit(&mut self, event: Event) -> std::result::Result<(), String> {
        let Some(kind) = KINDS.iter().find(|k| k.id == event.kind) else {
            let known: Vec<&str> = KINDS.iter().map(|k| k.id).collect();
            return Err(format!(
                "field `kind`: `{}` is not one of {}",
                event.kind,
                known.join(", ")
            ));
        };
        if kind.family != event.family {
            return Err(format!(
                "field `family`: `{}` is not the family of `{}` ({})",
                event.family, event.kind, kind.family
            ));
        }
        if Audience::from_id(&event.audience).is_none() {
            let known: Vec<&str> = Audience::ALL.iter().map(|(a, _)| a.id()).collect();
            return Err(format!(
                "field `audience`: `{}` is not one of {}",
                event.audience,
                known.join(", ")
            ));
        }
        if chrono::NaiveTime::parse_from_str(&event.start, "%H:%M").is_err() {
            return Err(format!(
                "field `start`: `{}` is not a time HH:MM",
                event.start
            ));
        }
        for (field, value) in [
            ("id", &event.id),
            ("commune", &event.commune),
            ("description", &event.description),
        ] {
            if value.trim().is_empty() {
                return Err(format!("field `{field}` is empty"));
            }
        }
        if !self.ids.insert(event.id.clone()) {
            return Err(format!(
                "field `id`: `{}` is used by an earlier line",
                event.id
            ));
        }
        self.events.push(event);
        Ok(())
    }

    /// The events admitted; none at all is an error.
    fn events(self, none: impl FnOnce(String) -> Error) -> Result<Vec<Event>> {
        if self.events.is_empty() {
            return Err(none("no event".into()));
        }
        Ok(self.events)
    }
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

    /// The events as CSV, columns in `columns` order.
    fn as_csv(events: &[Event], columns: &[&str]) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(columns).unwrap();
        for e in events {
            let v = serde_json::to_value(e).unwrap();
            w.write_record(columns.iter().map(|c| match &v[*c] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            }))
            .unwrap();
        }
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn csv_reads_the_same_events_in_any_column_order_and_names_a_bad_cell() {
        let (events, _) = tests_support::small_events(150);
        let mut shuffled: Vec<&str> = COLUMNS.to_vec();
        shuffled.reverse();
        let text = as_csv(&events, &shuffled);
        assert_eq!(parse_csv(&text, CSV_FILE).unwrap(), events);

        // Line 1 is the header: the fifth event is on line 6.
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        // `accessible` is the first column once reversed.
        let rest = lines[5].split_once(',').unwrap().1.to_string();
        lines[5] = format!("peut-être,{rest}");
        let err = parse_csv(&lines.join("\n"), CSV_FILE)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("row 6") && err.contains("column `accessible`"),
            "{err}"
        );

        let err = parse_csv(&as_csv(&events, &COLUMNS[1..]), CSV_FILE)
            .unwrap_err()
            .to_string();
        assert!(err.contains("column `id` is missing"), "{err}");
    }

    #[test]
    fn a_folder_with_both_files_is_refused() {
        let (events, _) = tests_support::small_events(120);
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &events).unwrap();
        std::fs::write(dir.path().join(CSV_FILE), as_csv(&events, COLUMNS)).unwrap();
        let err = read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("keep one"), "{err}");
        std::fs::remove_file(dir.path().join(FILE)).unwrap();
        assert_eq!(read(dir.path()).unwrap(), events);
    }
}
