//! SEARCH/REPLACE edits: parsing the blocks and applying them (exact, then whitespace-tolerant).

use super::ReplyError;

/// One `<<<<<<< SEARCH` / `=======` / `>>>>>>> REPLACE` block (numbered from 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub block: usize,
    pub search: Vec<String>,
    pub replace: Vec<String>,
}

impl Edit {
    /// The first non-blank SEARCH line, shortened, to name the block in errors.
    pub fn first_line(&self) -> String {
        let line = self
            .search
            .iter()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim())
            .unwrap_or("");
        crate::llm::excerpt(line, 80)
    }
}

fn is_search(line: &str) -> bool {
    let t = line.trim();
    t.starts_with("<<<<<") && t.trim_start_matches('<').trim() == "SEARCH"
}

fn is_divider(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 5 && t.chars().all(|c| c == '=')
}

fn is_replace(line: &str) -> bool {
    let t = line.trim();
    t.starts_with(">>>>>") && t.trim_start_matches('>').trim() == "REPLACE"
}

/// True when the text holds at least one SEARCH marker.
pub fn has_edits(text: &str) -> bool {
    text.lines().any(is_search)
}

/// The edit blocks of a reply, in order. Text outside blocks (prose, fences) is ignored.
pub fn parse_edits(text: &str) -> Result<Vec<Edit>, ReplyError> {
    enum State {
        Outside,
        Search(Vec<String>),
        Replace(Vec<String>, Vec<String>),
    }
    let mut edits = Vec::new();
    let mut state = State::Outside;
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let block = edits.len() + 1;
        state = match state {
            State::Outside if is_search(line) => State::Search(Vec::new()),
            State::Outside => State::Outside,
            State::Search(search) if is_divider(line) => State::Replace(search, Vec::new()),
            State::Search(_) if is_search(line) || is_replace(line) => {
                return Err(ReplyError::MalformedEdit {
                    block,
                    reason: "the `=======` line is missing".into(),
                });
            }
            State::Search(mut search) => {
                search.push(line.to_string());
                State::Search(search)
            }
            State::Replace(search, replace) if is_replace(line) => {
                edits.push(Edit {
                    block,
                    search,
                    replace,
                });
                State::Outside
            }
            State::Replace(..) if is_search(line) => {
                return Err(ReplyError::MalformedEdit {
                    block,
                    reason: "the `>>>>>>> REPLACE` line is missing".into(),
                });
            }
            State::Replace(search, mut replace) => {
                replace.push(line.to_string());
                State::Replace(search, replace)
            }
        };
    }
    let block = edits.len() + 1;
    match state {
        State::Outside => Ok(edits),
        State::Search(_) => Err(ReplyError::MalformedEdit {
            block,
            reason: "the reply ends before `=======`".into(),
        }),
        State::Replace(..) => Err(ReplyError::MalformedEdit {
            block,
            reason: "the reply ends before `>>>>>>> REPLACE`".into(),
        }),
    }
}

