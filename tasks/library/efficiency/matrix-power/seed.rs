// Matrix power: multiplies by A, k times.
use std::io::{self, Read, Write};

const P: u64 = 1_000_000_007;

fn multiply(x: &[Vec<u64>], y: &[Vec<u64>]) -> Vec<Vec<u64>> {
    let n = x.len();
    let mut z = vec![vec![0u64; n]; n];
    for i in 0..n {
        for j in 0..n {
            let mut sum = 0u64;
            for t in 0..n {
                sum = (sum + x[i][t] * y[t][j] % P) % P;
            }
            z[i][j] = sum;
        }
    }
    z
}

fn main() {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).unwrap();
    let mut tokens = input.split_ascii_whitespace().map(|t| t.parse::<u64>().unwrap());
    let n = tokens.next().unwrap() as usize;
    let k = tokens.next().unwrap();
    let a: Vec<Vec<u64>> = (0..n).map(|_| (0..n).map(|_| tokens.next().unwrap()).collect()).collect();
    let mut result: Vec<Vec<u64>> = (0..n).map(|i| (0..n).map(|j| u64::from(i == j)).collect()).collect();
    for _ in 0..k {
        result = multiply(&result, &a);
    }
    let mut out = String::new();
    for row in &result {
        let line: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        out.push_str(&line.join(" "));
        out.push('\n');
    }
    io::stdout().write_all(out.as_bytes()).unwrap();
}
