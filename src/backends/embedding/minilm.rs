//! The embedder: all-MiniLM-L6-v2 as sentence-transformers runs it. Tokenize (lower-cased
//! WordPiece, at most 256 tokens, sentence-transformers' `max_seq_length`), run BERT, average
//! the token vectors the attention mask keeps, normalise to length 1. Texts are sorted by
//! token count and run in batches of similar length, each padded only to its longest text
//! (the tokenizer file's fixed padding to 128 is switched off), so no work is spent on
//! padding a short text to a long one; the vectors come back in the order the texts came.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Encoding, Tokenizer, TruncationParams};

use super::{EmbedError, ModelFiles};

/// Tokens kept of a text (sentence-transformers' `max_seq_length` for this model).
pub const MAX_TOKENS: usize = 256;
/// The length of every vector.
pub const DIMENSIONS: usize = 384;
/// Texts per forward pass: large enough to keep both cores busy in the matrix products,
/// small enough that one long text does not make many short ones wait.
pub const BATCH: usize = 32;

/// The vectors one worker computed, each with its text's index.
type Rows = Vec<(usize, Vec<f32>)>;

/// Threads that run batches at once: `AUDITBOOK_EMBED_WORKERS`, else 2 (the matrix products
/// inside a batch are parallel already; a second batch fills the time between them).
fn workers() -> usize {
    std::env::var("AUDITBOOK_EMBED_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(2)
}

/// The model, loaded once, ready to embed any number of texts.
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    max_tokens: usize,
    /// Where the model came from, and its weights' sha256.
    pub files: ModelFiles,
}

impl Embedder {
    /// Loads the weights, the configuration and the tokenizer from `files`.
    pub fn load(files: ModelFiles) -> Result<Embedder, EmbedError> {
        let config_text =
            std::fs::read_to_string(&files.config).map_err(|source| EmbedError::Read {
                path: files.config.clone(),
                source,
            })?;
        let config: Config =
            serde_json::from_str(&config_text).map_err(|source| EmbedError::Config {
                path: files.config.clone(),
                source,
            })?;
        let device = Device::Cpu;
        let tensors = candle_core::safetensors::load(&files.weights, &device)
            .map_err(EmbedError::tensor("loading model.safetensors"))?;
        let weights = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let model =
            BertModel::load(weights, &config).map_err(EmbedError::tensor("building BERT"))?;
        let mut tokenizer =
            Tokenizer::from_file(&files.tokenizer).map_err(|e| EmbedError::Tokenizer {
                what: format!("loading {}", files.tokenizer.display()),
                message: e.to_string(),
            })?;
        tokenizer.with_padding(None);
        Embedder {
            model,
            tokenizer,
            device,
            max_tokens: 0,
            files,
        }
        .with_max_tokens(MAX_TOKENS)
    }

