//! Requests and their judgments. A request is an intent (some facets asked for) written in
//! French or in English with the request vocabulary of [`super::facets`], never the
//! descriptions' words. Its judgments come from the facets alone: grade 2 for an event that
//! satisfies every facet asked, 1 for one of the right kind that misses exactly one other
//! facet, 0 otherwise.

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::facets::{self, Audience, Kind, KINDS};
use super::generate::{Event, Needle};
use crate::retrieval::metrics::Judgments;

/// The language a request is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Language {
    /// French.
    Fr,
    /// English.
    En,
}

impl Language {
    /// `fr` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Language::Fr => "fr",
            Language::En => "en",
        }
    }
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    /// The kind of event.
    pub kind: &'static Kind,
    /// Who it is for, when said.
    pub audience: Option<Audience>,
    /// Free only.
    pub free: bool,
    /// This week-end only (the days of [`facets::weekend_of`] the plan's `today`).
    pub weekend: Option<(NaiveDate, NaiveDate)>,
    /// In this commune only.
    pub commune: Option<String>,
    /// Step-free access needed.
    pub accessible: bool,
}

impl Intent {
    /// The facets other than the kind that `event` fails.
    pub fn misses(&self, event: &Event) -> usize {
        let checks = [
            self.audience.is_some_and(|a| a.id() != event.audience),
            self.free && !event.free(),
            self.weekend
                .is_some_and(|(sat, sun)| !(sat..=sun).contains(&event.date)),
            self.commune.as_ref().is_some_and(|c| *c != event.commune),
            self.accessible && !event.accessible,
        ];
        checks.iter().filter(|miss| **miss).count()
    }

    /// The grade of `event` for this intent: 2, 1 or 0.
    pub fn grade(&self, event: &Event) -> u8 {
        if event.kind != self.kind.id {
            return 0;
        }
        match self.misses(event) {
            0 => 2,
            1 => 1,
            _ => 0,
        }
    }

    /// Whether the hard filters (date range, commune, free, step-free) keep `event`: what is applied
    /// before ranking.
    pub fn keeps(&self, event: &Event) -> bool {
        (!self.free || event.free())
            && self
                .weekend
                .is_none_or(|(sat, sun)| (sat..=sun).contains(&event.date))
            && self.commune.as_ref().is_none_or(|c| *c == event.commune)
            && (!self.accessible || event.accessible)
    }
}

