//! Git lineage: each node is a commit of its candidate files plus `hone.json` in a bare repo.
//!
//! A node's commit has its parent node's commit as parent, so `git log refs/runs/<run>/best`
//! walks from the seed to the best node and `git diff A B` compares two candidates. Commit
//! times come from the node's `created_at` and the author is fixed, so the same node always
//! produces the same commit hash. Commits are written after the node's database
//! transaction; a node whose commit is missing after a crash gets it from
//! [`Store::sync_lineage`] (or the next [`Store::record_lineage`] of a descendant), with
//! the same hash it would have had.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use git2::{Oid, Repository};

use crate::error::{Error, Result};
use crate::{LlmCallId, NodeId, NodeRecord, RunId, Store};

mod packs;
mod thread;

use packs::Objects;

/// Name of the metadata file in each commit.
pub const METADATA_FILE: &str = "hone.json";

/// The lineage repository, opened (or created) on first use.
pub(crate) struct Lineage {
    path: PathBuf,
    read_only: bool,
    repo: Mutex<Option<Repository>>,
    /// Where the git work runs, at a lower priority than the run's steps.
    thread: thread::GitThread,
}

/// What a commit needs to know about a node.
pub(crate) struct CommitInput {
    pub node: NodeRecord,
    pub model: Option<String>,
}

