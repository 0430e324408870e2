//! Reply parsing: a model's reply to a candidate (code or values), scatter directions or
//! scout insights, or a [`ReplyError`] worded to be sent back to the model.
//!
//! Accepted forms:
//! - OPTO JSON `{"reasoning": ..., "suggestion": {name: value}}` (fences and surrounding text
//!   tolerated; `TERMINATE` means no change). Values are type-checked against the task's
//!   [`VariableSpec`]s and clamped to bounds, each clamp noted in [`CandidateUpdate::notes`].
//! - A fenced code block with the full file: the tag picks the file (`rust` -> `main.rs`,
//!   `c` -> `main.c`, `wat` -> `main.wat`, `text` -> `input.txt` where allowed; an untagged
//!   block counts as the task's only language). With several, the last complete block of an
//!   allowed language wins.
//! - SEARCH/REPLACE edits on the parent's file (exact match, then whitespace-tolerant).
//!
//! Parsing never panics, whatever the bytes (a fuzz test checks it).

mod code;
mod edits;
mod error;
mod opto;
mod params;

use hone_sandbox::Language;
use hone_tasks::{Candidate, TaskKind, VariableSpec};

pub use code::{BlockTarget, CodeBlock, INPUT_FILE, code_blocks, is_candidate_file, target_of};
pub use edits::{Edit, apply_edits, has_edits, parse_edits};
pub use error::ReplyError;
pub use opto::{OptoReply, parse_opto};
pub use params::{ClampNote, ClampReason, ParamsUpdate, apply_suggestion, typed as variable_value};

/// What the prompt asked the model to answer (and so how to parse the reply).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum ReplyFormat {
    /// A full file in a fenced block, or (when `edits`) SEARCH/REPLACE blocks on the parent.
    Code { edits: bool },
    /// OPTO JSON over the task's variables.
    Params,
    /// A JSON list of `k` improvement directions (forest scatter).
    Directions { k: usize },
    /// The rewritten insights text (forest scout).
    Insights,
}

/// What the parser needs to know about the task and the parent.
#[derive(Clone, Copy, Debug)]
pub struct ReplyContext<'a> {
    pub kind: TaskKind,
    /// Languages a program may be written in (empty for params tasks).
    pub languages: &'a [Language],
    /// The candidate being refined (`None` for drafts).
    pub parent: Option<&'a Candidate>,
    /// The task's variables (params tasks).
    pub variables: &'a [VariableSpec],
    /// Whether a literal `input.txt` is a valid candidate (counterexample tasks).
    pub allow_input_file: bool,
}

/// A reply that produced a candidate.
#[derive(Clone, Debug, PartialEq)]
pub struct CandidateUpdate {
    pub candidate: Candidate,
    /// The model's reasoning, when it gave one (OPTO `reasoning`).
    pub reasoning: String,
    /// Changes the parser made, for the next prompt's feedback (clamps, rounding, edits).
    pub notes: Vec<String>,
    /// The clamps of a params suggestion.
    pub clamps: Vec<ClampNote>,
}

/// A usable reply.
#[derive(Clone, Debug, PartialEq)]
pub enum ParsedReply {
    Candidate(CandidateUpdate),
    /// The model said nothing should change (TERMINATE, or an empty suggestion).
    NoChange {
        reasoning: String,
    },
    Directions(Vec<String>),
    Insights(String),
}

/// Parses a reply in the given format.
pub fn parse_reply(
    text: &str,
    format: ReplyFormat,
    context: &ReplyContext<'_>,
) -> Result<ParsedReply, ReplyError> {
    match format {
        ReplyFormat::Params => parse_params_reply(text, context),
        ReplyFormat::Code { edits } => {
            parse_code_reply(text, edits, context).map(ParsedReply::Candidate)
        }
        ReplyFormat::Directions { k } => parse_directions(text, k).map(ParsedReply::Directions),
        ReplyFormat::Insights => parse_insights(text).map(ParsedReply::Insights),
    }
}

