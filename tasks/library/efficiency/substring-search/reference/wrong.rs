// Subtly wrong: KMP that restarts from scratch after a match, so it counts only
// non-overlapping occurrences.
use std::io::{self, Read};

fn main() {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).unwrap();
    let mut lines = input.split_ascii_whitespace();
    let text = lines.next().unwrap().as_bytes();
    let pattern = lines.next().unwrap().as_bytes();
    let m = pattern.len();
    let mut fail = vec![0usize; m];
    let mut k = 0;
    for i in 1..m {
        while k > 0 && pattern[i] != pattern[k] {
            k = fail[k - 1];
        }
        if pattern[i] == pattern[k] {
            k += 1;
        }
        fail[i] = k;
    }
    let mut count = 0u64;
    k = 0;
    for &c in text {
        while k > 0 && c != pattern[k] {
            k = fail[k - 1];
        }
        if c == pattern[k] {
            k += 1;
        }
        if k == m {
            count += 1;
            k = 0;
        }
    }
    println!("{count}");
}
