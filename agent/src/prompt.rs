//! Prompt rendering: minijinja templates per operator (and task kind) in OPTO sections,
//! embedded at build time and overridable from a directory.
//!
//! Templates live in the repository's `prompts/` folder. For operator `improve` on a
//! `params` task the user message comes from `improve.params.j2` if it exists, else
//! `improve.j2`; the system message from `system.params.j2`, else `system.j2`. A directory
//! given with `--prompts DIR` replaces the embedded template of the same file name (and may
//! add per-kind variants). Rendering is strict: an unknown variable is an error naming the
//! template. Long parts (feedback, code, memory, statement, insights) are cut to a
//! [`PromptBudget`] with a visible marker, never silently.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hone_sandbox::Language;
use hone_tasks::{Candidate, EvalStatus, PromptMaterial, TaskKind, VariableSpec, VariableType};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::llm::{ChatMessage, ChatRequest};
use crate::reply::{INPUT_FILE, ReplyFormat};

/// The templates compiled into the binary: (file name, source).
pub const EMBEDDED_TEMPLATES: &[(&str, &str)] = &[
    ("system.j2", include_str!("../../prompts/system.j2")),
    ("draft.j2", include_str!("../../prompts/draft.j2")),
    (
        "draft.params.j2",
        include_str!("../../prompts/draft.params.j2"),
    ),
    ("improve.j2", include_str!("../../prompts/improve.j2")),
    (
        "improve.params.j2",
        include_str!("../../prompts/improve.params.j2"),
    ),
    ("debug.j2", include_str!("../../prompts/debug.j2")),
    ("crossover.j2", include_str!("../../prompts/crossover.j2")),
    ("scatter.j2", include_str!("../../prompts/scatter.j2")),
    ("scout.j2", include_str!("../../prompts/scout.j2")),
    (
        "task_sections.j2",
        include_str!("../../prompts/task_sections.j2"),
    ),
    ("feedback.j2", include_str!("../../prompts/feedback.j2")),
    ("memory.j2", include_str!("../../prompts/memory.j2")),
    (
        "reply_format.j2",
        include_str!("../../prompts/reply_format.j2"),
    ),
];

/// How a child is asked for: the operator a strategy plans, each with its own prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    /// A seed of the task, evaluated as given (no prompt).
    Seed,
    Draft,
    Improve,
    Debug,
    Crossover,
    Scatter,
    Scout,
}

impl Operator {
    /// The operators a prompt is written for (every one but [`Operator::Seed`]).
    pub const ALL: [Operator; 6] = [
        Operator::Draft,
        Operator::Improve,
        Operator::Debug,
        Operator::Crossover,
        Operator::Scatter,
        Operator::Scout,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operator::Seed => "seed",
            Operator::Draft => "draft",
            Operator::Improve => "improve",
            Operator::Debug => "debug",
            Operator::Crossover => "crossover",
            Operator::Scatter => "scatter",
            Operator::Scout => "scout",
        }
    }

    /// The operator of a stored name.
    pub fn parse(name: &str) -> Option<Operator> {
        std::iter::once(Operator::Seed)
            .chain(Operator::ALL)
            .find(|o| o.name() == name)
    }
}

impl std::fmt::Display for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl ReplyFormat {
    /// What an operator asks for on a task kind: directions for scatter, insights for scout,
    /// OPTO JSON for params tasks, otherwise code (edits allowed when there is a parent file
    /// to edit, i.e. improve and debug).
    pub fn for_operator(operator: Operator, kind: TaskKind, k: usize) -> ReplyFormat {
        match operator {
            Operator::Scatter => ReplyFormat::Directions { k },
            Operator::Scout => ReplyFormat::Insights,
            _ if kind == TaskKind::Params => ReplyFormat::Params,
            Operator::Improve | Operator::Debug => ReplyFormat::Code { edits: true },
            Operator::Seed | Operator::Draft | Operator::Crossover => {
                ReplyFormat::Code { edits: false }
            }
        }
    }
}

