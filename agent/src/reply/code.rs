//! Fenced code blocks: finding them and picking the file they rewrite.

use hone_sandbox::Language;

/// A fenced block of a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeBlock {
    /// The info string's first word, lower-cased (empty when untagged).
    pub tag: String,
    pub body: String,
    /// False when the reply ended before the closing fence.
    pub complete: bool,
}

/// Every fenced block (``` or ~~~, three or more) of `text`, in order.
pub fn code_blocks(text: &str) -> Vec<CodeBlock> {
    let mut blocks = Vec::new();
    let mut open: Option<(char, usize, String, Vec<&str>)> = None;
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let trimmed = line.trim_start();
        match &mut open {
            None => {
                if let Some((fence, count)) = fence_of(trimmed) {
                    let info = trimmed[count * fence.len_utf8()..].trim();
                    let tag = info
                        .split(|c: char| c.is_whitespace() || c == '{' || c == ',')
                        .next()
                        .unwrap_or("");
                    open = Some((fence, count, tag.to_ascii_lowercase(), Vec::new()));
                }
            }
            Some((fence, count, tag, body)) => {
                let closes = fence_of(trimmed).is_some_and(|(f, n)| {
                    f == *fence && n >= *count && trimmed.trim_end().chars().all(|c| c == f)
                });
                if closes {
                    blocks.push(CodeBlock {
                        tag: std::mem::take(tag),
                        body: join(body),
                        complete: true,
                    });
                    open = None;
                } else {
                    body.push(line);
                }
            }
        }
    }
    if let Some((_, _, tag, body)) = open {
        blocks.push(CodeBlock {
            tag,
            body: join(&body),
            complete: false,
        });
    }
    blocks
}

fn join(lines: &[&str]) -> String {
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// The fence character and its run length, if the line starts a fence.
fn fence_of(trimmed: &str) -> Option<(char, usize)> {
    let first = trimmed.chars().next()?;
    if first != '`' && first != '~' {
        return None;
    }
    let count = trimmed.chars().take_while(|&c| c == first).count();
    (count >= 3).then_some((first, count))
}

/// What a block's tag names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockTarget {
    Language(Language),
    /// A literal input (`input.txt`), for counterexample tasks.
    Input,
    Untagged,
    Other,
}

pub fn target_of(tag: &str) -> BlockTarget {
    match tag {
        "rust" | "rs" => BlockTarget::Language(Language::Rust),
        "c" | "h" => BlockTarget::Language(Language::C),
        "cpp" | "c++" | "cc" | "cxx" | "hpp" => BlockTarget::Language(Language::Cpp),
        "wat" | "wast" | "wasm" => BlockTarget::Language(Language::Wat),
        "python" | "py" | "python3" => BlockTarget::Language(Language::Python),
        "text" | "txt" | "input" | "plaintext" | "plain" => BlockTarget::Input,
        "" => BlockTarget::Untagged,
        _ => BlockTarget::Other,
    }
}

/// The file name a candidate's literal input uses.
pub const INPUT_FILE: &str = "input.txt";

/// True for the file names a reply may rewrite (program files and the literal input).
pub fn is_candidate_file(name: &str) -> bool {
    name == INPUT_FILE || Language::ALL.iter().any(|l| l.file_name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_tagged_untagged_and_unclosed_blocks() {
        let text = "intro\n```rust\nfn main() {}\n```\ntext\n````c\nint main() { /* ``` */ }\n````\n```\nraw\n";
        let blocks = code_blocks(text);
        assert_eq!(blocks.len(), 3);
        assert_eq!(
            (
                blocks[0].tag.as_str(),
                blocks[0].body.as_str(),
                blocks[0].complete
            ),
            ("rust", "fn main() {}\n", true)
        );
        assert_eq!(blocks[1].tag, "c");
        assert!(blocks[1].complete);
        assert_eq!((blocks[2].tag.as_str(), blocks[2].complete), ("", false));
    }
}