    /// The same model keeping at most `max_tokens` tokens of a text (special tokens
    /// included). [`MAX_TOKENS`] is what sentence-transformers does; fewer is a
    /// misconfiguration a chapter can plant to show that its parity check notices.
    pub fn with_max_tokens(mut self, max_tokens: usize) -> Result<Embedder, EmbedError> {
        self.tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..TruncationParams::default()
            }))
            .map_err(|e| EmbedError::Tokenizer {
                what: format!("setting the truncation to {max_tokens} tokens"),
                message: e.to_string(),
            })?;
        self.max_tokens = max_tokens;
        Ok(self)
    }

    /// The tokens kept of a text.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Loads the model from where [`super::model::locate`] finds it.
    pub fn from_cache() -> Result<Embedder, EmbedError> {
        Embedder::load(super::model::locate()?)
    }

    /// The tokens `text` is cut into, special tokens included (for `embed --tokens` and for
    /// batching).
    pub fn tokens(&self, text: &str) -> Result<Vec<String>, EmbedError> {
        Ok(self.encode(&[text])?.remove(0).get_tokens().to_vec())
    }

    fn encode(&self, texts: &[&str]) -> Result<Vec<Encoding>, EmbedError> {
        self.tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Tokenizer {
                what: "encoding".into(),
                message: e.to_string(),
            })
    }

    /// One unit vector of [`DIMENSIONS`] floats per text, in the texts' order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(self
            .embed_counted(texts)?
            .into_iter()
            .map(|(v, _)| v)
            .collect())
    }

    /// Each text's vector and the number of tokens the model read of it (special tokens
    /// included, after truncation), in the texts' order.
    pub fn embed_counted(&self, texts: &[&str]) -> Result<Vec<(Vec<f32>, usize)>, EmbedError> {
        let encodings = self.encode(texts)?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| (encodings[i].len(), i));
        let batches: Vec<&[usize]> = order.chunks(BATCH).collect();
        // Batches run on `workers` threads, dealt round-robin (neighbouring batches have
        // similar lengths, so the threads get similar work). A batch's vectors do not depend
        // on the thread that ran it, so the result is the same for any number of workers.
        let workers = workers().min(batches.len()).max(1);
        let results: Vec<Result<Rows, EmbedError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    let batches = &batches;
                    let encodings = &encodings;
                    scope.spawn(move || {
                        let mut done = Vec::new();
                        for batch in batches.iter().skip(w).step_by(workers) {
                            let rows: Vec<&Encoding> =
                                batch.iter().map(|&i| &encodings[i]).collect();
                            done.extend(batch.iter().copied().zip(self.forward(&rows)?));
                        }
                        Ok(done)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("an embedding worker panicked"))
                .collect()
        });
        let mut vectors = vec![(Vec::new(), 0); texts.len()];
        for result in results {
            for (i, vector) in result? {
                vectors[i] = (vector, encodings[i].len());
            }
        }
        Ok(vectors)
    }

    /// Runs one batch, padded to its longest text, and pools each row.
    fn forward(&self, rows: &[&Encoding]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let width = rows.iter().map(|e| e.len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(rows.len() * width);
        let mut types = Vec::with_capacity(rows.len() * width);
        let mut mask = Vec::with_capacity(rows.len() * width);
        for row in rows {
            let pad = width - row.len();
            ids.extend(
                row.get_ids()
                    .iter()
                    .copied()
                    .chain(std::iter::repeat_n(0, pad)),
            );
            types.extend(
                row.get_type_ids()
                    .iter()
                    .copied()
                    .chain(std::iter::repeat_n(0, pad)),
            );
            mask.extend(
                row.get_attention_mask()
                    .iter()
                    .copied()
                    .chain(std::iter::repeat_n(0, pad)),
            );
        }
        let shape = (rows.len(), width);
        let tensor = |values: Vec<u32>, what: &str| {
            Tensor::from_vec(values, shape, &self.device).map_err(EmbedError::tensor(what))
        };
        let ids = tensor(ids, "the token ids")?;
        let types = tensor(types, "the token types")?;
        let mask = tensor(mask, "the attention mask")?;
        let hidden = self
            .model
            .forward(&ids, &types, Some(&mask))
            .map_err(EmbedError::tensor("running BERT"))?;
        pool(&hidden, &mask).map_err(EmbedError::tensor("pooling"))
    }
}

/// sentence-transformers' mean pooling and normalisation: the average of the token vectors
/// the mask keeps (padding excluded), divided by its length (at least 1e-12, as
/// `torch.nn.functional.normalize`).
fn pool(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Vec<Vec<f32>>> {
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let kept = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
    let mean = summed.broadcast_div(&kept)?;
    let length = mean
        .sqr()?
        .sum_keepdim(1)?
        .sqrt()?
        .clamp(1e-12f32, f32::MAX)?;
    mean.broadcast_div(&length)?.to_vec2()
}

/// The cosine of two vectors (1 for the same direction).
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let norm = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}
