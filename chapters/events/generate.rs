//! The book's default data: a seeded generator of French events. Each event is drawn as
//! facets (kind, audience, price or free, day and time, commune, indoors or out, step-free
//! access) and written as a French description from several phrasings per facet, so that two
//! events of one kind rarely share a sentence. Dates are relative to the `today` parameter, so
//! "ce week-end" means the same days in every build.
//!
//! Two things are planted on purpose:
//!
//! - **the needle**: one event that alone satisfies a rare combination (a pottery class for
//!   seniors, free, step-free, in one commune, this week-end): its request must find it first;
//! - **near misses**: events written with the needle's words but one facet wrong (paid, another
//!   week-end, another audience, stairs only, another commune), which a retriever that matches
//!   words rather than meaning ranks too high.

use chrono::{Datelike, Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::facets::{self, Audience, Kind, KINDS};

/// A commune events can take place in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commune {
    /// INSEE code (`69123`).
    pub code: String,
    /// Its name (`Lyon`).
    pub name: String,
    /// Its municipal population: communes are drawn in proportion to it.
    pub population: u64,
}

/// One event, with the facets its description was written from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `EV000042`.
    pub id: String,
    /// The title.
    pub title: String,
    /// The description a reader (and the retriever) sees.
    pub description: String,
    /// Its kind (`concert.jazz`).
    pub kind: String,
    /// Its kind's family (`concert`).
    pub family: String,
    /// Who it is for.
    pub audience: String,
    /// Price in euros; 0 when free.
    pub price_eur: u32,
    /// The day it takes place.
    pub date: NaiveDate,
    /// Its start, `HH:MM`.
    pub start: String,
    /// The commune's INSEE code.
    pub commune_code: String,
    /// The commune's name.
    pub commune: String,
    /// Indoors (else outdoors).
    pub indoor: bool,
    /// Step-free access for wheelchairs.
    pub accessible: bool,
}

impl Event {
    /// The text that is embedded and indexed: title and description.
    pub fn text(&self) -> String {
        format!("{}. {}", self.title, self.description)
    }

    /// Whether it is free.
    pub fn free(&self) -> bool {
        self.price_eur == 0
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Seed of the generator.
    pub seed: u64,
    /// Events to generate, the needle and its near misses included.
    pub events: usize,
    /// The day requests are made on: "ce week-end" is the week-end of this day.
    pub today: NaiveDate,
    /// Events take place within this many days after `today`.
    pub horizon_days: u32,
    /// Near misses written around the needle.
    pub near_misses: usize,
}

/// The needle's facets: the rare combination only it satisfies.
#[derive(Debug, Clone, PartialEq)]
pub struct Needle {
    /// The needle's row in the generated events.
    pub row: usize,
    /// Its id.
    pub id: String,
    /// Its kind.
    pub kind: &'static str,
    /// Its audience.
    pub audience: Audience,
    /// Its commune's name.
    pub commune: String,
}

/// The needle's kind and audience: a combination the random draw makes rare.
const NEEDLE_KIND: &str = "atelier.poterie";
const NEEDLE_AUDIENCE: Audience = Audience::Seniors;

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn pick_weighted<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0.0..total);
    for (item, weight) in items {
        if x < *weight {
            return *item;
        }
        x -= weight;
    }
    items[items.len() - 1].0
}

/// The facets of one event before it is written.
#[derive(Debug, Clone)]
struct Draw {
    kind: &'static Kind,
    audience: Audience,
    price_eur: u32,
    date: NaiveDate,
    start: String,
    commune: usize,
    indoor: bool,
    accessible: bool,
}

