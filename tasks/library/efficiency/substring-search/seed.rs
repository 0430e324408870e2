// Substring search: compares the pattern at every offset of the text.
use std::io::{self, Read};

fn main() {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).unwrap();
    let mut lines = input.split_ascii_whitespace();
    let text = lines.next().unwrap().as_bytes();
    let pattern = lines.next().unwrap().as_bytes();
    let (n, m) = (text.len(), pattern.len());
    let mut count = 0u64;
    let mut i = 0;
    while i + m <= n {
        let mut k = 0;
        while k < m && text[i + k] == pattern[k] {
            k += 1;
        }
        if k == m {
            count += 1;
        }
        i += 1;
    }
    println!("{count}");
}