impl Lineage {
    pub(crate) fn new(path: PathBuf, read_only: bool) -> Lineage {
        Lineage {
            path,
            read_only,
            repo: Mutex::new(None),
            thread: thread::GitThread::default(),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn git_err(
        &self,
        run: Option<RunId>,
        context: impl Into<String>,
    ) -> impl Fn(git2::Error) -> Error + '_ {
        let context = context.into();
        move |source| Error::Lineage {
            path: self.path.clone(),
            run,
            context: context.clone(),
            source,
        }
    }

    /// Runs `f` with the repository, creating it if needed.
    fn with_repo<T>(
        &self,
        run: Option<RunId>,
        f: impl FnOnce(&Repository) -> Result<T>,
    ) -> Result<T> {
        let mut guard = self
            .repo
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.is_none() {
            let repo = if self.path.exists() {
                match Repository::open_bare(&self.path) {
                    Ok(repo) => repo,
                    // A process killed while creating the repository leaves a partial
                    // folder; initializing again completes it (existing objects are kept).
                    Err(e) if e.code() == git2::ErrorCode::NotFound && !self.read_only => {
                        Repository::init_bare(&self.path).map_err(
                            self.git_err(run, "cannot complete a partly created repository"),
                        )?
                    }
                    Err(e) => return Err(self.git_err(run, "cannot open")(e)),
                }
            } else if self.read_only {
                return Err(Error::ReadOnly {
                    store: self.path.display().to_string(),
                    context: "the lineage repository does not exist and the store is read-only"
                        .into(),
                });
            } else {
                Repository::init_bare(&self.path).map_err(self.git_err(run, "cannot create"))?
            };
            if !self.read_only {
                keep_unreachable(&repo).map_err(self.git_err(run, "cannot configure"))?;
            }
            *guard = Some(repo);
        }
        match guard.as_ref() {
            Some(repo) => f(repo),
            None => Err(Error::Lineage {
                path: self.path.clone(),
                run,
                context: "repository unavailable".into(),
                source: git2::Error::from_str("not opened"),
            }),
        }
    }

    /// Writes one commit per input, in order. `parents` maps node ids to already-written
    /// commits; each new commit is added to it so later inputs can name it as their parent.
    pub(crate) fn commit_nodes(
        &self,
        inputs: &[CommitInput],
        parents: &mut HashMap<NodeId, String>,
    ) -> Result<Vec<(NodeId, String)>> {
        if self.read_only {
            return Err(Error::ReadOnly {
                store: self.path.display().to_string(),
                context: "cannot write lineage commits".into(),
            });
        }
        let run = inputs.first().map(|i| i.node.run);
        let mut objects = Objects::default();
        let mut written = Vec::with_capacity(inputs.len());
        for input in inputs {
            let parent = input.node.parent.and_then(|p| parents.get(&p).cloned());
            let oid = self.commit_one(&mut objects, input, parent.as_deref())?;
            let hex = oid.to_string();
            parents.insert(input.node.id, hex.clone());
            written.push((input.node.id, hex));
        }
        let packed = inputs.len() >= packs::PACK_MIN_NODES;
        let merged = self.with_repo(run, |repo| {
            let err = self.git_err(run, "cannot write lineage commits");
            if !packed {
                let odb = repo.odb().map_err(&err)?;
                objects.write_loose(&odb).map_err(&err)?;
                return Ok(0);
            }
            // A big batch: one pack file instead of a file per object.
            objects.write_pack(repo).map_err(&err)?;
            match packs::roll_up(repo) {
                Ok(merged) => Ok(merged),
                // The batch is written; merging waits for the next one.
                Err(e) => {
                    tracing::warn!(path = %self.path.display(), error = %e, "cannot merge lineage packs");
                    Ok(0)
                }
            }
        })?;
        if merged > 0 {
            // The merged packs are gone: the cached handle may still list them.
            self.forget_repo();
        }
        Ok(written)
    }

    /// Drops the cached repository handle: the next use opens it afresh.
    fn forget_repo(&self) {
        let mut guard = self
            .repo
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *guard = None;
    }

    /// Adds the objects of `input`'s commit to `objects` and returns the commit's id.
    fn commit_one(
        &self,
        objects: &mut Objects,
        input: &CommitInput,
        parent: Option<&str>,
    ) -> Result<Oid> {
        let node = &input.node;
        let err = self.git_err(Some(node.run), format!("cannot commit node {}", node.id));
        let mut entries: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for (name, content) in &node.files {
            if !is_clean_relative(name) || name == METADATA_FILE {
                return Err(Error::BadFileName {
                    path: self.path.clone(),
                    node: node.id,
                    file: name.clone(),
                });
            }
            entries.insert(name.clone(), content.as_bytes().to_vec());
        }
        let metadata = metadata(input);
        let metadata = serde_json::to_vec_pretty(&metadata).map_err(|source| Error::Json {
            store: self.path.display().to_string(),
            run: Some(node.run),
            context: "serialize lineage metadata",
            source,
        })?;
        entries.insert(METADATA_FILE.to_string(), metadata);
        let tree = write_tree(objects, entries).map_err(&err)?;
        let parent = parent.map(Oid::from_str).transpose().map_err(&err)?;
        let score = node
            .evaluation
            .score
            .map(|s| format!("{s}"))
            .unwrap_or_else(|| "none".into());
        let message = format!(
            "node {}: {} -> {} (score {score})\n\nrun {}\n",
            node.id, node.operator, node.evaluation.status, node.run
        );
        let text = commit_text(tree, parent, node.created_at.as_seconds(), &message);
        objects
            .add(git2::ObjectType::Commit, text.into_bytes())
            .map_err(&err)
    }

    /// Points `refs/runs/<run>/best` at `commit`.
    pub(crate) fn set_best(&self, run: RunId, commit: &str) -> Result<()> {
        self.with_repo(Some(run), |repo| {
            let err = self.git_err(Some(run), "cannot update the best ref");
            let oid = Oid::from_str(commit).map_err(&err)?;
            let name = best_ref(run);
            match repo.reference(&name, oid, true, "hone: best node") {
                Ok(_) => Ok(()),
                Err(e) if e.code() == git2::ErrorCode::Locked => {
                    // A run is written by one process, and this process serializes its
                    // lineage writes, so a lock on this run's ref was left by a writer that
                    // was killed mid-update: remove it and retry once.
                    let lock = self.path.join(format!("{name}.lock"));
                    tracing::warn!(lock = %lock.display(), "removing a stale lineage ref lock");
                    let _ = std::fs::remove_file(&lock);
                    repo.reference(&name, oid, true, "hone: best node")
                        .map(|_| ())
                        .map_err(&err)
                }
                Err(e) => Err(err(e)),
            }
        })
    }

    /// The commit `refs/runs/<run>/best` points at, if any.
    pub(crate) fn best(&self, run: RunId) -> Result<Option<String>> {
        if !self.path.exists() {
            return Ok(None);
        }
        self.with_repo(Some(run), |repo| {
            match repo.find_reference(&best_ref(run)) {
                Ok(reference) => Ok(reference.target().map(|o| o.to_string())),
                Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
                Err(e) => Err(self.git_err(Some(run), "cannot read the best ref")(e)),
            }
        })
    }
}

/// Only `refs/runs/<run>/best` points into the repository, so most node commits are
/// unreachable from any ref; this tells git never to prune them (`git gc` keeps them) and
/// never to run `gc --auto` on its own. Idempotent; run on every read-write open.
fn keep_unreachable(repo: &Repository) -> std::result::Result<(), git2::Error> {
    let mut config = repo.config()?.open_level(git2::ConfigLevel::Local)?;
    let set = |config: &mut git2::Config, key: &str, value: &str| match config.get_string(key) {
        Ok(current) if current == value => Ok(()),
        _ => config.set_str(key, value),
    };
    set(&mut config, "gc.pruneExpire", "never")?;
    set(&mut config, "gc.reflogExpireUnreachable", "never")?;
    set(&mut config, "gc.auto", "0")?;
    Ok(())
}

/// `refs/runs/<run>/best`.
pub fn best_ref(run: RunId) -> String {
    format!("refs/runs/{run}/best")
}

fn metadata(input: &CommitInput) -> serde_json::Value {
    let node = &input.node;
    serde_json::json!({
        "node": node.id,
        "run": node.run,
        "parent": node.parent,
        "operator": node.operator,
        "model": input.model,
        "tree": node.tree,
        "island": node.island,
        "depth": node.depth,
        "status": node.evaluation.status,
        "valid": node.evaluation.valid,
        "score": node.evaluation.score,
        "metrics": node.evaluation.metrics,
        "values": node.values,
        "content_hash": node.content_hash,
        "duplicate_of": node.duplicate_of,
    })
}

/// A relative path with no empty, `.` or `..` components and no `.git`.
fn is_clean_relative(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\\')
        && name
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && c != ".git" && !c.contains('\0'))
}

