//! The offline similarity: MinHash signatures of token shingles of normalised code.
//!
//! Code is normalised to tokens (runs of letters, digits and `_`; every other character that
//! is not whitespace is a token of its own), so layout and indentation do not count while
//! names, numbers and operators do. A shingle is [`SHINGLE`] consecutive tokens; the
//! similarity of two candidates is the Jaccard index of their shingle sets, estimated by
//! [`HASHES`] MinHash values (standard error at most 0.045, about 0.026 near 0.9). Hash
//! functions are fixed, so a signature, and whether a candidate is rejected, is the same on
//! every run and replay.

/// Tokens per shingle.
pub const SHINGLE: usize = 3;

/// MinHash values per signature.
pub const HASHES: usize = 128;

/// A candidate's MinHash signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature(pub Box<[u32; HASHES]>);

impl Signature {
    /// The signature of `text`'s shingles (a text of fewer than [`SHINGLE`] tokens is one
    /// shingle; an empty text has none, and is similar only to another empty text).
    pub fn of(text: &str) -> Signature {
        let tokens = tokens(text);
        let mut minimums = Box::new([u32::MAX; HASHES]);
        let shingles: Box<dyn Iterator<Item = &[&str]>> = if tokens.len() < SHINGLE {
            Box::new(
                (!tokens.is_empty())
                    .then_some(tokens.as_slice())
                    .into_iter(),
            )
        } else {
            Box::new(tokens.windows(SHINGLE))
        };
        for shingle in shingles {
            let base = fnv1a(shingle);
            for (i, minimum) in minimums.iter_mut().enumerate() {
                let h = (mix(base ^ SEEDS[i]) >> 32) as u32;
                if h < *minimum {
                    *minimum = h;
                }
            }
        }
        Signature(minimums)
    }

    /// The estimated Jaccard similarity of the two shingle sets: the share of equal values.
    pub fn similarity(&self, other: &Signature) -> f64 {
        let equal = self
            .0
            .iter()
            .zip(other.0.iter())
            .filter(|(a, b)| a == b)
            .count();
        equal as f64 / HASHES as f64
    }
}

/// The tokens of `text`: identifier and number runs, and single punctuation characters.
pub fn tokens(text: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        let word = c.is_alphanumeric() || c == '_';
        if word {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take() {
            tokens.push(&text[s..i]);
        }
        if !c.is_whitespace() {
            tokens.push(&text[i..i + c.len_utf8()]);
        }
    }
    if let Some(s) = start {
        tokens.push(&text[s..]);
    }
    tokens
}

/// FNV-1a over the tokens, each followed by a separator byte.
fn fnv1a(tokens: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for token in tokens {
        for &byte in token.as_bytes().iter().chain(std::iter::once(&0xffu8)) {
            hash ^= byte as u64;
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// SplitMix64's finaliser: a bijective mix, so each seed gives an independent-looking hash.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// One seed per hash function: SplitMix64's sequence from 0, fixed forever (signatures of
/// stored nodes are recomputed on resume and must not change).
const SEEDS: [u64; HASHES] = seeds();

const fn seeds() -> [u64; HASHES] {
    let mut seeds = [0u64; HASHES];
    let mut state: u64 = 0;
    let mut i = 0;
    while i < HASHES {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        seeds[i] = z ^ (z >> 31);
        i += 1;
    }
    seeds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_ignore_layout_but_keep_names_numbers_and_operators() {
        assert_eq!(
            tokens("for (int i=0;i<n; i++)"),
            [
                "for", "(", "int", "i", "=", "0", ";", "i", "<", "n", ";", "i", "+", "+", ")"
            ]
        );
        assert_eq!(tokens("a  =\n\tb"), tokens("a = b"));
    }

    #[test]
    fn layout_changes_are_identical_and_edits_lower_the_similarity() {
        let code = (0..60)
            .map(|i| format!("int f{i}(int x) {{ return x * {i} + 1; }}\n"))
            .collect::<String>();
        let relaid = code.replace(" ", "  ").replace('\n', "\n\n");
        assert_eq!(
            Signature::of(&code).similarity(&Signature::of(&relaid)),
            1.0
        );
        let one_edit = code.replace("x * 7 + 1", "x * 7 + 2");
        let near = Signature::of(&code).similarity(&Signature::of(&one_edit));
        assert!(near > 0.9 && near < 1.0, "{near}");
        let other = "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }";
        let far = Signature::of(&code).similarity(&Signature::of(other));
        assert!(far < 0.1, "{far}");
    }

    #[test]
    fn the_estimate_follows_the_exact_jaccard_index() {
        // Two sets of 400 distinct shingles sharing 300: Jaccard 300 / 500 = 0.6.
        let words = |range: std::ops::Range<usize>| {
            range
                .map(|i| format!("w{i} x{i} y{i} "))
                .collect::<String>()
        };
        let a = Signature::of(&words(0..400));
        let b = Signature::of(&words(100..500));
        let estimate = a.similarity(&b);
        assert!((estimate - 0.6).abs() < 0.15, "{estimate}");
    }

    #[test]
    fn short_and_empty_texts() {
        assert_eq!(Signature::of("").similarity(&Signature::of("")), 1.0);
        assert_eq!(Signature::of("x").similarity(&Signature::of("y")), 0.0);
        assert_eq!(Signature::of("x y").similarity(&Signature::of("x  y")), 1.0);
    }
}
