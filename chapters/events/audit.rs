//! The chapter's run, step by step: read the events, sample the requests and judge them from
//! the facets, embed everything with MiniLM (vectors reused from the tool's cache), read each
//! request's filters, rank with every arm, measure HNSW against the exact index, have DuckDB
//! recompute the exact ranking, and record what a reader needs to trust the numbers.

use std::collections::BTreeMap;

use polars::prelude::{Column, DataFrame};

use super::arms::{Arm, DEPTH};
use super::checks::{self, Answered, Evidence, NeedleRanks};
use super::corpus::Corpus;
use super::evaluate::{self, HnswRecall, EF_SWEEP};
use super::facets;
use super::filters::{Filters, Parser};
use super::generate::Event;
use super::input::Settings;
use super::queries::{self, Language, Query};
use super::{answer, api, multilingual};
use super::{lexical, CHAPTER};
use crate::backends::embedding::{model, parity, Embedder};
use crate::chapter::RunContext;
use crate::error::{Error, Result};
use crate::frame::round_to;
use crate::notebook::{DatasetRef, Notebook, Source, Value};
use crate::parallel::Background;
use crate::progress::profile;
use crate::retrieval::flat::dot;
use crate::retrieval::hnsw::HnswIndex;

/// Runs the chapter.
pub fn run(ctx: &RunContext) -> Result<Notebook> {
    let mut corpus = Corpus::open(ctx)?;
    let mut nb = ctx.notebook();
    nb.datasets.extend(corpus.input.datasets.iter().cloned());
    nb.datasets.push(DatasetRef {
        file: format!(
            "model {} ({} {}) model.safetensors",
            model::MODEL,
            model::PACKAGE,
            model::VERSION
        ),
        sha256: corpus.embedder.files.weights_sha256.clone(),
        rows: None,
    });
    // The graph is built on a thread of its own while the chapter ranks: its insertion is
    // one point after another (the crate's parallel insertion would make the graph depend on
    // thread timing), so the other core is free for the steps below. On its own copy of the
    // vectors (15 MB), as the steps below borrow the corpus.
    let (vectors, hnsw) = (corpus.vectors.clone(), corpus.settings.hnsw);
    let graph = Background::spawn(move || HnswIndex::build(&vectors, hnsw));
    let mut clock = std::time::Instant::now();
    let parity = parity::compare(&corpus.embedder)?;
    profile(CHAPTER, "minilm_parity", &mut clock);

    let settings = corpus.settings.clone();
    let today = settings.plan.today;
    let queries = queries::sample(
        settings.plan.seed,
        settings.requests_per_language,
        corpus.events(),
        corpus.input.needle.as_ref(),
        today,
    );
    ctx.progress.step("embedding the requests");
    let request_texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    let request_vectors = corpus.embed(&request_texts)?;
    profile(CHAPTER, "embed_requests", &mut clock);

    let parsed: Vec<Filters> = queries
        .iter()
        .map(|q| corpus.parser.parse(&q.text))
        .collect();
    let expected: Vec<Filters> = queries.iter().map(meant).collect();

    ctx.progress.step("ranking by BM25 in DuckDB");
    let requests: Vec<lexical::Request> = queries.iter().map(lexical::Request::of).collect();
    let bm25 = lexical::rank(&mut corpus.db, &requests, &parsed, &corpus.row_of)?;

    let events = &corpus.input.events;
    let weekend = corpus.weekend;
    let keeps: Vec<evaluate::Keep<'_>> = parsed
        .iter()
        .map(|f| Box::new(move |row: usize| f.keeps(&events[row], weekend)) as evaluate::Keep<'_>)
        .collect();
    ctx.progress.step("ranking by meaning and fusing");
    let lists = evaluate::rank_all(&queries, &request_vectors, &corpus.exact, &keeps, &bm25);
    profile(CHAPTER, "rank_all", &mut clock);

    let e5 = multilingual::run(
        ctx,
        &corpus,
        &queries,
        &keeps,
        &bm25,
        settings.e5_requests_as,
    )?;
    nb.datasets.push(e5.dataset());
    profile(CHAPTER, "e5_arm", &mut clock);

    // Before waiting on the graph: DuckDB's exact ranking does not need it.
    ctx.progress.step("checking the exact ranking in DuckDB");
    let top = lexical::exact_top(
        &mut corpus.db,
        events,
        &corpus.vectors,
        &queries,
        &request_vectors,
        &corpus.row_of,
    )?;
    profile(CHAPTER, "duckdb_exact", &mut clock);
    ctx.progress.step("building the HNSW graph");
    let index = graph.wait();
    profile(CHAPTER, "hnsw_build_wait", &mut clock);
    let mut beams: Vec<usize> = EF_SWEEP.to_vec();
    if !beams.contains(&settings.ef) {
        beams.push(settings.ef);
        beams.sort_unstable();
    }
    let sweep = evaluate::hnsw_sweep(&index, &request_vectors, &lists, &keeps, &beams);
    let at_ef = *sweep
        .iter()
        .find(|r| r.ef == settings.ef)
        .expect("the chapter's beam is swept");
    profile(CHAPTER, "hnsw_sweep", &mut clock);

    let event_vectors = &corpus.vectors;
    let score = |q: usize, row: usize| dot(&request_vectors[q], &event_vectors[row]) as f64;
    let agreement = evaluate::agreement(&queries, &lists, &score, &top);

    // The answer every request gets: its hybrid list's first events, composed in the language
    // read from its words, and the ids read back from the text.
    let answers: Vec<Answered> = queries
        .iter()
        .zip(&lists)
        .map(|(q, l)| {
            // As many events as `auditbook ask` and the API recommend by default.
            let shown: Vec<&Event> = l[&Arm::Hybrid]
                .iter()
                .take(api::DEFAULT_TOP)
                .map(|&r| &events[r])
                .collect();
            let (language, text) = answer::respond(&q.text, &shown);
            let cited = answer::citations(&text, |id| corpus.knows(id));
            Answered {
                language,
                retrieved: shown.iter().map(|e| e.id.clone()).collect(),
                text,
                cited,
            }
        })
        .collect();

    let needle = corpus.input.needle.as_ref().map(|n| {
        let row = corpus.row_of.get(n.id.as_str()).copied();
        NeedleRanks {
            id: n.id.clone(),
            present: row.is_some(),
            hybrid: queries
                .iter()
                .zip(&lists)
                .filter(|(q, _)| q.needle)
                .map(|(q, l)| {
                    (
                        q.id.clone(),
                        row.and_then(|r| evaluate::rank_of(&l[&Arm::Hybrid], r)),
                    )
                })
                .collect(),
        }
    });

    // Each arm's scores over every request and per language, computed once for the
    // findings, the table and the chart.
    let languages = [None, Some(Language::Fr), Some(Language::En)];
    let scores: BTreeMap<(Arm, Option<Language>), evaluate::Scores> = Arm::ALL
        .iter()
        .flat_map(|&a| languages.map(|l| (a, l)))
        .map(|(a, l)| ((a, l), evaluate::scores(&queries, &lists, a, l)))
        .collect();

    let report = Report {
        settings: &settings,
        scores: &scores,
        events,
        queries: &queries,
        parsed: &parsed,
        expected: &expected,
        lists: &lists,
        sweep: &sweep,
        at_ef: &at_ef,
        parity: &parity,
        agreement: &agreement,
        answers: &answers,
        embedder: &corpus.embedder,
        parser: &corpus.parser,
        needle_row: corpus
            .input
            .needle
            .as_ref()
            .and_then(|n| corpus.row_of.get(n.id.as_str()).copied()),
    };
    report.findings(
        &mut nb,
        corpus
            .input
            .needle
            .as_ref()
            .map(|n| (n.id.as_str(), n.commune.as_str())),
    )?;
    e5.record(&mut nb, &scores)?;
    report.tables(&mut nb)?;
    report.charts(&mut nb)?;
    checks::all(
        &mut nb,
        &Evidence {
            parity: &parity,
            e5_parity: &e5.parity,
            queries: &queries,
            parsed: &parsed,
            expected: &expected,
            recall: &at_ef,
            agreement: &agreement,
            answers: &answers,
            needle: needle.as_ref(),
        },
    )?;
    corpus.db.hand_over(&mut nb);
    Ok(nb)
}

/// The filters a request was written from (what the parser must read back).
fn meant(q: &Query) -> Filters {
    Filters {
        free: q.intent.free,
        weekend: q.intent.weekend.is_some(),
        commune: q.intent.commune.clone(),
        accessible: q.intent.accessible,
        audience: q.intent.audience.map(|a| a.id().to_string()),
    }
}

/// Everything the findings, tables and charts are made from.
struct Report<'a> {
    settings: &'a Settings,
    scores: &'a BTreeMap<(Arm, Option<Language>), evaluate::Scores>,
    events: &'a [Event],
    queries: &'a [Query],
    parsed: &'a [Filters],
    expected: &'a [Filters],
    lists: &'a [BTreeMap<Arm, Vec<usize>>],
    sweep: &'a [HnswRecall],
    at_ef: &'a HnswRecall,
    parity: &'a [parity::Parity],
    agreement: &'a evaluate::Agreement,
    answers: &'a [Answered],
    embedder: &'a Embedder,
    parser: &'a Parser,
    needle_row: Option<usize>,
}

