// Subtly wrong: an LSD radix sort on the raw bits, which orders negative numbers after
// the positive ones (their sign bit is set).
use std::io::{self, Read, Write};

fn main() {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).unwrap();
    let mut tokens = input.split_ascii_whitespace();
    let n: usize = tokens.next().unwrap().parse().unwrap();
    let mut a: Vec<u64> = (0..n).map(|_| tokens.next().unwrap().parse::<i64>().unwrap() as u64).collect();
    let mut tmp = vec![0u64; n];
    for shift in (0..64).step_by(16) {
        let mut count = vec![0usize; 65537];
        for &v in &a {
            count[((v >> shift) & 0xffff) as usize + 1] += 1;
        }
        for i in 0..65536 {
            count[i + 1] += count[i];
        }
        for &v in &a {
            let slot = &mut count[((v >> shift) & 0xffff) as usize];
            tmp[*slot] = v;
            *slot += 1;
        }
        std::mem::swap(&mut a, &mut tmp);
    }
    let line: Vec<String> = a.iter().map(|&v| (v as i64).to_string()).collect();
    let mut out = io::stdout();
    out.write_all(line.join(" ").as_bytes()).unwrap();
    out.write_all(b"\n").unwrap();
}
