//! Output checkers shared by task kinds: exact tokens, float tolerance, YES/NO, or a
//! trusted checker program run in the sandbox.

use serde::{Deserialize, Serialize};

/// How a produced output is compared with the expected one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CheckerSpec {
    /// Whitespace-separated tokens must be equal.
    Tokens,
    /// Tokens equal, except numeric tokens which may differ by `abs` or `rel` tolerance.
    Float {
        #[serde(default = "default_tolerance")]
        abs: f64,
        #[serde(default = "default_tolerance")]
        rel: f64,
    },
    /// Tokens equal, with YES/NO (and any token) compared case-insensitively.
    YesNo,
    /// A trusted checker program (path relative to the task folder; rust, c, cpp or wat). It runs
    /// in the sandbox and reads on stdin: a header line `I E G` with the byte lengths of the
    /// input, the expected output and the produced output, then those three byte strings.
    /// Exit code 0 accepts; anything else rejects, with its stdout as the reason.
    Program { path: String },
}

fn default_tolerance() -> f64 {
    1e-6
}

/// The verdict of a built-in checker.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Accepted,
    Rejected(String),
}

impl Verdict {
    pub fn is_accepted(&self) -> bool {
        matches!(self, Verdict::Accepted)
    }
}

/// Compares `got` with `expected` token by token under a built-in checker.
/// Returns `None` for [`CheckerSpec::Program`], which the caller runs in the sandbox.
pub fn check_builtin(spec: &CheckerSpec, expected: &str, got: &str) -> Option<Verdict> {
    let (abs, rel, fold_case) = match spec {
        CheckerSpec::Tokens => (None, None, false),
        CheckerSpec::Float { abs, rel } => (Some(*abs), Some(*rel), false),
        CheckerSpec::YesNo => (None, None, true),
        CheckerSpec::Program { .. } => return None,
    };
    let mut expected_tokens = expected.split_ascii_whitespace();
    let mut got_tokens = got.split_ascii_whitespace();
    let mut index = 0usize;
    loop {
        index += 1;
        match (expected_tokens.next(), got_tokens.next()) {
            (None, None) => return Some(Verdict::Accepted),
            (Some(e), None) => {
                return Some(Verdict::Rejected(format!(
                    "output ended early: token {index} should be `{}`",
                    excerpt(e)
                )));
            }
            (None, Some(g)) => {
                return Some(Verdict::Rejected(format!(
                    "extra output: token {index} is `{}` where the answer had ended",
                    excerpt(g)
                )));
            }
            (Some(e), Some(g)) => {
                let same = if fold_case {
                    e.eq_ignore_ascii_case(g)
                } else {
                    e == g
                };
                if same {
                    continue;
                }
                if let (Some(abs), Some(rel), Ok(ev), Ok(gv)) =
                    (abs, rel, e.parse::<f64>(), g.parse::<f64>())
                {
                    let diff = (ev - gv).abs();
                    if gv.is_finite() && (diff <= abs || diff <= rel * ev.abs()) {
                        continue;
                    }
                    return Some(Verdict::Rejected(format!(
                        "token {index}: expected {e}, got {g} (difference {diff:.3e} exceeds abs {abs:e} / rel {rel:e})"
                    )));
                }
                return Some(Verdict::Rejected(format!(
                    "token {index}: expected `{}`, got `{}`",
                    excerpt(e),
                    excerpt(g)
                )));
            }
        }
    }
}

/// Builds the stdin of a checker program (see [`CheckerSpec::Program`]).
pub fn checker_program_input(input: &[u8], expected: &[u8], got: &[u8]) -> Vec<u8> {
    let mut out = format!("{} {} {}\n", input.len(), expected.len(), got.len()).into_bytes();
    out.extend_from_slice(input);
    out.extend_from_slice(expected);
    out.extend_from_slice(got);
    out
}

/// The first 60 characters of a token, with a marker when cut.
fn excerpt(token: &str) -> String {
    let mut chars = token.chars();
    let head: String = chars.by_ref().take(60).collect();
    if chars.next().is_some() {
        format!("{head}...")
    } else {
        head
    }
}

/// Cuts a text to about `max` bytes for feedback, keeping the head and saying how much
/// was cut. Never cuts inside a UTF-8 character.
pub fn trim_for_feedback(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}[... {} more bytes cut by hone]",
        &text[..end],
        text.len() - end
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_ignore_whitespace_layout() {
        assert_eq!(
            check_builtin(&CheckerSpec::Tokens, "1 2\n3\n", "1\n2 3"),
            Some(Verdict::Accepted)
        );
        assert!(
            !check_builtin(&CheckerSpec::Tokens, "1 2 3", "1 2")
                .unwrap()
                .is_accepted()
        );
        assert!(
            !check_builtin(&CheckerSpec::Tokens, "1 2", "1 2 3")
                .unwrap()
                .is_accepted()
        );
        assert!(
            !check_builtin(&CheckerSpec::Tokens, "yes", "YES")
                .unwrap()
                .is_accepted()
        );
    }

    #[test]
    fn float_tolerance() {
        let spec = CheckerSpec::Float {
            abs: 1e-6,
            rel: 1e-6,
        };
        assert!(
            check_builtin(&spec, "1.0000000", "1.0000001")
                .unwrap()
                .is_accepted()
        );
        assert!(!check_builtin(&spec, "1.0", "1.1").unwrap().is_accepted());
        assert!(!check_builtin(&spec, "1.0", "nan").unwrap().is_accepted());
        assert!(
            check_builtin(&spec, "1e9", "1.0000000001e9")
                .unwrap()
                .is_accepted()
        );
    }

    #[test]
    fn yes_no_folds_case() {
        assert!(
            check_builtin(&CheckerSpec::YesNo, "YES\nNO", "yes no")
                .unwrap()
                .is_accepted()
        );
        assert!(
            !check_builtin(&CheckerSpec::YesNo, "YES", "NO")
                .unwrap()
                .is_accepted()
        );
    }

    #[test]
    fn trim_marks_cut() {
        let t = trim_for_feedback(&"é".repeat(100), 11);
        assert!(t.contains("more bytes cut"));
    }
}