/// Character budgets for the long parts of a prompt. A part over budget is cut in the
/// middle (head and tail kept) with a marker saying how much was cut.
#[derive(Clone, Debug, PartialEq)]
pub struct PromptBudget {
    pub feedback_chars: usize,
    /// Per code file.
    pub code_chars: usize,
    /// The whole #Memory section.
    pub memory_chars: usize,
    /// Entries kept in #Memory (the most recent ones: a FIFO).
    pub memory_entries: usize,
    pub statement_chars: usize,
    pub insights_chars: usize,
}

impl Default for PromptBudget {
    fn default() -> PromptBudget {
        PromptBudget {
            feedback_chars: 6_000,
            code_chars: 40_000,
            memory_chars: 8_000,
            memory_entries: 10,
            statement_chars: 20_000,
            insights_chars: 4_000,
        }
    }
}

/// A node as a prompt shows it: its candidate and the summary of its evaluation.
#[derive(Clone, Copy, Debug)]
pub struct NodeView<'a> {
    pub candidate: &'a Candidate,
    pub status: EvalStatus,
    /// `None` when there is no comparable score (invalid candidates).
    pub score: Option<f64>,
    pub feedback: &'a str,
}

/// One past attempt in #Memory.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryEntry {
    /// The values tried (params tasks; empty for code).
    pub values: BTreeMap<String, serde_json::Value>,
    pub status: EvalStatus,
    pub score: Option<f64>,
    pub feedback: String,
}

/// Everything a prompt is rendered from.
#[derive(Clone, Debug)]
pub struct PromptContext<'a> {
    pub operator: Operator,
    pub kind: TaskKind,
    pub task: &'a PromptMaterial,
    pub languages: &'a [Language],
    pub parent: Option<NodeView<'a>>,
    /// The second parent of a crossover.
    pub second_parent: Option<NodeView<'a>>,
    /// Past attempts, oldest first (only the last [`PromptBudget::memory_entries`] are shown).
    pub memory: &'a [MemoryEntry],
    /// The run's insights (forest scout output), shown to later prompts.
    pub insights: &'a str,
    /// Forest scatter: the direction this child implements.
    pub direction: Option<&'a str>,
    /// Scatter: how many directions to ask for.
    pub k: usize,
    /// Notes on the parent from the reply parser (clamped values...), shown in #Feedback.
    pub notes: &'a [String],
    /// Whether a literal `input.txt` is a valid answer (counterexample tasks).
    pub allow_input_file: bool,
    pub reply_format: ReplyFormat,
}

impl<'a> PromptContext<'a> {
    /// A context with no parent, memory or insights, and the operator's default reply format.
    pub fn new(
        operator: Operator,
        kind: TaskKind,
        task: &'a PromptMaterial,
        languages: &'a [Language],
    ) -> PromptContext<'a> {
        PromptContext {
            operator,
            kind,
            task,
            languages,
            parent: None,
            second_parent: None,
            memory: &[],
            insights: "",
            direction: None,
            k: 3,
            notes: &[],
            allow_input_file: kind == TaskKind::Counterexample,
            reply_format: ReplyFormat::for_operator(operator, kind, 3),
        }
    }
}

/// A rendered prompt: the system and user messages, and the template used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedPrompt {
    pub system: String,
    pub user: String,
    /// The user template's file name (e.g. `improve.params.j2`).
    pub template: String,
}

impl RenderedPrompt {
    pub fn messages(&self) -> Vec<ChatMessage> {
        vec![
            ChatMessage::system(&self.system),
            ChatMessage::user(&self.user),
        ]
    }

    /// A chat request for `model` with these messages.
    pub fn request(&self, model: &str) -> ChatRequest {
        ChatRequest::new(model, self.messages())
    }
}

/// Why templates could not be loaded or rendered.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("prompt template `{name}`: {message}")]
    Template { name: String, message: String },

    #[error("cannot read prompt templates from {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("no prompt template for operator `{operator}` (looked for {tried})")]
    Missing { operator: String, tried: String },
}

