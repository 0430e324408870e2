//! Shared fixtures: one sandbox per test binary, with a disk cache under the temp dir.

use std::sync::OnceLock;

use hone_sandbox::{Compilation, Language, Program, Sandbox, SandboxConfig};

/// The test binary's sandbox (compiled programs are cached in-process and on disk).
pub fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let cache_dir = std::env::temp_dir().join("hone-test-cache");
        Sandbox::new(SandboxConfig { cache_dir: Some(cache_dir), ..SandboxConfig::default() })
            .unwrap_or_else(|e| panic!("sandbox: {e}"))
    })
}

/// Compiles a source that must compile.
pub fn program(language: Language, source: &str) -> Program {
    match sandbox().compile(language, source) {
        Ok(Compilation::Ready(p)) => p,
        Ok(Compilation::Rejected(d)) => panic!("{language} source did not compile:\n{d}"),
        Err(e) => panic!("sandbox error: {e}"),
    }
}

/// Compiles a source that must be rejected; returns the diagnostics.
pub fn rejected(language: Language, source: &str) -> String {
    match sandbox().compile(language, source) {
        Ok(Compilation::Ready(_)) => panic!("{language} source compiled but should not have"),
        Ok(Compilation::Rejected(d)) => d,
        Err(e) => panic!("sandbox error: {e}"),
    }
}
