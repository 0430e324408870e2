//! The evaluator of each task kind.

pub mod construction;
pub mod counterexample;
pub mod efficiency;
pub mod heuristic;
pub mod params;
pub mod pde;

use crate::error::TaskError;
use crate::task::{LoadContext, Loaded, TaskKind};

pub(crate) fn load(kind: TaskKind, context: &LoadContext) -> Result<Loaded, TaskError> {
    match kind {
        TaskKind::Efficiency => efficiency::load(context),
        TaskKind::Counterexample => counterexample::load(context),
        TaskKind::Pde => pde::load(context),
        TaskKind::Heuristic => heuristic::load(context),
        TaskKind::Params => params::load(context),
        TaskKind::Construction => construction::load(context),
    }
}
