//! Heuristic cheaters, on the bundled ahc001, grid-path and tour with their real seeds. One
//! that special-cases the public seeds (recognises their inputs and prints answers tuned
//! offline for each, otherwise runs the honest program) scores above the honest program on
//! the public cases and no higher on the private ones, which never share an input with
//! them and never reach a prompt. Outputs with NaN, Inf, huge or overflowing numbers, extra
//! output or an early exit with code 0 fail their cases with the reason named, or score no
//! higher than the honest program. A probe sees the same surroundings on a case whether it
//! is public or private.

use std::collections::BTreeMap;

use hone_sandbox::Language;
use hone_tasks::kinds::heuristic::Objective;
use hone_tasks::kinds::heuristic::problems::{self, Problem};
use hone_tasks::testing::{compile, lookup_cheater, trusted_limits};
use hone_tasks::{Candidate, EvalStatus, Evaluation, Task};

use super::{Observation, PROBE_EXIT, assert_hidden, host_paths, observations, probe};
use crate::support::{bundled, c, copy_dir, library, rust, sandbox};

/// A bundled heuristic task, its problem and its honest program (the bundled seed).
struct Bundled {
    name: &'static str,
    task: &'static Task,
    problem: Box<dyn Problem>,
    honest: String,
}

fn load(name: &'static str) -> Bundled {
    let dir = library("heuristic", name);
    let manifest: toml::Table = std::fs::read_to_string(dir.join("task.toml"))
        .expect("task.toml")
        .parse()
        .expect("toml");
    let builtin = manifest["heuristic"]["builtin"].as_str().expect("builtin");
    let strict = manifest["heuristic"]
        .get("strict_output")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    Bundled {
        name,
        task: bundled("heuristic", name),
        problem: problems::by_name(builtin, strict).expect("a built-in problem"),
        honest: std::fs::read_to_string(dir.join("seed.rs")).expect("seed.rs"),
    }
}

/// The seeds of the cases an evaluation scored, from its trace.
fn case_seeds(evaluation: &Evaluation) -> Vec<u64> {
    evaluation
        .trace
        .as_array()
        .expect("a trace per case")
        .iter()
        .map(|case| case["seed"].as_u64().expect("seed"))
        .collect()
}

/// `source` with the value of `const NAME: T = VALUE;` replaced.
fn retune(source: &str, name: &str, value: &str) -> String {
    let prefix = format!("const {name}:");
    let mut found = false;
    let lines: Vec<String> = source
        .lines()
        .map(|line| match line.split_once('=') {
            Some((head, tail)) if line.starts_with(&prefix) => {
                found = true;
                let rest = tail.split_once(';').map(|(_, r)| r).unwrap_or("");
                format!("{head}= {value};{rest}")
            }
            _ => line.to_string(),
        })
        .collect();
    assert!(found, "no `{prefix}` in the seed");
    lines.join("\n") + "\n"
}

/// Other tunings of each seed's constants: offline, the cheater keeps whichever scores best
/// on each public case.
fn tunings(name: &str) -> Vec<Vec<(&'static str, &'static str)>> {
    match name {
        "ahc001" => vec![
            vec![("SCALE", "0.6"), ("SHRINK", "0.9")],
            vec![("SCALE", "0.15"), ("SHRINK", "0.6")],
        ],
        "grid-path" => vec![
            vec![("VALUE_POWER", "2.0"), ("DEGREE_WEIGHT", "2.0")],
            vec![("VALUE_POWER", "0.5"), ("DEGREE_WEIGHT", "8.0")],
        ],
        "tour" => vec![vec![("STRIPS", "8")], vec![("STRIPS", "14")]],
        other => panic!("no tunings for {other}"),
    }
}

/// For each public seed: its input, and the best output over the honest program and its
/// other tunings (each run as the evaluator runs it, `random_get` seeded with the case).
fn tuned_answers(bundled: &Bundled, seeds: &[u64]) -> Vec<(String, String)> {
    let mut programs = vec![
        compile(sandbox(), Language::Rust, &bundled.honest, "seed")
            .unwrap_or_else(|e| panic!("{e}")),
    ];
    for tuning in tunings(bundled.name) {
        let source = tuning
            .iter()
            .fold(bundled.honest.clone(), |s, (k, v)| retune(&s, k, v));
        programs.push(
            compile(sandbox(), Language::Rust, &source, "tuning").unwrap_or_else(|e| panic!("{e}")),
        );
    }
    let minimize = bundled.problem.objective() == Objective::Minimize;
    seeds
        .iter()
        .map(|&seed| {
            let input = bundled.problem.generate(seed);
            let best = programs
                .iter()
                .filter_map(|program| {
                    let outcome = sandbox()
                        .run(program, input.as_bytes(), &trusted_limits(seed))
                        .unwrap_or_else(|e| panic!("{e}"));
                    let output = String::from_utf8(outcome.stdout).ok()?;
                    let raw = bundled.problem.score(&input, &output).ok()?;
                    Some((if minimize { -raw } else { raw }, output))
                })
                .max_by_key(|(key, _)| *key)
                .unwrap_or_else(|| panic!("{}: no tuning passes seed {seed}", bundled.name));
            (input, best.1)
        })
        .collect()
}

