//! Integration tests of hone-store through its public API.

mod behaviour;
mod crash;
mod errors;
mod leases;
mod queue;
mod support;
