// Known faster solution: one odd-only sieve up to the largest query, then prefix counts.
use std::io::{self, Read, Write};

fn main() {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).unwrap();
    let mut tokens = input.split_ascii_whitespace().map(|t| t.parse::<usize>().unwrap());
    let q = tokens.next().unwrap();
    let queries: Vec<usize> = (0..q).map(|_| tokens.next().unwrap()).collect();
    let limit = queries.iter().copied().max().unwrap_or(1);
    // composite[i] says whether 2i+1 is composite.
    let half = limit / 2 + 1;
    let mut composite = vec![false; half];
    let mut i = 1;
    while (2 * i + 1) * (2 * i + 1) <= limit {
        if !composite[i] {
            let p = 2 * i + 1;
            let mut j = p * p / 2;
            while j < half {
                composite[j] = true;
                j += p;
            }
        }
        i += 1;
    }
    // count[i] = primes among odd numbers 3..=2i+1.
    let mut count = vec![0u32; half];
    for i in 1..half {
        count[i] = count[i - 1] + u32::from(!composite[i]);
    }
    let mut out = String::new();
    for n in queries {
        let answer = if n < 2 { 0 } else { 1 + count[(n - 1) / 2] };
        out.push_str(&answer.to_string());
        out.push('\n');
    }
    io::stdout().write_all(out.as_bytes()).unwrap();
}
