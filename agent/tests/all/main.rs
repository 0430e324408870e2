//! Integration tests of hone-agent through its public API.

mod llm;
mod orchestrator;
mod prompts;
mod reply;
mod tuner;
