//! A task folder: `task.toml`, its statement, seeds and data, loaded into a [`Task`] whose
//! evaluator scores candidates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hone_sandbox::{Language, Sandbox};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::candidate::Candidate;
use crate::error::TaskError;
use crate::evaluation::Evaluation;

/// The kinds of task hone knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    Efficiency,
    Counterexample,
    Pde,
    Heuristic,
    Params,
    Construction,
}

impl TaskKind {
    pub const ALL: [TaskKind; 6] = [
        TaskKind::Efficiency,
        TaskKind::Counterexample,
        TaskKind::Pde,
        TaskKind::Heuristic,
        TaskKind::Params,
        TaskKind::Construction,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TaskKind::Efficiency => "efficiency",
            TaskKind::Counterexample => "counterexample",
            TaskKind::Pde => "pde",
            TaskKind::Heuristic => "heuristic",
            TaskKind::Params => "params",
            TaskKind::Construction => "construction",
        }
    }
}

impl std::fmt::Display for TaskKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Scores candidates of one task. Implementations are deterministic: the same candidate
/// gives the same evaluation (wall time aside). Thread-safe: evaluations may run in parallel.
pub trait Evaluator: Send + Sync {
    /// The public evaluation: scores a candidate on the cases a prompt and feedback may show
    /// (visible tests, public seeds). What the search and the proposer see.
    fn evaluate(&self, candidate: &Candidate) -> Evaluation;

    /// The private evaluation: scores a candidate on held-out cases that never reach a
    /// prompt, feedback, log or export (hidden generated tests, private seeds). The score a
    /// run reports and ranks by. `None` when the task has no held-out cases (the public
    /// score then stands for the private one).
    fn evaluate_private(&self, candidate: &Candidate) -> Option<Evaluation>;

    /// Whether [`Evaluator::evaluate_private`] can give a result: false when it always
    /// gives `None` (the task has no held-out cases), so a caller need not ask.
    fn has_held_out_cases(&self) -> bool;

    /// The task's source of random valid candidates, when it has one (a counterexample
    /// task's random generator); `None` otherwise.
    fn random_candidates(&self) -> Option<&dyn RandomCandidates> {
        None
    }
}

/// Random valid candidates of a task, for the random-search baseline: what a proposer that
/// knows nothing would try, compared with the model at equal numbers of evaluations.
pub trait RandomCandidates: Send + Sync {
    /// The candidate of `seed`: the same seed always gives the same candidate. An error
    /// means the task's own generator is broken.
    fn random_candidate(&self, seed: u64) -> Result<Candidate, TaskError>;
}

/// The scale of a numeric variable, for optimizers and prompts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    #[default]
    Linear,
    Log,
}

/// The type of a variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VariableType {
    Float,
    Int,
}

/// A trainable value of a params task (shown in the prompt's #Variables section).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: VariableType,
    pub lower: f64,
    pub upper: f64,
    #[serde(default)]
    pub scale: Scale,
    pub initial: f64,
    #[serde(default)]
    pub description: String,
}

/// What the prompts show of a task, in OPTO sections. Each kind fills what applies.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PromptMaterial {
    /// The objective in a sentence or two (#Instruction).
    pub objective: String,
    /// The statement (markdown).
    pub statement: String,
    /// Reference material the model may use: I/O contract, host kernels, helper APIs (#Documentation).
    pub documentation: String,
    /// Limits and rules (#Constraints).
    pub constraints: String,
    /// What the candidate is given (#Inputs).
    pub inputs: String,
    /// What the candidate must produce (#Outputs).
    pub outputs: String,
    /// Trainable values (#Variables), for params tasks.
    pub variables: Vec<VariableSpec>,
}

/// A loaded task: its description, seeds, prompt material and evaluator. Cheap to clone.
#[derive(Clone)]
pub struct Task {
    pub dir: PathBuf,
    pub name: String,
    pub kind: TaskKind,
    pub description: String,
    /// Languages a candidate may be written in (empty for params tasks).
    pub languages: Vec<Language>,
    /// Starting candidates (at least one).
    pub seeds: Vec<Candidate>,
    pub prompt: PromptMaterial,
    /// SHA-256 over the task folder's files (names and contents).
    pub content_hash: String,
    /// task.toml's `[search]` table (empty if absent): search settings the task suggests
    /// (`[search.map_elites] descriptors`), read and checked by the agent, not here.
    pub search: toml::Table,
    evaluator: Arc<dyn Evaluator>,
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("dir", &self.dir)
            .finish()
    }
}

