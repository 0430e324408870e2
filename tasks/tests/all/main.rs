//! Integration tests of hone-tasks, one module per topic.

mod cheaters;
mod counterexample;
mod efficiency;
mod heuristic;
mod params;
mod pde;
