// Known faster solution: the standard library's pattern-defeating quicksort, buffered output.
use std::io::{self, Read, Write};

fn main() {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).unwrap();
    let mut tokens = input.split_ascii_whitespace();
    let n: usize = tokens.next().unwrap().parse().unwrap();
    let mut a: Vec<i64> = (0..n).map(|_| tokens.next().unwrap().parse().unwrap()).collect();
    a.sort_unstable();
    let mut out = String::with_capacity(n * 21);
    for (i, v) in a.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&v.to_string());
    }
    out.push('\n');
    io::stdout().write_all(out.as_bytes()).unwrap();
}