/// An OPTO reply applied over the parent's values.
pub fn parse_params_reply(
    text: &str,
    context: &ReplyContext<'_>,
) -> Result<ParsedReply, ReplyError> {
    let reply = parse_opto(text)?;
    let Some(suggestion) = reply.suggestion.filter(|s| !s.is_empty()) else {
        return Ok(ParsedReply::NoChange {
            reasoning: reply.reasoning,
        });
    };
    let base = context.parent.cloned().unwrap_or_default();
    let update = apply_suggestion(&suggestion, context.variables, &base.values)?;
    let candidate = Candidate {
        files: base.files,
        values: update.values,
    };
    Ok(ParsedReply::Candidate(CandidateUpdate {
        candidate,
        reasoning: reply.reasoning,
        notes: update.clamps.iter().map(|c| c.to_string()).collect(),
        clamps: update.clamps,
    }))
}

fn allowed_names(context: &ReplyContext<'_>) -> (String, String) {
    let mut names: Vec<&str> = context.languages.iter().map(|l| l.name()).collect();
    if context.allow_input_file {
        names.push("text");
    }
    let first = names.first().copied().unwrap_or("text").to_string();
    (names.join(", "), first)
}

/// A code reply (full file or edits) applied to the parent.
pub fn parse_code_reply(
    text: &str,
    allow_edits: bool,
    context: &ReplyContext<'_>,
) -> Result<CandidateUpdate, ReplyError> {
    if text.trim().is_empty() {
        return Err(ReplyError::Empty);
    }
    if allow_edits && has_edits(text) {
        return apply_reply_edits(text, context);
    }
    let blocks = code_blocks(text);
    let file_of = |block: &CodeBlock| -> Option<&'static str> {
        match target_of(&block.tag) {
            BlockTarget::Language(language) if context.languages.contains(&language) => {
                Some(language.file_name())
            }
            BlockTarget::Input if context.allow_input_file => Some(INPUT_FILE),
            BlockTarget::Untagged => match context.languages {
                [only] if !context.allow_input_file => Some(only.file_name()),
                [] if context.allow_input_file => Some(INPUT_FILE),
                _ => None,
            },
            _ => None,
        }
    };
    let chosen = blocks.iter().rev().find_map(|b| {
        if b.complete {
            file_of(b).map(|f| (f, b))
        } else {
            None
        }
    });
    let Some((file, block)) = chosen else {
        let (allowed, first) = allowed_names(context);
        if blocks.last().is_some_and(|b| !b.complete) {
            return Err(ReplyError::UnclosedCodeBlock);
        }
        if let Some(other) = blocks.iter().rev().find(|b| !b.tag.is_empty()) {
            return Err(ReplyError::LanguageNotAllowed {
                tag: other.tag.clone(),
                allowed,
            });
        }
        return Err(ReplyError::NoCodeBlock { allowed, first });
    };
    let mut candidate = context.parent.cloned().unwrap_or_default();
    candidate.files.retain(|name, _| !is_candidate_file(name));
    candidate.files.insert(file.to_string(), block.body.clone());
    let mut notes = Vec::new();
    if blocks
        .iter()
        .filter(|b| b.complete && file_of(b).is_some())
        .count()
        > 1
    {
        notes.push(format!(
            "the reply had several code blocks; the last one was used as {file}"
        ));
    }
    Ok(CandidateUpdate {
        candidate,
        reasoning: String::new(),
        notes,
        clamps: Vec::new(),
    })
}

fn apply_reply_edits(
    text: &str,
    context: &ReplyContext<'_>,
) -> Result<CandidateUpdate, ReplyError> {
    let edits = parse_edits(text)?;
    let Some(parent) = context.parent else {
        return Err(ReplyError::NoEditTarget {
            detail: " (this is a first draft)".into(),
        });
    };
    let targets: Vec<(&String, &String)> = parent
        .files
        .iter()
        .filter(|(name, _)| is_candidate_file(name))
        .collect();
    let (name, source) = match targets.as_slice() {
        [] => {
            return Err(ReplyError::NoEditTarget {
                detail: " (the current candidate has no program file)".into(),
            });
        }
        [only] => *only,
        several => {
            // Several files: the one the first edit matches.
            let first = edits.first().map(std::slice::from_ref).unwrap_or(&[]);
            match several
                .iter()
                .find(|(name, source)| apply_edits(source, first, name).is_ok())
            {
                Some(found) => *found,
                None => several[0],
            }
        }
    };
    let edited = apply_edits(source, &edits, name)?;
    let mut candidate = parent.clone();
    candidate.files.insert(name.clone(), edited);
    let notes = vec![format!(
        "{} SEARCH/REPLACE edit(s) applied to {name}",
        edits.len()
    )];
    Ok(CandidateUpdate {
        candidate,
        reasoning: String::new(),
        notes,
        clamps: Vec::new(),
    })
}

