//! Integration tests of hone-tasks, one module per topic.

mod ahc001;
mod cheaters;
mod construction;
mod counterexample;
mod efficiency;
mod heuristic;
mod host_kernels;
mod params;
mod pde;
mod python;
mod support;
mod turnaround;
