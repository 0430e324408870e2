// Generator for substring-search. Reads "SEED N M MODE" (see task.toml).
use std::io::{self, Read, Write};

struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn main() {
    let mut line = String::new();
    io::stdin().read_to_string(&mut line).unwrap();
    let v: Vec<u64> = line.split_ascii_whitespace().map(|t| t.parse().unwrap()).collect();
    let (seed, n, m, mode) = (v[0], v[1] as usize, v[2] as usize, v[3]);
    let mut rng = SplitMix(seed);
    let (text, pattern): (Vec<u8>, Vec<u8>) = match mode {
        0 => {
            let text: Vec<u8> = (0..n).map(|_| b'a' + (rng.next() % 2) as u8).collect();
            let start = (rng.next() as usize) % (n - m + 1);
            let pattern = text[start..start + m].to_vec();
            (text, pattern)
        }
        1 => {
            let text: Vec<u8> = (0..n).map(|_| if rng.next() % (2 * m as u64) == 0 { b'b' } else { b'a' }).collect();
            let mut pattern = vec![b'a'; m - 1];
            pattern.push(b'b');
            (text, pattern)
        }
        _ => (vec![b'a'; n], vec![b'a'; m]),
    };
    let mut out = io::stdout();
    out.write_all(&text).unwrap();
    out.write_all(b"\n").unwrap();
    out.write_all(&pattern).unwrap();
    out.write_all(b"\n").unwrap();
}
