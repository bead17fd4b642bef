//! The assistant's corpus, made once per process: the events read, their MiniLM vectors
//! (from the tool's vector cache, embedded on a first run), the exact index over them, the
//! filter vocabulary, and DuckDB holding the events with BM25's index. The chapter's run,
//! `ask` and `ask --serve` all start here, and [`Corpus::recommend`] answers a request with
//! the hybrid arm exactly as the chapter measures it: one code path, not a copy.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::answer;
use super::arms::{self, Arm};
use super::facets;
use super::filters::{Filters, Parser};
use super::generate::Event;
use super::input::{self, Input, Settings};
use super::lexical::{self, Request};
use super::queries::Language;
use super::CHAPTER;
use crate::backends::embedding::cache::VectorCache;
use crate::backends::embedding::minilm::DIMENSIONS;
use crate::backends::embedding::{model, Embedder};
use crate::chapter::RunContext;
use crate::error::Result;
use crate::retrieval::flat::{dot, FlatIndex};
use crate::sql::SqlSession;

/// Texts embedded per call: the cache is written after each, so an interrupted first run
/// keeps what it computed.
const EMBED_CHUNK: usize = 1000;

/// Everything a request is answered from.
pub struct Corpus {
    /// The run's parameters.
    pub settings: Settings,
    /// The events and the files they came from.
    pub input: Input,
    /// The Saturday and Sunday "ce week-end" means.
    pub weekend: (NaiveDate, NaiveDate),
    /// The embedding model.
    pub embedder: Embedder,
    /// Vectors already computed, by (model, text).
    pub cache: VectorCache,
    /// One vector per event, in event order.
    pub vectors: Vec<Vec<f32>>,
    /// The exact index over `vectors`.
    pub exact: FlatIndex,
    /// Reads a request's filters from its words.
    pub parser: Parser,
    /// Event id → row.
    pub row_of: HashMap<String, usize>,
    /// DuckDB, holding the events and BM25's index of their words.
    pub db: SqlSession,
}

/// What the assistant answers to one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    /// The language the request was read as.
    pub language: Language,
    /// The filters read from its words.
    pub filters: Filters,
    /// The recommended events' rows, best first.
    pub rows: Vec<usize>,
    /// The cosine similarity of the request and each recommended event.
    pub similarities: Vec<f32>,
    /// The answer's text, citing the recommended events by id.
    pub answer: String,
}

impl Corpus {
    /// Reads the events of `ctx` (generated at its parameters, or `--data`), embeds them
    /// (from the cache when it has them) and loads DuckDB.
    pub fn open(ctx: &RunContext) -> Result<Corpus> {
        let settings = Settings::of(ctx)?;
        let input = input::read(ctx, &settings)?;
        let weekend = facets::weekend_of(settings.plan.today);
        ctx.progress.step("loading the embedding model");
        let embedder = Embedder::load(model::locate()?)?.with_max_tokens(settings.max_tokens)?;
        let mut cache = VectorCache::open(
            &crate::backends::embedding::cache::store_dir(),
            &embedder.files.weights_sha256,
        )?;
        let texts: Vec<String> = input.events.iter().map(Event::text).collect();
        let mut vectors = Vec::with_capacity(texts.len());
        for (i, chunk) in texts.chunks(EMBED_CHUNK).enumerate() {
            ctx.progress.step(&format!(
                "embedding events {} to {} of {}",
                i * EMBED_CHUNK + 1,
                i * EMBED_CHUNK + chunk.len(),
                texts.len()
            ));
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            vectors.extend(cache.embed(&embedder, &refs)?.0);
        }
        let exact = FlatIndex::new(DIMENSIONS, &vectors);
        let parser = Parser::declared(&input.events)?;
        let row_of = input
            .events
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id.clone(), i))
            .collect();
        ctx.progress.step("loading the events into DuckDB");
        let mut db = SqlSession::open(CHAPTER, &input.dir)?;
        lexical::load_events(&mut db, &input.events, input.file, weekend)?;
        Ok(Corpus {
            settings,
            input,
            weekend,
            embedder,
            cache,
            vectors,
            exact,
            parser,
            row_of,
            db,
        })
    }

    /// The events, in file order.
    pub fn events(&self) -> &[Event] {
        &self.input.events
    }

    /// The vectors of `texts` (from the cache when it has them).
    pub fn embed(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(self.cache.embed(&self.embedder, texts)?.0)
    }

    /// The `top` events the hybrid arm recommends for `request`, and the answer citing them.
    pub fn recommend(&mut self, request: &str, top: usize) -> Result<Recommendation> {
        // Not through the cache: a user's requests are embedded once each, and caching them
        // would grow the cache without bound.
        let vector = self.embedder.embed(&[request])?.remove(0);
        let filters = self.parser.parse(request);
        let asked = [Request {
            id: "ask",
            language: "?",
            text: request,
        }];
        let lexical_lists = lexical::rank(
            &mut self.db,
            &asked,
            std::slice::from_ref(&filters),
            &self.row_of,
        )?;
        let (events, weekend) = (&self.input.events, self.weekend);
        let keep = |row: usize| filters.keeps(&events[row], weekend);
        let mut lists = arms::rank_request("ask", &vector, &self.exact, &keep, &lexical_lists);
        let mut rows = lists.remove(&Arm::Hybrid).unwrap_or_default();
        rows.truncate(top);
        let shown: Vec<&Event> = rows.iter().map(|&r| &events[r]).collect();
        let (language, answer) = answer::respond(request, &shown);
        let similarities = rows
            .iter()
            .map(|&r| dot(&vector, &self.vectors[r]))
            .collect();
        Ok(Recommendation {
            similarities,
            language,
            answer,
            filters,
            rows,
        })
    }

    /// Whether `id` is the id of an event of the corpus.
    pub fn knows(&self, id: &str) -> bool {
        self.row_of.contains_key(id)
    }
}
