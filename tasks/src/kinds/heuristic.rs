//! heuristic tasks (not built yet: loading one is an error).

use crate::error::TaskError;
use crate::task::{LoadContext, Loaded};

pub(crate) fn load(context: &LoadContext) -> Result<Loaded, TaskError> {
    Err(TaskError::field(
        &context.manifest_path,
        "task.kind",
        "the heuristic kind is not available in this build yet",
    ))
}
