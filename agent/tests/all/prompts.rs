//! Rendered prompts, snapshot-tested (review changes to `snapshots/*.snap` like code).

use std::collections::BTreeMap;

use hone_agent::prompt::{MemoryEntry, NodeView, Operator, PromptBudget, PromptContext, Prompts};
use hone_agent::reply::ReplyFormat;
use hone_sandbox::Language;
use hone_tasks::{
    Candidate, EvalStatus, PromptMaterial, Scale, TaskKind, VariableSpec, VariableType,
};

fn prompts() -> Prompts {
    Prompts::embedded().unwrap_or_else(|e| panic!("{e}"))
}

fn efficiency_task() -> PromptMaterial {
    PromptMaterial {
        objective: "Make the program faster (less fuel) while keeping every answer correct.".into(),
        statement: "Given n integers, print their sum modulo 1000000007.".into(),
        documentation:
            "Read from stdin, write to stdout. Cost is fuel: one unit per wasm instruction.".into(),
        constraints: "1 <= n <= 200000. Memory limit 64 MiB.".into(),
        inputs: "n on the first line, then n integers.".into(),
        outputs: "One integer.".into(),
        variables: Vec::new(),
    }
}

fn params_task() -> PromptMaterial {
    PromptMaterial {
        objective: "Choose the SOR relaxation factor and sweep count that minimise iterations."
            .into(),
        statement: "Successive over-relaxation on a sequence of 2-D Poisson systems.".into(),
        documentation: String::new(),
        constraints: String::new(),
        inputs: "A sequence of 8 linear systems (fixed).".into(),
        outputs: "Score = -(total iterations).".into(),
        variables: vec![
            VariableSpec {
                name: "omega".into(),
                kind: VariableType::Float,
                lower: 1.0,
                upper: 2.0,
                scale: Scale::Linear,
                initial: 1.5,
                description: "relaxation factor".into(),
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
        ],
    }
}

const PROGRAM: &str = "#include <stdio.h>\nint main(void) {\n  long n, x, s = 0;\n  scanf(\"%ld\", &n);\n  while (n--) { scanf(\"%ld\", &x); s = (s + x) % 1000000007; }\n  printf(\"%ld\\n\", s);\n  return 0;\n}\n";

#[test]
fn draft_efficiency() {
    let task = efficiency_task();
    let languages = [Language::C, Language::Rust];
    let context = PromptContext::new(Operator::Draft, TaskKind::Efficiency, &task, &languages);
    let rendered = prompts().render(&context).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rendered.template, "draft.j2");
    insta::assert_snapshot!("draft_efficiency_system", rendered.system);
    insta::assert_snapshot!("draft_efficiency_user", rendered.user);
}

#[test]
fn improve_efficiency_with_feedback_and_memory() {
    let task = efficiency_task();
    let languages = [Language::C];
    let parent = Candidate::from_file("main.c", PROGRAM);
    let memory = vec![
        MemoryEntry {
            values: BTreeMap::new(),
            status: EvalStatus::WrongAnswer,
            score: None,
            feedback: "test 3: expected 6, got 5".into(),
        },
        MemoryEntry {
            values: BTreeMap::new(),
            status: EvalStatus::Ok,
            score: Some(1.25),
            feedback: "all 12 tests pass".into(),
        },
    ];
    let mut context =
        PromptContext::new(Operator::Improve, TaskKind::Efficiency, &task, &languages);
    context.parent = Some(NodeView {
        candidate: &parent,
        status: EvalStatus::Ok,
        score: Some(1.0),
        feedback: "all 12 tests pass; fuel 1843221 (seed 1843221)",
    });
    context.memory = &memory;
    let rendered = prompts().render(&context).unwrap_or_else(|e| panic!("{e}"));
    insta::assert_snapshot!("improve_efficiency_user", rendered.user);
}