/// How task folders are loaded: the sandbox their programs compile and run in, and the
/// options some kinds need (the hone binary an interactive heuristic tester runs candidates
/// with). Cheap to clone.
#[derive(Clone)]
pub struct TaskLoader {
    sandbox: Sandbox,
    hone_binary: Option<PathBuf>,
}

impl std::fmt::Debug for TaskLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskLoader")
            .field("hone_binary", &self.hone_binary)
            .finish_non_exhaustive()
    }
}

impl TaskLoader {
    /// A loader whose tasks compile and run their programs in `sandbox`, without a hone
    /// binary (an interactive heuristic task then fails to load, naming what is missing).
    pub fn new(sandbox: Sandbox) -> TaskLoader {
        TaskLoader {
            sandbox,
            hone_binary: None,
        }
    }

    /// The hone executable an interactive heuristic tester runs candidates with
    /// (`hone sandbox run --stream`). Checked when a task needs it.
    pub fn with_hone_binary(mut self, path: impl Into<PathBuf>) -> TaskLoader {
        self.hone_binary = Some(path.into());
        self
    }

    /// Loads `dir/task.toml`, checks it strictly and prepares the evaluator (compiling
    /// trusted task programs and, where the kind needs it, measuring the seed).
    pub fn load(&self, dir: &Path) -> Result<Task, TaskError> {
        let manifest_path = dir.join("task.toml");
        let text = read_to_string(&manifest_path)?;
        let manifest: Manifest = toml::from_str(&text).map_err(|e| TaskError::Parse {
            path: manifest_path.clone(),
            message: toml_message(&e),
        })?;
        let header = manifest.task;
        let name = header.name.clone().unwrap_or_else(|| {
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "task".into())
        });
        let statement_path = dir.join(&header.statement);
        let statement = read_to_string(&statement_path).map_err(|_| {
            TaskError::field(
                &manifest_path,
                "task.statement",
                format!(
                    "file `{}` does not exist or cannot be read",
                    header.statement
                ),
            )
        })?;
        let mut languages = Vec::new();
        for (i, l) in header.languages.iter().enumerate() {
            let language = Language::parse(l).ok_or_else(|| {
                TaskError::field(
                    &manifest_path,
                    format!("task.languages[{i}]"),
                    format!(
                        "unknown language `{l}`; accepted: {}",
                        Language::name_list()
                    ),
                )
            })?;
            languages.push(language);
        }
        if header.host_kernels && header.kind == TaskKind::Counterexample {
            return Err(TaskError::field(
                &manifest_path,
                "task.host_kernels",
                "host kernels are not offered to counterexample tasks; remove the key",
            ));
        }
        let section = manifest.sections.get(header.kind.name()).cloned();
        let search = manifest.sections.get(SEARCH_SECTION).cloned();
        for key in manifest.sections.keys() {
            if key != header.kind.name() && key != SEARCH_SECTION {
                return Err(TaskError::field(
                    &manifest_path,
                    key.as_str(),
                    format!(
                        "unknown section for a {} task; accepted: [task], [{}], [search]",
                        header.kind, header.kind
                    ),
                ));
            }
        }
        let context = LoadContext {
            dir: dir.to_path_buf(),
            manifest_path: manifest_path.clone(),
            sandbox: self.sandbox.clone(),
            hone_binary: self.hone_binary.clone(),
            section: section.unwrap_or_default(),
            languages: languages.clone(),
            statement: statement.clone(),
            host_kernels: header.host_kernels,
        };
        let loaded = crate::kinds::load(header.kind, &context)?;
        let mut prompt = loaded.prompt;
        if prompt.statement.is_empty() {
            prompt.statement = statement;
        }
        Ok(Task {
            dir: dir.to_path_buf(),
            name,
            kind: header.kind,
            description: header.description,
            languages,
            seeds: loaded.seeds,
            prompt,
            content_hash: hash_folder(dir)?,
            search: search.unwrap_or_default(),
            evaluator: loaded.evaluator,
        })
    }
}

