//! A request's hard filters, read from its words: free only, this week-end only, in one
//! commune, step-free access, one audience. The words are a declaration (`filters.toml`, shown in the book); the communes are
//! those of the events. What is not a filter (the kind of event) is
//! left to ranking.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Deserialize;

use super::facets::Audience;
use super::generate::Event;
use super::CHAPTER;
use crate::embedded;
use crate::error::{Error, Result};

/// The declaration's file name.
pub const FILE: &str = "filters.toml";

/// The words of one filter, per language.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Words {
    /// French phrases.
    pub fr: Vec<String>,
    /// English phrases.
    pub en: Vec<String>,
}

/// What `filters.toml` declares.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vocabulary {
    /// The phrases that ask for free events only.
    pub free: Words,
    /// The phrases that ask for this week-end only.
    pub weekend: Words,
    /// The phrases that ask for step-free access.
    pub accessible: Words,
    /// The phrases that ask for one audience, by the audience's id (`seniors`).
    pub audience: BTreeMap<String, Words>,
}

/// The filters a request asks for (the API answers with them as read).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Filters {
    /// Free events only.
    pub free: bool,
    /// This week-end only.
    pub weekend: bool,
    /// In this commune only.
    pub commune: Option<String>,
    /// Step-free access only.
    pub accessible: bool,
    /// For this audience only (its id).
    pub audience: Option<String>,
}

impl Filters {
    /// Whether `event` passes every filter; `weekend` is the Saturday and Sunday meant.
    pub fn keeps(&self, event: &Event, weekend: (NaiveDate, NaiveDate)) -> bool {
        (!self.free || event.free())
            && (!self.weekend || (weekend.0..=weekend.1).contains(&event.date))
            && self
                .commune
                .as_ref()
                .is_none_or(|c| in_place(&event.commune, c))
            && (!self.accessible || event.accessible)
            && self.audience.as_ref().is_none_or(|a| *a == event.audience)
    }

    /// The filters in a few words (`free, this week-end, Lyon`), `none` when there are none.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.free {
            parts.push("free".to_string());
        }
        if self.weekend {
            parts.push("this week-end".to_string());
        }
        if let Some(c) = &self.commune {
            parts.push(c.clone());
        }
        if self.accessible {
            parts.push("step-free".to_string());
        }
        if let Some(a) = &self.audience {
            parts.push(format!("for {a}"));
        }
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        }
    }
}

/// The city a commune is an arrondissement of (`Paris  9e` → `Paris`, `Lyon 1er` → `Lyon`):
/// INSEE counts Paris, Lyon and Marseille by arrondissement, but a user asks for the city.
pub fn city_of(commune: &str) -> Option<&str> {
    let (city, ordinal) = commune.trim_end().rsplit_once(' ')?;
    let digits = ordinal
        .strip_suffix("er")
        .or_else(|| ordinal.strip_suffix('e'))?;
    let numbered = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    (numbered && !city.trim().is_empty()).then(|| city.trim_end())
}

/// Whether an event in `commune` is in `place`: that commune, or an arrondissement of that
/// city (bm25_top.sql says the same in SQL).
pub fn in_place(commune: &str, place: &str) -> bool {
    commune == place || city_of(commune) == Some(place)
}

/// The parser: the vocabulary and the communes' names as word sequences, longest first.
pub struct Parser {
    /// The declared vocabulary.
    pub vocabulary: Vocabulary,
    free: Vec<Vec<String>>,
    weekend: Vec<Vec<String>>,
    accessible: Vec<Vec<String>>,
    audiences: Vec<(String, Vec<Vec<String>>)>,
    communes: Vec<(Vec<String>, String)>,
}

/// Words of `text`: runs of letters, digits, hyphens and apostrophes.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\'' || c == '’'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn lower_words(text: &str) -> Vec<String> {
    words(&text.to_lowercase())
}