/// A request: its text, its intent and its judgments over the events.
#[derive(Debug, Clone)]
pub struct Query {
    /// `Q0042`.
    pub id: String,
    /// The language it is written in.
    pub language: Language,
    /// What the user typed.
    pub text: String,
    /// What it asks for.
    pub intent: Intent,
    /// Every event's grade above 0, by row.
    pub judged: Judgments,
    /// Whether this is the needle's request.
    pub needle: bool,
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Writes an intent as a request in `language`, choosing among the request phrasings.
pub fn write(rng: &mut ChaCha8Rng, intent: &Intent, language: Language) -> String {
    let mut parts: Vec<String> = Vec::new();
    let (kind, opener) = match language {
        Language::Fr => (
            pick(rng, intent.kind.asked_fr).to_string(),
            *pick(
                rng,
                &[
                    "Je cherche",
                    "Une idée pour trouver",
                    "Où trouver",
                    "J'aimerais",
                ],
            ),
        ),
        Language::En => (
            pick(rng, intent.kind.asked_en).to_string(),
            *pick(
                rng,
                &[
                    "Looking for",
                    "Any ideas for",
                    "Where can I find",
                    "I'd like",
                ],
            ),
        ),
    };
    parts.push(format!("{opener} {kind}"));
    if let Some(audience) = intent.audience {
        let said = match language {
            Language::Fr => pick(rng, audience.asked_fr()),
            Language::En => pick(rng, audience.asked_en()),
        };
        if !said.is_empty() {
            parts.push(said.to_string());
        }
    }
    if intent.weekend.is_some() {
        parts.push(
            match language {
                Language::Fr => *pick(rng, &["ce week-end", "samedi ou dimanche qui vient"]),
                Language::En => *pick(rng, &["this weekend", "on Saturday or Sunday"]),
            }
            .to_string(),
        );
    }
    if let Some(commune) = &intent.commune {
        parts.push(match language {
            Language::Fr => format!("{} {commune}", pick(rng, &["du côté de", "vers", "sur"])),
            Language::En => format!("{} {commune}", pick(rng, &["near", "in", "around"])),
        });
    }
    if intent.free {
        parts.push(
            match language {
                Language::Fr => *pick(rng, &["sans rien payer", "gratuitement"]),
                Language::En => *pick(rng, &["for free", "that costs nothing"]),
            }
            .to_string(),
        );
    }
    if intent.accessible {
        parts.push(
            match language {
                Language::Fr => *pick(
                    rng,
                    &["praticable pour un fauteuil", "sans marches à franchir"],
                ),
                Language::En => *pick(rng, &["wheelchair accessible", "step-free"]),
            }
            .to_string(),
        );
    }
    parts.join(", ")
}

/// Every event's grade above 0 for `intent`.
pub fn judge(intent: &Intent, events: &[Event]) -> Judgments {
    events
        .iter()
        .enumerate()
        .filter_map(|(row, e)| match intent.grade(e) {
            0 => None,
            g => Some((row, g)),
        })
        .collect()
}

/// `per_language` requests in each language, each sampled from a random event's facets (so
/// that at least that event satisfies it), plus the needle's request in both languages when
/// the events were generated with one.
pub fn sample(
    seed: u64,
    per_language: usize,
    events: &[Event],
    needle: Option<&Needle>,
    today: NaiveDate,
) -> Vec<Query> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x51_7e_57);
    let weekend = facets::weekend_of(today);
    let mut queries = Vec::new();
    let mut push = |rng: &mut ChaCha8Rng, intent: Intent, language: Language, is_needle: bool| {
        let text = write(rng, &intent, language);
        let judged = judge(&intent, events);
        queries.push(Query {
            id: format!("Q{:04}", queries.len() + 1),
            language,
            text,
            intent,
            judged,
            needle: is_needle,
        });
    };
    // The needle's requests ask for its facets, whether or not it is still among the events
    // read (a damaged events file may have lost it: its check then says so).
    if let Some(needle) = needle {
        let needle_intent = Intent {
            kind: kind_of(needle.kind),
            audience: Some(needle.audience),
            free: true,
            weekend: Some(weekend),
            commune: Some(needle.commune.clone()),
            accessible: true,
        };
        for language in [Language::Fr, Language::En] {
            push(&mut rng, needle_intent.clone(), language, true);
        }
    }
    for language in [Language::Fr, Language::En] {
        for _ in 0..per_language {
            let e = &events[rng.random_range(0..events.len())];
            let in_weekend = (weekend.0..=weekend.1).contains(&e.date);
            let intent = Intent {
                kind: kind_of(&e.kind),
                audience: rng
                    .random_bool(0.3)
                    .then(|| Audience::from_id(&e.audience))
                    .flatten()
                    .filter(|a| *a != Audience::Everyone),
                free: e.free() && rng.random_bool(0.5),
                // Only an event of this week-end can seed a request for it.
                weekend: (in_weekend && rng.random_bool(0.7)).then_some(weekend),
                commune: rng.random_bool(0.5).then(|| e.commune.clone()),
                accessible: e.accessible && rng.random_bool(0.3),
            };
            push(&mut rng, intent, language, false);
        }
    }
    queries
}

fn kind_of(id: &str) -> &'static Kind {
    KINDS
        .iter()
        .find(|k| k.id == id)
        .expect("events are of declared kinds")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chapters::events::generate::{generate, tests_support, Plan};

    #[test]
    fn every_request_has_a_fully_relevant_event_and_the_needle_exactly_one() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let plan = Plan {
            seed: 3,
            ..tests_support::plan(3_000)
        };
        let communes = tests_support::communes();
        let (events, needle) = generate(&plan, &communes);
        let queries = sample(3, 40, &events, Some(&needle), today);
        assert_eq!(queries.len(), 82);
        for q in &queries {
            assert!(q.judged.values().any(|g| *g == 2), "{}: {:?}", q.id, q.text);
            // The request never carries a description's phrase.
            assert!(
                !q.intent.kind.described.iter().any(|d| q.text.contains(d)),
                "{}",
                q.text
            );
        }
        let needles: Vec<&Query> = queries.iter().filter(|q| q.needle).collect();
        assert_eq!(needles.len(), 2);
        for q in needles {
            let full: Vec<usize> = q
                .judged
                .iter()
                .filter(|(_, g)| **g == 2)
                .map(|(r, _)| *r)
                .collect();
            assert_eq!(full, [needle.row], "{}", q.text);
        }
    }
}
