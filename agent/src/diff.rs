//! Line diffs between candidates: a node against its parent, or any two nodes, for
//! `hone serve` and `hone report`.

use std::collections::BTreeMap;

use hone_store::NodeRecord;
use serde::Serialize;

/// Lines of unchanged context kept around each change.
const CONTEXT: usize = 3;

/// The name under which a candidate's named values are diffed, beside its files.
pub const VALUES_FILE: &str = "values.json";

/// How one file differs between two candidates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileDiff {
    pub file: String,
    pub change: FileChange,
    /// The changed lines with their context; empty when the file is unchanged.
    pub lines: Vec<DiffLine>,
}

/// Whether a file was added, removed, changed or left as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileChange {
    Added,
    Removed,
    Changed,
    Unchanged,
}

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    pub kind: LineKind,
    /// The line without its newline (for a hunk header, `@@ -a,b +c,d @@`).
    pub text: String,
}

/// What a diff line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// The start of a group of changes, with its line numbers.
    Hunk,
    Context,
    Insert,
    Delete,
}

impl LineKind {
    /// The unified-diff prefix of a line of this kind.
    pub fn prefix(self) -> &'static str {
        match self {
            LineKind::Hunk => "",
            LineKind::Context => " ",
            LineKind::Insert => "+",
            LineKind::Delete => "-",
        }
    }
}

/// What a node's candidate is, as files: its code files, and its named values (pretty JSON
/// under [`VALUES_FILE`]) when it has any.
pub fn candidate_files(node: &NodeRecord) -> BTreeMap<String, String> {
    let mut files = node.files.clone();
    if node.values.as_object().is_some_and(|v| !v.is_empty()) {
        let text = serde_json::to_string_pretty(&node.values).unwrap_or_default() + "\n";
        files.insert(VALUES_FILE.into(), text);
    }
    files
}

/// The diff from `old` to `new`, file by file (files in name order).
pub fn files(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Vec<FileDiff> {
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let (before, after) = (old.get(name), new.get(name));
            let change = match (before, after) {
                (None, _) => FileChange::Added,
                (_, None) => FileChange::Removed,
                (Some(a), Some(b)) if a == b => FileChange::Unchanged,
                _ => FileChange::Changed,
            };
            let lines = text(
                before.map(String::as_str).unwrap_or(""),
                after.map(String::as_str).unwrap_or(""),
            );
            FileDiff {
                file: name.clone(),
                change,
                lines,
            }
        })
        .collect()
}

/// The line diff of two texts, in hunks with 3 lines of context.
pub fn text(old: &str, new: &str) -> Vec<DiffLine> {
    let diff = similar::TextDiff::from_lines(old, new);
    let mut lines = Vec::new();
    for group in diff.grouped_ops(CONTEXT) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let (old_start, new_start) = (first.old_range().start, first.new_range().start);
        let old_len = last.old_range().end - old_start;
        let new_len = last.new_range().end - new_start;
        // Unified diffs number an empty side from the line before it.
        let number = |start: usize, len: usize| if len == 0 { start } else { start + 1 };
        lines.push(DiffLine {
            kind: LineKind::Hunk,
            text: format!(
                "@@ -{},{old_len} +{},{new_len} @@",
                number(old_start, old_len),
                number(new_start, new_len)
            ),
        });
        for op in &group {
            for change in diff.iter_changes(op) {
                let kind = match change.tag() {
                    similar::ChangeTag::Equal => LineKind::Context,
                    similar::ChangeTag::Insert => LineKind::Insert,
                    similar::ChangeTag::Delete => LineKind::Delete,
                };
                let value = change.value();
                lines.push(DiffLine {
                    kind,
                    text: value.strip_suffix('\n').unwrap_or(value).to_string(),
                });
            }
        }
    }
    lines
}

/// A diff as unified-diff text (hunk headers and prefixed lines).
pub fn unified(lines: &[DiffLine]) -> String {
    lines
        .iter()
        .map(|l| format!("{}{}\n", l.kind.prefix(), l.text))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_line_is_a_delete_and_an_insert_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\n";
        let diff = text(old, new);
        assert_eq!(
            unified(&diff),
            "@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n"
        );
    }

    #[test]
    fn files_are_added_removed_changed_or_unchanged() {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let old = map(&[("a.c", "x\n"), ("b.c", "y\n"), ("c.c", "same\n")]);
        let new = map(&[("b.c", "z\n"), ("c.c", "same\n"), ("d.c", "new\n")]);
        let diff = files(&old, &new);
        let changes: Vec<(&str, FileChange)> =
            diff.iter().map(|d| (d.file.as_str(), d.change)).collect();
        assert_eq!(
            changes,
            [
                ("a.c", FileChange::Removed),
                ("b.c", FileChange::Changed),
                ("c.c", FileChange::Unchanged),
                ("d.c", FileChange::Added),
            ]
        );
        assert_eq!(unified(&diff[0].lines), "@@ -1,1 +0,0 @@\n-x\n");
        assert_eq!(unified(&diff[3].lines), "@@ -0,0 +1,1 @@\n+new\n");
        assert!(diff[2].lines.is_empty());
    }

    #[test]
    fn identical_texts_have_no_hunks() {
        assert!(text("a\nb\n", "a\nb\n").is_empty());
        assert!(text("", "").is_empty());
    }
}
