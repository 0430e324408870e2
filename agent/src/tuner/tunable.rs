//! Constants marked `// hone:tune LO..HI [log] [int]` in code (`# hone:tune ...` in Python):
//! finding and rewriting them.

use std::collections::BTreeMap;
use std::ops::Range;

use hone_tasks::Scale;

use super::TunerError;

/// One numeric literal marked tunable.
#[derive(Clone, Debug, PartialEq)]
pub struct TunableConstant {
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// Byte range of the literal (with its sign, if unary minus) within the line.
    pub span: Range<usize>,
    /// The literal as written.
    pub literal: String,
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
    pub scale: Scale,
    /// Rounded to an integer (the `int` flag, or an integer literal).
    pub int: bool,
    /// The literal is a float (decimal point, exponent or float suffix); rewrites keep it one.
    pub float_literal: bool,
    /// Type suffix kept on rewrite (`f64`, `u32`, `f`, `L`, ...).
    pub suffix: String,
}

impl TunableConstant {
    /// `file:line`, the constant's name in prompts and notes.
    pub fn name(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// The tunable constants of a set of files.
pub struct TunableSpace;

const MARKER: &str = "hone:tune";

impl TunableSpace {
    /// Every marked constant, by file name then line. A marker on a line that does not hold
    /// exactly one numeric literal, or with bad bounds, is an error naming file and line.
    pub fn from_code(files: &BTreeMap<String, String>) -> Result<Vec<TunableConstant>, TunerError> {
        let mut constants = Vec::new();
        for (file, text) in files {
            for (index, line) in text.split('\n').enumerate() {
                let line = line.strip_suffix('\r').unwrap_or(line);
                if let Some(constant) = parse_line(file, index + 1, line)? {
                    constants.push(constant);
                }
            }
        }
        Ok(constants)
    }

    /// The files with the marked literals rewritten to `values` (one per constant, in
    /// [`TunableSpace::from_code`] order; clamped to bounds, rounded for ints).
    pub fn apply(
        files: &BTreeMap<String, String>,
        values: &[f64],
    ) -> Result<BTreeMap<String, String>, TunerError> {
        let constants = TunableSpace::from_code(files)?;
        if constants.len() != values.len() {
            return Err(TunerError::Mismatch {
                expected: constants.len(),
                got: values.len(),
            });
        }
        let mut by_file: BTreeMap<&str, Vec<(&TunableConstant, f64)>> = BTreeMap::new();
        for (constant, value) in constants.iter().zip(values) {
            by_file
                .entry(constant.file.as_str())
                .or_default()
                .push((constant, *value));
        }
        let mut out = files.clone();
        for (file, edits) in by_file {
            let Some(text) = files.get(file) else {
                continue;
            };
            let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
            for (constant, value) in edits {
                let Some(line) = lines.get_mut(constant.line - 1) else {
                    continue;
                };
                let replacement = format_literal(constant, value, line);
                line.replace_range(constant.span.clone(), &replacement);
            }
            out.insert(file.to_string(), lines.join("\n"));
        }
        Ok(out)
    }
}

fn marker_error(file: &str, line: usize, message: impl Into<String>) -> TunerError {
    TunerError::Marker {
        file: file.to_string(),
        line,
        message: message.into(),
    }
}

/// What starts a line comment in `file`'s language: `#` in Python, `//` elsewhere.
fn comment_opener(file: &str) -> &'static str {
    if file.ends_with(".py") { "#" } else { "//" }
}

fn parse_line(
    file: &str,
    number: usize,
    line: &str,
) -> Result<Option<TunableConstant>, TunerError> {
    let opener = comment_opener(file);
    let Some(comment) = line
        .match_indices(opener)
        .find(|(i, _)| line[i + opener.len()..].trim_start().starts_with(MARKER))
        .map(|(i, _)| i)
    else {
        return Ok(None);
    };
    let args = line[comment + opener.len()..].trim_start()[MARKER.len()..].trim();
    let mut words = args.split_whitespace();
    let range = words.next().ok_or_else(|| {
        marker_error(
            file,
            number,
            "missing bounds; write `// hone:tune LO..HI [log] [int]`",
        )
    })?;
    let (lo, hi) = range.split_once("..").ok_or_else(|| {
        marker_error(
            file,
            number,
            format!("bounds `{range}` must be written LO..HI, e.g. 0.5..2.0"),
        )
    })?;
    let parse = |s: &str| s.trim().parse::<f64>().ok().filter(|v| v.is_finite());
    let (Some(lower), Some(upper)) = (parse(lo), parse(hi)) else {
        return Err(marker_error(
            file,
            number,
            format!("bounds `{range}` must be two numbers, e.g. 0.5..2.0"),
        ));
    };
    if lower >= upper {
        return Err(marker_error(
            file,
            number,
            format!("lower bound {lower} must be below upper bound {upper}"),
        ));
    }
    let mut scale = Scale::Linear;
    let mut int = false;
    for flag in words {
        match flag {
            "log" => scale = Scale::Log,
            "int" => int = true,
            other => {
                return Err(marker_error(
                    file,
                    number,
                    format!("unknown flag `{other}`; accepted: log, int"),
                ));
            }
        }
    }
    if scale == Scale::Log && lower <= 0.0 {
        return Err(marker_error(
            file,
            number,
            "a log-scale range must be positive",
        ));
    }
    let code = &line[..comment];
    let literals = find_literals(code);
    let [literal] = literals.as_slice() else {
        return Err(marker_error(
            file,
            number,
            format!(
                "the line must hold exactly one numeric literal before the marker; found {}",
                literals.len()
            ),
        ));
    };
    let value = literal.value;
    Ok(Some(TunableConstant {
        file: file.to_string(),
        line: number,
        span: literal.span.clone(),
        literal: code[literal.span.clone()].to_string(),
        value,
        lower,
        upper,
        scale,
        int: int || !literal.float,
        float_literal: literal.float,
        suffix: literal.suffix.clone(),
    }))
}

struct Literal {
    span: Range<usize>,
    value: f64,
    float: bool,
    suffix: String,
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Numeric literals of a line of C or Rust, skipping strings, chars and comments.
fn find_literals(code: &str) -> Vec<Literal> {
    let bytes = code.as_bytes();
    let mut literals = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        if c == b'\'' {
            // A char literal ('x', '\n'); otherwise a Rust lifetime.
            let close = bytes[i + 1..].iter().take(4).position(|&b| b == b'\'');
            i += close.map(|p| p + 2).unwrap_or(1);
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            i = code[i + 2..]
                .find("*/")
                .map(|p| i + 2 + p + 2)
                .unwrap_or(bytes.len());
            continue;
        }
        if is_ident(c) && !c.is_ascii_digit() {
            while i < bytes.len() && is_ident(bytes[i]) {
                i += 1;
            }
            continue;
        }
        let starts_with_dot = c == b'.' && bytes.get(i + 1).is_some_and(|b| b.is_ascii_digit());
        if c.is_ascii_digit() || starts_with_dot {
            let prev = if i > 0 { Some(bytes[i - 1]) } else { None };
            // `t.0`, `x.1`: a field or tuple index, not a literal.
            if c.is_ascii_digit()
                && prev == Some(b'.')
                && i >= 2
                && (is_ident(bytes[i - 2]) || matches!(bytes[i - 2], b')' | b']'))
            {
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                continue;
            }
            if starts_with_dot
                && i > 0
                && (is_ident(bytes[i - 1]) || matches!(bytes[i - 1], b')' | b']' | b'.'))
            {
                i += 1;
                continue;
            }
            let (end, literal) = lex_number(code, i);
            let mut literal = literal;
            if i > 0 && bytes[i - 1] == b'-' && unary_minus(&code[..i - 1]) {
                literal.span.start = i - 1;
                literal.value = -literal.value;
            }
            literals.push(literal);
            i = end.max(i + 1);
            continue;
        }
        i += 1;
    }
    literals
}

/// Whether a `-` after `before` is a unary minus.
fn unary_minus(before: &str) -> bool {
    let trimmed = before.trim_end();
    match trimmed.bytes().last() {
        None => true,
        Some(b) if b"=([,{;:+-*/%<>!&|^?".contains(&b) => true,
        Some(_) => {
            trimmed.ends_with("return")
                && !trimmed[..trimmed.len() - 6]
                    .bytes()
                    .last()
                    .is_some_and(is_ident)
        }
    }
}

/// Lexes the number starting at `start`: (end, literal).
fn lex_number(code: &str, start: usize) -> (usize, Literal) {
    let bytes = code.as_bytes();
    let mut i = start;
    let radix = if bytes[i] == b'0' {
        match bytes.get(i + 1) {
            Some(b'x' | b'X') => 16,
            Some(b'b' | b'B') => 2,
            Some(b'o' | b'O') => 8,
            _ => 10,
        }
    } else {
        10
    };
    if radix != 10 {
        i += 2;
        let digits_start = i;
        while i < bytes.len()
            && (bytes[i].is_ascii_hexdigit() && radix == 16
                || bytes[i].is_ascii_digit()
                || bytes[i] == b'_')
        {
            i += 1;
        }
        let digits: String = code[digits_start..i]
            .chars()
            .filter(|&c| c != '_')
            .collect();
        let value = i64::from_str_radix(&digits, radix)
            .map(|v| v as f64)
            .unwrap_or(0.0);
        let suffix_start = i;
        while i < bytes.len() && is_ident(bytes[i]) {
            i += 1;
        }
        return (
            i,
            Literal {
                span: start..i,
                value,
                float: false,
                suffix: code[suffix_start..i].to_string(),
            },
        );
    }
    let mut float = false;
    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'_') {
        i += 1;
    }
    if i < bytes.len() && bytes[i] == b'.' {
        let next = bytes.get(i + 1).copied();
        // `1..5` is a range and `1.max(2)` a method call; `1.` and `1.5` are floats.
        let is_range = next == Some(b'.');
        let is_method = next.is_some_and(|b| {
            (b.is_ascii_alphabetic() && b != b'e' && b != b'E' && b != b'f' && b != b'F')
                || b == b'_'
        });
        if !is_range && !is_method {
            float = true;
            i += 1;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'_') {
                i += 1;
            }
        }
    }
    if i < bytes.len() && matches!(bytes[i], b'e' | b'E') {
        let mut j = i + 1;
        if j < bytes.len() && matches!(bytes[j], b'+' | b'-') {
            j += 1;
        }
        if j < bytes.len() && bytes[j].is_ascii_digit() {
            float = true;
            i = j;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'_') {
                i += 1;
            }
        }
    }
    let number_end = i;
    while i < bytes.len() && is_ident(bytes[i]) {
        i += 1;
    }
    let suffix = code[number_end..i].to_string();
    if suffix.starts_with(['f', 'F']) {
        float = true;
    }
    let digits: String = code[start..number_end]
        .chars()
        .filter(|&c| c != '_')
        .collect();
    let value = digits.parse::<f64>().unwrap_or(0.0);
    (
        i,
        Literal {
            span: start..i,
            value,
            float,
            suffix,
        },
    )
}

