//! Seeded support tickets with a realistic arrival process: a working-day profile (quiet
//! nights and weekends, morning and afternoon peaks), incident bursts at ten times the rate
//! with more critical tickets, and network delay between the moment a ticket is created (its
//! event time) and the moment it reaches the broker (its arrival): mostly seconds, some out
//! of order by up to a minute, and a planted share delayed beyond the allowed lateness.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::text::Text;
use super::window::PRIORITIES;

/// One ticket as produced to the topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// Position in arrival order: the order the producer sends and the processor merges in.
    pub seq: u64,
    /// The ticket's id (`T0000042`).
    pub ticket_id: Text,
    /// The client who opened it.
    pub client_id: Text,
    /// Event time, UTC milliseconds.
    pub created_at_ms: i64,
    /// Arrival at the broker, UTC milliseconds (the Kafka record timestamp).
    pub arrival_ms: i64,
    /// The client's request, as typed.
    pub request: Text,
    /// Its type: Technique, Support or Commerciale.
    pub request_type: Text,
    /// Its priority: Basse, Moyenne, Haute or Critique.
    pub priority: Text,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Seed of the generator.
    pub seed: u64,
    /// Tickets to generate.
    pub tickets: usize,
    /// Event time of the first ticket, UTC milliseconds.
    pub start_ms: i64,
    /// Days the tickets span.
    pub days: i64,
    /// Distinct clients.
    pub clients: usize,
    /// Share of tickets out of order by up to a minute (within the lateness).
    pub disorder_share: f64,
    /// Share delayed beyond the lateness (they will be late).
    pub late_share: f64,
    /// The processor's allowed lateness, milliseconds.
    pub lateness_ms: i64,
    /// Bursts of tickets (an outage: many tickets in a few minutes).
    pub bursts: usize,
}

const TYPES: [(&str, f64); 3] = [("Technique", 0.5), ("Support", 0.3), ("Commerciale", 0.2)];
const REQUESTS: [(&str, [&str; 4]); 3] = [
    (
        "Technique",
        [
            "La ligne de production 3 est à l'arrêt",
            "Erreur de synchronisation du capteur",
            "Le logiciel de supervision ne démarre plus",
            "Alarme de température sur l'automate",
        ],
    ),
    (
        "Support",
        [
            "Mot de passe oublié",
            "Accès au portail client impossible",
            "Question sur la dernière mise à jour",
            "Export des rapports en échec",
        ],
    ),
    (
        "Commerciale",
        [
            "Demande de devis pour une extension",
            "Renouvellement du contrat de maintenance",
            "Question sur la facture de septembre",
            "Ajout de licences utilisateurs",
        ],
    ),
];

/// Relative ticket rate for an hour of the week (0 = Monday 00:00).
fn hourly_rate(hour_of_week: i64) -> f64 {
    let day = hour_of_week / 24;
    let hour = hour_of_week % 24;
    let weekend = day >= 5;
    let base = match hour {
        0..=6 => 0.15,
        7 => 0.6,
        8..=11 => 1.6,
        12..=13 => 0.9,
        14..=17 => 1.4,
        18..=20 => 0.6,
        _ => 0.3,
    };
    if weekend {
        base * 0.25
    } else {
        base
    }
}

fn pick<'a>(rng: &mut ChaCha8Rng, weighted: &[(&'a str, f64)]) -> &'a str {
    let mut x = rng.random::<f64>() * weighted.iter().map(|w| w.1).sum::<f64>();
    for (name, w) in weighted {
        if x < *w {
            return name;
        }
        x -= w;
    }
    weighted.last().expect("non-empty").0
}

/// The tickets, in arrival order (`seq` 0, 1, …), each with its event time and arrival.
pub fn generate(plan: &Plan) -> Vec<Ticket> {
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
    let minutes = (plan.days * 24 * 60).max(1);
    // Per-minute intensity: the weekly profile, times ten inside incident bursts.
    let mut burst = vec![false; minutes as usize];
    for _ in 0..plan.bursts {
        let at = rng.random_range(0..minutes);
        let len = rng.random_range(5..20);
        for m in at..(at + len).min(minutes) {
            burst[m as usize] = true;
        }
    }
    let start_hour_of_week = {
        // 1970-01-01 was a Thursday: day 3 of a Monday-based week.
        let days = plan.start_ms.div_euclid(86_400_000);
        ((days + 3).rem_euclid(7)) * 24 + plan.start_ms.rem_euclid(86_400_000) / 3_600_000
    };
    let mut cumulative = Vec::with_capacity(minutes as usize);
    let mut total = 0.0;
    for m in 0..minutes {
        let rate = hourly_rate((start_hour_of_week + m / 60) % 168)
            * if burst[m as usize] { 10.0 } else { 1.0 };
        total += rate;
        cumulative.push(total);
    }
    let mut events: Vec<(i64, bool)> = (0..plan.tickets)
        .map(|_| {
            let x = rng.random::<f64>() * total;
            let minute = cumulative
                .partition_point(|c| *c <= x)
                .min(minutes as usize - 1);
            (
                plan.start_ms + minute as i64 * 60_000 + rng.random_range(0..60_000),
                burst[minute],
            )
        })
        .collect();
    events.sort();
    let mut tickets: Vec<Ticket> = events
        .into_iter()
        .enumerate()
        .map(|(i, (created, in_burst))| {
            let kind = pick(&mut rng, &TYPES);
            let priorities: [(&str, f64); 4] = if in_burst {
                [
                    (PRIORITIES[0], 0.15),
                    (PRIORITIES[1], 0.25),
                    (PRIORITIES[2], 0.35),
                    (PRIORITIES[3], 0.25),
                ]
            } else {
                [
                    (PRIORITIES[0], 0.40),
                    (PRIORITIES[1], 0.35),
                    (PRIORITIES[2], 0.20),
                    (PRIORITIES[3], 0.05),
                ]
            };
            let priority = Text::from(pick(&mut rng, &priorities));
            let texts = REQUESTS
                .iter()
                .find(|(t, _)| *t == kind)
                .expect("every type has texts")
                .1;
            // A few clients file most tickets.
            let client = ((rng.random::<f64>().powi(3)) * plan.clients as f64) as usize;
            let u: f64 = rng.random();
            let delay = if u < plan.late_share {
                plan.lateness_ms + rng.random_range(30_000..600_000)
            } else if u < plan.late_share + plan.disorder_share {
                rng.random_range(0..60_000)
            } else {
                (-(1.0 - rng.random::<f64>()).ln() * 2_000.0) as i64
            };
            Ticket {
                seq: 0,
                ticket_id: format!("T{:07}", i + 1).into(),
                client_id: format!("C{:04}", client + 1).into(),
                created_at_ms: created,
                arrival_ms: created + delay,
                request: texts[rng.random_range(0..texts.len())].into(),
                request_type: kind.into(),
                priority,
            }
        })
        .collect();
    tickets.sort_by_key(|t| (t.arrival_ms, t.created_at_ms));
    for (i, t) in tickets.iter_mut().enumerate() {
        t.seq = i as u64;
    }
    tickets
}