/// A table's frame, its error naming the chapter.
pub(super) fn frame(columns: Vec<Column>) -> Result<DataFrame> {
    DataFrame::new(columns).map_err(Error::within(CHAPTER))
}

impl Report<'_> {
    /// `arm`'s scores over the requests in `language` (all when `None`).
    fn score(&self, arm: Arm, language: Option<Language>) -> evaluate::Scores {
        self.scores[&(arm, language)]
    }

    fn findings(&self, nb: &mut Notebook, needle: Option<(&str, &str)>) -> Result<()> {
        let data = crate::function_source!(crate::chapters::events::input::read);
        let communes: std::collections::BTreeSet<&str> =
            self.events.iter().map(|e| e.commune.as_str()).collect();
        let kinds: std::collections::BTreeSet<&str> =
            self.events.iter().map(|e| e.kind.as_str()).collect();
        nb.add_finding(
            "data.events",
            Value::count(self.events.len()),
            Some("events"),
            data.clone(),
        )?;
        nb.add_finding(
            "data.communes",
            Value::count(communes.len()),
            Some("communes"),
            data.clone(),
        )?;
        nb.add_finding(
            "data.kinds",
            Value::count(kinds.len()),
            Some("kinds"),
            data.clone(),
        )?;
        nb.add_finding(
            "data.free",
            Value::count(self.events.iter().filter(|e| e.free()).count()),
            Some("free events"),
            data,
        )?;
        let sampled = crate::function_source!(crate::chapters::events::queries::sample);
        nb.add_finding(
            "data.today",
            Value::Text(self.settings.plan.today.to_string()),
            None,
            Source::parameter(CHAPTER, "today"),
        )?;
        let weekend = facets::weekend_of(self.settings.plan.today);
        nb.add_finding(
            "data.weekend",
            Value::Text(format!("{} and {}", weekend.0, weekend.1)),
            None,
            crate::function_source!(crate::chapters::events::facets::weekend_of),
        )?;
        nb.add_finding(
            "data.requests",
            Value::count(self.queries.len()),
            Some("requests"),
            sampled.clone(),
        )?;
        for language in [Language::Fr, Language::En] {
            let n = self
                .queries
                .iter()
                .filter(|q| q.language == language)
                .count();
            nb.add_finding(
                &format!("data.requests_{}", language.code()),
                Value::count(n),
                Some("requests"),
                sampled.clone(),
            )?;
        }
        let judged: usize = self
            .queries
            .iter()
            .map(|q| q.judged.values().filter(|g| **g == 2).count())
            .sum();
        nb.add_finding(
            "data.fully_relevant_mean",
            Value::float(judged as f64 / self.queries.len().max(1) as f64, 1),
            Some("events per request"),
            crate::function_source!(crate::chapters::events::queries::judge),
        )?;

        let model_source = crate::function_source!(crate::backends::embedding::parity::compare);
        nb.add_finding(
            "model.name",
            Value::Text(model::MODEL.to_string()),
            None,
            crate::function_source!(crate::backends::embedding::model::MODEL),
        )?;
        nb.add_finding(
            "model.weights_sha256",
            Value::Text(self.embedder.files.weights_sha256.clone()),
            None,
            crate::function_source!(crate::backends::embedding::model::files_in),
        )?;
        nb.add_finding(
            "model.max_tokens",
            Value::count(self.embedder.max_tokens()),
            Some("tokens"),
            Source::parameter(CHAPTER, "max_tokens"),
        )?;
        nb.add_finding(
            "model.dimensions",
            Value::count(crate::backends::embedding::minilm::DIMENSIONS),
            None,
            crate::function_source!(crate::backends::embedding::minilm::DIMENSIONS),
        )?;
        nb.add_finding(
            "model.parity_sentences",
            Value::count(self.parity.len()),
            Some("sentences"),
            model_source.clone(),
        )?;
        let min_cosine = self
            .parity
            .iter()
            .map(|p| p.cosine)
            .fold(f64::INFINITY, f64::min);
        nb.add_finding(
            "model.parity_min_cosine",
            Value::float(min_cosine, 4),
            None,
            model_source,
        )?;

        let read_ok = self
            .parsed
            .iter()
            .zip(self.expected)
            .filter(|(p, e)| p == e)
            .count();
        let parser = crate::function_source!(crate::chapters::events::filters::Parser::parse);
        nb.add_finding(
            "filters.read_as_meant",
            Value::count(read_ok),
            Some("requests"),
            parser.clone(),
        )?;
        let best = Arm::ALL
            .iter()
            .map(|a| (*a, round_to(self.score(*a, None).ndcg, 3)))
            .fold(None::<(Arm, f64)>, |best, (a, s)| match best {
                Some((_, b)) if b >= s => best,
                _ => Some((a, s)),
            })
            .map(|(a, _)| a.name())
            .unwrap_or("none");
        nb.add_finding(
            "eval.best_arm",
            Value::Text(best.to_string()),
            None,
            crate::function_source!(crate::chapters::events::evaluate::scores; "highest nDCG@10, the first in the table's order on a tie"),
        )?;
        let with_filters = self
            .parsed
            .iter()
            .filter(|f| **f != Filters::default())
            .count();
        nb.add_finding(
            "filters.requests_with_filters",
            Value::count(with_filters),
            Some("requests"),
            parser,
        )?;

        let hnsw = crate::function_source!(crate::chapters::events::evaluate::hnsw_sweep);
        nb.add_finding(
            "hnsw.connections",
            Value::count(self.settings.hnsw.connections),
            None,
            Source::parameter(CHAPTER, "hnsw_connections"),
        )?;
        nb.add_finding(
            "hnsw.ef_construction",
            Value::count(self.settings.hnsw.ef_construction),
            None,
            Source::parameter(CHAPTER, "hnsw_ef_construction"),
        )?;
        nb.add_finding(
            "hnsw.ef",
            Value::count(self.settings.ef),
            None,
            Source::parameter(CHAPTER, "ef"),
        )?;
        nb.add_finding(
            "hnsw.recall_at_ef",
            Value::float(self.at_ef.recall, 3),
            None,
            hnsw.clone(),
        )?;
        nb.add_finding(
            "hnsw.filtered_recall_at_ef",
            Value::float(self.at_ef.filtered_recall, 3),
            None,
            hnsw.clone(),
        )?;
        nb.add_finding(
            "hnsw.min_recall",
            Value::float(checks::MIN_RECALL, 2),
            None,
            crate::function_source!(crate::chapters::events::checks::MIN_RECALL),
        )?;
        let lowest = self
            .sweep
            .iter()
            .find(|r| r.recall >= checks::MIN_RECALL)
            .map(|r| r.ef);
        nb.add_finding(
            "hnsw.lowest_ef_at_target",
            match lowest {
                Some(ef) => Value::count(ef),
                None => Value::Text("none of the beams tried".into()),
            },
            None,
            hnsw,
        )?;

        let agree = crate::function_source!(crate::chapters::events::evaluate::agreement);
        nb.add_finding(
            "duckdb.agreeing_requests",
            Value::count(self.agreement.agreeing),
            Some("requests"),
            agree.clone(),
        )?;
        nb.add_finding(
            "duckdb.max_score_gap",
            Value::float(self.agreement.max_score_gap, 6),
            None,
            agree,
        )?;

        nb.add_finding(
            "eval.k",
            Value::count(super::arms::K),
            Some("events"),
            crate::function_source!(crate::chapters::events::arms::K),
        )?;
        nb.add_finding(
            "eval.rrf_k",
            Value::float(crate::retrieval::fusion::RRF_K, 0),
            None,
            crate::function_source!(crate::retrieval::fusion::RRF_K),
        )?;
        let scores = crate::function_source!(crate::chapters::events::evaluate::scores);
        for arm in Arm::ALL {
            let s = self.score(arm, None);
            nb.add_finding(
                &format!("eval.{}.ndcg10", arm.name()),
                Value::float(s.ndcg, 3),
                None,
                scores.clone(),
            )?;
            nb.add_finding(
                &format!("eval.{}.precision10", arm.name()),
                Value::float(s.precision, 3),
                None,
                scores.clone(),
            )?;
            for language in [Language::Fr, Language::En] {
                let s = self.score(arm, Some(language));
                nb.add_finding(
                    &format!("eval.{}.ndcg10_{}", arm.name(), language.code()),
                    Value::float(s.ndcg, 3),
                    None,
                    scores.clone(),
                )?;
            }
        }

        let composed = crate::function_source!(crate::chapters::events::answer::compose);
        nb.add_finding(
            "answer.cited_events",
            Value::count(self.answers.iter().map(|a| a.cited.len()).sum::<usize>()),
            Some("citations"),
            composed.clone(),
        )?;
        nb.add_finding(
            "answer.events_per_answer",
            Value::count(api::DEFAULT_TOP),
            Some("events"),
            crate::function_source!(crate::chapters::events::api::DEFAULT_TOP),
        )?;

        if let Some((id, commune)) = needle {
            let source = crate::function_source!(crate::chapters::events::generate::generate);
            nb.add_finding(
                "needle.id",
                Value::Text(id.to_string()),
                None,
                source.clone(),
            )?;
            nb.add_finding(
                "needle.commune",
                Value::Text(commune.to_string()),
                None,
                source,
            )?;
        }
        Ok(())
    }

    fn tables(&self, nb: &mut Notebook) -> Result<()> {
        // A few events as the retriever sees them, spread over the file (its first rows are
        // the needle's near misses).
        let step = (self.events.len() / 6).max(1);
        let shown: Vec<&Event> = self.events.iter().step_by(step).take(6).collect();
        nb.add_table(
            "events_sample",
            frame(vec![
                Column::new(
                    "id".into(),
                    shown.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "kind".into(),
                    shown.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "date".into(),
                    shown.iter().map(|e| e.date.to_string()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "commune".into(),
                    shown.iter().map(|e| e.commune.clone()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "price_eur".into(),
                    shown.iter().map(|e| e.price_eur as i64).collect::<Vec<_>>(),
                ),
                Column::new(
                    "text".into(),
                    shown.iter().map(|e| e.text()).collect::<Vec<_>>(),
                ),
            ])?,
            crate::function_source!(crate::chapters::events::generate::generate),
        )?;

        // Worked examples of the answer: the needle's two requests, then the first French and
        // English ones, as `auditbook ask` would answer them.
        let mut examples: Vec<usize> = (0..self.queries.len())
            .filter(|&i| self.queries[i].needle)
            .collect();
        for language in [Language::Fr, Language::En] {
            examples.extend(
                (0..self.queries.len())
                    .filter(|&i| !self.queries[i].needle && self.queries[i].language == language)
                    .take(1),
            );
        }
        nb.add_table(
            "answer_examples",
            frame(vec![
                Column::new(
                    "request".into(),
                    examples
                        .iter()
                        .map(|&i| self.queries[i].text.clone())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "filters read".into(),
                    examples
                        .iter()
                        .map(|&i| self.parsed[i].describe())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "answer".into(),
                    examples
                        .iter()
                        .map(|&i| self.answers[i].text.clone())
                        .collect::<Vec<_>>(),
                ),
            ])?,
            crate::function_source!(crate::chapters::events::answer::compose),
        )?;

        // Requests, the filters read from them, and how many events satisfy them.
        let first = |language: Language| {
            (0..self.queries.len())
                .filter(move |&i| !self.queries[i].needle && self.queries[i].language == language)
                .take(4)
        };
        let chosen: Vec<usize> = first(Language::Fr).chain(first(Language::En)).collect();
        nb.add_table(
            "requests_sample",
            frame(vec![
                Column::new(
                    "request".into(),
                    chosen
                        .iter()
                        .map(|&i| self.queries[i].id.clone())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "language".into(),
                    chosen
                        .iter()
                        .map(|&i| self.queries[i].language.code().to_string())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "text".into(),
                    chosen
                        .iter()
                        .map(|&i| self.queries[i].text.clone())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "filters_read".into(),
                    chosen
                        .iter()
                        .map(|&i| self.parsed[i].describe())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "fully_relevant".into(),
                    chosen
                        .iter()
                        .map(|&i| {
                            self.queries[i].judged.values().filter(|g| **g == 2).count() as i64
                        })
                        .collect::<Vec<_>>(),
                ),
            ])?,
            crate::function_source!(
                crate::chapters::events::queries::sample,
                crate::chapters::events::filters::Parser::parse
            ),
        )?;

        // The filters' vocabulary, as declared.
        let v = &self.parser.vocabulary;
        let rows = [
            ("free", "fr", &v.free.fr),
            ("free", "en", &v.free.en),
            ("this week-end", "fr", &v.weekend.fr),
            ("this week-end", "en", &v.weekend.en),
            ("step-free", "fr", &v.accessible.fr),
            ("step-free", "en", &v.accessible.en),
        ];
        let audiences: Vec<(String, &str, &Vec<String>)> = v
            .audience
            .iter()
            .flat_map(|(id, w)| {
                [
                    (format!("for {id}"), "fr", &w.fr),
                    (format!("for {id}"), "en", &w.en),
                ]
            })
            .collect();
        let rows: Vec<(String, &str, &Vec<String>)> = rows
            .iter()
            .map(|(f, l, w)| (f.to_string(), *l, *w))
            .chain(audiences)
            .collect();
        nb.add_table(
            "filter_words",
            frame(vec![
                Column::new("filter".into(), rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>()),
                Column::new("language".into(), rows.iter().map(|r| r.1.to_string()).collect::<Vec<_>>()),
                Column::new("phrases".into(), rows.iter().map(|r| r.2.join(" · ")).collect::<Vec<_>>()),
            ])?,
            crate::function_source!(crate::chapters::events::filters::Parser::declared; "filters.toml"),
        )?;

        // Every arm, every language.
        let (mut arm, mut language, mut requests, mut ndcg, mut precision, mut mrr) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        for a in Arm::ALL {
            for l in [Some(Language::Fr), Some(Language::En), None] {
                let s = self.score(a, l);
                arm.push(a.name().to_string());
                language.push(l.map_or("all", Language::code).to_string());
                requests.push(s.requests as i64);
                ndcg.push(round_to(s.ndcg, 4));
                precision.push(round_to(s.precision, 4));
                mrr.push(round_to(s.mrr, 4));
            }
        }
        nb.add_table(
            "arm_scores",
            frame(vec![
                Column::new("arm".into(), arm),
                Column::new("language".into(), language),
                Column::new("requests".into(), requests),
                Column::new("ndcg_at_10".into(), ndcg),
                Column::new("precision_at_10".into(), precision),
                Column::new("mrr".into(), mrr),
            ])?,
            crate::function_source!(
                crate::chapters::events::evaluate::scores,
                crate::chapters::events::arms::rank_request
            ),
        )?;

        // HNSW against the exact index, per beam.
        nb.add_table(
            "hnsw_recall",
            frame(vec![
                Column::new(
                    "ef".into(),
                    self.sweep.iter().map(|r| r.ef as i64).collect::<Vec<_>>(),
                ),
                Column::new(
                    "recall_at_10".into(),
                    self.sweep
                        .iter()
                        .map(|r| round_to(r.recall, 4))
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "filtered_recall_at_10".into(),
                    self.sweep
                        .iter()
                        .map(|r| round_to(r.filtered_recall, 4))
                        .collect::<Vec<_>>(),
                ),
            ])?,
            crate::function_source!(crate::chapters::events::evaluate::hnsw_sweep),
        )?;

        // The reference sentences.
        nb.add_table(
            "parity",
            frame(vec![
                Column::new(
                    "sentence".into(),
                    self.parity
                        .iter()
                        .map(|p| short(&p.text, 60))
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
            crate::function_source!(crate::backends::embedding::parity::compare),
        )?;

        // Where each arm ranks the needle, for its two requests.
        if let Some(row) = self.needle_row {
            let needle_queries: Vec<usize> = (0..self.queries.len())
                .filter(|&i| self.queries[i].needle)
                .collect();
            let mut columns = vec![Column::new(
                "request".into(),
                needle_queries
                    .iter()
                    .map(|&i| self.queries[i].text.clone())
                    .collect::<Vec<_>>(),
            )];
            for a in Arm::ALL {
                columns.push(Column::new(
                    a.name().into(),
                    needle_queries
                        .iter()
                        .map(|&i| match evaluate::rank_of(&self.lists[i][&a], row) {
                            Some(r) => r.to_string(),
                            None => format!("beyond {DEPTH}"),
                        })
                        .collect::<Vec<_>>(),
                ));
            }
            nb.add_table(
                "needle_ranks",
                frame(columns)?,
                crate::function_source!(crate::chapters::events::evaluate::rank_of),
            )?;
        }
        Ok(())
    }

    fn charts(&self, nb: &mut Notebook) -> Result<()> {
        use crate::render::chart::{self, BarChart, LineChart, Series};
        let svg = chart::line_chart(&LineChart {
            title: "HNSW recall@10 against the exact index, by search beam",
            x_labels: self.sweep.iter().map(|r| r.ef.to_string()).collect(),
            x_label: "search beam (ef)",
            y_label: "recall@10 (share of the exact top 10)",
            series: vec![
                Series {
                    name: "every event",
                    values: self.sweep.iter().map(|r| round_to(r.recall, 3)).collect(),
                },
                Series {
                    name: "with the request's filters",
                    values: self
                        .sweep
                        .iter()
                        .map(|r| round_to(r.filtered_recall, 3))
                        .collect(),
                },
            ],
        })
        .map_err(Error::within(CHAPTER))?;
        nb.add_chart(
            "hnsw_recall",
            "The share of the exact top 10 the HNSW graph finds as its search beam (ef) widens, over every event and with each request's filters applied during the walk.",
            svg,
            crate::function_source!(crate::chapters::events::evaluate::hnsw_sweep),
        )?;
        let all: Vec<evaluate::Scores> = Arm::ALL.iter().map(|a| self.score(*a, None)).collect();
        let svg = chart::bar_chart(&BarChart {
            title: "nDCG@10 of each arm, every request",
            labels: Arm::ALL.iter().map(|a| a.name().to_string()).collect(),
            label_name: "arm",
            values: all.iter().map(|s| round_to(s.ndcg, 3)).collect(),
            x_label: "nDCG@10",
        })
        .map_err(Error::within(CHAPTER))?;
        nb.add_chart(
            "arm_ndcg",
            "nDCG@10 over every request, French and English together, by retrieval arm.",
            svg,
            crate::function_source!(crate::chapters::events::evaluate::scores),
        )?;
        Ok(())
    }
}

/// `text` cut to `n` characters, with an ellipsis when cut.
pub(super) fn short(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(n).collect::<String>())
    }
}
