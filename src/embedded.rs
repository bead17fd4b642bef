//! Files compiled into the binary by `build.rs`: chapter prose and SQL, site templates.
//! `serve` switches to live files (`set_live_root`): the same paths are then read from the
//! project on disk, so an edited chapter rebuilds without recompiling.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, OnceLock};
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

/// Who is reading one chapter's declarations: runs that read them as they are (any number at
/// once) or one fault run that has edited them (alone). The overlay is process-wide, so
/// without this a default run beside a fault of the same chapter (two tests, say) would
/// read the fault's edit.
#[derive(Default)]
struct Users {
    readers: usize,
    editing: bool,
}

static USERS: Mutex<BTreeMap<String, Users>> = Mutex::new(BTreeMap::new());
static USERS_CHANGED: Condvar = Condvar::new();

/// Holds one chapter's declarations for a run, shared or exclusive, until dropped.
#[must_use = "the declarations are held only while the guard lives"]
pub struct DeclarationsHeld {
    chapter: String,
    exclusive: bool,
}

/// Waits until `chapter`'s declarations are not being edited, then holds them as they are.
pub fn read_declarations(chapter: &str) -> DeclarationsHeld {
    hold(chapter, false)
}

/// Waits until no run reads `chapter`'s declarations, then holds them for editing alone.
pub fn edit_declarations(chapter: &str) -> DeclarationsHeld {
    hold(chapter, true)
}

fn hold(chapter: &str, exclusive: bool) -> DeclarationsHeld {
    let mut users = USERS.lock().expect("declaration users");
    loop {
        let u = users.entry(chapter.to_string()).or_default();
        let free = !u.editing && (!exclusive || u.readers == 0);
        if free {
            if exclusive {
                u.editing = true;
            } else {
                u.readers += 1;
            }
            break;
        }
        users = USERS_CHANGED.wait(users).expect("declaration users");
    }
    DeclarationsHeld {
        chapter: chapter.to_string(),
        exclusive,
    }
}

impl Drop for DeclarationsHeld {
    fn drop(&mut self) {
        let mut users = USERS.lock().expect("declaration users");
        if let Some(u) = users.get_mut(&self.chapter) {
            if self.exclusive {
                u.editing = false;
            } else {
                u.readers -= 1;
            }
        }
        USERS_CHANGED.notify_all();
    }
}

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

/// Every declaration of `chapter` (its `chapters/<id>/` files but its prose, `*.md`, and its
/// faults, which no default run reads), by path, each as a run would read it now: the
/// checkout's copy when files are read live (a file only on disk included), else the
/// embedded one. The run cache keys on these.
pub fn chapter_declarations(chapter: &str) -> Vec<(String, Option<&'static str>)> {
    let prefix = format!("chapters/{chapter}/");
    let is_declaration = |path: &str| {
        path.starts_with(&prefix) && !path.ends_with(".md") && !path.ends_with("/faults.toml")
    };
    let mut paths: std::collections::BTreeSet<String> = FILES
        .iter()
        .map(|(path, _)| *path)
        .filter(|path| is_declaration(path))
        .map(str::to_string)
        .collect();
    if let Some(root) = LIVE_ROOT.get() {
        let mut stack = vec![root.join(&prefix)];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.filter_map(|e| e.ok()) {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| ["sql", "toml", "yaml"].contains(&e))
                {
                    if let Ok(relative) = path.strip_prefix(root) {
                        let relative = relative.to_string_lossy().replace('\\', "/");
                        if is_declaration(&relative) {
                            paths.insert(relative);
                        }
                    }
                }
            }
        }
    }
    paths
        .into_iter()
        .map(|path| {
            let text = file(&path);
            (path, text)
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU8, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// The race this guards against: a fault's edit seen by a run that reads the
    /// declarations as they are. Editing waits for the readers; a reader waits for the edit.
    /// (Fault: `hold` that never waits makes the editor start at once, and the test fail.)
    #[test]
    fn an_edit_of_declarations_waits_for_their_readers_and_readers_wait_for_it() {
        const WAITING: u8 = 0;
        const EDITING: u8 = 1;
        const RELEASED: u8 = 2;
        let chapter = "declarations-lock-test";
        let reading = read_declarations(chapter);
        let also_reading = read_declarations(chapter); // readers share
        let state = Arc::new(AtomicU8::new(WAITING));
        let editor = {
            let state = state.clone();
            std::thread::spawn(move || {
                let held = edit_declarations(chapter);
                state.store(EDITING, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(100));
                state.store(RELEASED, Ordering::SeqCst);
                drop(held);
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            state.load(Ordering::SeqCst),
            WAITING,
            "edited while runs read"
        );
        drop((reading, also_reading));
        while state.load(Ordering::SeqCst) == WAITING {
            std::thread::sleep(Duration::from_millis(1));
        }
        let _reader = read_declarations(chapter);
        assert_eq!(state.load(Ordering::SeqCst), RELEASED, "read while edited");
        editor.join().unwrap();
    }
}
