// A weak but valid start: for each company in input order, a square around its point
// of side SCALE * sqrt(r), shrunk by SHRINK until it overlaps no placed rectangle and
// covers no other company's point (so a 1x1 square always fits as a last resort).
use std::io::Read;

const SIDE: i64 = 10000;
const SCALE: f64 = 0.3; // hone:tune 0.05..1.5
const SHRINK: f64 = 0.8; // hone:tune 0.3..0.95

fn fits(rect: [i64; 4], i: usize, placed: &[[i64; 4]], points: &[(i64, i64)]) -> bool {
    for p in placed {
        if rect[0].max(p[0]) < rect[2].min(p[2]) && rect[1].max(p[1]) < rect[3].min(p[3]) {
            return false;
        }
    }
    for (k, &(x, y)) in points.iter().enumerate() {
        if k != i && rect[0] <= x && x < rect[2] && rect[1] <= y && y < rect[3] {
            return false;
        }
    }
    true
}

fn main() {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).unwrap();
    let mut it = text.split_ascii_whitespace().map(|t| t.parse::<i64>().unwrap());
    let n = it.next().unwrap() as usize;
    let mut points = Vec::with_capacity(n);
    let mut areas = Vec::with_capacity(n);
    for _ in 0..n {
        let x = it.next().unwrap();
        let y = it.next().unwrap();
        let r = it.next().unwrap();
        points.push((x, y));
        areas.push(r);
    }
    let mut placed: Vec<[i64; 4]> = Vec::with_capacity(n);
    for i in 0..n {
        let (x, y) = points[i];
        let mut chosen = [x, y, x + 1, y + 1];
        let mut side = (areas[i] as f64).sqrt() * SCALE;
        while side >= 1.0 {
            let s = side as i64;
            let a = (x - (s - 1) / 2).max(0);
            let c = (a + s).min(SIDE);
            let b = (y - (s - 1) / 2).max(0);
            let d = (b + s).min(SIDE);
            let rect = [a, b, c, d];
            if fits(rect, i, &placed, &points) {
                chosen = rect;
                break;
            }
            side *= SHRINK;
        }
        placed.push(chosen);
    }
    let mut out = String::new();
    for r in &placed {
        out += &format!("{} {} {} {}\n", r[0], r[1], r[2], r[3]);
    }
    print!("{out}");
}
