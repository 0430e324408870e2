//! The precompiled `<bits/stdc++.h>`: a C++ source that includes it first compiles with
//! it to the very module it compiles to without it; sources that do not start with it are
//! compiled as before; a damaged precompiled header costs nothing but time.

use std::path::{Path, PathBuf};

use hone_sandbox::{Compilation, Language, Limits, RunStatus, Sandbox, SandboxConfig};

fn sandbox(cache_dir: Option<&Path>) -> Sandbox {
    Sandbox::new(SandboxConfig {
        cache_dir: cache_dir.map(Path::to_path_buf),
        ..SandboxConfig::default()
    })
    .expect("sandbox")
}

fn wasm(sandbox: &Sandbox, source: &str) -> Vec<u8> {
    sandbox
        .compile_to_wasm(Language::Cpp, source)
        .expect("the compiler runs")
        .unwrap_or_else(|diagnostics| panic!("does not compile:\n{diagnostics}"))
}

fn precompiled_headers(cache: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(cache.join("pch")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path().join("stdc++.pch"))
        .filter(|p| p.is_file())
        .collect()
}

/// A contest-style program: `<bits/stdc++.h>` first, after a comment.
const CONTEST: &str = "// greedy
/* a block comment */
#include <bits/stdc++.h>  // everything
using namespace std;
int main() {
    int n; cin >> n;
    vector<long long> v(n);
    for (auto &x : v) cin >> x;
    sort(v.begin(), v.end());
    map<long long, int> seen;
    for (auto x : v) seen[x]++;
    cout << accumulate(v.begin(), v.end(), 0LL) << ' ' << seen.size() << endl;
}
";

#[test]
fn a_precompiled_header_changes_no_byte_of_the_module() {
    let cache = tempfile::tempdir().unwrap();
    let with = wasm(&sandbox(Some(cache.path())), CONTEST);
    let built = precompiled_headers(cache.path());
    assert_eq!(built.len(), 1, "one precompiled header: {built:?}");
    let without = wasm(&sandbox(None), CONTEST);
    assert!(with == without, "the modules differ");

    // A later process finds it and uses it (not rebuilt: same file, same modification time).
    let modified = std::fs::metadata(&built[0]).unwrap().modified().unwrap();
    let other = CONTEST.replace("seen.size()", "seen.size() + 1");
    let again = wasm(&sandbox(Some(cache.path())), &other);
    assert_eq!(
        std::fs::metadata(&built[0]).unwrap().modified().unwrap(),
        modified
    );
    assert!(again == wasm(&sandbox(None), &other), "the modules differ");
}

#[test]
fn sources_that_define_before_the_include_compile_as_they_are() {
    // Had the header been read first, `NDEBUG` would come too late for <cassert> and the
    // assertion would trap; the source is compiled without the precompiled header and
    // means what it says.
    let cache = tempfile::tempdir().unwrap();
    let sandbox = sandbox(Some(cache.path()));
    wasm(&sandbox, CONTEST);
    assert_eq!(precompiled_headers(cache.path()).len(), 1);
    let source = "#define NDEBUG\n#include <bits/stdc++.h>\nint main() { assert(1 == 2); std::puts(\"ok\"); }\n";
    let Compilation::Ready(program) = sandbox.compile(Language::Cpp, source).unwrap() else {
        panic!("does not compile");
    };
    let outcome = sandbox.run(&program, b"", &Limits::default()).unwrap();
    assert_eq!(outcome.status, RunStatus::Ok, "{outcome:?}");
    assert_eq!(outcome.stdout, b"ok\n");
}

#[test]
fn a_damaged_precompiled_header_is_compiled_around() {
    let cache = tempfile::tempdir().unwrap();
    let clean = wasm(&sandbox(Some(cache.path())), CONTEST);
    let built = precompiled_headers(cache.path());
    assert_eq!(built.len(), 1);
    std::fs::write(&built[0], b"not a precompiled header").unwrap();
    let sandbox = sandbox(Some(cache.path()));
    let other = CONTEST.replace("endl", "'\\n'");
    assert!(
        wasm(&sandbox, &other) == wasm(&self::sandbox(None), &other),
        "the modules differ"
    );
    // Errors in the candidate are still the candidate's.
    let broken = CONTEST.replace("sort(", "sortt(");
    let diagnostics = sandbox
        .compile_to_wasm(Language::Cpp, &broken)
        .unwrap()
        .unwrap_err();
    assert!(diagnostics.contains("sortt"), "{diagnostics}");
    assert!(!diagnostics.contains("stdc++.pch"), "{diagnostics}");
    drop(clean);
}