/// A JSON list of directions (strings, or objects with a `direction`/`description`/`idea`
/// field), tolerant of fences and surrounding text. Up to `k` non-empty distinct entries.
pub fn parse_directions(text: &str, k: usize) -> Result<Vec<String>, ReplyError> {
    if text.trim().is_empty() {
        return Err(ReplyError::Empty);
    }
    let mut directions: Vec<String> = Vec::new();
    for (start, _) in text.match_indices('[').take(64) {
        let mut stream =
            serde_json::Deserializer::from_str(&text[start..]).into_iter::<serde_json::Value>();
        if let Some(Ok(serde_json::Value::Array(items))) = stream.next() {
            for item in items {
                let entry = match item {
                    serde_json::Value::String(s) => Some(s),
                    serde_json::Value::Object(map) => ["direction", "description", "idea", "text"]
                        .iter()
                        .find_map(|key| map.get(*key).and_then(|v| v.as_str()).map(str::to_string)),
                    _ => None,
                };
                if let Some(entry) = entry
                    .map(|e| e.trim().to_string())
                    .filter(|e| !e.is_empty())
                    && !directions.contains(&entry)
                {
                    directions.push(entry);
                }
            }
            if !directions.is_empty() {
                break;
            }
        }
    }
    if directions.is_empty() {
        return Err(ReplyError::NoDirections {
            k,
            detail: "; none was found in the reply".into(),
        });
    }
    directions.truncate(k.max(1));
    Ok(directions)
}

/// The insights text: the reply without surrounding fences. A reply holding a program (a
/// block tagged with a language) is not insights.
pub fn parse_insights(text: &str) -> Result<String, ReplyError> {
    let blocks = code_blocks(text);
    if let Some(program) = blocks
        .iter()
        .find(|b| matches!(target_of(&b.tag), BlockTarget::Language(_)))
    {
        return Err(ReplyError::InsightsAreCode {
            tag: program.tag.clone(),
        });
    }
    let body = match blocks.as_slice() {
        [only] if only.complete && text.trim_start().starts_with("```") => only.body.clone(),
        _ => text.to_string(),
    };
    let body = body.trim();
    if body.is_empty() {
        Err(ReplyError::NoInsights)
    } else {
        Ok(body.to_string())
    }
}

