//! Integration tests of hone-store through its public API.

#![allow(
    clippy::disallowed_methods,
    reason = "tests and benches read their own knobs (database URLs, seeds, caches) from the environment"
)]

mod behaviour;
mod crash;
mod errors;
mod leases;
mod queue;
mod support;
