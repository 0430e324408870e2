//! hone-agent: the `hone` command line, the orchestrator and its search strategies, model
//! clients (proposers), prompt rendering, reply parsing, reports and exports.
//!
//! Only this crate knows the command line and the model wire format; it drives
//! `hone-tasks` (scoring), `hone-sandbox` (running candidates) and `hone-store` (memory).

pub mod bench;
pub mod cli;
pub mod diff;
pub mod export;
pub mod llm;
pub mod novelty;
pub mod orchestrator;
pub mod prompt;
pub mod reply;
pub mod report;
pub mod search;
pub mod serve;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tuner;
pub mod worker;