/// A JSON value shortened for an error message.
pub(crate) fn short_json(value: &serde_json::Value) -> String {
    crate::llm::excerpt(&value.to_string(), 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context<'a>(languages: &'a [Language], parent: Option<&'a Candidate>) -> ReplyContext<'a> {
        ReplyContext {
            kind: TaskKind::Efficiency,
            languages,
            parent,
            variables: &[],
            allow_input_file: false,
        }
    }

    #[test]
    fn last_complete_allowed_block_wins() {
        let reply = "First try:\n```c\nint a;\n```\nBetter:\n```python\nprint(1)\n```\n```c\nint b;\n```\n```c\nint c;";
        let update = parse_code_reply(reply, true, &context(&[Language::C], None));
        let update = update.map(|u| u.candidate.files).unwrap_or_default();
        assert_eq!(update.get("main.c").map(String::as_str), Some("int b;\n"));
    }

    #[test]
    fn switching_language_drops_the_old_file() {
        let mut parent = Candidate::from_file("main.c", "int main(){}\n");
        parent.files.insert("notes.md".into(), "keep".into());
        let reply = "```rust\nfn main() {}\n```";
        let languages = [Language::C, Language::Rust];
        let files = parse_code_reply(reply, true, &context(&languages, Some(&parent)))
            .map(|u| u.candidate.files)
            .unwrap_or_default();
        assert_eq!(files.keys().collect::<Vec<_>>(), ["main.rs", "notes.md"]);
    }

    #[test]
    fn cpp_blocks_and_edits_rewrite_main_cpp() {
        let cpp = [Language::Cpp];
        for tag in ["cpp", "c++", "cc", "CPP"] {
            let reply = format!("Faster:\n```{tag}\nint main() {{}}\n```\n");
            let files = parse_code_reply(&reply, true, &context(&cpp, None))
                .map(|u| u.candidate.files)
                .unwrap_or_default();
            assert_eq!(
                files.get("main.cpp").map(String::as_str),
                Some("int main() {}\n"),
                "{tag}"
            );
        }
        // Untagged, with C++ the only language.
        let files = parse_code_reply("```\nint main() {}\n```", true, &context(&cpp, None))
            .map(|u| u.candidate.files)
            .unwrap_or_default();
        assert!(files.contains_key("main.cpp"));
        // A C++ block where only C is allowed, and the other way round.
        assert!(matches!(
            parse_code_reply(
                "```cpp\nint main() {}\n```",
                true,
                &context(&[Language::C], None)
            ),
            Err(ReplyError::LanguageNotAllowed { .. })
        ));
        assert!(matches!(
            parse_code_reply("```c\nint main() {}\n```", true, &context(&cpp, None)),
            Err(ReplyError::LanguageNotAllowed { .. })
        ));
        let parent = Candidate::from_file("main.cpp", "constexpr int K = 3;\nint main() {}\n");
        let edit = "<<<<<<< SEARCH\nconstexpr int K = 3;\n=======\nconstexpr int K = 4;\n>>>>>>> REPLACE\n";
        let files = parse_code_reply(edit, true, &context(&cpp, Some(&parent)))
            .map(|u| u.candidate.files)
            .unwrap_or_default();
        assert_eq!(
            files.get("main.cpp").map(String::as_str),
            Some("constexpr int K = 4;\nint main() {}\n")
        );
    }

    #[test]
    fn code_errors() {
        let c = [Language::C];
        assert_eq!(
            parse_code_reply("```c\nint x;\n", true, &context(&c, None)),
            Err(ReplyError::UnclosedCodeBlock)
        );
        assert!(matches!(
            parse_code_reply("```python\nx\n```", true, &context(&c, None)),
            Err(ReplyError::LanguageNotAllowed { .. })
        ));
        assert!(matches!(
            parse_code_reply("I would use a heap.", true, &context(&c, None)),
            Err(ReplyError::NoCodeBlock { .. })
        ));
        let edit = "<<<<<<< SEARCH\nint x;\n=======\nint y;\n>>>>>>> REPLACE\n";
        assert!(matches!(
            parse_code_reply(edit, true, &context(&c, None)),
            Err(ReplyError::NoEditTarget { .. })
        ));
        let parent = Candidate::from_file("main.c", "int x;\n");
        let files = parse_code_reply(edit, true, &context(&c, Some(&parent)))
            .map(|u| u.candidate.files)
            .unwrap_or_default();
        assert_eq!(files.get("main.c").map(String::as_str), Some("int y;\n"));
    }

    #[test]
    fn directions_and_insights() {
        let reply = "Ideas:\n```json\n[\"use a heap\", {\"direction\": \"memoize\"}, \"use a heap\", \"\"]\n```";
        assert_eq!(
            parse_directions(reply, 3).ok(),
            Some(vec!["use a heap".to_string(), "memoize".to_string()])
        );
        assert!(parse_directions("no list", 3).is_err());
        assert_eq!(
            parse_insights("```\n- a\n- b\n```").ok().as_deref(),
            Some("- a\n- b")
        );
        assert_eq!(parse_insights("  "), Err(ReplyError::NoInsights));
        assert_eq!(
            parse_insights("Here:\n```c\nint main(void) { return 0; }\n```\n"),
            Err(ReplyError::InsightsAreCode { tag: "c".into() })
        );
    }
}
