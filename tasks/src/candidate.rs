//! The trainable parameters of one proposal: named code files and named values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One proposal: code files (`main.rs`, `main.c`, `main.wat`, or a literal `input.txt`) and/or
/// named values (numbers, strings, JSON). Cheap to clone for small programs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// File name -> contents.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Variable name -> value.
    #[serde(default)]
    pub values: BTreeMap<String, serde_json::Value>,
}

impl Candidate {
    /// A candidate made of one file.
    pub fn from_file(name: impl Into<String>, contents: impl Into<String>) -> Candidate {
        let mut files = BTreeMap::new();
        files.insert(name.into(), contents.into());
        Candidate {
            files,
            values: BTreeMap::new(),
        }
    }

    /// A candidate made of values only.
    pub fn from_values(values: BTreeMap<String, serde_json::Value>) -> Candidate {
        Candidate {
            files: BTreeMap::new(),
            values,
        }
    }

    /// The first file whose name has one of the given extensions, with its name.
    pub fn file_with_extension(&self, extensions: &[&str]) -> Option<(&str, &str)> {
        self.files.iter().find_map(|(name, text)| {
            let ext = name.rsplit_once('.').map(|(_, e)| e)?;
            extensions
                .contains(&ext)
                .then_some((name.as_str(), text.as_str()))
        })
    }

    /// A hash of the candidate that ignores formatting noise: trailing whitespace, blank
    /// lines and line endings in files; key order in values. Two candidates with the same
    /// normalized hash are evaluated once.
    pub fn content_hash(&self) -> String {
        let mut hasher = Sha256::new();
        for (name, text) in &self.files {
            hasher.update(b"file\0");
            hasher.update(name.as_bytes());
            hasher.update(b"\0");
            for line in text.lines() {
                let line = line.trim_end();
                if line.is_empty() {
                    continue;
                }
                hasher.update(line.as_bytes());
                hasher.update(b"\n");
            }
        }
        for (name, value) in &self.values {
            hasher.update(b"value\0");
            hasher.update(name.as_bytes());
            hasher.update(b"\0");
            // serde_json's map is ordered (BTreeMap) without `preserve_order`, so this is canonical.
            hasher.update(value.to_string().as_bytes());
            hasher.update(b"\n");
        }
        hex::encode(hasher.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ignores_trailing_whitespace_and_blank_lines() {
        let a = Candidate::from_file("main.c", "int main() {\n  return 0;\n}\n");
        let b = Candidate::from_file("main.c", "int main() {   \r\n\n  return 0;\n}");
        assert_eq!(a.content_hash(), b.content_hash());
        let c = Candidate::from_file("main.c", "int main() {\n  return 1;\n}\n");
        assert_ne!(a.content_hash(), c.content_hash());
    }

    #[test]
    fn hash_distinguishes_file_names_and_values() {
        let a = Candidate::from_file("main.c", "x");
        let b = Candidate::from_file("main.rs", "x");
        assert_ne!(a.content_hash(), b.content_hash());
        let mut v = BTreeMap::new();
        v.insert("omega".to_string(), serde_json::json!(1.5));
        let c = Candidate::from_values(v.clone());
        v.insert("omega".to_string(), serde_json::json!(1.6));
        assert_ne!(c.content_hash(), Candidate::from_values(v).content_hash());
    }
}
