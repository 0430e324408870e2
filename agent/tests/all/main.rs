//! Integration tests of hone-agent through its public API.

mod heuristic;
mod bench;
mod llm;
mod orchestrator;
mod prompts;
mod reply;
mod tuner;
mod workers;
