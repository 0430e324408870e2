use std::io::Read;

fn main() {
    let mut text = String::new();
    if std::io::stdin().read_to_string(&mut text).is_err() {
        std::process::exit(1);
    }
    let numbers: Vec<i64> = text.split_ascii_whitespace().filter_map(|t| t.parse().ok()).collect();
    let n = numbers[0] as usize;
    let values = &numbers[1..1 + n];
    let mut best = 0usize;
    let mut start = 0usize;
    for i in 0..n {
        if values[i] != values[start] {
            start = i;
        }
        best = best.max(i - start + 1);
    }
    println!("{best}");
}
