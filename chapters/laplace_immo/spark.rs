//! The twelve questions on Spark SQL, beside DuckDB (`--spark sc://HOST:PORT`): the keyed
//! model DuckDB loaded is exported as Parquet (one file per table), the Spark cluster reads
//! those files as views, and each question runs there as written for DuckDB, or as its Spark
//! version `<query>.spark.sql` where the dialects differ. Every answer must be the same on
//! both engines, cell by cell and in order (see [`crate::compare`]); the Spark texts are kept
//! in the notebook as they ran, so the appendix shows them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::audit::QUESTIONS;
use super::CHAPTER;
use crate::backends::spark::Spark;
use crate::chapter::{RunContext, ScratchDir};
use crate::commands::bench::{median, save};
use crate::compare::{differences, Grid, FLOAT_RELATIVE};
use crate::error::{Error, Result};
use crate::notebook::{Notebook, Status, Value};
use crate::sql::SqlSession;

/// The model's tables, in the order they reference each other.
const TABLES: [&str; 6] = [
    "region",
    "department",
    "commune",
    "commune_population",
    "property",
    "sale",
];

/// Where the export goes when the cluster cannot see this machine's folders: a folder it
/// shares with this machine (an NFS mount, say). Without it, the run's own scratch folder.
const SHARED_DIR: &str = "AUDITBOOK_SPARK_SHARED_DIR";

/// The name a query is kept under when its Spark text is the DuckDB one (`q01….spark`) or
/// its own file: what ran on Spark, whichever it was.
fn spark_name(query: &str) -> String {
    format!("{query}.spark")
}

/// The text of `query` for Spark: its `.spark.sql` file when the chapter has one.
fn spark_text(db: &SqlSession, query: &str) -> Result<(&'static str, bool)> {
    match db.text(&spark_name(query)) {
        Ok(text) => Ok((text, true)),
        Err(_) => Ok((db.text(query)?, false)),
    }
}

/// The model's tables written as Parquet where the cluster can read them; the folder is
/// removed when dropped.
enum Exported {
    /// The run's scratch folder (it removes itself).
    Scratch(ScratchDir),
    /// A folder of this run's own under the shared folder a remote cluster sees.
    Shared(PathBuf),
}

impl Exported {
    fn dir(&self) -> &Path {
        match self {
            Exported::Scratch(scratch) => scratch.path(),
            Exported::Shared(dir) => dir,
        }
    }
}