impl Task {
    /// Loads `dir/task.toml` with a [`TaskLoader`] of `sandbox` and no other options
    /// (an interactive heuristic task, which needs the hone binary, does not load).
    pub fn load(dir: &Path, sandbox: &Sandbox) -> Result<Task, TaskError> {
        TaskLoader::new(sandbox.clone()).load(dir)
    }

    /// Scores a candidate (see [`Evaluator::evaluate`]).
    pub fn evaluate(&self, candidate: &Candidate) -> Evaluation {
        self.evaluator.evaluate(candidate)
    }

    /// Scores a candidate on held-out cases (see [`Evaluator::evaluate_private`]).
    pub fn evaluate_private(&self, candidate: &Candidate) -> Option<Evaluation> {
        self.evaluator.evaluate_private(candidate)
    }

    /// Whether the task has held-out cases (see [`Evaluator::has_held_out_cases`]).
    pub fn has_held_out_cases(&self) -> bool {
        self.evaluator.has_held_out_cases()
    }

    /// The task's random valid candidates (see [`Evaluator::random_candidates`]).
    pub fn random_candidates(&self) -> Option<&dyn RandomCandidates> {
        self.evaluator.random_candidates()
    }

    /// The evaluator, to share with worker threads.
    pub fn evaluator(&self) -> Arc<dyn Evaluator> {
        self.evaluator.clone()
    }
}

/// The section of task.toml that holds search settings (see [`Task::search`]).
const SEARCH_SECTION: &str = "search";

/// `task.toml`: a `[task]` header, one section named after the kind, and optionally
/// `[search]` (see [`Task::search`]). The header's keys:
/// `kind` (required), `name` (default: the folder's name), `description`, `statement`
/// (default `statement.md`), `languages`, and `host_kernels` (default false: the task's
/// runs may not import the sandbox's host kernels, so a module that does ends as
/// `runtime_error(host_kernels_off)` and every run's fuel counts wasm work alike; true
/// offers them to the candidate's runs and the task's own programs (seed, objective), for
/// every kind but counterexample, where it is a load error). (No
/// `deny_unknown_fields` here: serde rejects every flattened key with it; `Task::load`
/// checks the section names itself.)
#[derive(Debug, Deserialize)]
struct Manifest {
    task: Header,
    #[serde(flatten)]
    sections: BTreeMap<String, toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    name: Option<String>,
    kind: TaskKind,
    #[serde(default)]
    description: String,
    #[serde(default = "default_statement")]
    statement: String,
    #[serde(default)]
    languages: Vec<String>,
    /// Link the sandbox's host kernels into the candidate's runs (pde, params, heuristic).
    #[serde(default)]
    host_kernels: bool,
}

fn default_statement() -> String {
    "statement.md".into()
}

/// What a kind's loader is given.
pub struct LoadContext {
    pub dir: PathBuf,
    pub manifest_path: PathBuf,
    pub sandbox: Sandbox,
    /// The hone binary, when the loader was given one (see [`TaskLoader::with_hone_binary`]).
    pub hone_binary: Option<PathBuf>,
    /// The kind's own section of task.toml (`[efficiency]`, ...), empty if absent.
    pub section: toml::Table,
    pub languages: Vec<Language>,
    pub statement: String,
    /// `[task] host_kernels`: whether the candidate's runs may call the host kernels.
    pub host_kernels: bool,
}

impl LoadContext {
    /// Deserializes the kind's section strictly; an error names the field at fault in full
    /// (`counterexample.solution_limits.fuel`, `efficiency.hidden.generate[0]`).
    pub fn parse_section<T: serde::de::DeserializeOwned>(
        &self,
        kind: TaskKind,
    ) -> Result<T, TaskError> {
        deserialize_table(&self.section).map_err(|e| TaskError::Field {
            path: self.manifest_path.clone(),
            field: e.field(kind.name()),
            message: e.message,
        })
    }

    /// A path inside the task folder; an error naming `field` if it does not exist.
    pub fn existing_path(&self, field: &str, relative: &str) -> Result<PathBuf, TaskError> {
        let path = self.dir.join(relative);
        if path.exists() {
            Ok(path)
        } else {
            Err(TaskError::field(
                &self.manifest_path,
                field,
                format!("`{relative}` does not exist in {}", self.dir.display()),
            ))
        }
    }

