//! `auditbook ask --serve`: the assistant over HTTP (axum). `POST /recommend` takes a request
//! and answers what `auditbook ask` prints — the filters read, the events recommended with
//! why each matched, and the cited answer. Its body is validated by the engine's strict
//! validator against [`FIELDS`] (the same rules and error body as the Seattle API: 415, 413,
//! 422 with field errors), and the OpenAPI document at `/openapi.json` (Swagger UI at
//! `/docs`) is written from the same table.
//!
//! One corpus serves every request; answering one takes the corpus's lock (the vector cache
//! and the DuckDB session are one writer each), on a blocking thread so the server keeps
//! accepting connections meanwhile.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{OpenApi as OpenApiDoc, RefOr};
use utoipa::{OpenApi, ToSchema};

use super::corpus::{Corpus, Recommendation};
use super::filters::Filters;
use crate::api::http::{not_found, rejected, validated_body};
pub use crate::api::http::{ErrorBody, ServeError};
use crate::api::rules::{self, Domains, Field, FieldError, Rule};

/// The largest body accepted (a valid one is well under 1 KiB).
pub const BODY_LIMIT: usize = 16 * 1024;
/// The most events one answer may recommend.
pub const MAX_TOP: i64 = 20;

/// What `POST /recommend` accepts.
pub const FIELDS: &[Field] = &[
    Field {
        name: "request",
        rule: Rule::Text {
            min_chars: 3,
            max_chars: 500,
        },
        required: true,
        help: "what the user is looking for, in French or English",
        example: "un atelier de poterie gratuit ce week-end à Massy",
    },
    Field {
        name: "top",
        rule: Rule::Integer {
            min: 1,
            max: MAX_TOP,
        },
        required: false,
        help: "how many events to recommend (5 when absent)",
        example: "5",
    },
];

/// How many events an answer recommends when the body does not say.
pub const DEFAULT_TOP: usize = 5;

/// A request for recommendations.
#[allow(dead_code)] // documents the body for OpenAPI; the validator reads the JSON itself
#[derive(ToSchema)]
pub struct RecommendInput {
    request: String,
    top: Option<i64>,
}

/// One recommended event and why it matched.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recommended {
    /// 1 for the best.
    pub rank: usize,
    /// The event's id, as the answer cites it.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its day (YYYY-MM-DD).
    pub date: String,
    /// Its start (HH:MM).
    pub start: String,
    /// Its commune.
    pub commune: String,
    /// Its price in euros (0: free).
    pub price_eur: u32,
    /// Who it is for.
    pub audience: String,
    /// Step-free access.
    pub accessible: bool,
    /// Cosine similarity of the request and the event (3 decimals).
    pub similarity: f64,
}

/// The assistant's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecommendOutput {
    /// `fr` or `en`: the language the request was read as, and the answer's.
    pub language: String,
    /// The filters read from the request's words, applied before ranking.
    pub filters: Filters,
    /// The recommended events, best first.
    pub events: Vec<Recommended>,
    /// A short answer citing each recommended event by its id in brackets.
    pub answer: String,
}

/// Liveness and what is served.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` while the server answers.
    pub status: String,
    /// Events in the corpus.
    pub events: usize,
    /// The embedding model's weights, sha256.
    pub model_sha256: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "auditbook events assistant",
        description = "Recommends events for a request in French or English: filters read from its words, then BM25 and MiniLM vectors fused (the book's hybrid arm), with an answer that cites only the events it recommends."
    ),
    paths(recommend, health),
    components(schemas(
        RecommendInput,
        RecommendOutput,
        Filters,
        Recommended,
        ErrorBody,
        FieldError,
        Health
    ))
)]
struct ApiDoc;

/// What the handlers share.
pub struct App {
    corpus: Mutex<Corpus>,
    events: usize,
    model_sha256: String,
}

impl App {
    /// The app serving `corpus`.
    pub fn new(corpus: Corpus) -> App {
        App {
            events: corpus.events().len(),
            model_sha256: corpus.embedder.files.weights_sha256.clone(),
            corpus: Mutex::new(corpus),
        }
    }
}

