//! Candidates that try to game the score: for every bundled efficiency task, one that
//! special-cases the visible tests (prints their known answers, runs the honest fast program
//! on anything else) must gain nothing on the private score, which a run reports; and the
//! private tests it is measured on are generated, fresh, and big enough to measure.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hone_sandbox::{Language, Sandbox, SandboxConfig};
use hone_tasks::Task;
use hone_tasks::testing::{
    compile, efficiency_cheater, efficiency_reference, efficiency_tests, trusted_limits,
};

fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let config = SandboxConfig {
            cache_dir: Some(std::env::temp_dir().join("hone-test-cache")),
            ..SandboxConfig::default()
        };
        Sandbox::new(config).expect("sandbox")
    })
}

fn library(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("library/efficiency")
        .join(name)
}

/// The cheater's public score beats the honest program's (so it did recognise the visible
/// tests), and its private score does not: it stays valid there (it falls back to the real
/// algorithm) and pays at least the honest program's fuel.
fn special_casing_gains_nothing(name: &str) {
    let dir = library(name);
    let task = Task::load(&dir, sandbox()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let honest = efficiency_reference(&dir).unwrap_or_else(|e| panic!("{e}"));
    let cheater = efficiency_cheater(&dir, sandbox()).unwrap_or_else(|e| panic!("{e}"));

    let honest_public = task.evaluate(&honest);
    let cheater_public = task.evaluate(&cheater);
    assert!(
        honest_public.valid && cheater_public.valid,
        "{name}: honest {} / cheater {}",
        honest_public.feedback,
        cheater_public.feedback
    );
    assert!(
        cheater_public.score > 1.5 * honest_public.score,
        "{name}: the cheater did not recognise the visible tests: public {} vs honest {}",
        cheater_public.score,
        honest_public.score
    );

    let honest_private = task.evaluate_private(&honest).expect("held-out tests");
    let cheater_private = task.evaluate_private(&cheater).expect("held-out tests");
    assert!(
        honest_private.valid,
        "{name}: honest private: {}",
        honest_private.feedback
    );
    assert!(
        cheater_private.score <= honest_private.score,
        "{name}: the cheater's private score {} beats the honest {}",
        cheater_private.score,
        honest_private.score
    );
    eprintln!(
        "cheater/{name}: public {:.1} (honest {:.1}), private {:.2} (honest {:.2})",
        cheater_public.score, honest_public.score, cheater_private.score, honest_private.score
    );
}

/// Reads the whole input and adds up the digits' numbers: about the least a program that
/// reads its input spends.
const READ_ONLY: &str = r#"#include <stdio.h>
static char buf[1 << 24];
int main(void) {
    size_t n = fread(buf, 1, sizeof buf, stdin);
    long long sum = 0, value = 0;
    for (size_t i = 0; i < n; i++) {
        char c = buf[i];
        if (c >= '0' && c <= '9') value = value * 10 + (c - '0');
        else { sum += value; value = 0; }
    }
    printf("%lld\n", sum + value);
    return 0;
}
"#;

/// The private tests include generated ones, from generator seeds the visible tests do not
/// use, and on each the seed spends at least 10x what reading the input costs: the fuel
/// measures the algorithm, not the I/O.
fn hidden_tests_are_fresh_and_big(name: &str) {
    let dir = library(name);
    let tests = |set| efficiency_tests(&dir, sandbox(), set).unwrap_or_else(|e| panic!("{e}"));
    let (visible, hidden) = (tests("visible"), tests("hidden"));
    let seed_of = |line: &str| line.split_whitespace().next().map(str::to_string);
    let visible_seeds: Vec<_> = visible
        .iter()
        .filter(|t| t.generated)
        .filter_map(|t| seed_of(&t.name))
        .collect();
    let generated: Vec<_> = hidden.iter().filter(|t| t.generated).collect();
    assert!(!generated.is_empty(), "{name}: no generated hidden test");
    let seed_path = ["seed.c", "seed.rs", "seed.cpp"]
        .map(|f| dir.join(f))
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name}: no seed"));
    let language = Language::from_path(&seed_path).unwrap_or_else(|| panic!("{name}: seed"));
    let seed_source = std::fs::read_to_string(&seed_path).unwrap_or_else(|e| panic!("{e}"));
    let seed = compile(sandbox(), language, &seed_source, "seed").unwrap_or_else(|e| panic!("{e}"));
    let reader =
        compile(sandbox(), Language::C, READ_ONLY, "reader").unwrap_or_else(|e| panic!("{e}"));
    for test in generated {
        let line_seed = seed_of(&test.name).unwrap_or_default();
        assert!(
            !visible_seeds.contains(&line_seed),
            "{name}: hidden line `{}` reuses a visible generator seed",
            test.name
        );
        let fuel = |program: &hone_sandbox::Program| {
            let outcome = sandbox()
                .run(program, &test.input, &trusted_limits(0))
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(outcome.status.is_ok(), "{name}: {}", outcome.status);
            outcome.fuel_used
        };
        let (seed_fuel, read_fuel) = (fuel(&seed), fuel(&reader));
        eprintln!(
            "hidden/{name} `{}`: {} bytes, seed {seed_fuel} fuel, reading {read_fuel} ({:.0}x)",
            test.name,
            test.input.len(),
            seed_fuel as f64 / read_fuel as f64
        );
        assert!(
            seed_fuel >= 10 * read_fuel,
            "{name}: on hidden `{}` the seed spends {seed_fuel} fuel, reading alone {read_fuel}",
            test.name
        );
    }
}

macro_rules! cheaters {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                hidden_tests_are_fresh_and_big($name);
                special_casing_gains_nothing($name);
            }
        )*

        #[test]
        fn every_bundled_efficiency_task_has_a_cheater_test() {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("library/efficiency");
            let mut found: Vec<String> = std::fs::read_dir(&root)
                .expect("library folder")
                .filter_map(|e| e.ok())
                .filter(|e| e.path().join("task.toml").exists())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            found.sort();
            let mut listed = vec![$($name.to_string()),*];
            listed.sort();
            assert_eq!(found, listed);
        }
    };
}

cheaters! {
    visible_lookup_pair_count => "pair-count",
    visible_lookup_prime_count => "prime-count",
    visible_lookup_lcs => "lcs",
    visible_lookup_matrix_power => "matrix-power",
    visible_lookup_inversions => "inversions",
    visible_lookup_sorting => "sorting",
    visible_lookup_sorting_cpp => "sorting-cpp",
    visible_lookup_fib_mod => "fib-mod",
    visible_lookup_substring_search => "substring-search",
    visible_lookup_range_sum => "range-sum",
    visible_lookup_shortest_paths => "shortest-paths",
}
