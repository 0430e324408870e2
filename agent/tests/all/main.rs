//! Integration tests of hone-agent through its public API.

mod baselines;
mod bench;
mod export;
mod heuristic;
mod llm;
mod orchestrator;
mod prompts;
mod reply;
mod tuner;
mod workers;
