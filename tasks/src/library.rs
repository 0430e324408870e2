//! The bundled task library (`tasks/library/<kind>/<task>/`), embedded in the binary so
//! that a bundled task can be named from any folder: `hone run pair-count`.
//!
//! A bundled task is found by its name (`[task] name`, else its folder's name), by its
//! folder's name, or as `kind/folder`. It runs from a copy written to disk
//! ([`BundledTask::write_to`]), since evaluators read their files from a folder and a run
//! keeps its task's path for `hone resume`.

use std::path::Path;

use crate::{TaskError, TaskKind};

/// One task of the library as the binary carries it.
#[derive(Debug)]
pub struct BundledTask {
    /// The kind's folder (`efficiency`, `pde`, ...).
    pub kind: &'static str,
    /// The task's folder within its kind.
    pub folder: &'static str,
    /// Every file, as a `/`-separated path relative to the task folder, sorted.
    files: &'static [(&'static str, &'static [u8])],
}

static LIBRARY: &[BundledTask] = include!(concat!(env!("OUT_DIR"), "/library.rs"));

/// Every bundled task, sorted by kind and folder.
pub fn bundled() -> &'static [BundledTask] {
    LIBRARY
}

/// Why a name does not pick one bundled task.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("no bundled task is called `{name}`; `hone tasks` lists them")]
    Unknown { name: String },
    #[error("`{name}` names several bundled tasks ({}); give it as KIND/TASK", candidates.join(", "))]
    Ambiguous {
        name: String,
        candidates: Vec<String>,
    },
}

/// The bundled task `name` picks: its declared name, its folder's name, or `kind/folder`.
pub fn find(name: &str) -> Result<&'static BundledTask, LookupError> {
    let matches: Vec<&BundledTask> = LIBRARY
        .iter()
        .filter(|t| t.name() == name || t.folder == name || t.path() == name)
        .collect();
    match matches[..] {
        [task] => Ok(task),
        [] => Err(LookupError::Unknown {
            name: name.to_string(),
        }),
        _ => Err(LookupError::Ambiguous {
            name: name.to_string(),
            candidates: matches.iter().map(|t| t.path()).collect(),
        }),
    }
}

impl BundledTask {
    /// `kind/folder`: where the task lives in the library.
    pub fn path(&self) -> String {
        format!("{}/{}", self.kind, self.folder)
    }

    /// The task's name: `[task] name` in its `task.toml`, else its folder's name (as
    /// [`crate::Task::load`] names it).
    pub fn name(&self) -> String {
        self.header("name")
            .unwrap_or_else(|| self.folder.to_string())
    }

    /// The one-line description in its `task.toml` (`[task] description`).
    pub fn description(&self) -> String {
        self.header("description").unwrap_or_default()
    }

    /// A string key of `task.toml`'s `[task]` table.
    fn header(&self, key: &str) -> Option<String> {
        let text = std::str::from_utf8(self.file("task.toml")?).ok()?;
        let table = text.parse::<toml::Table>().ok()?;
        Some(table.get("task")?.get(key)?.as_str()?.to_string())
    }

    /// The files, as `/`-separated relative paths with their contents.
    pub fn files(&self) -> &'static [(&'static str, &'static [u8])] {
        self.files
    }

    /// One file's contents.
    pub fn file(&self, relative: &str) -> Option<&'static [u8]> {
        self.files
            .iter()
            .find(|(path, _)| *path == relative)
            .map(|(_, bytes)| *bytes)
    }

    /// The hash [`crate::hash_folder`] gives a folder holding exactly these files.
    pub fn content_hash(&self) -> String {
        crate::hash_files(self.files.iter().copied())
    }

    /// Writes the task's files into `dir` (created if missing). An existing file of the same
    /// name is replaced; nothing else in `dir` is touched. Files are written to a temporary
    /// name first and renamed, so a reader never sees half a file.
    pub fn write_to(&self, dir: &Path) -> Result<(), TaskError> {
        for (relative, bytes) in self.files {
            let path = dir.join(relative);
            let parent = path.parent().unwrap_or(dir);
            std::fs::create_dir_all(parent).map_err(|source| TaskError::Write {
                path: parent.to_path_buf(),
                source,
            })?;
            let partial = parent.join(format!(
                ".{}.partial-{}",
                path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
                std::process::id()
            ));
            std::fs::write(&partial, bytes)
                .and_then(|()| std::fs::rename(&partial, &path))
                .map_err(|source| TaskError::Write {
                    path: path.clone(),
                    source,
                })?;
        }
        Ok(())
    }
}

/// What `hone init KIND DIR` writes: a bundled task of the kind whose `task.toml` is
/// replaced by one that comments every field (`tasks/templates/KIND.toml`) and leaves the
/// name to the folder.
#[derive(Debug)]
pub struct Template {
    pub kind: TaskKind,
    /// The bundled task whose files the template starts from.
    pub base: &'static str,
    /// The commented `task.toml`.
    pub manifest: &'static str,
    /// The file to give `hone eval DIR DIR/SEED` first: the seed, or a valid candidate.
    pub seed: &'static str,
    /// Files added to the base's (relative path, contents).
    pub extra: &'static [(&'static str, &'static str)],
}

