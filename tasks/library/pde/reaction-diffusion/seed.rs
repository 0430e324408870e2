//! Seed: first-order operator splitting — backward Euler for ν u_xx (a periodic tridiagonal
//! solve through the host kernel `hone.cyclic_tridiag_solve`), then explicit Euler for the
//! reaction ρ u (1 − u) — with ten steps per output interval. Valid but first order in time.

use std::io::{Read, Write};

#[link(wasm_import_module = "hone")]
extern "C" {
    fn cyclic_tridiag_solve(lower: *const f64, diag: *const f64, upper: *const f64, rhs: *mut f64, n: i32) -> i32;
}

fn u32_at(bytes: &[u8], at: &mut usize) -> u32 {
    let v = u32::from_le_bytes([bytes[*at], bytes[*at + 1], bytes[*at + 2], bytes[*at + 3]]);
    *at += 4;
    v
}

fn f64s_at(bytes: &[u8], at: &mut usize, count: usize) -> Vec<f64> {
    let values = bytes[*at..*at + 8 * count]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect();
    *at += 8 * count;
    values
}

fn main() {
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input).unwrap();
    assert!(input.starts_with(b"HONEPDE1"), "bad magic");
    let mut at = 8;
    let _equation = u32_at(&input, &mut at);
    let batch = u32_at(&input, &mut at) as usize;
    let nx = u32_at(&input, &mut at) as usize;
    let nt = u32_at(&input, &mut at) as usize;
    let times = f64s_at(&input, &mut at, nt);
    let np = u32_at(&input, &mut at) as usize;
    let params = f64s_at(&input, &mut at, np);
    let (nu, rho) = (params[0], params[1]);
    let u0 = f64s_at(&input, &mut at, batch * nx);

    let dx = 1.0 / nx as f64;
    let mut out = Vec::with_capacity(batch * nt * nx);
    for b in 0..batch {
        let mut u = u0[b * nx..(b + 1) * nx].to_vec();
        out.extend_from_slice(&u);
        for k in 1..nt {
            let steps = 10;
            let dt = (times[k] - times[k - 1]) / steps as f64;
            let r = nu * dt / (dx * dx);
            let (lower, diag, upper) = (vec![-r; nx], vec![1.0 + 2.0 * r; nx], vec![-r; nx]);
            for _ in 0..steps {
                let status = unsafe { cyclic_tridiag_solve(lower.as_ptr(), diag.as_ptr(), upper.as_ptr(), u.as_mut_ptr(), nx as i32) };
                assert_eq!(status, 0, "singular system");
                for v in u.iter_mut() {
                    *v += dt * rho * *v * (1.0 - *v);
                }
            }
            out.extend_from_slice(&u);
        }
    }
    let bytes: Vec<u8> = out.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::io::stdout().write_all(&bytes).unwrap();
}