/// A commit's text, byte for byte as `Repository::commit` writes it with the fixed author
/// `hone <hone@localhost>` at `seconds` UTC.
fn commit_text(tree: Oid, parent: Option<Oid>, seconds: i64, message: &str) -> String {
    let person = format!("hone <hone@localhost> {seconds} +0000");
    let mut text = format!("tree {tree}\n");
    if let Some(parent) = parent {
        text.push_str(&format!("parent {parent}\n"));
    }
    text.push_str(&format!("author {person}\ncommitter {person}\n\n{message}"));
    text
}

/// Adds the blobs and nested trees of `entries` (paths with `/`) to `objects`; returns the
/// root tree's id.
fn write_tree(
    objects: &mut Objects,
    entries: BTreeMap<String, Vec<u8>>,
) -> Result<Oid, git2::Error> {
    #[derive(Default)]
    struct Dir {
        files: Vec<(String, Vec<u8>)>,
        dirs: BTreeMap<String, Dir>,
    }
    fn build(objects: &mut Objects, dir: Dir) -> Result<Oid, git2::Error> {
        let mut ids = Vec::with_capacity(dir.files.len() + dir.dirs.len());
        for (name, content) in dir.files {
            // A file and a directory of one name: the directory is kept (as git's tree
            // builder replaces an entry of the same name).
            if dir.dirs.contains_key(&name) {
                continue;
            }
            let id = objects.add(git2::ObjectType::Blob, content)?;
            ids.push((name, false, id));
        }
        for (name, sub) in dir.dirs {
            let id = build(objects, sub)?;
            ids.push((name, true, id));
        }
        let entries: Vec<(&str, bool, Oid)> =
            ids.iter().map(|(n, d, id)| (n.as_str(), *d, *id)).collect();
        objects.add_tree(&entries)
    }
    let mut root = Dir::default();
    for (path, content) in entries {
        let mut parts: Vec<&str> = path.split('/').collect();
        let file = parts.pop().unwrap_or_default().to_string();
        let mut dir = &mut root;
        for part in parts {
            dir = dir.dirs.entry(part.to_string()).or_default();
        }
        dir.files.push((file, content));
    }
    build(objects, root)
}

impl Store {
    /// Writes the lineage commit of `node` (and of any ancestor still missing one), records
    /// it on the node, and moves `refs/runs/<run>/best` if the run's best node has a commit.
    /// Idempotent. Returns the node's commit, or `None` if lineage is disabled.
    pub async fn record_lineage(&self, node: NodeId) -> Result<Option<String>> {
        Ok(self.record_lineage_counted(node).await?.0)
    }

    /// [`record_lineage`](Store::record_lineage), also returning how many commits it wrote.
    async fn record_lineage_counted(&self, node: NodeId) -> Result<(Option<String>, usize)> {
        let Some(lineage) = self.inner.lineage.clone() else {
            return Ok((None, 0));
        };
        let mut count = 0;
        let record = self.get_node(node).await?;
        let run = record.run;
        let commit = match record.lineage_commit.clone() {
            Some(commit) => commit,
            None => {
                // Walk up to the nearest ancestor that has a commit.
                let mut chain = vec![record];
                let mut parents = HashMap::new();
                while let Some(parent) = chain.last().and_then(|n| n.parent) {
                    let parent = self.get_node(parent).await?;
                    match &parent.lineage_commit {
                        Some(commit) => {
                            parents.insert(parent.id, commit.clone());
                            break;
                        }
                        None => chain.push(parent),
                    }
                }
                chain.reverse();
                let written = self.commit_records(&lineage, chain, parents).await?;
                count = written.len();
                match written.last() {
                    Some((_, commit)) => commit.clone(),
                    None => return Ok((None, 0)),
                }
            }
        };
        self.update_best_ref(&lineage, run).await?;
        Ok((Some(commit), count))
    }