    /// Reads a file of the task folder named by `field`.
    pub fn read_file(&self, field: &str, relative: &str) -> Result<String, TaskError> {
        let path = self.existing_path(field, relative)?;
        read_to_string(&path)
    }

    /// Compiles a trusted task program (checker, validator, reference solution) from a
    /// file in the task folder; its language comes from the extension.
    pub fn compile_task_program(
        &self,
        field: &str,
        relative: &str,
    ) -> Result<hone_sandbox::Program, TaskError> {
        let path = self.existing_path(field, relative)?;
        let language = Language::from_path(&path).ok_or_else(|| {
            TaskError::field(
                &self.manifest_path,
                field,
                format!(
                    "`{relative}`: unknown language; use {}",
                    Language::extension_list()
                ),
            )
        })?;
        let source = read_to_string(&path)?;
        match self.sandbox.compile(language, &source) {
            Ok(hone_sandbox::Compilation::Ready(program)) => Ok(program),
            Ok(hone_sandbox::Compilation::Rejected(diagnostics)) => {
                Err(TaskError::TaskProgram { path, diagnostics })
            }
            Err(source) => Err(TaskError::Sandbox { path, source }),
        }
    }
}

/// What a kind's loader returns.
pub struct Loaded {
    pub evaluator: Arc<dyn Evaluator>,
    pub seeds: Vec<Candidate>,
    pub prompt: PromptMaterial,
}

/// Why a table did not deserialize: where (keys and indices below the table) and what.
pub(crate) struct TableError {
    /// `hidden.generate[0]`; empty when the table itself is at fault (a missing field).
    pub(crate) path: String,
    pub(crate) message: String,
}

impl TableError {
    /// The field's full name under `section`: `section.path`, or `section`.
    pub(crate) fn field(&self, section: &str) -> String {
        if self.path.is_empty() {
            section.to_string()
        } else if self.path.starts_with('[') {
            format!("{section}{}", self.path)
        } else {
            format!("{section}.{}", self.path)
        }
    }
}

/// Deserializes a table, keeping the path of keys and indices to an error.
pub(crate) fn deserialize_table<T: serde::de::DeserializeOwned>(
    table: &toml::Table,
) -> Result<T, TableError> {
    serde_path_to_error::deserialize(toml::Value::Table(table.clone())).map_err(|e| {
        let mut path = String::new();
        for segment in e.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => path += &format!("[{index}]"),
                serde_path_to_error::Segment::Map { key } => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path += key;
                }
                serde_path_to_error::Segment::Enum { variant } => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path += variant;
                }
                serde_path_to_error::Segment::Unknown => {}
            }
        }
        TableError {
            path,
            message: toml_message(e.inner()),
        }
    })
}

pub(crate) fn read_to_string(path: &Path) -> Result<String, TaskError> {
    std::fs::read_to_string(path).map_err(|source| TaskError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// toml's message, on one or two lines, without its source excerpt noise.
pub(crate) fn toml_message(error: &toml::de::Error) -> String {
    error.message().trim().to_string()
        + &error
            .span()
            .map(|s| format!(" (at byte {})", s.start))
            .unwrap_or_default()
}

/// SHA-256 over the folder's files, sorted by relative path (skipping `target/` and dot files).
pub fn hash_folder(dir: &Path) -> Result<String, TaskError> {
    let mut relatives = Vec::new();
    collect_files(dir, dir, &mut relatives)?;
    relatives.sort();
    let mut files = Vec::with_capacity(relatives.len());
    for relative in relatives {
        let bytes = std::fs::read(dir.join(&relative)).map_err(|source| TaskError::Read {
            path: dir.join(&relative),
            source,
        })?;
        files.push((relative, bytes));
    }
    Ok(hash_files(
        files.iter().map(|(r, b)| (r.as_str(), b.as_slice())),
    ))
}

/// The digest [`hash_folder`] gives a folder holding exactly `files` (relative `/`-separated
/// paths with their contents, sorted by path).
pub fn hash_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut hasher = Sha256::new();
    for (relative, bytes) in files {
        hasher.update(relative.as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    hex::encode(hasher.finalize())
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), TaskError> {
    let entries = std::fs::read_dir(dir).map_err(|source| TaskError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| TaskError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            collect_files(root, &path, out)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}