/// The literal text for `value` in the constant's style: `2.0` (never `2`) for float
/// literals, the suffix kept, parentheses around a negative value right after `-`/`+`.
fn format_literal(constant: &TunableConstant, value: f64, line: &str) -> String {
    let value = if value.is_finite() {
        value.clamp(constant.lower, constant.upper)
    } else {
        constant.value
    };
    let mut text = if constant.float_literal {
        let value = if constant.int { value.round() } else { value };
        format_float(value)
    } else {
        format!("{}", value.round() as i64)
    };
    text.push_str(&constant.suffix);
    let before = line[..constant.span.start].bytes().last();
    if text.starts_with('-') && matches!(before, Some(b'-' | b'+')) {
        text = format!("({text})");
    }
    text
}

/// A float with a decimal point (`2.0`, `0.125`, `1.5e-7`), at most 12 significant digits.
pub fn format_float(value: f64) -> String {
    if value == 0.0 {
        return "0.0".into();
    }
    let rounded: f64 = format!("{value:.11e}").parse().unwrap_or(value);
    let magnitude = rounded.abs();
    if (1e-4..1e15).contains(&magnitude) {
        let text = format!("{rounded}");
        if text.contains('.') {
            text
        } else {
            text + ".0"
        }
    } else {
        let text = format!("{rounded:e}");
        match text.split_once('e') {
            Some((mantissa, exponent)) if !mantissa.contains('.') => {
                format!("{mantissa}.0e{exponent}")
            }
            _ => text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(name: &str, text: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(name.to_string(), text.to_string())])
    }

    #[test]
    fn finds_and_rewrites_markers_in_cpp() {
        let cpp = "constexpr double MAX_STEP = 0.5;     // hone:tune 0.05..1.0\nconstexpr int NEIGHBOURS = 8;       // hone:tune 2..30 int\n";
        let constants = TunableSpace::from_code(&files("main.cpp", cpp)).unwrap_or_default();
        assert_eq!(constants.len(), 2);
        assert_eq!((constants[0].value, constants[1].value), (0.5, 8.0));
        let out = TunableSpace::apply(&files("main.cpp", cpp), &[0.25, 12.4]).unwrap_or_default();
        let text = out.get("main.cpp").cloned().unwrap_or_default();
        assert!(text.contains("MAX_STEP = 0.25;"), "{text}");
        assert!(text.contains("NEIGHBOURS = 12;"), "{text}");
    }

    #[test]
    fn finds_markers_in_c_and_rust() {
        let c = "int main() {\n  double omega = 1.5; // hone:tune 1.0..2.0\n  int iters = 100; // hone:tune 10..1000 log int\n  float eps = 1e-6f; // hone:tune 1e-9..1e-3 log\n  return 0;\n}\n";
        let constants = TunableSpace::from_code(&files("main.c", c)).unwrap_or_default();
        assert_eq!(constants.len(), 3);
        assert_eq!(
            (
                constants[0].line,
                constants[0].literal.as_str(),
                constants[0].value
            ),
            (2, "1.5", 1.5)
        );
        assert!(
            constants[1].int && constants[1].scale == Scale::Log && !constants[1].float_literal
        );
        assert_eq!(
            (constants[2].literal.as_str(), constants[2].suffix.as_str()),
            ("1e-6f", "f")
        );
        let out =
            TunableSpace::apply(&files("main.c", c), &[2.0, 316.7, 2.5e-7]).unwrap_or_default();
        let text = out.get("main.c").cloned().unwrap_or_default();
        assert!(text.contains("double omega = 2.0; // hone:tune"), "{text}");
        assert!(text.contains("int iters = 317; //"), "{text}");
        assert!(text.contains("float eps = 2.5e-7f; //"), "{text}");
        // The rewritten file parses back to the written values.
        let again = TunableSpace::from_code(&out).unwrap_or_default();
        assert_eq!(
            again.iter().map(|c| c.value).collect::<Vec<_>>(),
            [2.0, 317.0, 2.5e-7]
        );
    }

    #[test]
    fn finds_hash_markers_in_python_only() {
        let py = "omega = 1.5  # hone:tune 1.0..2.0\nsteps = 100  # hone:tune 10..1000 log int\nx = 3 // 2  # not a marker\n";
        let constants = TunableSpace::from_code(&files("main.py", py)).unwrap_or_default();
        assert_eq!(
            constants
                .iter()
                .map(|c| (c.line, c.literal.as_str()))
                .collect::<Vec<_>>(),
            [(1, "1.5"), (2, "100")]
        );
        let out = TunableSpace::apply(&files("main.py", py), &[1.75, 40.2]).unwrap_or_default();
        let text = out.get("main.py").cloned().unwrap_or_default();
        assert!(text.starts_with("omega = 1.75  # hone:tune"), "{text}");
        assert!(text.contains("steps = 40  # hone:tune"), "{text}");
        // `#` is no marker in C, and `//` none in Python.
        let c = "x = 1.5; # hone:tune 1..2\n";
        assert!(
            TunableSpace::from_code(&files("main.c", c))
                .unwrap_or_default()
                .is_empty()
        );
        let slashes = "x = 1.5 // hone:tune 1..2\n";
        assert!(
            TunableSpace::from_code(&files("main.py", slashes))
                .unwrap_or_default()
                .is_empty()
        );
    }

    #[test]
    fn rust_suffixes_signs_and_ranges() {
        let rs = "const W: f64 = 2.0_f64; // hone:tune 0.5..4\nlet k = t.0 * -3; // hone:tune -5..5 int\nfor i in lo..5 {} // hone:tune 1..9 int\nx -= 1.0; // hone:tune 0..2\n";
        let constants = TunableSpace::from_code(&files("main.rs", rs)).unwrap_or_default();
        assert_eq!(
            constants
                .iter()
                .map(|c| c.literal.as_str())
                .collect::<Vec<_>>(),
            ["2.0_f64", "-3", "5", "1.0"]
        );
        assert_eq!(constants[1].value, -3.0);
        let out =
            TunableSpace::apply(&files("main.rs", rs), &[1.0, 4.0, 7.2, 0.25]).unwrap_or_default();
        let text = out.get("main.rs").cloned().unwrap_or_default();
        assert!(text.contains("const W: f64 = 1.0f64;"), "{text}");
        assert!(text.contains("t.0 * 4;"), "{text}");
        assert!(text.contains("in lo..7 {}"), "{text}");
        assert!(text.contains("x -= 0.25;"), "{text}");
    }

    #[test]
    fn bad_markers_name_file_and_line() {
        let two = "x = 1 + 2; // hone:tune 0..5\n";
        let err = TunableSpace::from_code(&files("main.c", two))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("main.c:1") && err.contains("found 2"), "{err}");
        let bounds = "\nx = 1; // hone:tune 5..1\n";
        let err = TunableSpace::from_code(&files("main.c", bounds))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("main.c:2"), "{err}");
        assert!(
            TunableSpace::from_code(&files("main.c", "x = 1; // hone:tune 0..1 fast\n")).is_err()
        );
        assert!(
            TunableSpace::from_code(&files("main.c", "x = 1; // hone:tune 0..1 log\n")).is_err()
        );
    }

    #[test]
    fn negative_after_binary_minus_is_parenthesised() {
        let c = "y = x -1.5; // hone:tune -3..3\n";
        let out = TunableSpace::apply(&files("main.c", c), &[-2.0]).unwrap_or_default();
        assert_eq!(
            out.get("main.c").map(String::as_str),
            Some("y = x -(-2.0); // hone:tune -3..3\n")
        );
    }

    #[test]
    fn floats_always_have_a_point() {
        assert_eq!(format_float(2.0), "2.0");
        assert_eq!(format_float(0.1 + 0.2), "0.3");
        assert_eq!(format_float(1e-7), "1.0e-7");
        assert_eq!(format_float(-3.25), "-3.25");
    }
}
