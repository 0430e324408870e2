//! Integration tests of hone-sandbox through its public API.

mod hostile;
mod kernels;
mod smoke;
mod support;
