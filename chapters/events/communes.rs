//! The places events are generated in: `communes.csv` (code_commune, nom_commune,
//! population), read strictly. A row with the wrong number of fields, an empty name or a
//! population that is not a whole number is refused, naming the file, the row and the field.

use std::path::Path;

use super::generate::Commune;
use super::CHAPTER;
use crate::error::{Error, Result};

/// The file's name in the data folder.
pub const FILE: &str = "communes.csv";

const HEADER: [&str; 3] = ["code_commune", "nom_commune", "population"];

/// Every commune of `dir/communes.csv`, in file order.
pub fn read(dir: &Path) -> Result<Vec<Commune>> {
    let path = dir.join(FILE);
    let text = crate::dataset::read_text(CHAPTER, &path)?;
    parse(&text, &path.display().to_string())
}

/// The communes of `text` (the contents of `file`).
pub fn parse(text: &str, file: &str) -> Result<Vec<Commune>> {
    let bad = |row: usize, message: String| Error::Data {
        chapter: CHAPTER.into(),
        file: file.to_string(),
        row: Some(row as u64),
        message,
    };
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = match lines.next() {
        Some((_, line)) => line.trim_start_matches('\u{feff}').split(',').collect(),
        None => return Err(bad(1, "the file is empty".into())),
    };
    if header != HEADER {
        return Err(bad(
            1,
            format!(
                "the header is `{}`, expected `{}`",
                header.join(","),
                HEADER.join(",")
            ),
        ));
    }
    let mut communes = Vec::new();
    for (i, line) in lines {
        let row = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        // Names with a comma would be quoted; none of the communes kept has one, so a
        // quote is refused rather than half-parsed.
        if line.contains('"') {
            return Err(bad(
                row,
                "quoted fields are not read: a name holds a quote or a comma".into(),
            ));
        }
        let fields: Vec<&str> = line.split(',').collect();
        let [code, name, population] = fields[..] else {
            return Err(bad(
                row,
                format!(
                    "{} fields, expected 3 ({})",
                    fields.len(),
                    HEADER.join(", ")
                ),
            ));
        };
        if code.len() != 5 {
            return Err(bad(
                row,
                format!("field `code_commune`: `{code}` is not a 5-character INSEE code"),
            ));
        }
        if name.trim().is_empty() {
            return Err(bad(row, "field `nom_commune` is empty".into()));
        }
        let population = population.parse::<u64>().map_err(|_| {
            bad(
                row,
                format!("field `population`: `{population}` is not a whole number"),
            )
        })?;
        communes.push(Commune {
            code: code.to_string(),
            name: name.to_string(),
            population,
        });
    }
    if communes.is_empty() {
        return Err(bad(2, "no commune".into()));
    }
    Ok(communes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_population_is_refused_naming_the_row_and_the_field() {
        let text = "code_commune,nom_commune,population\n69123,Lyon,520000\n25056,Besançon,cent\n";
        let err = parse(text, "communes.csv").unwrap_err().to_string();
        assert!(
            err.contains("communes.csv") && err.contains('3') && err.contains("population"),
            "{err}"
        );
        let ok = parse(&text.replace("cent", "120000"), "communes.csv").unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].name, "Besançon");
    }
}
