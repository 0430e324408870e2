// Sorting: insertion sort.
use std::io::{self, Read, Write};

fn main() {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).unwrap();
    let mut tokens = input.split_ascii_whitespace();
    let n: usize = tokens.next().unwrap().parse().unwrap();
    let mut a: Vec<i64> = (0..n).map(|_| tokens.next().unwrap().parse().unwrap()).collect();
    for i in 1..n {
        let x = a[i];
        let mut j = i;
        while j > 0 && a[j - 1] > x {
            a[j] = a[j - 1];
            j -= 1;
        }
        a[j] = x;
    }
    let line: Vec<String> = a.iter().map(|v| v.to_string()).collect();
    let mut out = io::stdout();
    out.write_all(line.join(" ").as_bytes()).unwrap();
    out.write_all(b"\n").unwrap();
}
