//! Reply parsing through `parse_reply`, and a fuzz loop: arbitrary bytes never panic.

use std::collections::BTreeMap;

use hone_agent::reply::{ParsedReply, ReplyContext, ReplyError, ReplyFormat, parse_reply};
use hone_sandbox::Language;
use hone_tasks::{Candidate, Scale, TaskKind, VariableSpec, VariableType};
use rand::{Rng, SeedableRng};

fn specs() -> Vec<VariableSpec> {
    vec![
        VariableSpec {
            name: "omega".into(),
            kind: VariableType::Float,
            lower: 1.0,
            upper: 2.0,
            scale: Scale::Linear,
            initial: 1.5,
            description: String::new(),
        },
        VariableSpec {
            name: "sweeps".into(),
            kind: VariableType::Int,
            lower: 1.0,
            upper: 64.0,
            scale: Scale::Log,
            initial: 4.0,
            description: String::new(),
        },
    ]
}

#[test]
fn params_reply_is_checked_and_clamped() {
    let specs = specs();
    let parent = Candidate::from_values(BTreeMap::from([
        ("omega".to_string(), serde_json::json!(1.5)),
        ("sweeps".to_string(), serde_json::json!(4)),
    ]));
    let context = ReplyContext {
        kind: TaskKind::Params,
        languages: &[],
        parent: Some(&parent),
        variables: &specs,
        allow_input_file: false,
    };
    let reply = "Let me think.\n```json\n{\"reasoning\": \"more relaxation\", \"suggestion\": {\"omega\": 2.4, \"sweeps\": 7.6}}\n```";
    match parse_reply(reply, ReplyFormat::Params, &context) {
        Ok(ParsedReply::Candidate(update)) => {
            assert_eq!(
                update.candidate.values.get("omega"),
                Some(&serde_json::json!(2.0))
            );
            assert_eq!(
                update.candidate.values.get("sweeps"),
                Some(&serde_json::json!(8))
            );
            assert_eq!(update.reasoning, "more relaxation");
            assert_eq!(
                update.notes,
                [
                    "omega=2.4 is above the upper bound; used 2",
                    "sweeps=7.6 is not an integer; used 8"
                ]
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        parse_reply("TERMINATE", ReplyFormat::Params, &context),
        Ok(ParsedReply::NoChange { .. })
    ));
    let unknown = parse_reply(
        r#"{"suggestion": {"omega2": 1}}"#,
        ReplyFormat::Params,
        &context,
    );
    assert!(matches!(unknown, Err(ReplyError::UnknownVariable { .. })));
}

#[test]
fn code_reply_full_file_and_edits() {
    let languages = [Language::Rust, Language::C];
    let parent = Candidate::from_file(
        "main.rs",
        "fn main() {\n    let n = 10;\n    println!(\"{}\", n);\n}\n",
    );
    let context = ReplyContext {
        kind: TaskKind::Efficiency,
        languages: &languages,
        parent: Some(&parent),
        variables: &[],
        allow_input_file: false,
    };
    let edit = "Make n bigger:\n<<<<<<< SEARCH\n    let n = 10;\n=======\n    let n = 20;\n>>>>>>> REPLACE\n";
    match parse_reply(edit, ReplyFormat::Code { edits: true }, &context) {
        Ok(ParsedReply::Candidate(update)) => {
            assert_eq!(
                update
                    .candidate
                    .files
                    .get("main.rs")
                    .map(|s| s.contains("let n = 20;")),
                Some(true)
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let bad = "<<<<<<< SEARCH\n    let n = 10;\n=======\n    let n = 20;\n>>>>>>> REPLACE\n<<<<<<< SEARCH\n    let m = 3;\n=======\n>>>>>>> REPLACE\n";
    let err = parse_reply(bad, ReplyFormat::Code { edits: true }, &context)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("block 2") && err.contains("let m = 3;"),
        "{err}"
    );
    let full = "```c\nint main(void) { return 0; }\n```";
    match parse_reply(full, ReplyFormat::Code { edits: true }, &context) {
        Ok(ParsedReply::Candidate(update)) => assert_eq!(
            update.candidate.files.keys().collect::<Vec<_>>(),
            ["main.c"]
        ),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn counterexample_literal_input() {
    let context = ReplyContext {
        kind: TaskKind::Counterexample,
        languages: &[],
        parent: None,
        variables: &[],
        allow_input_file: true,
    };
    match parse_reply(
        "Try this:\n```text\n3\n1 2 3\n```",
        ReplyFormat::Code { edits: false },
        &context,
    ) {
        Ok(ParsedReply::Candidate(update)) => assert_eq!(
            update.candidate.files.get("input.txt").map(String::as_str),
            Some("3\n1 2 3\n")
        ),
        other => panic!("unexpected {other:?}"),
    }
}

/// Valid replies of each kind, mutated below.
const SEEDS: &[&str] = &[
    "{\"reasoning\": \"r\", \"suggestion\": {\"omega\": 1.7, \"sweeps\": 3}}",
    "```json\n{\"suggestion\": {\"omega\": \"1.2\"},}\n```",
    "TERMINATE",
    "```rust\nfn main() { println!(\"é ü 🎉\"); }\n```",
    "<<<<<<< SEARCH\nfn main() {\n=======\nfn main() { // x\n>>>>>>> REPLACE\n",
    "[\"a\", {\"direction\": \"b\"}]",
    "````c\nint main(void){return 0;}\n````\n~~~text\n1 2\n~~~",
];

const FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    "```",
    "~~~",
    "\n",
    "<<<<<<< SEARCH\n",
    "=======\n",
    ">>>>>>> REPLACE\n",
    "TERMINATE",
    ",",
    ":",
    "\\",
    "é",
    "🎉",
    "\r\n",
    "```rust\n",
    "```c\n",
    "suggestion",
    "1e999",
    "-",
    "NaN",
    "\u{0}",
];

fn mutate(rng: &mut impl Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..rng.random_range(1..6) {
        let at = rng.random_range(0..=chars.len());
        match rng.random_range(0..3) {
            0 => {
                let fragment = FRAGMENTS[rng.random_range(0..FRAGMENTS.len())];
                chars.splice(at..at, fragment.chars());
            }
            1 if at < chars.len() => {
                let end = (at + rng.random_range(1..8)).min(chars.len());
                chars.drain(at..end);
            }
            _ => chars.insert(
                at,
                char::from_u32(rng.random_range(0..0x2FFF)).unwrap_or('?'),
            ),
        }
    }
    chars.into_iter().collect()
}

#[test]
fn arbitrary_bytes_never_panic() {
    let specs = specs();
    let languages = [Language::Rust, Language::C, Language::Wat];
    let parent = {
        let mut c = Candidate::from_file("main.rs", "fn main() {\n    println!(\"hi\");\n}\n");
        c.values.insert("omega".into(), serde_json::json!(1.5));
        c
    };
    let formats = [
        ReplyFormat::Params,
        ReplyFormat::Code { edits: true },
        ReplyFormat::Code { edits: false },
        ReplyFormat::Directions { k: 3 },
        ReplyFormat::Insights,
    ];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20240601);
    let mut parsed = 0usize;
    for i in 0..100_000 {
        let text = if i % 2 == 0 {
            let len = rng.random_range(0..200);
            let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            let seed = SEEDS[rng.random_range(0..SEEDS.len())];
            mutate(&mut rng, seed)
        };
        let with_parent = i % 3 != 0;
        let context = ReplyContext {
            kind: if i % 5 == 0 {
                TaskKind::Counterexample
            } else {
                TaskKind::Efficiency
            },
            languages: &languages,
            parent: with_parent.then_some(&parent),
            variables: &specs,
            allow_input_file: i % 5 == 0,
        };
        let format = formats[i % formats.len()];
        if parse_reply(&text, format, &context).is_ok() {
            parsed += 1;
        }
    }
    // Some mutated replies stay valid: the loop exercised the success paths too.
    assert!(parsed > 1000, "{parsed}");
}
