//! Integration tests of hone-sandbox through its public API.

mod caches;
mod engine;
mod host_dot;
mod hostile;
mod kernels;
mod smoke;
mod streaming;
mod support;