/// Whether `needle` occurs in `hay` as consecutive words.
fn contains(hay: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

impl Parser {
    /// The parser of the chapter's declared vocabulary (or its fault overlay) over the
    /// communes `events` take place in.
    pub fn declared(events: &[Event]) -> Result<Parser> {
        let vocabulary: Vocabulary = embedded::declared(CHAPTER, FILE)?;
        if let Some(unknown) = vocabulary
            .audience
            .keys()
            .find(|a| Audience::from_id(a).is_none())
        {
            return Err(Error::Data {
                chapter: CHAPTER.into(),
                file: format!("chapters/{CHAPTER}/{FILE}"),
                row: None,
                message: format!("`audience.{unknown}` is not an audience of the events"),
            });
        }
        let names: BTreeSet<&str> = events.iter().map(|e| e.commune.as_str()).collect();
        Ok(Parser::new(&vocabulary, names.into_iter()))
    }

    /// The parser of `vocabulary` over the commune `names`.
    pub fn new<'a>(vocabulary: &Vocabulary, names: impl Iterator<Item = &'a str>) -> Parser {
        let phrases = |w: &Words| -> Vec<Vec<String>> {
            w.fr.iter().chain(&w.en).map(|p| lower_words(p)).collect()
        };
        // Every commune, and every city counted by arrondissement under its own name too.
        let mut places = BTreeSet::new();
        for name in names {
            places.insert(name.to_string());
            if let Some(city) = city_of(name) {
                places.insert(city.to_string());
            }
        }
        let mut communes: Vec<(Vec<String>, String)> =
            places.into_iter().map(|n| (words(&n), n)).collect();
        // Longest first, so `Saint-Denis` is not read inside a longer name, nor `Paris` when
        // `Paris 15e` is asked.
        communes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        Parser {
            vocabulary: vocabulary.clone(),
            free: phrases(&vocabulary.free),
            weekend: phrases(&vocabulary.weekend),
            accessible: phrases(&vocabulary.accessible),
            audiences: vocabulary
                .audience
                .iter()
                .map(|(id, words)| (id.clone(), phrases(words)))
                .collect(),
            communes,
        }
    }

    /// The filters `request` asks for.
    pub fn parse(&self, request: &str) -> Filters {
        let lower = lower_words(request);
        let cased = words(request);
        Filters {
            free: self.free.iter().any(|p| contains(&lower, p)),
            weekend: self.weekend.iter().any(|p| contains(&lower, p)),
            commune: self
                .communes
                .iter()
                .find(|(w, _)| contains(&cased, w))
                .map(|(_, name)| name.clone()),
            accessible: self.accessible.iter().any(|p| contains(&lower, p)),
            audience: self
                .audiences
                .iter()
                .find(|(_, phrases)| phrases.iter().any(|p| contains(&lower, p)))
                .map(|(id, _)| id.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser() -> Parser {
        let vocabulary: Vocabulary =
            toml::from_str(embedded::chapter_file(CHAPTER, FILE).unwrap()).unwrap();
        Parser::new(
            &vocabulary,
            ["Lyon", "Paris 15e", "Paris  9e", "Tours"].into_iter(),
        )
    }

    #[test]
    fn a_city_counted_by_arrondissement_is_a_place_of_its_own() {
        assert_eq!(city_of("Paris  9e"), Some("Paris"));
        assert_eq!(city_of("Lyon 1er"), Some("Lyon"));
        assert_eq!(city_of("Saint-Denis (93)"), None);
        assert_eq!(city_of("Tours"), None);
        let p = parser();
        assert_eq!(
            p.parse("un concert à Paris").commune.as_deref(),
            Some("Paris")
        );
        assert_eq!(
            p.parse("un concert vers Paris  9e").commune.as_deref(),
            Some("Paris  9e")
        );
        assert!(in_place("Paris 15e", "Paris") && in_place("Paris 15e", "Paris 15e"));
        assert!(!in_place("Paris 15e", "Paris  9e") && !in_place("Tours", "Paris"));
    }

    #[test]
    fn filters_are_read_on_whole_words_and_step_free_is_not_free() {
        let p = parser();
        let f = p.parse("Looking for a pottery class this weekend in Paris 15e for free");
        assert_eq!(
            f,
            Filters {
                free: true,
                weekend: true,
                commune: Some("Paris 15e".into()),
                accessible: false,
                audience: None
            }
        );
        let f = p.parse("I'd like guided tours, step-free, near Lyon");
        assert_eq!(
            f,
            Filters {
                free: false,
                weekend: false,
                commune: Some("Lyon".into()),
                accessible: true,
                audience: None
            }
        );
        assert_eq!(
            p.parse("Je cherche un concert gratuitement ce week-end")
                .describe(),
            "free, this week-end"
        );
    }
}