fn special_casing_the_public_seeds_gains_nothing(name: &'static str) {
    let bundled = load(name);
    let task = bundled.task;
    let honest = rust(&bundled.honest);
    let honest_public = task.evaluate(&honest);
    let honest_private = task.evaluate_private(&honest).expect("private seeds");
    assert!(honest_public.valid && honest_private.valid, "{name}");

    let public_seeds = case_seeds(&honest_public);
    let private_seeds = case_seeds(&honest_private);
    assert!(!public_seeds.is_empty() && private_seeds.len() >= public_seeds.len());
    // Nothing private is public, or shown: no private seed is a public one, no private
    // input equals a public input, and none appears in the prompt.
    let shown = format!(
        "{} {} {} {}",
        task.prompt.statement, task.prompt.inputs, task.prompt.documentation, task.prompt.objective
    );
    let public_inputs: Vec<String> = public_seeds
        .iter()
        .map(|&s| bundled.problem.generate(s))
        .collect();
    for &seed in &private_seeds {
        assert!(
            !public_seeds.contains(&seed),
            "{name}: seed {seed} is public and private"
        );
        let input = bundled.problem.generate(seed);
        assert!(
            !public_inputs.contains(&input),
            "{name}: private seed {seed} repeats a public input"
        );
        let first_lines: String = input.lines().take(3).collect::<Vec<_>>().join("\n");
        assert!(
            !shown.contains(&first_lines),
            "{name}: the prompt shows private seed {seed}'s input"
        );
    }

    let answers = tuned_answers(&bundled, &public_seeds);
    let cheater = lookup_cheater(Language::Rust, &bundled.honest, &answers)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let cheater_public = task.evaluate(&cheater);
    let cheater_private = task.evaluate_private(&cheater).expect("private seeds");
    assert!(
        cheater_public.valid && cheater_private.valid,
        "{name}: {}",
        cheater_public.feedback
    );
    assert!(
        cheater_public.score > honest_public.score,
        "{name}: the cheater did not gain on the public cases: {} vs honest {}",
        cheater_public.score,
        honest_public.score
    );
    assert!(
        cheater_private.score <= honest_private.score,
        "{name}: the cheater's private score {} beats the honest {}",
        cheater_private.score,
        honest_private.score
    );
    eprintln!(
        "cheater/{name}: public {:.4} (honest {:.4}), private {:.4} (honest {:.4})",
        cheater_public.score, honest_public.score, cheater_private.score, honest_private.score
    );
}

#[test]
fn special_casing_ahc001_public_seeds_gains_nothing() {
    special_casing_the_public_seeds_gains_nothing("ahc001");
}

#[test]
fn special_casing_grid_path_public_seeds_gains_nothing() {
    special_casing_the_public_seeds_gains_nothing("grid-path");
}

#[test]
fn special_casing_tour_public_seeds_gains_nothing() {
    special_casing_the_public_seeds_gains_nothing("tour");
}

