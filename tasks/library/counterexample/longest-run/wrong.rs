use std::io::Read;

fn main() {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).unwrap();
    let mut it = s.split_ascii_whitespace();
    let n: usize = it.next().unwrap().parse().unwrap();
    let a: Vec<i64> = (0..n).map(|_| it.next().unwrap().parse().unwrap()).collect();
    let mut best = 0;
    let mut cur = 1;
    for i in 1..n {
        if a[i] == a[i - 1] {
            cur += 1;
        } else {
            cur = 1;
        }
        best = best.max(cur);
    }
    println!("{}", best);
}
