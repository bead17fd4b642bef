//! Embeds every chapter's prose, SQL and declarations (`chapters/<id>/*.{md,sql,toml,yaml}`) and the site
//! templates (`templates/*`) into the binary, so the book shows each query exactly as the
//! binary ran it and the tool needs no source tree beside it. The engine looks files up by
//! path; it never names a chapter.

use std::fmt::Write;
use std::path::Path;

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
        &["md", "sql", "toml", "yaml"],
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
    println!("cargo:rerun-if-changed=chapters");
    println!("cargo:rerun-if-changed=templates");
}
