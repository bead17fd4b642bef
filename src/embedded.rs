//! Files compiled into the binary by `build.rs`: chapter prose and SQL, site templates.

include!(concat!(env!("OUT_DIR"), "/embedded_files.rs"));

/// The contents of `path` (relative to the project root), if it was embedded.
pub fn file(path: &str) -> Option<&'static str> {
    FILES.iter().find(|(p, _)| *p == path).map(|(_, text)| *text)
}

/// The contents of `chapters/<chapter>/<name>`.
pub fn chapter_file(chapter: &str, name: &str) -> Option<&'static str> {
    file(&format!("chapters/{chapter}/{name}"))
}
