// Subtly wrong: a heap-based search that settles each vertex the first time it is reached
// (like BFS), so a later, shorter path through another vertex is ignored.
use std::cmp::Reverse;
use std::collections::BinaryHeap;
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
    let mut seen = vec![false; n];
    let mut heap = BinaryHeap::new();
    dist[s] = 0;
    seen[s] = true;
    heap.push(Reverse((0u64, s)));
    while let Some(Reverse((d, u))) = heap.pop() {
        for &(v, w) in &adjacency[u] {
            if !seen[v] {
                seen[v] = true;
                dist[v] = d + w;
                heap.push(Reverse((d + w, v)));
            }
        }
    }
    let line: Vec<String> = dist.iter().map(|&d| if d == u64::MAX { "-1".to_string() } else { d.to_string() }).collect();
    let mut out = io::stdout();
    out.write_all(line.join(" ").as_bytes()).unwrap();
    out.write_all(b"\n").unwrap();
}
