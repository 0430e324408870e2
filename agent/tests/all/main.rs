//! Integration tests of hone-agent through its public API.

#![allow(
    clippy::disallowed_methods,
    reason = "tests and benches read their own knobs (database URLs, seeds, caches) from the environment"
)]

mod baselines;
mod bench;
mod construction;
mod embeddings;
mod export;
mod heuristic;
mod llm;
mod orchestrator;
mod prompts;
mod python;
mod reply;
mod scale;
mod serve;
mod tuner;
mod workers;
