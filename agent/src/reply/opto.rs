//! OPTO JSON replies: `{"reasoning": ..., "suggestion": {name: value}}` or `TERMINATE`.

use serde_json::{Map, Value};

use super::ReplyError;

/// Candidate `{` positions tried at most (bounds the work on huge or hostile replies).
const MAX_OBJECT_STARTS: usize = 64;

/// A parsed OPTO reply.
#[derive(Clone, Debug, PartialEq)]
pub struct OptoReply {
    pub reasoning: String,
    /// `None` when the model answered TERMINATE (no change).
    pub suggestion: Option<Map<String, Value>>,
}

/// Parses an OPTO reply, tolerant of code fences around the JSON, text before or after it,
/// and trailing commas. `TERMINATE` (alone, or as the suggestion) means no change.
pub fn parse_opto(text: &str) -> Result<OptoReply, ReplyError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(ReplyError::Empty);
    }
    if trimmed.trim_matches(|c: char| c == '`' || c == '"' || c == '.' || c.is_whitespace())
        == "TERMINATE"
    {
        return Ok(OptoReply {
            reasoning: String::new(),
            suggestion: None,
        });
    }
    let mut first_error: Option<String> = None;
    let mut found_object = false;
    for repaired in [false, true] {
        let source = if repaired {
            remove_trailing_commas(text)
        } else {
            text.to_string()
        };
        for (start, _) in source.match_indices('{').take(MAX_OBJECT_STARTS) {
            let mut stream =
                serde_json::Deserializer::from_str(&source[start..]).into_iter::<Value>();
            match stream.next() {
                Some(Ok(Value::Object(object))) => {
                    found_object = true;
                    if let Some(reply) = from_object(&object)? {
                        return Ok(reply);
                    }
                }
                Some(Err(e)) if first_error.is_none() => first_error = Some(e.to_string()),
                _ => {}
            }
        }
    }
    if found_object {
        return Err(ReplyError::MissingSuggestion);
    }
    if trimmed.contains("TERMINATE") {
        return Ok(OptoReply {
            reasoning: trimmed.replace("TERMINATE", "").trim().to_string(),
            suggestion: None,
        });
    }
    match first_error {
        Some(message) => Err(ReplyError::InvalidJson { message }),
        None => Err(ReplyError::NoJson),
    }
}

/// The reply of an object that has a `suggestion`; `None` for other objects.
fn from_object(object: &Map<String, Value>) -> Result<Option<OptoReply>, ReplyError> {
    let Some(suggestion) = object.get("suggestion") else {
        return Ok(None);
    };
    let reasoning = match object.get("reasoning") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    match suggestion {
        Value::Object(map) => Ok(Some(OptoReply {
            reasoning,
            suggestion: Some(map.clone()),
        })),
        Value::String(s) if s.trim() == "TERMINATE" => Ok(Some(OptoReply {
            reasoning,
            suggestion: None,
        })),
        Value::Null => Ok(Some(OptoReply {
            reasoning,
            suggestion: None,
        })),
        other => Err(ReplyError::SuggestionNotObject {
            found: super::short_json(other),
        }),
    }
}

/// `,}` and `,]` (with whitespace between) become `}` and `]`, outside strings.
fn remove_trailing_commas(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for (i, &c) in chars.iter().enumerate() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        if c == ',' {
            let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
            if matches!(next, Some('}') | Some(']')) {
                continue;
            }
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_fenced_and_chatty() {
        let plain = r#"{"reasoning": "r", "suggestion": {"omega": 1.5}}"#;
        assert_eq!(
            parse_opto(plain)
                .ok()
                .and_then(|r| r.suggestion)
                .map(|s| s.len()),
            Some(1)
        );
        let fenced = "Sure!\n```json\n{\"reasoning\": \"because\", \"suggestion\": {\"omega\": 1.7,}}\n```\nHope this helps {not json}";
        let reply = parse_opto(fenced);
        assert_eq!(
            reply.as_ref().map(|r| r.reasoning.as_str()).ok(),
            Some("because")
        );
        assert_eq!(
            reply
                .ok()
                .and_then(|r| r.suggestion)
                .and_then(|s| s.get("omega").cloned()),
            Some(serde_json::json!(1.7))
        );
    }

    #[test]
    fn terminate_forms() {
        assert_eq!(
            parse_opto("TERMINATE").ok().map(|r| r.suggestion),
            Some(None)
        );
        assert_eq!(
            parse_opto(r#"{"reasoning": "done", "suggestion": "TERMINATE"}"#)
                .ok()
                .map(|r| r.suggestion),
            Some(None)
        );
        assert_eq!(
            parse_opto("I think we are done. TERMINATE")
                .ok()
                .map(|r| r.suggestion),
            Some(None)
        );
    }

    #[test]
    fn errors() {
        assert_eq!(parse_opto("  "), Err(ReplyError::Empty));
        assert_eq!(parse_opto("no idea"), Err(ReplyError::NoJson));
        assert_eq!(
            parse_opto(r#"{"reasoning": "x"}"#),
            Err(ReplyError::MissingSuggestion)
        );
        assert!(matches!(
            parse_opto(r#"{"suggestion": {"a": 1"#),
            Err(ReplyError::InvalidJson { .. })
        ));
        assert!(matches!(
            parse_opto(r#"{"suggestion": [1]}"#),
            Err(ReplyError::SuggestionNotObject { .. })
        ));
    }
}
