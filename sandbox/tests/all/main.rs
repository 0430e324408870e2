//! Integration tests of hone-sandbox through its public API.

#![allow(
    clippy::disallowed_methods,
    reason = "tests and benches read their own knobs (database URLs, seeds, caches) from the environment"
)]

mod caches;
mod engine;
mod host_dot;
mod hostile;
mod hostile_cpp;
mod kernels;
mod precompiled;
mod python;
mod smoke;
mod streaming;
mod support;
mod warm;
