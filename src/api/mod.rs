//! What the chapters' HTTP APIs share, so that no chapter imports another's: the table of
//! rules a JSON body is validated against ([`rules`]) and the server's plumbing — the error
//! body, the JSON body reader, the fallback and serving until Ctrl-C ([`http`]).

pub mod http;
pub mod rules;