/// The loaded templates and budgets. Cheap to share by reference; rendering is thread-safe.
pub struct Prompts {
    env: Environment<'static>,
    names: Vec<String>,
    budget: PromptBudget,
}

impl std::fmt::Debug for Prompts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prompts")
            .field("templates", &self.names)
            .field("budget", &self.budget)
            .finish()
    }
}

impl Prompts {
    /// The embedded templates.
    pub fn embedded() -> Result<Prompts, PromptError> {
        Prompts::build(
            EMBEDDED_TEMPLATES
                .iter()
                .map(|(n, s)| (n.to_string(), s.to_string()))
                .collect(),
        )
    }

    /// The embedded templates, with every `*.j2` file of `dir` replacing (or adding) the
    /// template of the same name.
    pub fn with_overrides(dir: &Path) -> Result<Prompts, PromptError> {
        let mut sources: BTreeMap<String, String> = EMBEDDED_TEMPLATES
            .iter()
            .map(|(n, s)| (n.to_string(), s.to_string()))
            .collect();
        let read = |path: &Path, source| PromptError::Read {
            path: path.to_path_buf(),
            source,
        };
        for entry in std::fs::read_dir(dir).map_err(|e| read(dir, e))? {
            let path = entry.map_err(|e| read(dir, e))?.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .filter(|n| n.ends_with(".j2"))
            else {
                continue;
            };
            let name = name.to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| read(&path, e))?;
            sources.insert(name, text);
        }
        Prompts::build(sources)
    }

    fn build(sources: BTreeMap<String, String>) -> Result<Prompts, PromptError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        let names: Vec<String> = sources.keys().cloned().collect();
        for (name, source) in sources {
            env.add_template_owned(name.clone(), source)
                .map_err(|e| PromptError::Template {
                    name: name.clone(),
                    message: describe(&e),
                })?;
        }
        Ok(Prompts {
            env,
            names,
            budget: PromptBudget::default(),
        })
    }

    pub fn with_budget(mut self, budget: PromptBudget) -> Prompts {
        self.budget = budget;
        self
    }

    pub fn budget(&self) -> &PromptBudget {
        &self.budget
    }

    fn pick(&self, base: &str, kind: TaskKind) -> Result<String, PromptError> {
        let specific = format!("{base}.{}.j2", kind.name());
        let general = format!("{base}.j2");
        if self.names.contains(&specific) {
            Ok(specific)
        } else if self.names.contains(&general) {
            Ok(general)
        } else {
            Err(PromptError::Missing {
                operator: base.to_string(),
                tried: format!("{specific}, {general}"),
            })
        }
    }

    /// Renders the system and user messages of a prompt.
    pub fn render(&self, context: &PromptContext<'_>) -> Result<RenderedPrompt, PromptError> {
        // Converted once for both templates (rendering converts a `Serialize` context anew).
        let data = minijinja::Value::from_serialize(TemplateData::new(context, &self.budget));
        let system_name = self.pick("system", context.kind)?;
        let user_name = self.pick(context.operator.name(), context.kind)?;
        let render = |name: &str| -> Result<String, PromptError> {
            let template = self
                .env
                .get_template(name)
                .map_err(|e| PromptError::Template {
                    name: name.to_string(),
                    message: describe(&e),
                })?;
            let text = template.render(&data).map_err(|e| PromptError::Template {
                name: name.to_string(),
                message: describe(&e),
            })?;
            Ok(tidy(&text))
        };
        Ok(RenderedPrompt {
            system: render(&system_name)?,
            user: render(&user_name)?,
            template: user_name,
        })
    }
}

