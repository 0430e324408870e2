// Prime count: answers each query by testing every number up to N with trial division.
use std::io::{self, Read, Write};

fn is_prime(k: u64) -> bool {
    if k < 2 {
        return false;
    }
    let mut d = 2;
    while d * d <= k {
        if k % d == 0 {
            return false;
        }
        d += 1;
    }
    true
}

fn main() {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).unwrap();
    let mut tokens = input.split_ascii_whitespace().map(|t| t.parse::<u64>().unwrap());
    let q = tokens.next().unwrap();
    let mut out = String::new();
    for _ in 0..q {
        let n = tokens.next().unwrap();
        let count = (1..=n).filter(|&k| is_prime(k)).count();
        out.push_str(&format!("{count}\n"));
    }
    io::stdout().write_all(out.as_bytes()).unwrap();
}
