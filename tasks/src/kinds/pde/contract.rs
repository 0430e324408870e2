//! The candidate's binary contract: the stdin header and data, the expected stdout size, and
//! the documentation of both (shown to the model).

use super::config::{Compare, ConvergencePlan, Equation, Settings};

/// The first bytes of every input.
pub(crate) const MAGIC: &[u8; 8] = b"HONEPDE1";

/// Encodes one batch: header, time points, parameters, then `data` (initial conditions
/// `[batch, nx]` or Darcy coefficients `[batch, n, n]`), all little-endian.
pub(crate) fn encode_input(
    equation: &Equation,
    batch: usize,
    nx: usize,
    times: &[f64],
    data: &[f64],
) -> Vec<u8> {
    let parameters = equation.parameters();
    let mut out = Vec::with_capacity(32 + 8 * (times.len() + parameters.len() + data.len()));
    out.extend_from_slice(MAGIC);
    for v in [equation.code(), batch as u32, nx as u32, times.len() as u32] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for t in times {
        out.extend_from_slice(&t.to_le_bytes());
    }
    out.extend_from_slice(&(parameters.len() as u32).to_le_bytes());
    for (_, p) in &parameters {
        out.extend_from_slice(&p.to_le_bytes());
    }
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Decodes stdout as f64 little-endian values.
pub(crate) fn decode_output(bytes: &[u8]) -> Vec<f64> {
    bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect()
}

/// The PDE in words and symbols.
pub(crate) fn equation_text(equation: &Equation) -> String {
    match *equation {
        Equation::Periodic(p) => {
            use crate::pde_numerics::PeriodicEquation::*;
            let pde = match p {
                Advection { beta } => format!("u_t + β u_x = 0 with β = {beta}"),
                Burgers { nu } => format!(
                    "u_t + (u²/2)_x = (ν/π) u_xx with ν = {nu} (diffusion coefficient ν/π = {}, the value the header gives)",
                    nu / std::f64::consts::PI
                ),
                ReactionDiffusion { nu, rho } => {
                    format!("u_t = ν u_xx + ρ u (1 − u) with ν = {nu}, ρ = {rho}")
                }
                Heat { nu } => format!("u_t = ν u_xx with ν = {nu}"),
            };
            format!("{pde}, x in [0, 1) with periodic boundary conditions")
        }
        Equation::Darcy { low, high } => format!(
            "−∇·(a(x) ∇u(x)) = 1 on the unit square (0,1)² with u = 0 on the boundary; a is piecewise constant with values {low} and {high}"
        ),
    }
}

/// The I/O contract for the #Inputs / #Outputs / #Documentation sections.
pub(crate) fn io_documentation(settings: &Settings) -> (String, String) {
    let eq = &settings.equation;
    let params: Vec<String> = eq
        .parameters()
        .iter()
        .map(|(n, v)| format!("{n} = {v}"))
        .collect();
    let header = format!(
        "stdin (binary, little-endian):\n\
         - 8 bytes: magic `HONEPDE1`\n\
         - u32 equation (0 advection, 1 burgers, 2 reaction_diffusion, 3 heat, 4 darcy); here {}\n\
         - u32 batch (here {}), u32 nx (here {}), u32 nt = number of time points T+1 (here {})\n\
         - f64 × nt: the time points t_0 = 0 < t_1 < ... (output frames)\n\
         - u32 np, then f64 × np: the PDE parameters in this order: {}\n",
        eq.code(),
        settings.batch,
        settings.nx,
        settings.times.len(),
        if params.is_empty() {
            "(none)".to_string()
        } else {
            params.join(", ")
        },
    );
    match eq {
        Equation::Darcy { .. } => (
            header
                + "- f64 × batch·n·n: the coefficient a on n × n cells, row-major; entry [b][i][j] is the cell centred at\n  \
                   x = (j + 0.5)/n, y = (i + 0.5)/n (here n = nx)\n",
            format!(
                "stdout: f64 little-endian, shape [batch, n, n] = {} values ({} bytes): u at the same cell centres, same order. \
                 Nothing else may be written to stdout (use stderr for logs).",
                settings.batch * settings.nx * settings.nx,
                8 * settings.batch * settings.nx * settings.nx
            ),
        ),
        Equation::Periodic(_) => (
            header
                + "- f64 × batch·nx: the initial conditions u0[b][j] = u(x_j, 0) at the cell centres x_j = (j + 0.5) / nx (periodic)\n",
            format!(
                "stdout: f64 little-endian, shape [batch, T+1, nx] = {} values ({} bytes); frame 0 is the initial condition, \
                 frame k the solution at t_k. Nothing else may be written to stdout (use stderr for logs).",
                settings.batch * settings.times.len() * settings.nx,
                8 * settings.batch * settings.times.len() * settings.nx
            ),
        ),
    }
}

/// How a candidate is scored (shown to the model and in the module docs).
pub(crate) fn scoring_documentation(settings: &Settings) -> String {
    let floor = settings.equation.nrmse_floor();
    let frames = if settings.times.is_empty() {
        String::new()
    } else {
        format!(" (all {} frames, frame 0 included)", settings.times.len())
    };
    let mut text = format!(
        "Scoring: nRMSE exactly as CodePDE: for each sample sqrt(mean((u − u_ref)²)) / sqrt(mean(u_ref²)) over all values{frames}, \
         then the mean over samples. u_ref is a trusted native solution of the PDE, accurate to better than {:e}. \
         score = −log10(max(nRMSE, {floor:e})) − {} · log10(fuel): accuracy first (below {floor:e} the reference's own \
         error would dominate, so the score stops growing there); fuel (the sandbox's deterministic instruction count, \
         host kernels included) breaks near-ties. NaN or Inf anywhere, values so large that the nRMSE overflows, a wrong \
         output size, a trap, or an exceeded limit make the candidate invalid. Limits: fuel {}, memory {} MiB, wall {} ms.",
        floor / 10.0,
        settings.fuel_weight,
        settings.fuel,
        settings.memory_mb,
        settings.timeout_ms
    );
    if let Some(c) = &settings.convergence {
        let rule = c
            .min_rate
            .map(|r| {
                format!(
                    " The rate must be at least {r} unless the last error is already below 1e-10."
                )
            })
            .unwrap_or_else(|| " The rate is reported, not scored.".to_string());
        match &c.plan {
            ConvergencePlan::Periodic {
                grids,
                compare,
                times,
            } => text.push_str(&format!(
                " Convergence check (CodePDE's): the same program also runs on grids nx = {grids:?} with CodePDE's five test \
                 initial conditions (sin, sinsin, Gaussian, react, possin) and {} time points t = 0, 0.01, ..., {:.2}; each grid's \
                 solution is compared with {} (linearly interpolated in x) by mean_b ‖u − u_fine‖ / sqrt(values), and \
                 rate_i = log(e_i/e_(i+1)) / log(nx_(i+1)/nx_i) is averaged over the grids.{rule}",
                times.len(),
                times.last().copied().unwrap_or(0.0),
                match compare {
                    Compare::Next => "the next finer grid's",
                    Compare::Finest => "the finest grid's",
                },
            )),
            ConvergencePlan::Darcy {
                down_sample,
                samples,
            } => text.push_str(&format!(
                " Convergence check (CodePDE's): the first {samples} coefficients, sampled on the task grid coarsened by the \
                 factors {down_sample:?}, are solved by the same program; each coarse solution is compared with your own \
                 task-grid solution at the coarse cell centres by mean_b ‖u − u_fine‖ / sqrt(values), and \
                 rate_i = log(e_i/e_(i+1)) / log(factor_i/factor_(i+1)) is averaged.{rule}"
            )),
        }
    }
    text
}