/// A minijinja error with its template, line and cause chain.
fn describe(error: &minijinja::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

/// Trailing spaces removed, runs of blank lines collapsed, one final newline.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `text` cut to `budget` characters: head and tail kept around a visible marker.
pub fn cut(text: &str, budget: usize, what: &str) -> String {
    let total = text.chars().count();
    if total <= budget {
        return text.to_string();
    }
    let head = budget * 2 / 3;
    let tail = budget - head;
    let removed = total - head - tail;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(total - tail).collect();
    format!(
        "{start}\n[... hone cut {removed} characters of {what} here to fit the prompt budget ...]\n{end}"
    )
}

/// `(float) omega=1.5` lines for the variables (values from `values`, else initial).
pub fn variable_lines(
    specs: &[VariableSpec],
    values: &BTreeMap<String, serde_json::Value>,
) -> Vec<String> {
    let mut lines: Vec<String> = specs
        .iter()
        .map(|spec| {
            let kind = match spec.kind {
                VariableType::Float => "float",
                VariableType::Int => "int",
            };
            let value = values
                .get(&spec.name)
                .map(value_text)
                .unwrap_or_else(|| number_text(spec.initial, spec.kind));
            format!("({kind}) {}={value}", spec.name)
        })
        .collect();
    for (name, value) in values {
        if !specs.iter().any(|s| s.name == *name) {
            let kind = match value {
                serde_json::Value::String(_) => "str",
                serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => "int",
                serde_json::Value::Number(_) => "float",
                serde_json::Value::Bool(_) => "bool",
                _ => "json",
            };
            lines.push(format!("({kind}) {name}={}", value_text(value)));
        }
    }
    lines
}

fn value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// How a language is built and run, where it differs from what a contest judge does.
fn language_note(language: Language) -> Option<&'static str> {
    match language {
        Language::Cpp => Some(
            "cpp: clang with libc++, -std=gnu++20 -O2, single-threaded, exceptions disabled (no throw/try); <bits/stdc++.h> is available; clocks (std::chrono, clock(), time()) advance with the instructions executed.",
        ),
        _ => None,
    }
}

fn number_text(value: f64, kind: VariableType) -> String {
    match kind {
        VariableType::Int => format!("{}", value.round() as i64),
        VariableType::Float => serde_json::Value::from(value).to_string(),
    }
}

/// `(code) main.c:` followed by the fenced source, one entry per program file.
fn code_entries(candidate: &Candidate, budget: usize) -> Vec<String> {
    candidate
        .files
        .iter()
        .map(|(name, source)| {
            let tag = match name.rsplit_once('.').map(|(_, e)| e) {
                Some("rs") => "rust",
                Some("c") | Some("h") => "c",
                Some(extension) if Language::Cpp.extensions().contains(&extension) => "cpp",
                Some("wat") => "wat",
                Some("py") => "python",
                _ if name == INPUT_FILE => "text",
                _ => "",
            };
            let source = cut(source.trim_end_matches('\n'), budget, name);
            format!("(code) {name}:\n```{tag}\n{source}\n```")
        })
        .collect()
}