#[test]
fn debug_heuristic() {
    let task = PromptMaterial {
        objective: "Maximise the score over the public seeds.".into(),
        ..efficiency_task()
    };
    let languages = [Language::Rust];
    let parent = Candidate::from_file(
        "main.rs",
        "fn main() {\n    let v: Vec<u32> = Vec::new();\n    println!(\"{}\", v[0]);\n}\n",
    );
    let mut context = PromptContext::new(Operator::Debug, TaskKind::Heuristic, &task, &languages);
    context.parent = Some(NodeView {
        candidate: &parent,
        status: EvalStatus::RuntimeError,
        score: None,
        feedback: "seed 0: trap: index out of bounds: the len is 0 but the index is 0",
    });
    let rendered = prompts().render(&context).unwrap_or_else(|e| panic!("{e}"));
    insta::assert_snapshot!("debug_heuristic_user", rendered.user);
}

#[test]
fn crossover_pde() {
    let task = PromptMaterial {
        objective: "Write a solver for 1-D periodic advection u_t + 0.1 u_x = 0 with low nRMSE and low cost.".into(),
        ..PromptMaterial::default()
    };
    let languages = [Language::C];
    let a = Candidate::from_file("main.c", "/* upwind */\nint main(void) { return 0; }\n");
    let b = Candidate::from_file("main.c", "/* spectral */\nint main(void) { return 0; }\n");
    let mut context = PromptContext::new(Operator::Crossover, TaskKind::Pde, &task, &languages);
    context.parent = Some(NodeView {
        candidate: &a,
        status: EvalStatus::Ok,
        score: Some(-0.0123),
        feedback: "nRMSE 1.23e-2",
    });
    context.second_parent = Some(NodeView {
        candidate: &b,
        status: EvalStatus::Ok,
        score: Some(-0.004),
        feedback: "nRMSE 4.0e-3, fuel 2x",
    });
    let rendered = prompts().render(&context).unwrap_or_else(|e| panic!("{e}"));
    insta::assert_snapshot!("crossover_pde_user", rendered.user);
}

#[test]
fn scatter_and_scout() {
    let task = efficiency_task();
    let languages = [Language::C];
    let parent = Candidate::from_file("main.c", PROGRAM);
    let mut context =
        PromptContext::new(Operator::Scatter, TaskKind::Efficiency, &task, &languages);
    context.k = 4;
    context.reply_format = ReplyFormat::Directions { k: 4 };
    context.parent = Some(NodeView {
        candidate: &parent,
        status: EvalStatus::Ok,
        score: Some(1.0),
        feedback: "",
    });
    let scatter = prompts().render(&context).unwrap_or_else(|e| panic!("{e}"));
    insta::assert_snapshot!("scatter_efficiency_user", scatter.user);

    let memory = vec![MemoryEntry {
        values: BTreeMap::new(),
        status: EvalStatus::Ok,
        score: Some(1.4),
        feedback: "buffered input".into(),
    }];
    let mut scout = PromptContext::new(Operator::Scout, TaskKind::Efficiency, &task, &languages);
    scout.memory = &memory;
    scout.insights = "- scanf is slow";
    let rendered = prompts().render(&scout).unwrap_or_else(|e| panic!("{e}"));
    insta::assert_snapshot!("scout_efficiency_user", rendered.user);
}

#[test]
fn params_draft_and_improve() {
    let task = params_task();
    let draft = PromptContext::new(Operator::Draft, TaskKind::Params, &task, &[]);
    let rendered = prompts().render(&draft).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rendered.template, "draft.params.j2");
    insta::assert_snapshot!("draft_params_system", rendered.system);
    insta::assert_snapshot!("draft_params_user", rendered.user);

    let mut values = BTreeMap::new();
    values.insert("omega".to_string(), serde_json::json!(1.9));
    values.insert("sweeps".to_string(), serde_json::json!(8));
    let parent = Candidate::from_values(values.clone());
    let memory: Vec<MemoryEntry> = (0..3)
        .map(|i| {
            let mut v = values.clone();
            v.insert("omega".into(), serde_json::json!(1.5 + 0.1 * i as f64));
            MemoryEntry {
                values: v,
                status: EvalStatus::Ok,
                score: Some(-400.0 + 50.0 * i as f64),
                feedback: format!("{} iterations", 400 - 50 * i),
            }
        })
        .collect();
    let notes = vec!["omega=2.3 is above the upper bound; used 2".to_string()];
    let mut improve = PromptContext::new(Operator::Improve, TaskKind::Params, &task, &[]);
    improve.parent = Some(NodeView {
        candidate: &parent,
        status: EvalStatus::Ok,
        score: Some(-250.0),
        feedback: "250 iterations in total",
    });
    improve.memory = &memory;
    improve.notes = &notes;
    let rendered = prompts().render(&improve).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rendered.template, "improve.params.j2");
    insta::assert_snapshot!("improve_params_user", rendered.user);
}

