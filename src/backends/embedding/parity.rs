//! Parity with sentence-transformers: `reference_vectors.json` holds the vectors the Python
//! library itself produced for a few sentences (French and English, accents, punctuation, one
//! word, one text longer than the 256 tokens kept), written once by
//! `scripts/reference/minilm_vectors.py`. The Rust embedder must give the same directions:
//! a cosine of at least [`MIN_COSINE`] for every sentence.

use serde::Deserialize;

use super::minilm::{cosine, Embedder};
use super::EmbedError;

/// The cosine every sentence's Rust vector must reach against its reference.
pub const MIN_COSINE: f64 = 0.999;

/// The reference file, as committed.
pub const REFERENCE: &str = include_str!("reference_vectors.json");

/// What a reference file holds (this one and the multilingual model's).
#[derive(Debug, Deserialize)]
pub struct Reference {
    /// The model the vectors came from.
    pub model: String,
    /// The library versions (or package and build) that produced them.
    pub produced_by: String,
    /// The sentences and their vectors.
    pub sentences: Vec<ReferenceSentence>,
}

/// One sentence and the vector the reference library gave it.
#[derive(Debug, Deserialize)]
pub struct ReferenceSentence {
    /// The sentence.
    pub text: String,
    /// The role it was embedded in, for a model that prefixes its texts (e5: `query` or
    /// `passage`); none for MiniLM.
    #[serde(default)]
    pub role: Option<String>,
    /// Its unit vector.
    pub vector: Vec<f32>,
}

/// One sentence's comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Parity {
    /// The sentence.
    pub text: String,
    /// The cosine between the Rust vector and the reference.
    pub cosine: f64,
}

/// The committed reference.
pub fn reference() -> Reference {
    serde_json::from_str(REFERENCE).expect("reference_vectors.json is committed and parses")
}

/// Embeds every reference sentence and compares it with its reference vector.
pub fn compare(embedder: &Embedder) -> Result<Vec<Parity>, EmbedError> {
    let reference = reference();
    let texts: Vec<&str> = reference
        .sentences
        .iter()
        .map(|s| s.text.as_str())
        .collect();
    let vectors = embedder.embed(&texts)?;
    Ok(reference
        .sentences
        .iter()
        .zip(vectors)
        .map(|(sentence, vector)| Parity {
            text: sentence.text.clone(),
            cosine: cosine(&vector, &sentence.vector),
        })
        .collect())
}
