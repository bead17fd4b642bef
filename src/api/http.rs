//! The plumbing every chapter's API server shares: the body of a rejected request, reading a
//! body as JSON (415 when it is not declared JSON, 413 over the route's limit, 422 when it
//! does not parse), the 404 fallback, and serving a router on an address until Ctrl-C.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::rules::FieldError;

/// A rejected request: every problem found, each naming its field.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Every problem found, each naming its field.
    pub errors: Vec<FieldError>,
}

/// The answer that rejects a request with `status` and its problems.
pub fn rejected(status: StatusCode, errors: Vec<FieldError>) -> Response {
    (status, Json(ErrorBody { errors })).into_response()
}

/// The answer to a path no route serves.
pub fn not_found() -> Response {
    rejected(
        StatusCode::NOT_FOUND,
        vec![FieldError::new("path", "no such route; see /docs")],
    )
}

/// The body as JSON, or the answer that rejects it.
// The error is the response a handler answers with: boxing it would only be unboxed there.
#[allow(clippy::result_large_err)]
pub fn json_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, Response> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = declared
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime != "application/json" {
        return Err(rejected(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            vec![FieldError::new(
                "body",
                format!("content type must be application/json, got {declared:?}"),
            )],
        ));
    }
    let bytes =
        body.map_err(|e| rejected(e.status(), vec![FieldError::new("body", e.body_text())]))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        rejected(
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![FieldError::new("body", format!("invalid JSON: {e}"))],
        )
    })
}

/// The body read as JSON and validated by `validate`, or the answer that rejects it: 415 or
/// 413 or 422 for the body itself, 422 with every field error `validate` found.
#[allow(clippy::result_large_err)]
pub fn validated_body<T>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    validate: impl FnOnce(&Value) -> Result<T, Vec<FieldError>>,
) -> Result<T, Response> {
    let value = json_body(headers, body)?;
    validate(&value).map_err(|errors| rejected(StatusCode::UNPROCESSABLE_ENTITY, errors))
}

/// Serves `router` on `addr` until Ctrl-C; `what` says what is served, in the log line.
pub fn serve(router: Router, addr: SocketAddr, what: &str) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(async move {
        let bind = |source| ServeError::Bind { addr, source };
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(bind)?;
        let bound = listener.local_addr().map_err(bind)?;
        eprintln!("{what} on http://{bound} (docs at /docs); Ctrl-C stops");
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(ServeError::Serve)
    })
}

/// Why an API stopped serving, or never started.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The server's runtime could not be made.
    #[error("the API server's runtime")]
    Runtime(#[source] std::io::Error),
    /// The address could not be had (in use, not allowed).
    #[error("listening on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The server failed while serving.
    #[error("serving the API")]
    Serve(#[source] std::io::Error),
}
