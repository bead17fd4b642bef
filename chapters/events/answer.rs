//! The assistant's answer: a short text, in the request's language, that recommends the
//! events retrieved and cites each by its id in brackets (`[EV000123]`). It is a fixed
//! template, so the same events always give the same words; the event's title is quoted as
//! the events file has it. [`citations`] reads the ids back out of the text, as a reader would,
//! and the chapter's check holds every answer to citing only events it retrieved — which a
//! title that names another event's id would break.

use chrono::Datelike;

use super::generate::Event;
use super::queries::Language;
use crate::french;

/// Words only one of the two languages uses in a request (lower case).
const ENGLISH_WORDS: &[&str] = &[
    "the", "for", "this", "that", "where", "looking", "find", "ideas", "any", "near", "around",
    "with", "and", "of", "to", "i", "i'd", "weekend", "saturday", "sunday", "free", "in", "on",
];
const FRENCH_WORDS: &[&str] = &[
    "le",
    "la",
    "les",
    "un",
    "une",
    "des",
    "du",
    "de",
    "pour",
    "ce",
    "je",
    "où",
    "à",
    "sans",
    "vers",
    "sur",
    "et",
    "j'aimerais",
    "idée",
    "cherche",
    "trouver",
    "samedi",
    "dimanche",
    "côté",
];

/// The language of a request: the one more of its words belong to (French on a tie, the
/// assistant's home language).
pub fn language_of(request: &str) -> Language {
    let lower = request.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .filter(|w| !w.is_empty())
        .collect();
    let count = |list: &[&str]| words.iter().filter(|w| list.contains(w)).count();
    if count(ENGLISH_WORDS) > count(FRENCH_WORDS) {
        Language::En
    } else {
        Language::Fr
    }
}

/// The answer to `request` recommending `events` (best first): the language read from its
/// words, and the text in that language. The chapter, `ask` and the API all answer here.
pub fn respond(request: &str, events: &[&Event]) -> (Language, String) {
    let language = language_of(request);
    (language, compose(language, events))
}

/// The answer, in `language`, whose retrieved events are `events`, best first.
pub fn compose(language: Language, events: &[&Event]) -> String {
    if events.is_empty() {
        return match language {
            Language::Fr => "Aucun événement ne correspond à ces critères.".to_string(),
            Language::En => "No event matches these criteria.".to_string(),
        };
    }
    let items: Vec<String> = events.iter().map(|e| item(language, e)).collect();
    match language {
        Language::Fr => format!(
            "Je vous propose {} : {}.",
            if events.len() == 1 {
                "un événement".to_string()
            } else {
                format!("{} événements", events.len())
            },
            items.join(" ; ")
        ),
        Language::En => format!(
            "I suggest {}: {}.",
            if events.len() == 1 {
                "one event".to_string()
            } else {
                format!("{} events", events.len())
            },
            items.join("; ")
        ),
    }
}

fn item(language: Language, e: &Event) -> String {
    let d = e.date;
    match language {
        Language::Fr => format!(
            "« {} », {} {} {} à {}, {}, {} [{}]",
            e.title,
            french::weekday(d.weekday()),
            d.day(),
            french::month(d.month()),
            french_time(&e.start),
            e.commune,
            if e.free() {
                "gratuit".to_string()
            } else {
                format!("{} €", e.price_eur)
            },
            e.id
        ),
        Language::En => format!(
            "“{}”, {} at {}, {}, {} [{}]",
            e.title,
            d.format("%A %-d %B"),
            e.start,
            e.commune,
            if e.free() {
                "free".to_string()
            } else {
                format!("€{}", e.price_eur)
            },
            e.id
        ),
    }
}

/// `14:30` as French writes it, `14 h 30`; `18:00` is `18 h`, `09:30` is `9 h 30`.
fn french_time(start: &str) -> String {
    let Some((h, m)) = start.split_once(':') else {
        return start.to_string();
    };
    let h = h.parse::<u32>().map_or(h.to_string(), |h| h.to_string());
    if m == "00" {
        format!("{h} h")
    } else {
        format!("{h} h {m}")
    }
}

/// The ids an answer cites: every `[…]` in it whose content `is_id` recognises (an event id
/// of the corpus), in order of appearance, repeats kept.
pub fn citations(answer: &str, is_id: impl Fn(&str) -> bool) -> Vec<String> {
    let mut cited = Vec::new();
    let mut rest = answer;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        let inside = &after[..close];
        if is_id(inside) {
            cited.push(inside.to_string());
        }
        rest = &after[close + 1..];
    }
    cited
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chapters::events::generate::tests_support as fixtures;

    #[test]
    fn an_answer_cites_exactly_the_events_it_was_given() {
        let (events, _) = fixtures::small_events(30);
        let shown: Vec<&Event> = events.iter().take(3).collect();
        for language in [Language::Fr, Language::En] {
            let text = compose(language, &shown);
            let cited = citations(&text, |id| events.iter().any(|e| e.id == id));
            assert_eq!(
                cited,
                shown.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
                "{text}"
            );
        }
        assert!(citations(&compose(Language::Fr, &[]), |_| true).is_empty());
    }

    #[test]
    fn brackets_that_hold_no_id_are_not_citations() {
        assert_eq!(
            citations("[complet] voir [EV1] et [EV2", |id| id.starts_with("EV")),
            ["EV1"]
        );
    }

    #[test]
    fn the_language_is_read_from_the_words() {
        assert_eq!(
            language_of("un concert de jazz gratuit ce week-end à Lyon"),
            Language::Fr
        );
        assert_eq!(
            language_of("Looking for a free jazz concert this weekend in Lyon"),
            Language::En
        );
    }
}
