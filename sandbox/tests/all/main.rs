//! Integration tests of hone-sandbox through its public API.

mod support;
mod kernels;
mod smoke;