#[test]
fn every_bundled_heuristic_task_has_a_cheater_test() {
    let names = crate::support::bundled_names("heuristic");
    let (variants, problems): (Vec<&String>, Vec<&String>) = names
        .iter()
        .partition(|n| n.ends_with("-cpp") || n.ends_with("-python"));
    assert_eq!(problems, ["ahc001", "grid-path", "tour"]);
    // A C++ or Python variant is the same problem with another seed: the same generator and
    // scorer, the same public and private seeds, so the tests above cover it.
    let section = |name: &str| {
        let path = library("heuristic", name).join("task.toml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        let table: toml::Table = text.parse().unwrap_or_else(|e| panic!("{e}"));
        table["heuristic"].clone()
    };
    assert_eq!(variants.len(), 4);
    for variant in variants {
        let base = variant.trim_end_matches("-cpp").trim_end_matches("-python");
        let (ours, theirs) = (section(variant), section(base));
        for key in ["builtin", "objective", "public_seeds", "private_seeds"] {
            assert_eq!(ours.get(key), theirs.get(key), "{variant}: {key}");
        }
    }
}

/// A C candidate that ignores its input and prints `text`.
fn prints(text: &str) -> Candidate {
    c(&format!(
        "#include <stdio.h>\nint main(void) {{ fputs({text:?}, stdout); return 0; }}\n"
    ))
}

/// The honest program, then `extra` on stdout.
fn honest_then(honest: &str, extra: &str) -> Candidate {
    let renamed = honest.replacen("fn main()", "fn honest_main()", 1);
    rust(&format!(
        "{renamed}\nfn main() {{\n    honest_main();\n    print!(\"{{}}\", {extra:?});\n}}\n"
    ))
}

/// Each trick either fails every case (invalid, with the scorer's reason for the first
/// case in the feedback) or stays valid scoring no higher than the honest program, on the
/// public and the private cases.
fn output_tricks(name: &'static str, tricks: Vec<(&str, Candidate, Option<&str>)>) {
    let bundled = load(name);
    let task = bundled.task;
    let honest = rust(&bundled.honest);
    let honest_public = task.evaluate(&honest);
    let honest_private = task.evaluate_private(&honest).expect("private seeds");
    for (what, candidate, reason) in tricks {
        for (set, evaluation, bar) in [
            ("public", task.evaluate(&candidate), &honest_public),
            (
                "private",
                task.evaluate_private(&candidate).expect("private seeds"),
                &honest_private,
            ),
        ] {
            match reason {
                Some(reason) => {
                    assert!(
                        !evaluation.valid && evaluation.score == 0.0,
                        "{name}, {what} ({set}): valid with score {}",
                        evaluation.score
                    );
                    assert!(
                        matches!(
                            evaluation.status,
                            EvalStatus::InvalidOutput | EvalStatus::WrongAnswer
                        ),
                        "{name}, {what} ({set}): {}",
                        evaluation.status
                    );
                    assert!(
                        evaluation.feedback.contains(reason),
                        "{name}, {what} ({set}): the feedback does not say `{reason}`:\n{}",
                        evaluation.feedback
                    );
                }
                None => assert!(
                    !evaluation.valid || evaluation.score <= bar.score,
                    "{name}, {what} ({set}): score {} above the honest {}",
                    evaluation.score,
                    bar.score
                ),
            }
        }
    }
}

#[test]
fn ahc001_outputs_with_odd_numbers_or_extra_text_gain_nothing() {
    let honest = load("ahc001").honest;
    output_tricks(
        "ahc001",
        vec![
            ("NaN", prints("nan nan nan nan\n"), Some("`nan` is not an integer")),
            ("Inf", prints("0 0 inf 10000\n"), Some("`inf` is not an integer")),
            ("a float", prints("0 0 1e308 10000\n"), Some("`1e308` is not an integer")),
            (
                "a number beyond 64 bits",
                prints("0 0 99999999999999999999 10000\n"),
                Some("is not an integer (64-bit)"),
            ),
            (
                "the extreme 64-bit numbers",
                prints(&"-9223372036854775808 -9223372036854775808 9223372036854775807 9223372036854775807\n".repeat(200)),
                Some("is out of range"),
            ),
            ("nothing, exit code 0", prints(""), Some("the output ends before")),
            (
                "the whole square for every rectangle",
                prints(&"0 0 10000 10000\n".repeat(200)),
                Some("overlap"),
            ),
            // `vis` never reads past the 4n numbers: the same score as the honest answer.
            ("a verdict after the answer", honest_then(&honest, "\nAccepted 1000000000\n"), None),
            (
                "a second answer after the answer",
                honest_then(&honest, &"0 0 10000 10000\n".repeat(200)),
                None,
            ),
        ],
    );
}

#[test]
fn grid_path_outputs_with_odd_moves_or_extra_text_gain_nothing() {
    let honest = load("grid-path").honest;
    output_tricks(
        "grid-path",
        vec![
            ("NaN", prints("NaN"), Some("`N`; moves are U, D, L, R")),
            ("Inf", prints("inf"), Some("`i`; moves are U, D, L, R")),
            (
                "a huge number",
                prints("1e308"),
                Some("`1`; moves are U, D, L, R"),
            ),
            ("leaving the grid", prints("U"), Some("leaves the grid")),
            ("an endless walk", prints(&"R".repeat(1000)), Some("")),
            (
                "a verdict after the answer",
                honest_then(&honest, "\nOK"),
                Some("`O`; moves are U, D, L, R"),
            ),
            // An empty walk is a legal answer (the start cell alone): valid, and worth less.
            ("nothing, exit code 0", prints(""), None),
            (
                "whitespace after the answer",
                honest_then(&honest, "\n\n  \n"),
                None,
            ),
        ],
    );
}

#[test]
fn tour_outputs_with_odd_numbers_or_extra_text_gain_nothing() {
    let honest = load("tour").honest;
    output_tricks(
        "tour",
        vec![
            ("NaN", prints("nan\n"), Some("`nan` is not an integer")),
            ("Inf", prints("inf\n"), Some("`inf` is not an integer")),
            (
                "a huge number",
                prints("1e308\n"),
                Some("`1e308` is not an integer"),
            ),
            (
                "a number beyond 64 bits",
                prints("18446744073709551616\n"),
                Some("is not an integer"),
            ),
            (
                "a negative city",
                prints("-1\n"),
                Some("city -1 (position 0) is not in"),
            ),
            (
                "nothing, exit code 0",
                prints(""),
                Some("the output ends before"),
            ),
            (
                "a city after the tour",
                honest_then(&honest, "0\n"),
                Some("extra tokens after the expected ones"),
            ),
            (
                "whitespace after the tour",
                honest_then(&honest, "\n \n"),
                None,
            ),
        ],
    );
}

/// The probe's observation on each case of an evaluation, by seed.
fn observed_by_seed(what: &str, evaluation: &Evaluation) -> BTreeMap<u64, Observation> {
    let trace = evaluation.trace.as_array().expect("a trace per case");
    trace
        .iter()
        .map(|case| {
            let seed = case["seed"].as_u64().expect("seed");
            assert_eq!(case["status"], "runtime_error", "{what}: {case}");
            let message = case["message"].as_str().unwrap_or_default();
            assert!(
                message.contains(&format!("exit({PROBE_EXIT})")),
                "{what}: {message}"
            );
            let seen = observations(message);
            assert_eq!(seen.len(), 1, "{what}, seed {seed}: {message}");
            assert_hidden(what, &seen[0]);
            (seed, seen[0].clone())
        })
        .collect()
}

/// Without what depends on the case: `random_get` is seeded with the case's seed, a
/// function of the case like its input (the swapped task below checks it does not depend
/// on whether the case is public or private).
fn without_random(seen: &Observation) -> Observation {
    let mut rest = seen.clone();
    rest.remove("random");
    rest.remove("entropy");
    rest
}

#[test]
fn a_probe_sees_the_same_on_public_and_private_cases() {
    let dir = library("heuristic", "ahc001");
    let task = bundled("heuristic", "ahc001");
    let candidate = probe(&host_paths(&dir, &["task.toml", "statement.md", "seed.rs"]));
    let public = observed_by_seed("ahc001 public", &task.evaluate(&candidate));
    let private = observed_by_seed(
        "ahc001 private",
        &task.evaluate_private(&candidate).expect("private seeds"),
    );
    let first = without_random(public.values().next().expect("a public case"));
    for (seed, seen) in public.iter().chain(&private) {
        assert_eq!(without_random(seen), first, "seed {seed}");
    }

    // The same cases with the roles swapped: a case observes the same whether it is scored
    // publicly or privately, its random numbers included.
    let swapped_dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&dir, swapped_dir.path());
    let manifest = std::fs::read_to_string(dir.join("task.toml")).expect("task.toml");
    let manifest = manifest
        .replace("public_seeds = \"0..15\"", "public_seeds = \"1000..1003\"")
        .replace("private_seeds = \"1000..1030\"", "private_seeds = \"0..3\"");
    assert!(
        manifest.contains("public_seeds = \"1000..1003\""),
        "{manifest}"
    );
    std::fs::write(swapped_dir.path().join("task.toml"), manifest).expect("task.toml");
    let swapped = Task::load(swapped_dir.path(), sandbox()).expect("swapped task");
    let swapped_public = observed_by_seed("swapped public", &swapped.evaluate(&candidate));
    let swapped_private = observed_by_seed(
        "swapped private",
        &swapped.evaluate_private(&candidate).expect("private seeds"),
    );
    for (seed, seen) in swapped_public.iter().chain(&swapped_private) {
        let original = public
            .get(seed)
            .or_else(|| private.get(seed))
            .expect("a bundled case");
        assert_eq!(seen, original, "seed {seed}");
    }
    assert_ne!(
        public[&0]["random"], public[&1]["random"],
        "random_get follows the case"
    );
}
