//! `auditbook ask "REQUEST"`: the assistant itself, on the chapter's events (generated at
//! the run's parameters, or `--data DIR`): the request's filters are read from its words, then
//! the hybrid arm ranks the events that pass them, as the chapter measures it.

use std::collections::HashMap;

use clap::Parser as _;

use super::arms::{self, Arm};
use super::facets;
use super::filters::Parser;
use super::generate::Event;
use super::input::{self, Settings};
use super::lexical::{self, Request};
use super::CHAPTER;
use crate::backends::embedding::cache::VectorCache;
use crate::backends::embedding::minilm::DIMENSIONS;
use crate::backends::embedding::{model, Embedder};
use crate::chapter::RunContext;
use crate::error::{Error, Result};
use crate::retrieval::flat::FlatIndex;
use crate::sql::SqlSession;

#[derive(clap::Parser)]
#[command(
    name = "auditbook ask",
    about = "Recommend events for a request in French or English (the chapter's hybrid arm)"
)]
struct AskArgs {
    /// The request, e.g. "un atelier de poterie gratuit ce week-end à Lyon".
    #[arg(required = true)]
    request: Vec<String>,
    /// How many events to show.
    #[arg(long, default_value_t = 5)]
    top: usize,
}

/// One recommended event.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The event.
    pub event: Event,
}

/// Runs `auditbook ask ARGS…`.
pub fn run(ctx: &RunContext, args: &[String]) -> Result<()> {
    let args = match AskArgs::try_parse_from(
        std::iter::once("auditbook ask".to_string()).chain(args.iter().cloned()),
    ) {
        Ok(a) => a,
        Err(e) if e.use_stderr() => return Err(Error::Usage(e.to_string())),
        Err(e) => {
            print!("{e}");
            return Ok(());
        }
    };
    let request = args.request.join(" ");
    let (filters, answers) = answer(ctx, &request, args.top)?;
    println!("filters read: {}", filters);
    if answers.is_empty() {
        println!("no event passes these filters");
    }
    for (i, a) in answers.iter().enumerate() {
        let e = &a.event;
        let price = if e.free() {
            "free".to_string()
        } else {
            format!("{} €", e.price_eur)
        };
        println!(
            "{}. {} · {} {} · {} · {} · {}{}\n   {}",
            i + 1,
            e.id,
            e.date,
            e.start,
            e.commune,
            price,
            e.audience,
            if e.accessible { " · step-free" } else { "" },
            e.title
        );
    }
    Ok(())
}

/// The filters read from `request` (in words) and the `top` events the hybrid arm answers.
pub fn answer(ctx: &RunContext, request: &str, top: usize) -> Result<(String, Vec<Answer>)> {
    let settings = Settings::of(ctx)?;
    let input = input::read(ctx, &settings)?;
    let events = &input.events;
    let weekend = facets::weekend_of(settings.plan.today);
    let embedder = Embedder::load(model::locate()?)?.with_max_tokens(settings.max_tokens)?;
    let mut cache = VectorCache::open(
        &crate::install::cache_dir().join("vectors"),
        &embedder.files.weights_sha256,
    )?;
    ctx.progress.step("embedding the events (once per machine)");
    let texts: Vec<String> = events.iter().map(Event::text).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = cache.embed(&embedder, &refs)?.0;
    let query = cache.embed(&embedder, &[request])?.0.remove(0);

    let parser = Parser::declared(events)?;
    let filters = parser.parse(request);
    let keep = |row: usize| filters.keeps(&events[row], weekend);
    let row_of: HashMap<&str, usize> = events
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i))
        .collect();
    let mut db = SqlSession::open(CHAPTER, &input.dir)?;
    let asked = [Request {
        id: "ask",
        language: "?",
        text: request,
    }];
    lexical::prepare(
        &mut db,
        events,
        &asked,
        std::slice::from_ref(&filters),
        weekend,
    )?;
    let lexical_lists = lexical::bm25_lists(&mut db, &row_of)?;
    let exact = FlatIndex::new(DIMENSIONS, &vectors);
    let lists = arms::rank_request("ask", &query, &exact, &keep, &lexical_lists);
    // The hybrid arm exactly as the chapter measures it: one code path, not a copy.
    let answers = lists[&Arm::Hybrid]
        .iter()
        .take(top)
        .map(|&row| Answer {
            event: events[row].clone(),
        })
        .collect();
    Ok((filters.describe(), answers))
}
