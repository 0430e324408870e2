// A weak but valid start: cut the square into STRIPS horizontal strips and sweep them
// in a snake (left to right, then right to left, ...).
use std::io::Read;

const STRIPS: i64 = 3; // hone:tune 1..40 int

fn main() {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).unwrap();
    let mut it = text.split_ascii_whitespace().map(|t| t.parse::<i64>().unwrap());
    let n = it.next().unwrap() as usize;
    let mut cities: Vec<(i64, i64, usize)> = (0..n)
        .map(|i| {
            let x = it.next().unwrap();
            let y = it.next().unwrap();
            (x, y, i)
        })
        .collect();
    let strips = STRIPS.max(1);
    let height = 1001 / strips + 1;
    cities.sort_by_key(|&(x, y, _)| {
        let strip = y / height;
        let along = if strip % 2 == 0 { x } else { -x };
        (strip, along)
    });
    let order: Vec<String> = cities.iter().map(|c| c.2.to_string()).collect();
    println!("{}", order.join(" "));
}
