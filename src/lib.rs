//! auditbook: a literate, test-driven, reproducible audit book. The engine (`src/`) runs
//! chapters into notebooks and renders them; it knows no chapter by name. The chapters live
//! in `chapters/`, wired in by `chapters/mod.rs`.

// Every public item says what it is: the code is teaching material as much as the book.
#![warn(missing_docs)]

pub mod api;
pub mod backends;
pub mod chapter;
pub mod commands;
pub mod compare;
pub mod cpu_time;
pub mod dataset;
pub mod declared;
pub mod dictionary;
pub mod embedded;
pub mod error;
pub mod fault;
pub mod flow;
pub mod frame;
pub mod french;
pub mod install;
pub mod interrupt;
pub mod lineage;
pub mod loadgen;
pub mod lock;
pub mod notebook;
pub mod parallel;
pub mod progress;
pub mod render;
pub mod retrieval;
pub mod run_cache;
pub mod sql;
pub mod xlsx;

#[path = "../chapters/mod.rs"]
pub mod chapters;

pub use error::{Error, Result};
