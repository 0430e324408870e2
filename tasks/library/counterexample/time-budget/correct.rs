use std::io::Read;

// Prefix sums stay below 2 * 10^14, so u64 never overflows.
fn main() {
    let mut text = String::new();
    if std::io::stdin().read_to_string(&mut text).is_err() {
        std::process::exit(1);
    }
    let numbers: Vec<u64> = text.split_ascii_whitespace().filter_map(|t| t.parse().ok()).collect();
    let (n, budget) = (numbers[0] as usize, numbers[1]);
    let mut spent = 0u64;
    let mut done = 0usize;
    for &d in &numbers[2..2 + n] {
        spent += d;
        if spent > budget {
            break;
        }
        done += 1;
    }
    println!("{done}");
}