#[test]
fn draft_counterexample_offers_a_literal_input() {
    let task = PromptMaterial {
        objective: "Find an input on which the wrong solution fails.".into(),
        ..PromptMaterial::default()
    };
    let languages = [Language::C];
    let context = PromptContext::new(Operator::Draft, TaskKind::Counterexample, &task, &languages);
    let rendered = prompts().render(&context).unwrap_or_else(|e| panic!("{e}"));
    assert!(rendered.user.contains("```text"), "{}", rendered.user);
    assert!(rendered.system.contains("hunting for bugs"));
}

#[test]
fn long_parts_are_cut_visibly() {
    let task = efficiency_task();
    let languages = [Language::C];
    let feedback = "line of output\n".repeat(1000);
    let program = "int x;\n".repeat(2000);
    let parent = Candidate::from_file("main.c", program);
    let memory: Vec<MemoryEntry> = (0..30)
        .map(|i| MemoryEntry {
            values: BTreeMap::new(),
            status: EvalStatus::Ok,
            score: Some(i as f64),
            feedback: format!("attempt {i}: {}", "x".repeat(500)),
        })
        .collect();
    let budget = PromptBudget {
        feedback_chars: 500,
        code_chars: 1000,
        memory_chars: 2000,
        memory_entries: 10,
        ..PromptBudget::default()
    };
    let mut context =
        PromptContext::new(Operator::Improve, TaskKind::Efficiency, &task, &languages);
    context.parent = Some(NodeView {
        candidate: &parent,
        status: EvalStatus::Ok,
        score: Some(1.0),
        feedback: &feedback,
    });
    context.memory = &memory;
    let rendered = prompts()
        .with_budget(budget)
        .render(&context)
        .unwrap_or_else(|e| panic!("{e}"));
    let user = &rendered.user;
    assert!(
        user.contains("characters of feedback here to fit the prompt budget"),
        "{user}"
    );
    assert!(user.contains("characters of main.c here"), "{user}");
    assert!(
        user.contains("older attempt(s) to fit the prompt budget"),
        "{user}"
    );
    // FIFO: the most recent attempts are the ones kept.
    assert!(
        user.contains("attempt 29:") && !user.contains("attempt 5:"),
        "{user}"
    );
    assert!(user.len() < 9000, "{}", user.len());
}

#[test]
fn a_directory_overrides_templates_by_name() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("improve.j2"),
        "#Instruction\nCUSTOM {{ objective }}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("system.efficiency.j2"), "custom system")
        .unwrap_or_else(|e| panic!("{e}"));
    let prompts = Prompts::with_overrides(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let task = efficiency_task();
    let languages = [Language::C];
    let context = PromptContext::new(Operator::Improve, TaskKind::Efficiency, &task, &languages);
    let rendered = prompts.render(&context).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        rendered
            .user
            .starts_with("#Instruction\nCUSTOM Make the program faster"),
        "{}",
        rendered.user
    );
    assert_eq!(rendered.system, "custom system\n");
    // Other operators keep the embedded template.
    let draft = PromptContext::new(Operator::Draft, TaskKind::Efficiency, &task, &languages);
    assert!(
        prompts
            .render(&draft)
            .map(|r| r.user.contains("#Reply format"))
            .unwrap_or(false)
    );
    // A syntax error names the file.
    std::fs::write(dir.path().join("scout.j2"), "{% if %}").unwrap_or_else(|e| panic!("{e}"));
    let err = Prompts::with_overrides(dir.path())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("scout.j2"), "{err}");
}

#[test]
fn rendered_prompt_becomes_a_request() {
    let task = efficiency_task();
    let languages = [Language::C];
    let context = PromptContext::new(Operator::Draft, TaskKind::Efficiency, &task, &languages);
    let rendered = prompts().render(&context).unwrap_or_else(|e| panic!("{e}"));
    let request = rendered.request("gpt-4o");
    assert_eq!(request.messages.len(), 2);
    assert_eq!(request.messages[1].content, rendered.user);
}
