//! Files compiled into the binary by `build.rs`: chapter prose and SQL, site templates.
//! `serve` switches to live files (`set_live_root`): the same paths are then read from the
//! project on disk, so an edited chapter rebuilds without recompiling.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

include!(concat!(env!("OUT_DIR"), "/embedded_files.rs"));

static LIVE_ROOT: OnceLock<PathBuf> = OnceLock::new();

/// Live texts, kept per path with the modification time they were read at. A text is
/// leaked once per edit so callers keep `&'static str`: a preview server's edits are few.
static LIVE: Mutex<BTreeMap<PathBuf, (SystemTime, &'static str)>> = Mutex::new(BTreeMap::new());

/// From now on, read files from `root` on disk instead of the binary (`serve`).
pub fn set_live_root(root: PathBuf) {
    let _ = LIVE_ROOT.set(root);
}

fn live(path: &str) -> Option<&'static str> {
    let full = LIVE_ROOT.get()?.join(path);
    let modified = std::fs::metadata(&full).and_then(|m| m.modified()).ok()?;
    let mut cache = LIVE.lock().expect("live file cache");
    if let Some((at, text)) = cache.get(&full) {
        if *at == modified {
            return Some(text);
        }
    }
    let text: &'static str = Box::leak(std::fs::read_to_string(&full).ok()?.into_boxed_str());
    cache.insert(full, (modified, text));
    Some(text)
}

/// Texts a fault puts in place of a declaration for the length of a run (see
/// [`crate::fault`]); `None` hides the file. Keyed by path, so a fault of one chapter never
/// changes what another chapter reads.
static OVERLAY: Mutex<BTreeMap<String, Option<&'static str>>> = Mutex::new(BTreeMap::new());

/// From now on `path` reads as `text` (`None`: as absent), until [`clear_overlay`].
pub fn set_overlay(path: &str, text: Option<String>) {
    let text = text.map(|t| &*Box::leak(t.into_boxed_str()));
    OVERLAY
        .lock()
        .expect("overlay")
        .insert(path.to_string(), text);
}

/// `path` reads as before [`set_overlay`] again.
pub fn clear_overlay(path: &str) {
    OVERLAY.lock().expect("overlay").remove(path);
}

/// The contents of `path` (relative to the project root): a fault's edit when one is in
/// force, live from disk under `serve`, else as embedded at compile time.
pub fn file(path: &str) -> Option<&'static str> {
    if let Some(text) = OVERLAY.lock().expect("overlay").get(path) {
        return *text;
    }
    if LIVE_ROOT.get().is_some() {
        return live(path);
    }
    FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, text)| *text)
}

/// The contents of `chapters/<chapter>/<name>`.
pub fn chapter_file(chapter: &str, name: &str) -> Option<&'static str> {
    file(&format!("chapters/{chapter}/{name}"))
}

/// A chapter's TOML declaration (`zones.toml`, `alarms.toml`, `roles.toml`, ...), parsed into
/// `T`; a missing file or a value that does not fit names the file and the line.
pub fn declared<T: serde::de::DeserializeOwned>(chapter: &str, name: &str) -> crate::Result<T> {
    let path = format!("chapters/{chapter}/{name}");
    let text = file(&path).ok_or_else(|| crate::Error::Data {
        chapter: chapter.to_string(),
        file: path.clone(),
        row: None,
        message: "the chapter declares nothing here: the file is missing".into(),
    })?;
    toml::from_str(text).map_err(|e| crate::Error::Data {
        chapter: chapter.to_string(),
        file: path,
        row: crate::error::toml_line(text, &e),
        message: e.message().to_string(),
    })
}
