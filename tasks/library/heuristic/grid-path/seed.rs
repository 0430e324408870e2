// A weak but valid start: a greedy walk. Each step goes to the free neighbour with the
// best value^VALUE_POWER + DEGREE_WEIGHT * (free neighbours it has), and stops when stuck.
use std::io::Read;

const VALUE_POWER: f64 = 1.0; // hone:tune 0.2..3.0
const DEGREE_WEIGHT: f64 = 0.2; // hone:tune 0.0..20.0

fn main() {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).unwrap();
    let mut lines = text.lines();
    let mut header = lines.next().unwrap().split_ascii_whitespace();
    let n: usize = header.next().unwrap().parse().unwrap();
    let k: usize = header.next().unwrap().parse().unwrap();
    let grid: Vec<Vec<u8>> = (0..n).map(|_| lines.next().unwrap().trim().bytes().collect()).collect();
    let mut visited = vec![vec![false; n]; n];
    visited[0][0] = true;
    let free = |r: isize, c: isize, visited: &Vec<Vec<bool>>| {
        r >= 0 && c >= 0 && (r as usize) < n && (c as usize) < n && grid[r as usize][c as usize] != b'#' && !visited[r as usize][c as usize]
    };
    let moves = [(-1isize, 0isize, 'U'), (1, 0, 'D'), (0, -1, 'L'), (0, 1, 'R')];
    let (mut r, mut c) = (0isize, 0isize);
    let mut path = String::new();
    while path.len() < k {
        let mut best: Option<(f64, isize, isize, char)> = None;
        for &(dr, dc, name) in &moves {
            let (nr, nc) = (r + dr, c + dc);
            if !free(nr, nc, &visited) {
                continue;
            }
            let value = (grid[nr as usize][nc as usize] - b'0') as f64;
            let degree = moves.iter().filter(|&&(er, ec, _)| (nr + er, nc + ec) != (r, c) && free(nr + er, nc + ec, &visited)).count();
            let key = value.powf(VALUE_POWER) + DEGREE_WEIGHT * degree as f64;
            if best.is_none_or(|b| key > b.0) {
                best = Some((key, nr, nc, name));
            }
        }
        let Some((_, nr, nc, name)) = best else { break };
        visited[nr as usize][nc as usize] = true;
        (r, c) = (nr, nc);
        path.push(name);
    }
    println!("{path}");
}