fn score_text(score: Option<f64>) -> Option<String> {
    score.map(|s| {
        if s.is_finite() {
            format!("{s:.6}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
        } else {
            s.to_string()
        }
    })
}

#[derive(Serialize)]
struct NodeData {
    status: String,
    score: Option<String>,
    feedback: String,
}

#[derive(Serialize)]
struct MemoryData {
    variables: Vec<String>,
    status: String,
    score: Option<String>,
    feedback: String,
}

/// What the templates see (strict: every name a template uses is defined here).
#[derive(Serialize)]
struct TemplateData {
    operator: &'static str,
    kind: &'static str,
    objective: String,
    statement: String,
    documentation: String,
    constraints: String,
    inputs: String,
    outputs: String,
    languages: Vec<&'static str>,
    /// What a model should know of how a language is built and run here.
    language_notes: Vec<&'static str>,
    first_language: &'static str,
    variables: Vec<String>,
    variable_names: Vec<String>,
    variable_bounds: Vec<String>,
    code: Vec<String>,
    second_code: Vec<String>,
    parent: Option<NodeData>,
    second_parent: Option<NodeData>,
    notes: Vec<String>,
    memory: Vec<MemoryData>,
    memory_note: String,
    insights: String,
    direction: Option<String>,
    k: usize,
    allow_input_file: bool,
    reply: ReplyFormat,
}

impl TemplateData {
    fn new(context: &PromptContext<'_>, budget: &PromptBudget) -> TemplateData {
        let task = context.task;
        let node = |view: &NodeView<'_>| NodeData {
            status: view.status.as_str().to_string(),
            score: score_text(view.score),
            feedback: cut(view.feedback.trim(), budget.feedback_chars, "feedback"),
        };
        let parent_values = context
            .parent
            .map(|p| p.candidate.values.clone())
            .unwrap_or_default();
        let variables = if task.variables.is_empty() && parent_values.is_empty() {
            Vec::new()
        } else {
            variable_lines(&task.variables, &parent_values)
        };
        let variable_bounds = task
            .variables
            .iter()
            .map(|spec| {
                let kind = match spec.kind {
                    VariableType::Float => "float",
                    VariableType::Int => "int",
                };
                let scale = match spec.scale {
                    hone_tasks::Scale::Linear => "",
                    hone_tasks::Scale::Log => ", log scale",
                };
                let description = if spec.description.is_empty() {
                    String::new()
                } else {
                    format!(": {}", spec.description)
                };
                format!(
                    "{}: {kind} in [{}, {}]{scale}{description}",
                    spec.name,
                    number_text(spec.lower, spec.kind),
                    number_text(spec.upper, spec.kind)
                )
            })
            .collect();
        let (memory, memory_note) = memory_data(context.memory, budget);
        TemplateData {
            operator: context.operator.name(),
            kind: context.kind.name(),
            objective: task.objective.trim().to_string(),
            statement: cut(
                task.statement.trim(),
                budget.statement_chars,
                "the statement",
            ),
            documentation: task.documentation.trim().to_string(),
            constraints: task.constraints.trim().to_string(),
            inputs: task.inputs.trim().to_string(),
            outputs: task.outputs.trim().to_string(),
            languages: context.languages.iter().map(|l| l.name()).collect(),
            language_notes: context
                .languages
                .iter()
                .filter_map(|&l| language_note(l))
                .collect(),
            first_language: context
                .languages
                .first()
                .map(|l| l.name())
                .unwrap_or("text"),
            variables,
            variable_names: task.variables.iter().map(|s| s.name.clone()).collect(),
            variable_bounds,
            code: context
                .parent
                .map(|p| code_entries(p.candidate, budget.code_chars))
                .unwrap_or_default(),
            second_code: context
                .second_parent
                .map(|p| code_entries(p.candidate, budget.code_chars))
                .unwrap_or_default(),
            parent: context.parent.as_ref().map(node),
            second_parent: context.second_parent.as_ref().map(node),
            notes: context.notes.to_vec(),
            memory,
            memory_note,
            insights: cut(
                context.insights.trim(),
                budget.insights_chars,
                "the insights",
            ),
            direction: context.direction.map(|d| d.trim().to_string()),
            k: context.k,
            allow_input_file: context.allow_input_file,
            reply: context.reply_format,
        }
    }
}