    /// [`record_lineage`](Store::record_lineage) for many nodes at once, as a background
    /// writer batches them: one read of the nodes, one of their parents' commits, one
    /// transaction recording the commits, one best-ref update per run. Nodes whose parent is
    /// outside the batch and has no commit yet take the one-by-one path, which walks up.
    /// Returns how many commits were written.
    pub async fn record_lineage_batch(&self, nodes: &[NodeId]) -> Result<usize> {
        let Some(lineage) = self.inner.lineage.clone() else {
            return Ok(0);
        };
        let records = self.get_nodes(nodes).await?;
        let in_batch: std::collections::HashSet<NodeId> = records.iter().map(|r| r.id).collect();
        let mut runs: Vec<RunId> = records.iter().map(|r| r.run).collect();
        runs.sort();
        runs.dedup();
        let mut parents = HashMap::new();
        let mut missing = Vec::with_capacity(records.len());
        for record in records {
            match &record.lineage_commit {
                Some(commit) => {
                    parents.insert(record.id, commit.clone());
                }
                None => missing.push(record),
            }
        }
        let outside: Vec<NodeId> = missing
            .iter()
            .filter_map(|r| r.parent)
            .filter(|p| !in_batch.contains(p))
            .collect();
        let outside_commits = self.lineage_commits_of(&outside).await?;
        let mut ready = Vec::with_capacity(missing.len());
        let mut walk = Vec::new();
        let mut walking: std::collections::HashSet<NodeId> = std::collections::HashSet::new();
        for record in missing {
            let parent_ok = match record.parent {
                None => true,
                Some(p) if walking.contains(&p) => false,
                Some(p) if in_batch.contains(&p) => true,
                Some(p) => match outside_commits.get(&p) {
                    Some(Some(commit)) => {
                        parents.insert(p, commit.clone());
                        true
                    }
                    _ => false,
                },
            };
            if parent_ok {
                ready.push(record);
            } else {
                walking.insert(record.id);
                walk.push(record.id);
            }
        }
        let mut written = 0;
        for run in &runs {
            let of_run: Vec<NodeRecord> = ready.iter().filter(|r| r.run == *run).cloned().collect();
            written += self
                .commit_records(&lineage, of_run, parents.clone())
                .await?
                .len();
        }
        for node in walk {
            written += self.record_lineage_counted(node).await?.1;
        }
        for run in runs {
            self.update_best_ref(&lineage, run).await?;
        }
        Ok(written)
    }

    /// Writes the missing lineage commits of a run (after a crash between a node's
    /// transaction and its commit) and updates the best ref. Returns how many were written.
    pub async fn sync_lineage(&self, run: RunId) -> Result<usize> {
        let Some(lineage) = self.inner.lineage.clone() else {
            return Ok(0);
        };
        self.get_run(run).await?;
        let missing = self.nodes_without_lineage(run).await?;
        // The commits of their parents outside that set (the others get theirs first:
        // parents come before their children).
        let uncommitted: std::collections::HashSet<NodeId> = missing.iter().map(|n| n.id).collect();
        let outside: Vec<NodeId> = missing
            .iter()
            .filter_map(|n| n.parent)
            .filter(|p| !uncommitted.contains(p))
            .collect();
        let parents: HashMap<NodeId, String> = self
            .lineage_commits_of(&outside)
            .await?
            .into_iter()
            .filter_map(|(node, commit)| Some((node, commit?)))
            .collect();
        let written = self.commit_records(&lineage, missing, parents).await?;
        self.update_best_ref(&lineage, run).await?;
        Ok(written.len())
    }

    /// The commit `refs/runs/<run>/best` points at, or `None` (no lineage, no best yet).
    pub async fn best_lineage_commit(&self, run: RunId) -> Result<Option<String>> {
        let Some(lineage) = self.inner.lineage.clone() else {
            return Ok(None);
        };
        self.git_work(&lineage, move |lineage| lineage.best(run))
            .await
    }

    /// Moves `refs/runs/<run>/best` to the run's best node (if it has a commit): after a
    /// private evaluation changed which node is best. Does nothing without lineage.
    pub async fn refresh_best_ref(&self, run: RunId) -> Result<()> {
        let Some(lineage) = self.inner.lineage.clone() else {
            return Ok(());
        };
        self.update_best_ref(&lineage, run).await
    }