impl Drop for Exported {
    fn drop(&mut self) {
        if let Exported::Shared(dir) = self {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Writes the model's tables as Parquet, as DuckDB holds them: decimals stay decimals,
/// dates dates.
fn export(ctx: &RunContext, db: &mut SqlSession) -> Result<Exported> {
    let exported = match std::env::var_os(SHARED_DIR) {
        Some(dir) => {
            let dir = Path::new(&dir).join(format!("{CHAPTER}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
            Exported::Shared(dir)
        }
        None => Exported::Scratch(ctx.scratch_dir("spark-")?),
    };
    let sql: String = TABLES
        .iter()
        .map(|t| {
            let file = exported.dir().join(format!("{t}.parquet"));
            format!("copy {t} to '{}' (format parquet);\n", file.display())
        })
        .collect();
    db.execute_unrecorded("spark_export", &sql)?;
    Ok(exported)
}

/// A session on the cluster with the exported tables as views and `sale_facts` made: the
/// questions can run. Returns the texts it ran, by name.
fn open(
    remote: &str,
    exported: &Exported,
    db: &SqlSession,
) -> Result<(Spark, Vec<(String, String)>)> {
    let spark = Spark::connect(remote).map_err(Error::within(CHAPTER))?;
    for t in TABLES {
        let file = exported.dir().join(format!("{t}.parquet"));
        spark
            .parquet_view(t, &file.to_string_lossy())
            .map_err(Error::within(CHAPTER))?;
    }
    let (facts, _) = spark_text(db, "sale_facts")?;
    spark
        .execute(&spark_name("sale_facts"), facts)
        .map_err(Error::within(CHAPTER))?;
    Ok((spark, vec![(spark_name("sale_facts"), facts.to_string())]))
}

/// Runs one question on Spark: its rows, the text that ran, and whether it was the
/// question's own Spark file.
fn ask(spark: &Spark, db: &SqlSession, query: &str) -> Result<(Grid, &'static str, bool)> {
    let (text, own) = spark_text(db, query)?;
    let rows = spark
        .query(&spark_name(query), text)
        .map_err(Error::within(CHAPTER))?;
    Ok((rows, text, own))
}

/// Runs the questions on Spark and compares, when the user named a cluster.
pub fn compare(ctx: &RunContext, nb: &mut Notebook, db: &mut SqlSession) -> Result<()> {
    let Some(remote) = ctx.backends.spark_remote.as_deref() else {
        return Ok(());
    };
    ctx.progress.step("the questions on Spark SQL");
    let exported = export(ctx, db)?;
    let (spark, ran) = open(remote, &exported, db)?;
    nb.queries.extend(ran);

    let mut table_rows = Vec::new();
    let mut all = Vec::new();
    let (mut cells, mut equal) = (0usize, 0usize);
    for (prefix, query) in QUESTIONS {
        let (on_spark, text, own) = ask(&spark, db, query)?;
        nb.queries.insert(spark_name(query), text.to_string());
        let on_duckdb = nb
            .tables
            .get(query)
            .map(|t| Grid::of_frame(&t.frame))
            .ok_or_else(|| Error::chapter(CHAPTER, format!("no DuckDB answer to `{query}`")))?;
        let found = differences(&on_duckdb, &on_spark);
        cells += on_duckdb.cells();
        if found.is_empty() {
            equal += 1;
        }
        let first = found.first().map_or(String::new(), |d| {
            format!("row {} `{}`: {} ↔ {}", d.row, d.column, d.left, d.right)
        });
        for d in &found {
            all.push(format!(
                "{prefix} row {} `{}`: DuckDB {} ↔ Spark {}",
                d.row, d.column, d.left, d.right
            ));
        }
        table_rows.push((
            prefix.to_string(),
            if own {
                spark_name(query) + ".sql"
            } else {
                format!("{query}.sql")
            },
            on_duckdb.rows.len() as i64,
            on_spark.rows.len() as i64,
            found.len() as i64,
            first,
        ));
    }

    let source = crate::function_source!(crate::chapters::laplace_immo::spark::compare);
    nb.add_finding(
        "spark.version",
        Value::Text(spark.version().to_string()),
        None,
        source.clone(),
    )?;
    nb.add_finding(
        "spark.questions",
        Value::Int(QUESTIONS.len() as i64),
        Some("questions"),
        source.clone(),
    )?;
    nb.add_finding(
        "spark.questions_equal",
        Value::Int(equal as i64),
        Some("questions"),
        source.clone(),
    )?;
    nb.add_finding(
        "spark.cells_compared",
        Value::Int(cells as i64),
        Some("cells"),
        source.clone(),
    )?;
    nb.add_finding(
        "spark.cells_differing",
        Value::Int(all.len() as i64),
        Some("cells"),
        source.clone(),
    )?;
    let frame = polars::df!(
        "question" => table_rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        "spark_query" => table_rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
        "duckdb_rows" => table_rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        "spark_rows" => table_rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        "differing_cells" => table_rows.iter().map(|r| r.4).collect::<Vec<_>>(),
        "first_difference" => table_rows.iter().map(|r| r.5.clone()).collect::<Vec<_>>(),
    )
    .map_err(Error::failed(CHAPTER, "the Spark comparison's table"))?;
    nb.add_table("spark_differential", frame, source)?;
    nb.add_check(
        "spark.agrees",
        &format!(
            "every question's answer is the same on Spark SQL as on DuckDB: same rows in the same order, exact numbers to the last digit (money to the cent), floats within {FLOAT_RELATIVE:e} of their size"
        ),
        Status::of(all.is_empty(), || {
            let shown: Vec<&str> = all.iter().take(10).map(String::as_str).collect();
            format!("{} cell(s) differ: {}", all.len(), shown.join("; "))
        }),
        &["spark.questions_equal", "spark.cells_differing"],
    )?;
    Ok(())
}

#[derive(clap::Parser)]
#[command(
    name = "auditbook spark-bench",
    about = "Time the twelve questions on DuckDB and on Spark SQL (--spark), at each scale"
)]
struct SparkBenchArgs {
    /// The scales to measure (the real sales plus scale − 1 seeded copies).
    #[arg(long, value_delimiter = ',', default_values_t = [10u32, 100])]
    scales: Vec<u32>,
    /// Runs of the twelve questions per engine and scale; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

/// `auditbook spark-bench`: at each scale, the model is loaded once, then the twelve
/// questions are timed `--runs` times on DuckDB (in process) and on the Spark cluster of
/// `--spark` (results brought back over Spark Connect), alternating; every Spark run's
/// answers are compared with DuckDB's, and a run that differs stops the bench. Written to
/// `measurements/laplace-spark.md`.
pub fn bench(ctx: &RunContext, args: &[String]) -> Result<()> {
    let Some(args) = crate::chapter::command_args::<SparkBenchArgs>("spark-bench", args)? else {
        return Ok(());
    };
    let remote = ctx.backends.spark_remote.clone().ok_or_else(|| {
        Error::Usage("spark-bench needs a Spark cluster: give --spark sc://HOST:PORT".into())
    })?;
    let dir = ctx.data_dir_or(&ctx.dataset_dir())?;
    let seed: u64 = ctx.params.get("seed")?;
    let runs = args.runs.max(1);
    ctx.progress.start();
    let mut lines = Vec::new();
    let mut version = String::new();
    for &scale in &args.scales {
        ctx.progress
            .step(&format!("scale {scale}: loading the model"));
        let (nb, mut db) = super::audit::load(ctx, &dir, scale, seed)?;
        let sales = nb.int("load.dvf_rows_loaded")?;
        db.execute("sale_facts")?;
        let started = Instant::now();
        let exported = export(ctx, &mut db)?;
        let export_time = started.elapsed();
        let (spark, _) = open(&remote, &exported, &db)?;
        version = spark.version().to_string();
        let (mut on_duckdb, mut on_spark) = (Vec::new(), Vec::new());
        for run in 0..runs {
            ctx.progress
                .step(&format!("scale {scale}: run {} of {runs}", run + 1));
            let started = Instant::now();
            let mut answers = Vec::new();
            for (_, query) in QUESTIONS {
                answers.push(Grid::of_frame(&db.query(query)?));
            }
            on_duckdb.push(started.elapsed());
            let started = Instant::now();
            let mut theirs = Vec::new();
            for (_, query) in QUESTIONS {
                theirs.push(ask(&spark, &db, query)?.0);
            }
            on_spark.push(started.elapsed());
            for ((prefix, _), (a, b)) in QUESTIONS.iter().zip(answers.iter().zip(&theirs)) {
                if let Some(d) = differences(a, b).first() {
                    return Err(Error::chapter(
                        CHAPTER,
                        format!(
                            "spark-bench at scale {scale}: {prefix} differs, row {} `{}`: DuckDB {} ↔ Spark {}",
                            d.row, d.column, d.left, d.right
                        ),
                    ));
                }
            }
        }
        let (duck, spark_time) = (median(on_duckdb), median(on_spark));
        lines.push(format!(
            "| {scale} | {} | {} | {} | {} | {:.1}× | 12 of 12 |",
            crate::frame::group_digits(&sales.to_string()),
            seconds(duck),
            seconds(spark_time),
            seconds(export_time),
            spark_time.as_secs_f64() / duck.as_secs_f64(),
        ));
    }
    ctx.progress.end("measured");
    let report = format!(
        "# Laplace Immo: the twelve questions on DuckDB and on Spark SQL\n\n\
         Spark {version} at `{remote}`; DuckDB in process. At each scale the model is loaded once; \
         the twelve questions run {runs} times on each engine, alternating, and the medians are given. \
         Spark's time counts from the first query sent to the last result decoded here; the \
         Parquet export its views read is timed apart. Every Spark run's answers were compared \
         with DuckDB's, cell by cell.\n\n\
         | scale | sales | DuckDB, 12 questions | Spark SQL, 12 questions | export to Parquet | Spark ÷ DuckDB | answers equal |\n\
         |---:|---:|---:|---:|---:|---:|:---|\n{}\n",
        lines.join("\n")
    );
    let path = save(&ctx.root, "laplace-spark.md", &report)?;
    println!("{report}\n(saved to {})", path.display());
    Ok(())
}

fn seconds(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}
