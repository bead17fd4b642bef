//! A ticket's text, held in shared bytes: the tickets of one batched record slice that
//! record's one buffer instead of each owning five strings. Reading a record then allocates
//! once per record rather than five times per ticket, and the raw archive's encoder takes the
//! slices as they are (perf, before: the processor's `malloc` and the writer's `free` of
//! those strings were a fifth of a stream run's samples). It reads as a `&str` everywhere.

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// UTF-8 text in shared bytes; cloning it shares them.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(Bytes);

impl Text {
    /// The text of `bytes`, or the error saying where they stop being UTF-8.
    pub fn from_utf8(bytes: Bytes) -> Result<Text, std::str::Utf8Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Text(bytes))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Checked when made (the only way in), so this never fails; checking again costs
        // a few nanoseconds on these short texts and keeps the crate free of `unsafe`.
        std::str::from_utf8(&self.0).expect("a Text is UTF-8 by construction")
    }

    /// Its bytes (no check needed, unlike the `str` behind `Deref`).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Its bytes, shared (no copy).
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(Bytes::from(s.into_bytes()))
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text, D::Error> {
        String::deserialize(deserializer).map(Text::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_refuses_bytes_that_are_not_utf8_and_reads_as_the_str_it_was_made_of() {
        assert!(Text::from_utf8(Bytes::from_static(b"\xff\xfe")).is_err());
        let shared = Bytes::from_static("Critique · Haute".as_bytes());
        let text = Text::from_utf8(shared.slice(0..8)).expect("UTF-8");
        assert_eq!(text.as_str(), "Critique");
        assert_eq!(text, Text::from("Critique"));
        assert_eq!(serde_json::to_string(&text).unwrap(), "\"Critique\"");
        let back: Text = serde_json::from_str("\"Critique\"").unwrap();
        assert_eq!(back, text);
    }
}
