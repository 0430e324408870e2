// Shortest paths: Dijkstra that finds the closest unsettled vertex by scanning all of them.
use std::io::{self, Read, Write};

fn main() {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).unwrap();
    let mut tokens = input.split_ascii_whitespace().map(|t| t.parse::<u64>().unwrap());
    let n = tokens.next().unwrap() as usize;
    let m = tokens.next().unwrap() as usize;
    let s = tokens.next().unwrap() as usize - 1;
    let mut adjacency: Vec<Vec<(usize, u64)>> = vec![Vec::new(); n];
    for _ in 0..m {
        let u = tokens.next().unwrap() as usize - 1;
        let v = tokens.next().unwrap() as usize - 1;
        let w = tokens.next().unwrap();
        adjacency[u].push((v, w));
    }
    let mut dist = vec![u64::MAX; n];
    let mut done = vec![false; n];
    dist[s] = 0;
    loop {
        let mut best = usize::MAX;
        for v in 0..n {
            if !done[v] && dist[v] != u64::MAX && (best == usize::MAX || dist[v] < dist[best]) {
                best = v;
            }
        }
        if best == usize::MAX {
            break;
        }
        done[best] = true;
        for &(v, w) in &adjacency[best] {
            if dist[best] + w < dist[v] {
                dist[v] = dist[best] + w;
            }
        }
    }
    let line: Vec<String> = dist.iter().map(|&d| if d == u64::MAX { "-1".to_string() } else { d.to_string() }).collect();
    let mut out = io::stdout();
    out.write_all(line.join(" ").as_bytes()).unwrap();
    out.write_all(b"\n").unwrap();
}
