//! Integration tests, one binary: modules per concern. Helpers here run chapters in-process
//! on the project's own data; `cli` drives the real binary.

mod airflow;
mod bottleneck;
mod browser;
mod cdp;
mod cli;
mod docstore;
mod drill;
mod embedding;
mod events;
mod faults;
mod fuzz;
mod greencoop;
mod indutech;
mod install;
mod interrupt;
mod laplace_immo;
mod noscites;
mod prose;
mod render;
mod run_cache;
mod seattle;
mod seattle_api;
mod serve;
mod snapshots;
mod spark;
mod supersmartmarket;

use std::collections::BTreeMap;
use std::path::PathBuf;

use auditbook::commands::book::{self, RunOptions};
use auditbook::notebook::{Notebook, Status};

/// Asserts that the notebook holds the check `id` and that it passed.
pub fn check_passed(nb: &Notebook, id: &str) {
    let found = nb
        .checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check `{id}`"));
    assert_eq!(found.status, Status::Passed, "{id}");
}

/// The project root (holds `datasets/MANIFEST.toml`).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary run on the project root with `args`, its output collected.
pub fn auditbook(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_auditbook"))
        .arg("--root")
        .arg(root())
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Run options for one chapter with `params` (keys without the chapter prefix).
pub fn options(chapter: &str, params: &[(&str, &str)], data: Option<PathBuf>) -> RunOptions {
    let mut by_chapter = BTreeMap::new();
    by_chapter.insert(
        chapter.to_string(),
        params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    );
    RunOptions {
        root: root(),
        data,
        params: by_chapter,
        ..RunOptions::default()
    }
}

/// Every chapter run once at its defaults, checked, shared by the tests that only read the
/// result (the determinism test runs its own two builds).
pub fn book_notebooks() -> &'static Vec<(&'static dyn auditbook::chapter::Chapter, Notebook)> {
    static NOTEBOOKS: std::sync::OnceLock<
        Vec<(&'static dyn auditbook::chapter::Chapter, Notebook)>,
    > = std::sync::OnceLock::new();
    NOTEBOOKS.get_or_init(|| {
        book::run_and_check(
            None,
            &RunOptions {
                root: root(),
                ..RunOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"))
    })
}

/// The site rendered from `book_notebooks()`.
pub fn book_site() -> std::collections::BTreeMap<String, Vec<u8>> {
    let manifest = auditbook::dataset::Manifest::load(&root()).unwrap();
    book::render(book_notebooks(), &manifest, false).unwrap_or_else(|e| panic!("{e}"))
}

/// How many cases a proptest over chapter runs draws: `default` in `cargo test` (sized to
/// keep the suite's time), or `AUDITBOOK_PROPTEST_CASES` for a longer hunt
/// (`AUDITBOOK_PROPTEST_CASES=200 cargo test --test it proptest`, say).
pub fn cases(default: u32) -> u32 {
    std::env::var("AUDITBOOK_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs a chapter in-process and returns its notebook (checks not enforced).
pub fn run(chapter: &str, params: &[(&str, &str)], data: Option<PathBuf>) -> Notebook {
    let c = book::chapter_by_id(chapter).unwrap();
    book::run_chapter(c, &options(chapter, params, data)).unwrap_or_else(|e| panic!("{e}"))
}

/// A test server's address from the environment, as `scripts/test` sets it. Without it the
/// test is skipped, unless AUDITBOOK_REQUIRE_SERVERS says the servers must be there (CI).
pub fn server(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) => Some(v),
        Err(_) if std::env::var_os("AUDITBOOK_REQUIRE_SERVERS").is_some() => {
            panic!("{var} is not set, but AUDITBOOK_REQUIRE_SERVERS is")
        }
        Err(_) => {
            eprintln!("{var} not set: skipped (scripts/test starts the test servers)");
            None
        }
    }
}
