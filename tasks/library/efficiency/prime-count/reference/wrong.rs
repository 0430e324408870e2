// Subtly wrong: a sieve whose outer loop stops at p * p < limit, so when the largest
// query is the square of a prime p, p * p is never crossed out and counts as a prime.
use std::io::{self, Read, Write};

fn main() {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).unwrap();
    let mut tokens = input.split_ascii_whitespace().map(|t| t.parse::<usize>().unwrap());
    let q = tokens.next().unwrap();
    let queries: Vec<usize> = (0..q).map(|_| tokens.next().unwrap()).collect();
    let limit = queries.iter().copied().max().unwrap_or(1);
    let mut prime = vec![true; limit + 1];
    prime[0] = false;
    if limit >= 1 {
        prime[1] = false;
    }
    let mut p = 2;
    while p * p < limit {
        if prime[p] {
            let mut j = p * p;
            while j <= limit {
                prime[j] = false;
                j += p;
            }
        }
        p += 1;
    }
    let mut count = vec![0u32; limit + 1];
    for i in 1..=limit {
        count[i] = count[i - 1] + u32::from(prime[i]);
    }
    let mut out = String::new();
    for n in queries {
        out.push_str(&count[n].to_string());
        out.push('\n');
    }
    io::stdout().write_all(out.as_bytes()).unwrap();
}