static TEMPLATES: &[Template] = &[
    Template {
        kind: TaskKind::Efficiency,
        base: "efficiency/pair-count",
        manifest: include_str!("../templates/efficiency.toml"),
        seed: "seed.c",
        extra: &[],
    },
    Template {
        kind: TaskKind::Counterexample,
        base: "counterexample/longest-run",
        manifest: include_str!("../templates/counterexample.toml"),
        seed: "reference/counterexample.txt",
        extra: &[],
    },
    Template {
        kind: TaskKind::Pde,
        base: "pde/heat",
        manifest: include_str!("../templates/pde.toml"),
        seed: "seed.c",
        extra: &[],
    },
    Template {
        kind: TaskKind::Params,
        base: "params/sandboxed-quadratic",
        manifest: include_str!("../templates/params.toml"),
        seed: "seed.json",
        extra: &[("seed.json", include_str!("../templates/params-seed.json"))],
    },
    Template {
        kind: TaskKind::Heuristic,
        base: "heuristic/grid-path",
        manifest: include_str!("../templates/heuristic.toml"),
        seed: "seed.rs",
        extra: &[],
    },
    Template {
        kind: TaskKind::Construction,
        base: "construction/circles-26",
        manifest: include_str!("../templates/construction.toml"),
        seed: "seed.c",
        extra: &[],
    },
];

/// The template of each kind.
pub fn templates() -> &'static [Template] {
    TEMPLATES
}

impl Template {
    /// The template of `kind`.
    pub fn of(kind: TaskKind) -> Option<&'static Template> {
        TEMPLATES.iter().find(|t| t.kind == kind)
    }

    /// The bundled task it starts from.
    pub fn base(&self) -> &'static BundledTask {
        LIBRARY
            .iter()
            .find(|t| t.path() == self.base)
            .unwrap_or_else(|| unreachable!("the tests check that {} is bundled", self.base))
    }

    /// Writes the task into `dir`, which must not exist yet (nothing is overwritten).
    pub fn write_new(&self, dir: &Path) -> Result<(), TaskError> {
        if dir.exists() {
            return Err(TaskError::Write {
                path: dir.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "it already exists; give a new folder",
                ),
            });
        }
        self.base().write_to(dir)?;
        for (relative, text) in [("task.toml", self.manifest)].iter().chain(self.extra) {
            let path = dir.join(relative);
            std::fs::write(&path, text).map_err(|source| TaskError::Write { path, source })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn library_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("library")
    }

    #[test]
    fn every_library_folder_is_bundled_byte_for_byte() {
        let mut on_disk = Vec::new();
        for kind in std::fs::read_dir(library_dir()).unwrap().flatten() {
            if !kind.path().is_dir() {
                continue;
            }
            for task in std::fs::read_dir(kind.path()).unwrap().flatten() {
                if task.path().join("task.toml").is_file() {
                    on_disk.push(task.path());
                }
            }
        }
        on_disk.sort();
        assert_eq!(on_disk.len(), bundled().len());
        for (dir, task) in on_disk.iter().zip(bundled()) {
            assert_eq!(dir, &library_dir().join(task.kind).join(task.folder));
            assert_eq!(
                crate::hash_folder(dir).unwrap(),
                task.content_hash(),
                "{}",
                task.path()
            );
        }
    }

    #[test]
    fn names_folders_and_paths_find_their_task() {
        assert_eq!(find("pair-count").unwrap().path(), "efficiency/pair-count");
        assert_eq!(find("pde-burgers").unwrap().path(), "pde/burgers");
        assert_eq!(find("burgers").unwrap().path(), "pde/burgers");
        assert_eq!(find("heuristic/ahc001").unwrap().folder, "ahc001");
        let error = find("no-such-task").unwrap_err().to_string();
        assert!(error.contains("`no-such-task`"), "{error}");
        // Every task is found by its name, unambiguously.
        for task in bundled() {
            assert_eq!(find(&task.name()).unwrap().path(), task.path());
        }
    }

    #[test]
    fn a_written_copy_loads_with_the_same_hash() {
        let dir = tempfile::tempdir().unwrap();
        let task = find("pair-count").unwrap();
        task.write_to(dir.path()).unwrap();
        // Writing again over the copy changes nothing.
        task.write_to(dir.path()).unwrap();
        assert_eq!(crate::hash_folder(dir.path()).unwrap(), task.content_hash());
    }

    #[test]
    fn every_kind_has_a_template_that_says_what_its_base_says() {
        for kind in TaskKind::ALL {
            let template = Template::of(kind).unwrap_or_else(|| panic!("no template for {kind}"));
            let base = template.base();
            assert_eq!(base.kind, kind.name());
            // The same settings, comments aside, but for the name (left to the folder).
            let parse = |text: &str| text.parse::<toml::Table>().unwrap();
            let mut expected = parse(std::str::from_utf8(base.file("task.toml").unwrap()).unwrap());
            if let Some(toml::Value::Table(task)) = expected.get_mut("task") {
                task.remove("name");
            }
            assert_eq!(parse(template.manifest), expected, "{}", template.base);
        }
    }
}
