//! `auditbook ask "REQUEST"`: the assistant itself, on the chapter's events (generated at
//! the run's parameters, or `--data DIR`): the request's filters are read from its words, then
//! the hybrid arm ranks the events that pass them, as the chapter measures it, and a short
//! answer cites the events recommended. `auditbook ask --serve` offers the same over HTTP
//! (see [`super::api`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use super::api::{self, App};
use super::corpus::Corpus;
use crate::chapter::RunContext;
use crate::error::{Error, Result};

#[derive(clap::Parser)]
#[command(
    name = "auditbook ask",
    about = "Recommend events for a request in French or English (the chapter's hybrid arm), or serve the assistant over HTTP"
)]
struct AskArgs {
    /// The request, e.g. "un atelier de poterie gratuit ce week-end à Lyon".
    #[arg(required_unless_present = "serve", conflicts_with = "serve")]
    request: Vec<String>,
    /// How many events to recommend.
    #[arg(long, default_value_t = api::DEFAULT_TOP as u64,
          value_parser = clap::value_parser!(u64).range(1..=api::MAX_TOP as u64))]
    top: u64,
    /// Serve `POST /recommend` (OpenAPI at /openapi.json, docs at /docs) instead of answering once.
    #[arg(long)]
    serve: bool,
    /// Address to listen on with --serve (0.0.0.0 in a container).
    #[arg(long, default_value = "127.0.0.1", requires = "serve")]
    host: IpAddr,
    /// Port to listen on with --serve.
    #[arg(long, default_value_t = 8008, requires = "serve")]
    port: u16,
}

/// Runs `auditbook ask ARGS…`.
pub fn run(ctx: &RunContext, args: &[String]) -> Result<()> {
    let Some(args) = crate::chapter::command_args::<AskArgs>("ask", args)? else {
        return Ok(());
    };
    let mut corpus = Corpus::open(ctx)?;
    if args.serve {
        return api::serve(
            Arc::new(App::new(corpus)),
            SocketAddr::new(args.host, args.port),
        )
        .map_err(Error::within(ctx.meta.id));
    }
    let request = args.request.join(" ");
    let r = corpus.recommend(&request, args.top as usize)?;
    let out = api::output(&corpus, &r);
    println!("filters read: {}", r.filters.describe());
    for e in &out.events {
        let price = if e.price_eur == 0 {
            "free".to_string()
        } else {
            format!("{} €", e.price_eur)
        };
        println!(
            "{}. {} · {} {} · {} · {} · {}{} · similarity {:.3}\n   {}",
            e.rank,
            e.id,
            e.date,
            e.start,
            e.commune,
            price,
            e.audience,
            if e.accessible { " · step-free" } else { "" },
            e.similarity,
            e.title
        );
    }
    println!("\n{}", out.answer);
    Ok(())
}
