//! What the CLI's commands do, as library functions (`main.rs` only parses arguments and
//! prints): [`book`] runs the chapters and builds, checks and verifies the book, [`serve`]
//! previews it with live reload, [`bench`] measures it, [`diff`] compares a run with the
//! committed findings, [`fault_matrix`] shows every check failing on its fault, [`drill`]
//! tabulates the failure drill, and [`flow`] runs, schedules and exports a chapter's
//! declared workflow ([`flow_bench`] times it beside Airflow).

pub mod bench;
pub mod book;
pub mod diff;
pub mod drill;
pub mod fault_matrix;
pub mod flow;
pub mod flow_bench;
pub mod serve;
