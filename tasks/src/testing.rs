//! Test support (feature `testing`): candidates that try to game a task's score.
//!
//! [`efficiency_cheater`] builds, for an efficiency task folder, a candidate that special-cases
//! the visible tests: it reads all of stdin, and when the input is one of the visible tests'
//! it prints that test's answer at once; otherwise it runs the task's honest
//! `reference/fast.*` on the input it buffered. Its public score is far above the honest
//! program's, and its private score must not be. [`lookup_cheater`] builds the same shape
//! of candidate from any honest program and any table of known answers (the heuristic
//! cheaters of the tests use it).
//!
//! ```no_run
//! use hone_sandbox::{Sandbox, SandboxConfig};
//! let sandbox = Sandbox::new(SandboxConfig::default())?;
//! let dir = std::path::Path::new("tasks/library/efficiency/pair-count");
//! let honest = hone_tasks::testing::efficiency_reference(dir)?;
//! let cheater = hone_tasks::testing::efficiency_cheater(dir, &sandbox)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::Write as _;
use std::path::Path;

use hone_sandbox::{Language, Limits, Program, Sandbox};

use crate::candidate::Candidate;

/// What building a test candidate can fail on, in words naming the file.
pub type TestingError = String;

/// The task's honest fast solution, `reference/fast.c` or `reference/fast.rs`, as a
/// candidate.
pub fn efficiency_reference(dir: &Path) -> Result<Candidate, TestingError> {
    let (language, source) = reference_source(dir)?;
    Ok(Candidate::from_file(language.file_name(), source))
}

/// A candidate that prints the known answers of the visible tests and runs the task's honest
/// `reference/fast.*` on any other input (see the module docs).
pub fn efficiency_cheater(dir: &Path, sandbox: &Sandbox) -> Result<Candidate, TestingError> {
    let (language, source) = reference_source(dir)?;
    let fast = compile(sandbox, language, &source, "reference/fast")?;
    let mut cases = Vec::new();
    for TestInput { input, .. } in efficiency_tests(dir, sandbox, "visible")? {
        let outcome = sandbox
            .run(&fast, &input, &trusted_limits(0))
            .map_err(|e| format!("{}: running reference/fast: {e}", dir.display()))?;
        if !outcome.status.is_ok() {
            return Err(format!(
                "{}: reference/fast ended with {} on a visible test",
                dir.display(),
                outcome.status
            ));
        }
        cases.push((text(input, dir)?, text(outcome.stdout, dir)?));
    }
    lookup_cheater(language, &source, &cases)
        .map_err(|e| format!("{}: reference/fast: {e}", dir.display()))
}

/// A candidate that prints `cases`' outputs when its input is one of `cases`' inputs, and
/// otherwise runs the honest program `honest` (C, Rust reading stdin with
/// `stdin().read_to_string(&mut NAME)`, or Python) on the input it buffered: the shape of every
/// special-casing cheater, whatever the kind.
pub fn lookup_cheater(
    language: Language,
    honest: &str,
    cases: &[(String, String)],
) -> Result<Candidate, TestingError> {
    let cheater = match language {
        Language::C => c_cheater(honest, cases),
        Language::Rust => rust_cheater(honest, cases).ok_or_else(|| {
            "the Rust program does not read stdin with `stdin().read_to_string(&mut NAME)`"
                .to_string()
        })?,
        Language::Python => python_cheater(honest, cases),
        Language::Wat | Language::Cpp => {
            return Err(format!("a {language} program cannot be wrapped"));
        }
    };
    Ok(Candidate::from_file(language.file_name(), cheater))
}

fn reference_source(dir: &Path) -> Result<(Language, String), TestingError> {
    for (language, name) in [
        (Language::C, "fast.c"),
        (Language::Rust, "fast.rs"),
        (Language::Python, "fast.py"),
    ] {
        let path = dir.join("reference").join(name);
        if path.exists() {
            let source =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            return Ok((language, source));
        }
    }
    Err(format!(
        "{}: no reference/fast.c, fast.rs or fast.py",
        dir.display()
    ))
}

/// Compiles a trusted program of a test (the task's own, or the test's).
pub fn compile(
    sandbox: &Sandbox,
    language: Language,
    source: &str,
    what: &str,
) -> Result<Program, TestingError> {
    sandbox
        .compile(language, source)
        .map_err(|e| format!("{what}: {e}"))?
        .program()
        .map_err(|diagnostics| format!("{what} does not compile: {diagnostics}"))
}

/// Limits of the trusted programs run here (generous: they are the task's own).
pub fn trusted_limits(seed: u64) -> Limits {
    Limits {
        fuel: Some(50_000_000_000),
        timeout: std::time::Duration::from_secs(120),
        stdout_bytes: 256 << 20,
        seed,
        ..Limits::default()
    }
}

fn text(bytes: Vec<u8>, dir: &Path) -> Result<String, TestingError> {
    String::from_utf8(bytes).map_err(|_| format!("{}: a visible test is not UTF-8", dir.display()))
}

