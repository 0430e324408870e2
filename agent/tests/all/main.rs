//! Integration tests of hone-agent through its public API.

mod llm;
mod prompts;
mod reply;
mod tuner;