/// The last `memory_entries` entries, then the oldest dropped until the section fits
/// `memory_chars`; the note says what was left out.
fn memory_data(memory: &[MemoryEntry], budget: &PromptBudget) -> (Vec<MemoryData>, String) {
    let skip = memory.len().saturating_sub(budget.memory_entries);
    let per_entry = (budget.memory_chars / budget.memory_entries.max(1)).max(200);
    let mut entries: Vec<MemoryData> = memory[skip..]
        .iter()
        .map(|entry| MemoryData {
            variables: variable_lines(&[], &entry.values),
            status: entry.status.as_str().to_string(),
            score: score_text(entry.score),
            feedback: cut(entry.feedback.trim(), per_entry, "feedback"),
        })
        .collect();
    let size = |e: &MemoryData| {
        e.variables.iter().map(|v| v.len() + 2).sum::<usize>() + e.feedback.len() + 40
    };
    let mut dropped = skip;
    while entries.len() > 1 && entries.iter().map(size).sum::<usize>() > budget.memory_chars {
        entries.remove(0);
        dropped += 1;
    }
    let note = if dropped > 0 {
        format!("[... hone left out {dropped} older attempt(s) to fit the prompt budget ...]")
    } else {
        String::new()
    };
    (entries, note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_keeps_head_and_tail_with_marker() {
        let text = "a".repeat(50) + &"b".repeat(50);
        let out = cut(&text, 30, "feedback");
        assert!(
            out.starts_with(&"a".repeat(20)) && out.ends_with(&"b".repeat(10)),
            "{out}"
        );
        assert!(out.contains("cut 70 characters of feedback"), "{out}");
        assert_eq!(cut("short", 30, "x"), "short");
        // Multi-byte characters are never split.
        assert!(cut(&"é".repeat(100), 10, "x").contains("cut 90"));
    }

    #[test]
    fn every_operator_renders_for_every_kind() {
        let prompts = match Prompts::embedded() {
            Ok(prompts) => prompts,
            Err(e) => panic!("{e}"),
        };
        let material = PromptMaterial {
            objective: "Do it.".into(),
            ..PromptMaterial::default()
        };
        let parent = Candidate::from_file("main.c", "int main(){}\n");
        for kind in TaskKind::ALL {
            for operator in Operator::ALL {
                let mut context = PromptContext::new(operator, kind, &material, &[Language::C]);
                let view = NodeView {
                    candidate: &parent,
                    status: EvalStatus::Ok,
                    score: Some(1.0),
                    feedback: "fine",
                };
                if operator != Operator::Draft {
                    context.parent = Some(view);
                }
                if operator == Operator::Crossover {
                    context.second_parent = Some(view);
                }
                let rendered = prompts.render(&context);
                assert!(rendered.is_ok(), "{kind} {operator}: {:?}", rendered.err());
            }
        }
    }

    #[test]
    fn cpp_candidates_are_shown_and_asked_for_as_cpp() {
        let Ok(prompts) = Prompts::embedded() else {
            panic!("embedded prompts")
        };
        let material = PromptMaterial {
            objective: "Place the rectangles.".into(),
            constraints: "n <= 200".into(),
            ..PromptMaterial::default()
        };
        let parent = Candidate::from_file("main.cpp", "int main() {}\n");
        let mut context = PromptContext::new(
            Operator::Improve,
            TaskKind::Heuristic,
            &material,
            &[Language::Cpp],
        );
        context.parent = Some(NodeView {
            candidate: &parent,
            status: EvalStatus::Ok,
            score: Some(1.0),
            feedback: "fine",
        });
        let user = match prompts.render(&context) {
            Ok(rendered) => rendered.user,
            Err(e) => panic!("{e}"),
        };
        assert!(
            user.contains("(code) main.cpp:\n```cpp\nint main() {}\n```"),
            "{user}"
        );
        assert!(user.contains("Languages accepted: cpp."), "{user}");
        assert!(user.contains("exceptions disabled"), "{user}");
        assert!(user.contains("```cpp\n<the whole file>"), "{user}");
    }

    #[test]
    fn unknown_variable_names_the_template() {
        let dir = tempfile::tempdir();
        let Ok(dir) = dir else { return };
        let written = std::fs::write(
            dir.path().join("draft.j2"),
            "#Instruction\n{{ objective }} {{ no_such_thing }}\n",
        );
        assert!(written.is_ok());
        let prompts = Prompts::with_overrides(dir.path());
        let Ok(prompts) = prompts else {
            panic!("override failed")
        };
        let material = PromptMaterial::default();
        let context = PromptContext::new(
            Operator::Draft,
            TaskKind::Efficiency,
            &material,
            &[Language::C],
        );
        let err = prompts
            .render(&context)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("draft.j2") && err.contains("undefined"),
            "{err}"
        );
    }
}
