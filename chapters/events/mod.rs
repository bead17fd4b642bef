//! Chapter 8 (in progress, not yet in the book): an events assistant that recommends events
//! from a free-text request, by retrieval over a vector index. What is here so far: the
//! events' facets ([`facets`]), the seeded generator with its needle and near misses
//! ([`generate`]), and the requests with judgments computed from the facets ([`queries`]).
//! The embedding model and the indexes it will use are engine pieces
//! ([`crate::backends::embedding`], [`crate::retrieval`]).

pub mod facets;
pub mod generate;
pub mod queries;
