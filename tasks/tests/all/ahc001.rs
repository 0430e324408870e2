//! AHC001 against AtCoder's own tools: the generator gives the tools' inputs byte for byte,
//! and the scorer gives `vis`'s score on well-formed and malformed outputs alike (a
//! fixture of outputs scored by the official `vis`; see `ahc001_vis.py` beside it), while
//! `strict_output` reads more strictly and never scores higher.

use hone_tasks::kinds::heuristic::problems::Problem;
use hone_tasks::kinds::heuristic::problems::ahc001::{Ahc001, OutputReading};
use sha2::{Digest, Sha256};

use crate::support::{fixture, library};

const VIS: Ahc001 = Ahc001 {
    reading: OutputReading::Vis,
};
const STRICT: Ahc001 = Ahc001 {
    reading: OutputReading::Strict,
};

#[test]
fn the_generator_gives_the_official_inputs_byte_for_byte() {
    let text = std::fs::read_to_string(fixture("heuristic", "ahc001_official_inputs.sha256"))
        .expect("fixture");
    let mut checked = 0;
    let mut large = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (seed, sha) = line.split_once(' ').expect("`SEED SHA256`");
        let seed: u64 = seed.parse().expect("seed");
        let input = VIS.generate(seed);
        assert_eq!(
            hex::encode(Sha256::digest(input.as_bytes())),
            sha,
            "seed {seed}: hone's input differs from the official generator's:\n{}",
            &input[..input.len().min(200)]
        );
        checked += 1;
        // n >= 164 draws the areas by rejection sampling, below by Floyd's algorithm.
        let n: usize = input
            .lines()
            .next()
            .and_then(|l| l.parse().ok())
            .expect("n");
        large += usize::from(n >= 164);
    }
    assert_eq!(checked, 80);
    assert!(
        large >= 5,
        "both sampling paths covered ({large} large cases)"
    );
}

/// One fixture case: input, output bytes, and what `vis` printed (None: it panicked).
struct Case {
    name: String,
    input: String,
    output: Vec<u8>,
    vis: Option<i64>,
    vis_stderr: String,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixture("heuristic", "ahc001_vis.jsonl")).expect("fixture");
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            let input = match (v["input"].as_str(), v["seed"].as_u64()) {
                (Some(text), None) => text.to_string(),
                (None, Some(seed)) => VIS.generate(seed),
                _ => panic!("`input` or `seed`: {line}"),
            };
            let output = match (v["output"].as_str(), v["output_hex"].as_str()) {
                (Some(text), None) => text.as_bytes().to_vec(),
                (None, Some(hex_text)) => hex::decode(hex_text).expect("hex"),
                _ => panic!("`output` or `output_hex`: {line}"),
            };
            Case {
                name: v["name"].as_str().expect("name").to_string(),
                input,
                output,
                vis: v["vis"].as_i64(),
                vis_stderr: v["vis_stderr"].as_str().unwrap_or("").to_string(),
            }
        })
        .collect()
}

#[test]
fn scores_equal_the_official_vis_on_well_formed_and_malformed_outputs() {
    let cases = cases();
    assert!(cases.len() >= 300, "{} cases", cases.len());
    let (mut positive, mut zero, mut panicked) = (0, 0, 0);
    for case in &cases {
        let ours = VIS.score_stdout(&case.input, &case.output);
        match (case.vis, &ours) {
            // vis panics on what it cannot read; hone rejects it as malformed.
            (None, Err(rejection)) if rejection.malformed => panicked += 1,
            // vis prints 0 for a broken rule; hone rejects it as illegal (the case scores 0).
            (Some(0), Err(rejection)) if !rejection.malformed => zero += 1,
            (Some(score), Ok(ours)) if score == *ours => positive += usize::from(score > 0),
            _ => panic!(
                "{}: vis gave {:?} ({}), hone {ours:?}",
                case.name, case.vis, case.vis_stderr
            ),
        }
    }
    // The fixture exercises each outcome.
    assert!(
        positive >= 50 && zero >= 50 && panicked >= 8,
        "{positive} {zero} {panicked}"
    );
}

#[test]
fn the_strict_reading_never_scores_higher_and_rejects_what_vis_ignores() {
    let mut stricter = 0;
    for case in cases() {
        let vis = VIS.score_stdout(&case.input, &case.output);
        let strict = STRICT.score_stdout(&case.input, &case.output);
        match (&vis, &strict) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", case.name),
            (Err(_), Ok(b)) => panic!("{}: strict scored {b} where vis rejects", case.name),
            (Ok(_), Err(_)) => stricter += 1,
            (Err(_), Err(_)) => {}
        }
    }
    assert!(
        stricter >= 10,
        "{stricter} outputs only the strict reading rejects"
    );
}

/// `strict_output = true` in task.toml reaches the scorer: trailing text that the default
/// (vis) reading ignores fails every case of the strict task.
#[test]
fn strict_output_in_task_toml_reads_strictly() {
    use hone_sandbox::{Sandbox, SandboxConfig};
    use hone_tasks::{Candidate, EvalStatus, Task};

    let sandbox = Sandbox::new(SandboxConfig {
        cache_dir: Some(std::env::temp_dir().join("hone-test-cache")),
        ..SandboxConfig::default()
    })
    .expect("sandbox");
    // 1x1 squares at the points (always legal), then a word vis never reads.
    let candidate = Candidate::from_file(
        "main.rs",
        r#"use std::io::Read;
fn main() {
    let mut t = String::new();
    std::io::stdin().read_to_string(&mut t).unwrap();
    let v: Vec<i64> = t.split_ascii_whitespace().map(|x| x.parse().unwrap()).collect();
    for i in 0..v[0] as usize {
        let (x, y) = (v[1 + 3 * i], v[2 + 3 * i]);
        println!("{} {} {} {}", x, y, x + 1, y + 1);
    }
    println!("done");
}
"#,
    );
    let seed = std::fs::read_to_string(library("heuristic", "ahc001/seed.rs")).expect("seed");
    let mut evaluations = Vec::new();
    for strict in [false, true] {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("task.toml"),
            format!(
                "[task]\nkind = \"heuristic\"\nlanguages = [\"rust\"]\n[heuristic]\nbuiltin = \"ahc001\"\n\
                 seed = \"seed.rs\"\npublic_seeds = [0, 1]\nstrict_output = {strict}\n"
            ),
        )
        .expect("task.toml");
        std::fs::write(dir.path().join("statement.md"), "AHC001.\n").expect("statement");
        std::fs::write(dir.path().join("seed.rs"), &seed).expect("seed");
        let task = Task::load(dir.path(), &sandbox).expect("loads");
        evaluations.push(task.evaluate(&candidate));
    }
    let (vis, strict) = (&evaluations[0], &evaluations[1]);
    assert!(vis.valid && vis.score > 0.0, "{}", vis.feedback);
    assert!(!strict.valid, "{}", strict.feedback);
    assert_eq!(
        strict.status,
        EvalStatus::InvalidOutput,
        "{}",
        strict.feedback
    );
    assert!(strict.feedback.contains("`done`"), "{}", strict.feedback);
}
