// Known faster solution: Dijkstra with a binary heap and lazy deletion, O(m log m).
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
    let mut heap = BinaryHeap::new();
    dist[s] = 0;
    heap.push(Reverse((0u64, s)));
    while let Some(Reverse((d, u))) = heap.pop() {
        if d > dist[u] {
            continue;
        }
        for &(v, w) in &adjacency[u] {
            let candidate = d + w;
            if candidate < dist[v] {
                dist[v] = candidate;
                heap.push(Reverse((candidate, v)));
            }
        }
    }
    let mut out = String::with_capacity(n * 12);
    for (i, &d) in dist.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if d == u64::MAX {
            out.push_str("-1");
        } else {
            out.push_str(&d.to_string());
        }
    }
    out.push('\n');
    io::stdout().write_all(out.as_bytes()).unwrap();
}