/// One test input of an efficiency task.
#[derive(Clone, Debug)]
pub struct TestInput {
    /// `NAME` of a `NAME.in` file, or the generator line.
    pub name: String,
    /// Made by the task's generator (from a `generate` line).
    pub generated: bool,
    pub input: Vec<u8>,
}

/// The inputs of an efficiency task's `visible` or `hidden` tests, as the efficiency kind
/// builds them: the `files` folder's `NAME.in` in name order, then one generator run per
/// `generate` line (its first token seeding `random_get`).
pub fn efficiency_tests(
    dir: &Path,
    sandbox: &Sandbox,
    set: &str,
) -> Result<Vec<TestInput>, TestingError> {
    let manifest = dir.join("task.toml");
    let text =
        std::fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let section = table
        .get("efficiency")
        .and_then(|s| s.as_table())
        .ok_or_else(|| format!("{}: no [efficiency] section", manifest.display()))?;
    let tests = section
        .get(set)
        .and_then(|v| v.as_table())
        .ok_or_else(|| format!("{}: no efficiency.{set}", manifest.display()))?;
    let mut inputs = Vec::new();
    if let Some(folder) = tests.get("files").and_then(|f| f.as_str()) {
        let mut names: Vec<_> = std::fs::read_dir(dir.join(folder))
            .map_err(|e| format!("{}/{folder}: {e}", dir.display()))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "in"))
            .collect();
        names.sort();
        for path in names {
            inputs.push(TestInput {
                name: path
                    .file_stem()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                generated: false,
                input: std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?,
            });
        }
    }
    let lines: Vec<&str> = tests
        .get("generate")
        .and_then(|g| g.as_array())
        .map(|a| a.iter().filter_map(|l| l.as_str()).collect())
        .unwrap_or_default();
    if !lines.is_empty() {
        let generator = section
            .get("generator")
            .and_then(|g| g.as_str())
            .ok_or_else(|| format!("{}: no efficiency.generator", manifest.display()))?;
        let path = dir.join(generator);
        let language = Language::from_path(&path)
            .ok_or_else(|| format!("{}: unknown language", path.display()))?;
        let source =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let program = compile(sandbox, language, &source, generator)?;
        for line in lines {
            let seed = line
                .split_ascii_whitespace()
                .next()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| format!("{}: `{line}` has no seed", manifest.display()))?;
            let outcome = sandbox
                .run(
                    &program,
                    format!("{line}\n").as_bytes(),
                    &trusted_limits(seed),
                )
                .map_err(|e| format!("{generator}: {e}"))?;
            if !outcome.status.is_ok() {
                return Err(format!(
                    "{generator} failed on `{line}`: {}",
                    outcome.status
                ));
            }
            inputs.push(TestInput {
                name: line.to_string(),
                generated: true,
                input: outcome.stdout,
            });
        }
    }
    Ok(inputs)
}

/// `"..."` pieces of a C string literal, one per line of `text` (octal escapes: they take
/// at most three digits, so no following character can extend them).
fn c_literal(text: &str) -> String {
    let mut out = String::from("\"");
    for byte in text.bytes() {
        match byte {
            b'\n' => out.push_str("\\n\"\n    \""),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'?' => out.push_str("\\?"),
            0x20..=0x7e => out.push(byte as char),
            _ => {
                let _ = write!(out, "\\{byte:03o}");
            }
        }
    }
    out.push('"');
    out
}

/// The C cheater: the fast program's `main` renamed, its stdin (and `scanf`, `getchar`)
/// redirected to a `FILE` over the buffered input, and a `main` that looks the input up.
/// Python: the whole input is read as bytes; a known one is answered from the table, any
/// other is handed to the honest program (run by `exec`) through a fresh `sys.stdin`. The
/// table's bytes are written in base64, which the interpreter reads far faster than escaped
/// literals, so the lookup costs little fuel.
fn python_cheater(fast: &str, cases: &[(String, String)]) -> String {
    let literal = |text: &str| format!("_b('{}')", base64(text.as_bytes()));
    let mut out =
        String::from("import io, sys\nfrom binascii import a2b_base64 as _b\n_hone_cases = {\n");
    for (input, output) in cases {
        let _ = writeln!(out, "    {}: {},", literal(input), literal(output));
    }
    out.push_str("}\n_hone_input = sys.stdin.buffer.read()\n");
    out.push_str("if _hone_input in _hone_cases:\n");
    out.push_str("    sys.stdout.buffer.write(_hone_cases[_hone_input])\n");
    out.push_str("else:\n");
    out.push_str("    sys.stdin = io.TextIOWrapper(io.BytesIO(_hone_input))\n");
    let _ = writeln!(
        out,
        "    exec(compile({}, 'fast.py', 'exec'), {{'__name__': '__main__'}})",
        literal(fast)
    );
    out
}

