// Subtly wrong: square-and-multiply that starts from A instead of the identity and
// handles the top bit by skipping it, which is right for every k >= 1 but returns A for k = 0.
use std::io::{self, Read, Write};

const P: u64 = 1_000_000_007;

fn multiply(x: &[u64], y: &[u64], n: usize) -> Vec<u64> {
    let mut z = vec![0u64; n * n];
    for i in 0..n {
        for t in 0..n {
            let xv = x[i * n + t];
            for j in 0..n {
                z[i * n + j] = (z[i * n + j] + xv * y[t * n + j]) % P;
            }
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
    let a: Vec<u64> = (0..n * n).map(|_| tokens.next().unwrap()).collect();
    let mut result = a.clone();
    if k > 1 {
        let top = 63 - k.leading_zeros();
        for bit in (0..top).rev() {
            result = multiply(&result, &result, n);
            if (k >> bit) & 1 == 1 {
                result = multiply(&result, &a, n);
            }
        }
    }
    let mut out = String::new();
    for i in 0..n {
        let line: Vec<String> = result[i * n..(i + 1) * n].iter().map(|v| v.to_string()).collect();
        out.push_str(&line.join(" "));
        out.push('\n');
    }
    io::stdout().write_all(out.as_bytes()).unwrap();
}
