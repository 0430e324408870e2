//! Generators and scorers built into hone-tasks, named by `builtin = "..."` in task.toml.
//!
//! Each problem generates a case's input from a seed (deterministically: ChaCha20 seeded
//! with the seed) and scores a candidate's output on it, as an AtCoder Heuristic Contest
//! tools folder would with `gen` and `vis`.

pub mod ahc001;
pub mod grid_path;
pub mod tour;

use super::spec::Objective;

/// Why an output scores nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// `true`: the output cannot be read (missing or extra tokens, not a number);
    /// `false`: it reads but breaks a rule (overlap, out of bounds, revisit, ...).
    pub malformed: bool,
    pub message: String,
}

impl Rejection {
    pub fn malformed(message: impl Into<String>) -> Rejection {
        Rejection {
            malformed: true,
            message: message.into(),
        }
    }

    pub fn illegal(message: impl Into<String>) -> Rejection {
        Rejection {
            malformed: false,
            message: message.into(),
        }
    }
}

/// A built-in problem: generator and scorer. Deterministic and thread-safe.
pub trait Problem: Send + Sync {
    /// Whether the raw score is to be maximized or minimized.
    fn objective(&self) -> Objective;
    /// The input of the case with this seed.
    fn generate(&self, seed: u64) -> String;
    /// The raw score of `output` on `input` (an input this problem generated).
    fn score(&self, input: &str, output: &str) -> Result<i64, Rejection>;
    /// The raw score of a program's stdout as it wrote it. By default its bytes are read as
    /// UTF-8 (an invalid sequence becomes U+FFFD) and scored by `score`; a problem whose
    /// contest tool reads bytes differently says how by overriding this.
    fn score_stdout(&self, input: &str, stdout: &[u8]) -> Result<i64, Rejection> {
        self.score(input, &String::from_utf8_lossy(stdout))
    }
}

/// The names `builtin` accepts.
pub const NAMES: [&str; 3] = ["ahc001", "tour", "grid_path"];

/// The names `strict_output = true` applies to: problems from a contest whose own tool
/// reads outputs more loosely than their statement (the others always read strictly).
pub const STRICT_OUTPUT: [&str; 1] = ["ahc001"];

/// The problem named `name`, if built in; `strict_output` as task.toml says (see
/// [`STRICT_OUTPUT`]).
pub fn by_name(name: &str, strict_output: bool) -> Option<Box<dyn Problem>> {
    match name {
        "ahc001" => Some(Box::new(ahc001::Ahc001 {
            reading: if strict_output {
                ahc001::OutputReading::Strict
            } else {
                ahc001::OutputReading::Vis
            },
        })),
        "tour" => Some(Box::new(tour::Tour)),
        "grid_path" => Some(Box::new(grid_path::GridPath)),
        _ => None,
    }
}

/// Reads whitespace-separated integers, naming what is missing or unreadable.
pub(crate) struct Tokens<'a> {
    inner: std::str::SplitAsciiWhitespace<'a>,
    what: &'static str,
}

impl<'a> Tokens<'a> {
    pub(crate) fn new(text: &'a str, what: &'static str) -> Tokens<'a> {
        Tokens {
            inner: text.split_ascii_whitespace(),
            what,
        }
    }

    pub(crate) fn next_token(&mut self, name: &dyn Fn() -> String) -> Result<&'a str, Rejection> {
        self.inner.next().ok_or_else(|| {
            Rejection::malformed(format!("the {} ends before {}", self.what, name()))
        })
    }

    pub(crate) fn int(&mut self, name: &dyn Fn() -> String) -> Result<i64, Rejection> {
        let token = self.next_token(name)?;
        token.parse().map_err(|_| {
            Rejection::malformed(format!(
                "{}: `{}` is not an integer",
                name(),
                crate::checker::trim_for_feedback(token, 40)
            ))
        })
    }

    /// An error if tokens remain.
    pub(crate) fn end(&mut self) -> Result<(), Rejection> {
        match self.inner.next() {
            None => Ok(()),
            Some(token) => Err(Rejection::malformed(format!(
                "the {} has extra tokens after the expected ones, starting with `{}`",
                self.what,
                crate::checker::trim_for_feedback(token, 40)
            ))),
        }
    }
}