/// Standard base64 (RFC 4648, with padding).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn c_cheater(fast: &str, cases: &[(String, String)]) -> String {
    let mut out = String::from(
        "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n\
         static FILE *hone_cheat_in;\n\
         #define main hone_fast_main\n\
         #define stdin hone_cheat_in\n\
         #define scanf(...) fscanf(hone_cheat_in, __VA_ARGS__)\n\
         #define getchar() fgetc(hone_cheat_in)\n",
    );
    out.push_str(fast);
    out.push_str("\n#undef main\n#undef stdin\n#undef scanf\n#undef getchar\n\n");
    let _ = writeln!(out, "#define HONE_CASES {}", cases.len());
    out.push_str("static const char *const hone_inputs[HONE_CASES] = {\n");
    for (input, _) in cases {
        let _ = writeln!(out, "    {},", c_literal(input));
    }
    out.push_str("};\nstatic const size_t hone_lengths[HONE_CASES] = {");
    for (input, _) in cases {
        let _ = write!(out, "{}, ", input.len());
    }
    out.push_str("};\nstatic const char *const hone_outputs[HONE_CASES] = {\n");
    for (_, output) in cases {
        let _ = writeln!(out, "    {},", c_literal(output));
    }
    out.push_str(
        "};\n\n\
         int main(void) {\n\
         \x20   size_t capacity = 1 << 16, length = 0, got;\n\
         \x20   char *buffer = malloc(capacity);\n\
         \x20   while (buffer && (got = fread(buffer + length, 1, capacity - length, stdin)) > 0) {\n\
         \x20       length += got;\n\
         \x20       if (length == capacity) buffer = realloc(buffer, capacity *= 2);\n\
         \x20   }\n\
         \x20   if (!buffer) return 1;\n\
         \x20   for (int i = 0; i < HONE_CASES; i++) {\n\
         \x20       if (length == hone_lengths[i] && memcmp(buffer, hone_inputs[i], length) == 0) {\n\
         \x20           fputs(hone_outputs[i], stdout);\n\
         \x20           return 0;\n\
         \x20       }\n\
         \x20   }\n\
         \x20   hone_cheat_in = fmemopen(buffer, length, \"r\");\n\
         \x20   if (!hone_cheat_in) return 1;\n\
         \x20   return hone_fast_main();\n\
         }\n",
    );
    out
}

/// The Rust cheater: the fast program's `main` takes the buffered input (its
/// `stdin().read_to_string(&mut NAME)` statement becomes `NAME.push_str(..)`), and a `main`
/// looks the input up first. `None` when the fast program reads stdin another way.
fn rust_cheater(fast: &str, cases: &[(String, String)]) -> Option<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut read = false;
    let mut renamed = false;
    for line in fast.lines() {
        if !renamed && line.trim_start().starts_with("fn main()") {
            lines.push(line.replacen("fn main()", "fn hone_fast_main(hone_input: String)", 1));
            renamed = true;
        } else if !read && line.contains("stdin().read_to_string(&mut ") {
            let name = line.split("&mut ").nth(1)?.split(')').next()?.trim();
            let indent = &line[..line.len() - line.trim_start().len()];
            lines.push(format!("{indent}{name}.push_str(&hone_input);"));
            read = true;
        } else {
            lines.push(line.to_string());
        }
    }
    if !(read && renamed) {
        return None;
    }
    let mut out = lines.join("\n");
    out.push_str("\n\nconst HONE_CASES: &[(&str, &str)] = &[\n");
    for (input, output) in cases {
        let _ = writeln!(out, "    ({input:?}, {output:?}),");
    }
    out.push_str(
        "];\n\n\
         fn main() {\n\
         \x20   use std::io::{Read as _, Write as _};\n\
         \x20   let mut hone_input = String::new();\n\
         \x20   std::io::stdin().read_to_string(&mut hone_input).unwrap();\n\
         \x20   for (input, output) in HONE_CASES {\n\
         \x20       if *input == hone_input {\n\
         \x20           std::io::stdout().write_all(output.as_bytes()).unwrap();\n\
         \x20           return;\n\
         \x20       }\n\
         \x20   }\n\
         \x20   hone_fast_main(hone_input);\n\
         }\n",
    );
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_literals_escape_what_c_would_read_otherwise() {
        assert_eq!(c_literal("a\"b\\c?"), "\"a\\\"b\\\\c\\?\"");
        assert_eq!(c_literal("1\n2"), "\"1\\n\"\n    \"2\"");
        assert_eq!(c_literal("\t7"), "\"\\0117\"");
    }

    #[test]
    fn rust_cheater_needs_a_stdin_read_it_can_redirect() {
        let fast = "use std::io::{self, Read};\nfn main() {\n    let mut input = String::new();\n    io::stdin().read_to_string(&mut input).unwrap();\n    print!(\"{}\", input.len());\n}\n";
        let cheater = rust_cheater(fast, &[("x\n".into(), "2\n".into())]).expect("wrapped");
        assert!(
            cheater.contains("fn hone_fast_main(hone_input: String)"),
            "{cheater}"
        );
        assert!(
            cheater.contains("    input.push_str(&hone_input);"),
            "{cheater}"
        );
        assert!(cheater.contains("(\"x\\n\", \"2\\n\")"), "{cheater}");
        assert_eq!(rust_cheater("fn main() {}", &[]), None);
    }
}