    async fn commit_records(
        &self,
        lineage: &Arc<Lineage>,
        nodes: Vec<NodeRecord>,
        mut parents: HashMap<NodeId, String>,
    ) -> Result<Vec<(NodeId, String)>> {
        if nodes.is_empty() {
            return Ok(Vec::new());
        }
        let models = self.models_of(&nodes).await?;
        let inputs: Vec<CommitInput> = nodes
            .into_iter()
            .map(|node| {
                let model = node.llm_call.and_then(|c| models.get(&c.0).cloned());
                CommitInput { node, model }
            })
            .collect();
        let written = self
            .git_work(lineage, move |lineage| {
                lineage.commit_nodes(&inputs, &mut parents)
            })
            .await?;
        self.set_lineage_commits(&written).await?;
        Ok(written)
    }

    async fn update_best_ref(&self, lineage: &Arc<Lineage>, run: RunId) -> Result<()> {
        let Some(best) = self.best_node(run).await? else {
            return Ok(());
        };
        let commits = self.lineage_commits_of(&[best.node]).await?;
        if let Some(Some(commit)) = commits.get(&best.node).cloned() {
            self.git_work(lineage, move |lineage| lineage.set_best(run, &commit))
                .await?;
        }
        Ok(())
    }

    /// Model names of the nodes' calls, by call id: only those calls are read.
    async fn models_of(&self, nodes: &[NodeRecord]) -> Result<HashMap<i64, String>> {
        let calls: Vec<LlmCallId> = nodes.iter().filter_map(|n| n.llm_call).collect();
        if calls.is_empty() {
            return Ok(HashMap::new());
        }
        let models = self.models_of_calls(&calls).await?;
        Ok(models.into_iter().map(|(id, m)| (id.0, m)).collect())
    }

    /// Runs git work on the lineage's own thread, off the async worker threads and below
    /// the run's steps in priority (`lineage/thread.rs`).
    async fn git_work<T: Send + 'static>(
        &self,
        lineage: &Arc<Lineage>,
        f: impl FnOnce(&Lineage) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let on = lineage.clone();
        lineage.thread.run(move || f(&on)).await.unwrap_or_else(|| {
            Err(Error::Background {
                store: self.inner.name.clone(),
                message: "the lineage thread could not be started, or its git work panicked".into(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use git2::{Signature, Time};

    #[test]
    fn commits_match_what_libgit2_writes() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let repo = Repository::init_bare(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let files = BTreeMap::from([
            ("a.rs".to_string(), b"fn main() {}\n".to_vec()),
            ("src/lib.rs".to_string(), b"pub fn f() {}\n".to_vec()),
            ("src/x/y.txt".to_string(), b"y\n".to_vec()),
        ]);
        let mut objects = Objects::default();
        let tree = write_tree(&mut objects, files.clone()).unwrap_or_else(|e| panic!("{e}"));
        objects
            .write_loose(&repo.odb().unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
        let tree_object = repo.find_tree(tree).unwrap_or_else(|e| panic!("{e}"));
        for (path, content) in &files {
            let entry = tree_object
                .get_path(Path::new(path))
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            let blob = repo.find_blob(entry.id()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(blob.content(), content.as_slice());
        }
        let mut parent = None;
        for seconds in [1_700_000_000, 1_700_000_100, 5] {
            let message = format!("node {seconds}: improve -> ok (score 1.5)\n\nrun 3\n");
            let text = commit_text(tree, parent, seconds, &message);
            let ours = objects
                .add(git2::ObjectType::Commit, text.into_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
            let signature = Signature::new("hone", "hone@localhost", &Time::new(seconds, 0))
                .unwrap_or_else(|e| panic!("{e}"));
            let parent_commit =
                parent.map(|p| repo.find_commit(p).unwrap_or_else(|e| panic!("{e}")));
            let parents: Vec<&git2::Commit<'_>> = parent_commit.iter().collect();
            let theirs = repo
                .commit(
                    None,
                    &signature,
                    &signature,
                    &message,
                    &tree_object,
                    &parents,
                )
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(ours, theirs);
            parent = Some(ours);
        }
    }

    #[test]
    fn file_names_are_checked() {
        assert!(is_clean_relative("main.rs"));
        assert!(is_clean_relative("src/lib.rs"));
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a//b",
            "a/./b",
            ".git/config",
            "a\\b",
        ] {
            assert!(!is_clean_relative(bad), "{bad}");
        }
    }
}