/// Draws ordinary facets.
fn draw(rng: &mut ChaCha8Rng, plan: &Plan, communes: &[(usize, f64)]) -> Draw {
    let kinds: Vec<(&'static Kind, f64)> = KINDS.iter().map(|k| (k, k.weight)).collect();
    let kind = pick_weighted(rng, &kinds);
    let audience = pick_weighted(rng, &Audience::ALL);
    let price_eur = if rng.random_bool(0.35) {
        0
    } else {
        5 * rng.random_range(1..=9)
    };
    let date = plan.today + Duration::days(rng.random_range(0..=plan.horizon_days as i64));
    let start = format!(
        "{:02}:{}",
        rng.random_range(9..=21),
        pick(rng, &["00", "30"])
    );
    Draw {
        kind,
        audience,
        price_eur,
        date,
        start,
        commune: pick_weighted(rng, communes),
        indoor: if rng.random_bool(0.15) {
            !kind.indoor
        } else {
            kind.indoor
        },
        accessible: rng.random_bool(0.6),
    }
}

/// Writes one event's title and description from its facets.
fn write(rng: &mut ChaCha8Rng, row: usize, d: &Draw, communes: &[Commune]) -> Event {
    let commune = &communes[d.commune];
    let what = pick(rng, d.kind.described);
    let title = {
        let mut t = what.to_string();
        if let Some(first) = t.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        format!("{t} à {}", commune.name)
    };
    let place = if d.indoor {
        pick(
            rng,
            &[
                "en salle",
                "à l'intérieur",
                "dans la salle des fêtes",
                "à la médiathèque",
            ],
        )
    } else {
        pick(
            rng,
            &[
                "en plein air",
                "en extérieur",
                "sur la place du marché",
                "au parc municipal",
            ],
        )
    };
    let when = format!(
        "le {} {} {} {} à {}",
        crate::french::weekday(d.date.weekday()),
        d.date.day(),
        crate::french::month(d.date.month()),
        d.date.year(),
        d.start.replace(':', " h ")
    );
    let price = if d.price_eur == 0 {
        pick(
            rng,
            &["Entrée gratuite.", "Gratuit.", "Accès libre et gratuit."],
        )
        .to_string()
    } else {
        let p = d.price_eur;
        pick(
            rng,
            &[
                format!("Tarif : {p} €."),
                format!("Billets à {p} €."),
                format!("Participation de {p} €."),
            ],
        )
        .clone()
    };
    let access = if d.accessible {
        pick(
            rng,
            &[
                "Accessible aux personnes à mobilité réduite.",
                "Lieu accessible en fauteuil roulant.",
            ],
        )
    } else {
        pick(
            rng,
            &[
                "Accès par un escalier, sans ascenseur.",
                "Lieu non accessible en fauteuil.",
            ],
        )
    };
    let audience = pick(rng, d.audience.described());
    let description = format!(
        "{} {place} à {}, {when}. {price} {audience} {access}",
        capitalised(what),
        commune.name
    );
    Event {
        id: format!("EV{:06}", row + 1),
        title,
        description,
        kind: d.kind.id.to_string(),
        family: d.kind.family.to_string(),
        audience: d.audience.id().to_string(),
        price_eur: d.price_eur,
        date: d.date,
        start: d.start.clone(),
        commune_code: commune.code.clone(),
        commune: commune.name.clone(),
        indoor: d.indoor,
        accessible: d.accessible,
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Whether facets satisfy the needle's combination.
fn is_needle_combination(d: &Draw, needle_commune: usize, weekend: (NaiveDate, NaiveDate)) -> bool {
    d.kind.id == NEEDLE_KIND
        && d.audience == NEEDLE_AUDIENCE
        && d.price_eur == 0
        && d.accessible
        && d.commune == needle_commune
        && (weekend.0..=weekend.1).contains(&d.date)
}

/// The events of `plan` over `communes`, and where the needle is.
///
/// # Panics
/// When `communes` is empty or the plan asks for fewer events than the needle and its near
/// misses (the parameters' ranges prevent both).
pub fn generate(plan: &Plan, communes: &[Commune]) -> (Vec<Event>, Needle) {
    assert!(!communes.is_empty(), "no commune to place events in");
    assert!(
        plan.events > plan.near_misses,
        "too few events for the needle"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
    let weights: Vec<(usize, f64)> = communes
        .iter()
        .enumerate()
        .map(|(i, c)| (i, c.population.max(1) as f64))
        .collect();
    let weekend = facets::weekend_of(plan.today);
    // The needle's commune: a mid-sized one, so that its name alone does not decide.
    let needle_commune = communes.len() / 2;
    let needle_kind = KINDS
        .iter()
        .find(|k| k.id == NEEDLE_KIND)
        .expect("the needle's kind is declared");
    let needle_draw = Draw {
        kind: needle_kind,
        audience: NEEDLE_AUDIENCE,
        price_eur: 0,
        date: weekend.0,
        start: "14:30".into(),
        commune: needle_commune,
        indoor: true,
        accessible: true,
    };
    let mut draws: Vec<Draw> = Vec::with_capacity(plan.events);
    // Near misses: the needle with one facet wrong, in turn.
    for i in 0..plan.near_misses {
        let mut miss = needle_draw.clone();
        match i % 5 {
            0 => miss.price_eur = 10,
            1 => miss.date = weekend.0 + Duration::days(7),
            2 => miss.audience = Audience::Children,
            3 => miss.accessible = false,
            _ => miss.commune = (needle_commune + 1 + i) % communes.len(),
        }
        if miss.commune == needle_commune && i % 5 == 4 {
            miss.commune = (needle_commune + 1) % communes.len();
        }
        draws.push(miss);
    }
    while draws.len() < plan.events - 1 {
        let d = draw(&mut rng, plan, &weights);
        // The needle is alone: an ordinary draw that happens to match is drawn again.
        if !is_needle_combination(&d, needle_commune, weekend) {
            draws.push(d);
        }
    }
    // The needle goes to a seeded place among the others.
    let needle_row = rng.random_range(0..plan.events);
    draws.insert(needle_row, needle_draw);
    let events: Vec<Event> = draws
        .iter()
        .enumerate()
        .map(|(row, d)| write(&mut rng, row, d, communes))
        .collect();
    let needle = Needle {
        row: needle_row,
        id: events[needle_row].id.clone(),
        kind: NEEDLE_KIND,
        audience: NEEDLE_AUDIENCE,
        commune: communes[needle_commune].name.clone(),
    };
    (events, needle)
}

/// Fixtures shared by the chapter's unit tests: a few real communes and a small plan.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// Four communes of different sizes.
    pub fn communes() -> Vec<Commune> {
        [
            ("69123", "Lyon", 520_000),
            ("25056", "Besançon", 120_000),
            ("38185", "Grenoble", 158_000),
            ("76451", "Montivilliers", 15_000),
        ]
        .iter()
        .map(|(code, name, population)| Commune {
            code: code.to_string(),
            name: name.to_string(),
            population: *population,
        })
        .collect()
    }

    /// A plan of `events` events from 2026-12-02 over 60 days, seed 8, 10 near misses.
    pub fn plan(events: usize) -> Plan {
        Plan {
            seed: 8,
            events,
            today: NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
            horizon_days: 60,
            near_misses: 10,
        }
    }

    /// The events of [`plan`] over [`communes`].
    pub fn small_events(events: usize) -> (Vec<Event>, Needle) {
        generate(&plan(events), &communes())
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::{communes, plan as plan_of};
    use super::*;

    fn plan() -> Plan {
        plan_of(2_000)
    }

    #[test]
    fn the_same_plan_gives_the_same_events_and_another_seed_others() {
        let (a, na) = generate(&plan(), &communes());
        let (b, nb) = generate(&plan(), &communes());
        assert_eq!(a, b);
        assert_eq!(na, nb);
        let (c, _) = generate(&Plan { seed: 9, ..plan() }, &communes());
        assert_ne!(a, c);
    }

    #[test]
    fn the_needle_alone_satisfies_its_combination_and_near_misses_miss_by_one_facet() {
        let p = plan();
        let (events, needle) = generate(&p, &communes());
        assert_eq!(events.len(), p.events);
        let weekend = facets::weekend_of(p.today);
        let satisfies = |e: &Event| {
            e.kind == NEEDLE_KIND
                && e.audience == NEEDLE_AUDIENCE.id()
                && e.free()
                && e.accessible
                && e.commune == needle.commune
                && (weekend.0..=weekend.1).contains(&e.date)
        };
        let matching: Vec<usize> = (0..events.len())
            .filter(|&r| satisfies(&events[r]))
            .collect();
        assert_eq!(matching, [needle.row]);
        let near = events
            .iter()
            .filter(|e| e.kind == NEEDLE_KIND && !satisfies(e))
            .filter(|e| {
                e.description.starts_with("Atelier") || e.description.starts_with("Initiation")
            })
            .count();
        assert!(near >= p.near_misses, "{near} near misses");
        assert!(events
            .iter()
            .all(|e| e.date >= p.today && e.date <= p.today + Duration::days(60)));
    }
}