fn normalize(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Start indices of the windows of `lines` equal to `search` under `same`.
fn find(lines: &[&str], search: &[&str], same: impl Fn(&str, &str) -> bool) -> Vec<usize> {
    if search.is_empty() || search.len() > lines.len() {
        return Vec::new();
    }
    (0..=lines.len() - search.len())
        .filter(|&start| {
            search
                .iter()
                .enumerate()
                .all(|(j, s)| same(lines[start + j], s))
        })
        .collect()
}

/// Applies the edits in order to `source` (named `file` in errors). Each SEARCH must match
/// exactly one place: first line by line exactly (trailing whitespace ignored), else with
/// whitespace normalised.
pub fn apply_edits(source: &str, edits: &[Edit], file: &str) -> Result<String, ReplyError> {
    let mut text = source.to_string();
    for edit in edits {
        text = apply_one(&text, edit, file)?;
    }
    Ok(text)
}

fn apply_one(source: &str, edit: &Edit, file: &str) -> Result<String, ReplyError> {
    // Blank lines around the SEARCH text are not significant.
    let search: Vec<&str> = {
        let all: Vec<&str> = edit.search.iter().map(|s| s.as_str()).collect();
        let start = all
            .iter()
            .position(|l| !l.trim().is_empty())
            .unwrap_or(all.len());
        let end = all
            .iter()
            .rposition(|l| !l.trim().is_empty())
            .map(|e| e + 1)
            .unwrap_or(start);
        all[start..end].to_vec()
    };
    let trailing_newline = source.ends_with('\n');
    let lines: Vec<&str> = source
        .lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    if search.is_empty() {
        if source.trim().is_empty() {
            return Ok(join(
                &edit.replace.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                true,
            ));
        }
        return Err(ReplyError::MalformedEdit {
            block: edit.block,
            reason: "the SEARCH section is empty; it must hold the exact lines to replace".into(),
        });
    }
    let mut matches = find(&lines, &search, |a, b| a.trim_end() == b.trim_end());
    if matches.is_empty() {
        matches = find(&lines, &search, |a, b| normalize(a) == normalize(b));
    }
    match matches.as_slice() {
        [start] => {
            let mut out: Vec<&str> = lines[..*start].to_vec();
            out.extend(edit.replace.iter().map(|s| s.as_str()));
            out.extend_from_slice(&lines[start + search.len()..]);
            Ok(join(&out, trailing_newline))
        }
        [] => Err(ReplyError::EditNotFound {
            block: edit.block,
            first_line: edit.first_line(),
            file: file.to_string(),
        }),
        several => Err(ReplyError::EditAmbiguous {
            block: edit.block,
            first_line: edit.first_line(),
            file: file.to_string(),
            count: several.len(),
        }),
    }
}

fn join(lines: &[&str], trailing_newline: bool) -> String {
    let mut text = lines.join("\n");
    if trailing_newline && !text.is_empty() {
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str =
        "fn main() {\n    let x = 1;\n    let y = 2;\n    println!(\"{}\", x + y);\n}\n";

    fn edit(search: &str, replace: &str) -> String {
        format!("<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n")
    }

    #[test]
    fn exact_then_tolerant() {
        let reply = format!(
            "Here:\n```rust\n{}```\n",
            edit("    let x = 1;", "    let x = 10;")
        );
        let edits = parse_edits(&reply).unwrap_or_default();
        assert_eq!(edits.len(), 1);
        let out = apply_edits(SOURCE, &edits, "main.rs");
        assert_eq!(
            out.as_deref().ok(),
            Some(SOURCE.replace("x = 1;", "x = 10;").as_str())
        );
        let loose = parse_edits(&edit(
            "let  y = 2;\n  println!(\"{}\", x + y);",
            "    let y = 3;",
        ))
        .unwrap_or_default();
        let out = apply_edits(SOURCE, &loose, "main.rs").unwrap_or_default();
        assert_eq!(out, "fn main() {\n    let x = 1;\n    let y = 3;\n}\n");
    }

    #[test]
    fn errors_name_the_block() {
        let reply = edit("    let x = 1;", "    let x = 5;") + &edit("let z = 3;", "");
        let edits = parse_edits(&reply).unwrap_or_default();
        let err = apply_edits(SOURCE, &edits, "main.rs")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("block 2")
                && err.contains("`let z = 3;`")
                && err.contains("matches nothing"),
            "{err}"
        );
        let dup = "a\nb\na\n";
        let edits = parse_edits(&edit("a", "c")).unwrap_or_default();
        assert!(matches!(
            apply_edits(dup, &edits, "main.c"),
            Err(ReplyError::EditAmbiguous {
                count: 2,
                block: 1,
                ..
            })
        ));
        assert!(matches!(
            parse_edits("<<<<<<< SEARCH\nx\n>>>>>>> REPLACE\n"),
            Err(ReplyError::MalformedEdit { block: 1, .. })
        ));
        assert!(matches!(
            parse_edits("<<<<<<< SEARCH\nx\n=======\ny\n"),
            Err(ReplyError::MalformedEdit { .. })
        ));
    }
}