/// The answer of `corpus` to a recommendation, as the API sends it.
pub fn output(corpus: &Corpus, r: &Recommendation) -> RecommendOutput {
    let events = corpus.events();
    RecommendOutput {
        language: r.language.code().to_string(),
        filters: r.filters.clone(),
        events: r
            .rows
            .iter()
            .enumerate()
            .map(|(i, &row)| {
                let e = &events[row];
                Recommended {
                    rank: i + 1,
                    id: e.id.clone(),
                    title: e.title.clone(),
                    date: e.date.to_string(),
                    start: e.start.clone(),
                    commune: e.commune.clone(),
                    price_eur: e.price_eur,
                    audience: e.audience.clone(),
                    accessible: e.accessible,
                    similarity: crate::frame::round_to(r.similarities[i] as f64, 3),
                }
            })
            .collect(),
        answer: r.answer.clone(),
    }
}

/// Recommend events for a request.
#[utoipa::path(post, path = "/recommend", request_body = RecommendInput,
    responses((status = 200, body = RecommendOutput), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn recommend(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let valid = match validated_body(&headers, body, |v| {
        rules::object(v, "", FIELDS, &Domains::new())
    }) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let request = valid.text["request"].clone();
    let top = valid.number.get("top").map_or(DEFAULT_TOP, |&n| n as usize);
    let answered = tokio::task::spawn_blocking(move || {
        // A panic in an earlier request leaves the corpus as it was (nothing is half-written
        // in it that a later request reads), so a poisoned lock is taken over.
        let mut corpus = app.corpus.lock().unwrap_or_else(|p| p.into_inner());
        let r = corpus.recommend(&request, top)?;
        Ok::<_, crate::error::Error>(output(&corpus, &r))
    })
    .await;
    match answered {
        Ok(Ok(out)) => Json(out).into_response(),
        Ok(Err(e)) => rejected(
            StatusCode::INTERNAL_SERVER_ERROR,
            vec![FieldError::new("assistant", e.report())],
        ),
        Err(e) => rejected(
            StatusCode::INTERNAL_SERVER_ERROR,
            vec![FieldError::new("assistant", e.to_string())],
        ),
    }
}

/// Liveness.
#[utoipa::path(get, path = "/health", responses((status = 200, body = Health)))]
async fn health(State(app): State<Arc<App>>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        events: app.events,
        model_sha256: app.model_sha256.clone(),
    })
}

/// The OpenAPI document: types and paths from utoipa, the body's constraints from [`FIELDS`].
pub fn openapi() -> OpenApiDoc {
    let mut doc = ApiDoc::openapi();
    let schemas = &mut doc
        .components
        .as_mut()
        .expect("components are declared")
        .schemas;
    if let Some(RefOr::T(Schema::Object(body))) = schemas.get_mut("RecommendInput") {
        rules::document(body, FIELDS, &Domains::new());
    }
    doc
}

/// The service: routes, body limit, docs.
pub fn router(app: Arc<App>) -> Router {
    let docs = utoipa_swagger_ui::SwaggerUi::new("/docs")
        .url("/openapi.json", openapi())
        .config(utoipa_swagger_ui::Config::new(["/openapi.json"]).validator_url("none"));
    Router::new()
        .route(
            "/recommend",
            post(recommend).layer(DefaultBodyLimit::max(BODY_LIMIT)),
        )
        .route("/health", get(health))
        .with_state(app)
        .merge(docs)
        .fallback(|| async { not_found() })
}

/// Serves `app` on `addr` until Ctrl-C.
pub fn serve(app: Arc<App>, addr: SocketAddr) -> Result<(), ServeError> {
    let what = format!("events assistant: serving {} events", app.events);
    crate::api::http::serve(router(app), addr, &what)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented body and the validation table list the same fields, required alike,
    /// and the documented example passes the validator.
    #[test]
    fn the_documented_body_is_the_validated_one() {
        let doc = openapi();
        let Some(RefOr::T(Schema::Object(o))) = doc
            .components
            .as_ref()
            .unwrap()
            .schemas
            .get("RecommendInput")
        else {
            panic!("no RecommendInput")
        };
        let documented: Vec<&String> = o.properties.keys().collect();
        let validated: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
        assert_eq!(documented, {
            let mut v = validated.clone();
            v.sort();
            v
        });
        assert_eq!(o.required, ["request"]);
        let example = o.example.clone().expect("an example");
        assert!(rules::object(&example, "", FIELDS, &Domains::new()).is_ok());
    }
}
