use std::io::Read;

fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    let mut it = input.split_ascii_whitespace().map(|x| x.parse::<u64>().unwrap());
    let n = it.next().unwrap() as usize;
    let t = it.next().unwrap();
    let mut used = 0;
    let mut done = 0;
    for _ in 0..n {
        let d = it.next().unwrap();
        if used + d < t {
            used += d;
            done += 1;
        } else {
            break;
        }
    }
    println!("{}", done);
}
