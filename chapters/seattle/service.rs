//! `auditbook api`: serve the chapter's model, or benchmark the service under load.
//!
//! Without `--model`, the API serves the model the chapter saved in its artifact folder, and
//! trains it first (running the whole chapter, checks included) when there is none yet.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use super::api::{self, App};
use crate::chapter::{Chapter, RunContext};
use crate::error::{Error, Result};
use crate::loadgen::{self, LoadReport, Request};

#[derive(Parser)]
#[command(
    name = "auditbook api",
    about = "Serve the Seattle GHG model over HTTP (docs at /docs)"
)]
struct ApiArgs {
    /// Model file; the chapter's own (trained if absent) by default.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Address to listen on (0.0.0.0 in a container).
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    #[arg(long, default_value_t = 8000)]
    port: u16,
    #[command(subcommand)]
    command: Option<ApiCommand>,
}

#[derive(Subcommand)]
enum ApiCommand {
    /// Load-test the API in-process on loopback (like `wrk -c N -d T`); figures go to
    /// measurements/seattle-api.md.
    Bench {
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long, default_value_t = 16)]
        connections: usize,
    },
}

pub fn run(chapter: &dyn Chapter, ctx: &RunContext, args: &[String]) -> Result<()> {
    let Some(args) = crate::chapter::command_args::<ApiArgs>("api", args)? else {
        return Ok(());
    };
    let model = match args.model {
        Some(path) => path,
        None => chapter_model(chapter, ctx)?,
    };
    let app = App::load(&model).map_err(Error::within(ctx.meta.id))?;
    match args.command {
        None => api::serve(Arc::new(app), SocketAddr::new(args.host, args.port), &model)
            .map_err(Error::within(ctx.meta.id)),
        Some(ApiCommand::Bench {
            seconds,
            connections,
        }) => {
            let report = bench(app, Duration::from_secs(seconds), connections)?;
            let path = crate::commands::bench::save(&ctx.root, "seattle-api.md", &report)?;
            println!("{report}\n(saved to {})", path.display());
            Ok(())
        }
    }
}

/// The chapter's saved model, trained first if it is not there yet.
fn chapter_model(chapter: &dyn Chapter, ctx: &RunContext) -> Result<PathBuf> {
    let path = ctx.artifact_dir.join("model.json");
    if !path.exists() {
        eprintln!(
            "seattle api: no model at {}; training it (the chapter's run, checks included)",
            path.display()
        );
        let nb = chapter.run(ctx)?;
        let failed = nb.failures();
        if !failed.is_empty() {
            return Err(Error::ChecksFailed {
                chapter: ctx.meta.id.to_string(),
                failed,
            });
        }
    }
    Ok(path)
}

/// Starts the API on a free loopback port and loads it with: the health route (the baseline:
/// the same server and client, no model), one valid building, one invalid building, and a
/// batch of 100 valid buildings.
fn bench(app: App, duration: Duration, connections: usize) -> Result<String> {
    let start = || Error::failed(super::CHAPTER, "starting the API for the benchmark");
    let example = super::validate::example(&app.predictor.metadata.domains);
    let mut invalid = example.clone();
    invalid["year_built"] = serde_json::Value::from(1700);
    invalid["neighborhood"] = serde_json::Value::from("ATLANTIS");
    let batch = serde_json::json!({ "buildings": vec![example.clone(); 100] });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(start())?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(start())?;
    let addr = listener.local_addr().map_err(start())?;
    let router = api::router(Arc::new(app));
    runtime.spawn(async move { axum::serve(listener, router).await });

    let json = Some("application/json");
    let cases: Vec<(&str, Request, u16)> = vec![
        (
            "GET /health (baseline)",
            Request {
                method: "GET",
                path: "/health".into(),
                content_type: None,
                body: vec![],
            },
            200,
        ),
        (
            "POST /predict, valid",
            Request {
                method: "POST",
                path: "/predict".into(),
                content_type: json,
                body: example.to_string().into_bytes(),
            },
            200,
        ),
        (
            "POST /predict, invalid",
            Request {
                method: "POST",
                path: "/predict".into(),
                content_type: json,
                body: invalid.to_string().into_bytes(),
            },
            422,
        ),
        (
            "POST /predict/batch, 100 buildings",
            Request {
                method: "POST",
                path: "/predict/batch".into(),
                content_type: json,
                body: batch.to_string().into_bytes(),
            },
            200,
        ),
    ];
    let mut out = format!(
        "# Seattle API under load\n\n{connections} keep-alive connections on loopback, {} s per case, client and server on the same {}-core machine.\n\n| case | requests/s | p50 ms | p99 ms | max ms | ratio to baseline | statuses |\n|---|---:|---:|---:|---:|---:|---|\n",
        duration.as_secs(),
        crate::parallel::cores()
    );
    let mut baseline = None;
    for (name, request, expected) in cases {
        let r: LoadReport = loadgen::run(addr, &request, connections, duration)
            .map_err(Error::failed(super::CHAPTER, format!("loading `{name}`")))?;
        let unexpected: u64 = r
            .statuses
            .iter()
            .filter(|(s, _)| **s != expected)
            .map(|(_, n)| n)
            .sum();
        if unexpected > 0 {
            return Err(Error::chapter(
                super::CHAPTER,
                format!(
                    "benchmark `{name}`: {unexpected} answers were not {expected}: {:?}",
                    r.statuses
                ),
            ));
        }
        let rps = r.requests_per_second();
        let base = *baseline.get_or_insert(rps);
        out.push_str(&format!(
            "| {name} | {rps:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:?} |\n",
            r.latency_ms(0.5),
            r.latency_ms(0.99),
            r.latency_ms(1.0),
            rps / base,
            r.statuses
        ));
    }
    runtime.shutdown_background();
    Ok(out)
}
