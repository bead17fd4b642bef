//! Where each feature comes from: the columns of the source file behind every column the
//! model reads, traced through the two queries that make them (`load.sql` maps the file's
//! columns to `building`, `training_set.sql` maps `building` to the training set), as the
//! queries actually ran. The leakage check reads this, not a list of feature names: a feature
//! named innocently but computed from an energy column is caught.

use std::collections::BTreeMap;

/// The items of the first `select … from` list of `sql`: `(expression, output name)`, split
/// on the commas outside parentheses. Comments are removed first.
pub fn select_items(sql: &str) -> Vec<(String, String)> {
    let text: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let lower = text.to_lowercase();
    let Some(start) = lower.find("select") else {
        return Vec::new();
    };
    let body = &text[start + "select".len()..];
    // The list ends at the first `from` outside parentheses.
    let (mut depth, mut items, mut current) = (0i32, Vec::new(), String::new());
    for (i, c) in body.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        if depth == 0
            && body[i..].to_lowercase().starts_with("from")
            && current.ends_with(char::is_whitespace)
        {
            break;
        }
        current.push(c);
    }
    items.push(current);
    items
        .into_iter()
        .map(|item| {
            let item = item.trim().to_string();
            match item.to_lowercase().rfind(" as ") {
                Some(at) => (
                    item[..at].trim().to_string(),
                    item[at + 4..].trim().trim_matches('"').to_string(),
                ),
                None => (item.clone(), item.trim_matches('"').to_string()),
            }
        })
        .filter(|(e, _)| !e.is_empty())
        .collect()
}

/// The identifiers an expression reads: quoted ones (`"PropertyGFATotal"`) and bare words.
fn identifiers(expression: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut quoted = expression.split('"');
    // Odd pieces are inside quotes.
    let mut inside = false;
    for piece in quoted.by_ref() {
        if inside {
            out.push(piece.to_string());
        } else {
            out.extend(
                piece
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .filter(|w| !w.is_empty())
                    .map(str::to_string),
            );
        }
        inside = !inside;
    }
    out
}

/// For each output column of `training_sql`, the columns of the source file it is computed
/// from, through `building` as `load_sql` makes it.
pub fn sources(load_sql: &str, training_sql: &str) -> BTreeMap<String, Vec<String>> {
    let building: BTreeMap<String, Vec<String>> = select_items(load_sql)
        .into_iter()
        .map(|(expression, name)| {
            // Only the quoted names are file columns: the rest are SQL words and literals.
            let file_columns = expression
                .split('"')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect();
            (name, file_columns)
        })
        .collect();
    select_items(training_sql)
        .into_iter()
        .map(|(expression, name)| {
            let mut from: Vec<String> = identifiers(&expression)
                .iter()
                .filter_map(|w| building.get(w))
                .flatten()
                .cloned()
                .collect();
            from.sort();
            from.dedup();
            (name, from)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feature_is_traced_to_every_file_column_behind_it() {
        let load = "create table building as\nselect \"A\" as a, -- a comment, with a comma\n case upper(\"B\") when 'x' then 'y' else \"C\" end as b,\n \"D\" as d\nfrom read_csv('f.csv')";
        let training =
            "select a,\n coalesce(b, 1) as b2,\n a + d as ad\nfrom building\nwhere d > 0";
        let s = sources(load, training);
        assert_eq!(s["a"], vec!["A"]);
        assert_eq!(s["b2"], vec!["B", "C"]);
        assert_eq!(s["ad"], vec!["A", "D"]);
    }
}
