//! The `[pde]` section of task.toml, checked strictly: every error names the field at fault
//! and what would be accepted.

use std::path::Path;

use serde::Deserialize;

use crate::error::TaskError;
use crate::pde_numerics::PeriodicEquation;

/// The raw section, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Section {
    pub equation: String,
    /// The seed solver (a .c or .rs file in the task folder).
    pub seed_solution: String,
    pub batch: Option<i64>,
    /// Grid points (1-D) or cells per side (Darcy).
    pub nx: Option<i64>,
    /// Number of output time steps T (T + 1 time points, 1-D only).
    pub frames: Option<i64>,
    pub final_time: Option<f64>,
    pub beta: Option<f64>,
    pub nu: Option<f64>,
    pub rho: Option<f64>,
    /// Random Fourier modes per initial condition (1-D).
    pub modes: Option<i64>,
    pub max_wavenumber: Option<i64>,
    /// Darcy: the two coefficient values `[low, high]`.
    pub coefficient_values: Option<[f64; 2]>,
    /// Reference resolution: 1-D fine grid points (a multiple of nx); Darcy refinement factor.
    pub reference_grid: Option<i64>,
    pub seed: Option<u64>,
    pub final_seed: Option<u64>,
    pub fuel: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub memory_mb: Option<u64>,
    /// Weight of log10(fuel) subtracted from the score.
    pub fuel_weight: Option<f64>,
    pub convergence: Option<ConvergenceSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConvergenceSection {
    #[serde(default)]
    pub enabled: bool,
    /// 1-D: the grids (points) the candidate also runs on.
    pub grids: Option<Vec<i64>>,
    /// 1-D: `"next"` compares each grid with the next finer one, `"finest"` with the finest.
    pub compare: Option<String>,
    /// Darcy: the down-sampling factors of the task grid.
    pub down_sample: Option<Vec<i64>>,
    /// Darcy: the first samples of the batch that are re-solved on the coarse grids.
    pub samples: Option<i64>,
    pub min_rate: Option<f64>,
}

/// Which PDE, with its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Equation {
    Periodic(PeriodicEquation),
    Darcy { low: f64, high: f64 },
}

impl Equation {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Equation::Periodic(PeriodicEquation::Advection { .. }) => "advection",
            Equation::Periodic(PeriodicEquation::Burgers { .. }) => "burgers",
            Equation::Periodic(PeriodicEquation::ReactionDiffusion { .. }) => "reaction_diffusion",
            Equation::Periodic(PeriodicEquation::Heat { .. }) => "heat",
            Equation::Darcy { .. } => "darcy",
        }
    }

    /// The code in the binary header.
    pub(crate) fn code(&self) -> u32 {
        match self {
            Equation::Periodic(PeriodicEquation::Advection { .. }) => 0,
            Equation::Periodic(PeriodicEquation::Burgers { .. }) => 1,
            Equation::Periodic(PeriodicEquation::ReactionDiffusion { .. }) => 2,
            Equation::Periodic(PeriodicEquation::Heat { .. }) => 3,
            Equation::Darcy { .. } => 4,
        }
    }

    /// The parameters in header order, as the solver receives them. Burgers gets `ν/π`, the
    /// diffusion coefficient itself, as CodePDE's evaluator hands its solver `nu / np.pi`.
    pub(crate) fn parameters(&self) -> Vec<(&'static str, f64)> {
        match *self {
            Equation::Periodic(PeriodicEquation::Advection { beta }) => vec![("beta", beta)],
            Equation::Periodic(PeriodicEquation::Burgers { nu }) => {
                vec![("nu/pi", nu / std::f64::consts::PI)]
            }
            Equation::Periodic(PeriodicEquation::ReactionDiffusion { nu, rho }) => {
                vec![("nu", nu), ("rho", rho)]
            }
            Equation::Periodic(PeriodicEquation::Heat { nu }) => vec![("nu", nu)],
            Equation::Darcy { .. } => Vec::new(),
        }
    }
}

impl Equation {
    /// The nRMSE below which the score stops growing: at least 10× the reference's own error,
    /// so that every score step measures accuracy against the true solution (checked in the
    /// tests against finer solves).
    pub(crate) fn nrmse_floor(&self) -> f64 {
        match self {
            Equation::Periodic(
                PeriodicEquation::Advection { .. } | PeriodicEquation::Heat { .. },
            ) => EXACT_NRMSE_FLOOR,
            Equation::Periodic(_) => crate::pde_numerics::spectral::NONLINEAR_NRMSE_FLOOR,
            Equation::Darcy { .. } => crate::pde_numerics::darcy::DARCY_NRMSE_FLOOR,
        }
    }
}

/// Exact references (advection, heat): the floor is round-off.
const EXACT_NRMSE_FLOOR: f64 = 1e-12;

pub(crate) const EQUATIONS: &str = "advection, burgers, reaction_diffusion, heat, darcy";

/// CodePDE's self-convergence check, off by default: the candidate against its own runs
/// on other grids (never against the reference).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Convergence {
    pub plan: ConvergencePlan,
    /// Below this average rate (and with errors above round-off) the candidate is invalid.
    pub min_rate: Option<f64>,
}

/// Which runs the convergence check makes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ConvergencePlan {
    /// 1-D: CodePDE's five analytic initial conditions on each grid, over its time grid
    /// (steps of 0.01 up to a tenth of the task's final time).
    Periodic {
        grids: Vec<usize>,
        compare: Compare,
        times: Vec<f64>,
    },
    /// Darcy: the first `samples` coefficients re-sampled on the task grid coarsened by
    /// each factor (largest first), compared with the candidate's own task-grid solution.
    Darcy {
        down_sample: Vec<usize>,
        samples: usize,
    },
}

/// What each 1-D grid's solution is compared with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Compare {
    /// The next finer grid (CodePDE's Burgers evaluator).
    Next,
    /// The finest grid (CodePDE's advection and reaction–diffusion evaluators).
    Finest,
}

/// CodePDE's convergence time grid: `t_k = 0.01 k` for `k = 0..=ceil(span / 0.01) + 1`, where
/// `span` is a tenth of the task's final time ("to save time" in its evaluators).
pub(crate) fn convergence_times(final_time: f64) -> Vec<f64> {
    const STEP: f64 = 0.01;
    let last = ((final_time / 10.0) / STEP).ceil() as usize + 1;
    (0..=last).map(|k| k as f64 * STEP).collect()
}

/// The checked settings.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub equation: Equation,
    pub seed_solution: String,
    pub batch: usize,
    pub nx: usize,
    pub times: Vec<f64>,
    pub modes: usize,
    pub max_wavenumber: u32,
    pub reference_grid: usize,
    pub seed: u64,
    pub final_seed: Option<u64>,
    pub fuel: u64,
    pub timeout_ms: u64,
    pub memory_mb: u64,
    pub fuel_weight: f64,
    pub convergence: Option<Convergence>,
}

fn positive(
    path: &Path,
    field: &str,
    value: Option<i64>,
    default: i64,
    min: i64,
    max: i64,
) -> Result<usize, TaskError> {
    let v = value.unwrap_or(default);
    if v < min.max(1) || v > max {
        return Err(TaskError::field(
            path,
            format!("pde.{field}"),
            format!(
                "{v} is out of range; accepted: an integer from {} to {max}",
                min.max(1)
            ),
        ));
    }
    Ok(v as usize)
}

fn positive_real(path: &Path, field: &str, value: Option<f64>) -> Result<f64, TaskError> {
    match value {
        Some(v) if v.is_finite() && v > 0.0 => Ok(v),
        Some(v) => Err(TaskError::field(
            path,
            format!("pde.{field}"),
            format!("{v} is not accepted; use a positive finite number"),
        )),
        None => Err(TaskError::field(
            path,
            format!("pde.{field}"),
            "missing; this equation needs it (a positive number)",
        )),
    }
}

impl Section {
    pub(super) fn check(self, path: &Path) -> Result<Settings, TaskError> {
        let unused = |field: &str, present: bool, equation: &str| -> Result<(), TaskError> {
            if present {
                Err(TaskError::field(
                    path,
                    format!("pde.{field}"),
                    format!("not a parameter of `{equation}`; remove it"),
                ))
            } else {
                Ok(())
            }
        };
        let name = self.equation.as_str();
        let equation = match name {
            "advection" => {
                unused("nu", self.nu.is_some(), name)?;
                unused("rho", self.rho.is_some(), name)?;
                // Advection may run either way: β only has to be finite and non-zero.
                let beta = match self.beta {
                    Some(b) if b.is_finite() && b != 0.0 => b,
                    Some(b) => {
                        return Err(TaskError::field(
                            path,
                            "pde.beta",
                            format!("{b} is not accepted; use a finite non-zero speed"),
                        ));
                    }
                    None => {
                        return Err(TaskError::field(
                            path,
                            "pde.beta",
                            "missing; advection needs the speed β",
                        ));
                    }
                };
                Equation::Periodic(PeriodicEquation::Advection { beta })
            }
            "burgers" | "heat" => {
                unused("beta", self.beta.is_some(), name)?;
                unused("rho", self.rho.is_some(), name)?;
                let nu = positive_real(path, "nu", self.nu)?;
                Equation::Periodic(if name == "heat" {
                    PeriodicEquation::Heat { nu }
                } else {
                    PeriodicEquation::Burgers { nu }
                })
            }
            "reaction_diffusion" => {
                unused("beta", self.beta.is_some(), name)?;
                let nu = positive_real(path, "nu", self.nu)?;
                let rho = positive_real(path, "rho", self.rho)?;
                Equation::Periodic(PeriodicEquation::ReactionDiffusion { nu, rho })
            }
            "darcy" => {
                for (field, present) in [
                    ("beta", self.beta.is_some()),
                    ("nu", self.nu.is_some()),
                    ("rho", self.rho.is_some()),
                    ("frames", self.frames.is_some()),
                    ("final_time", self.final_time.is_some()),
                    ("modes", self.modes.is_some()),
                    ("max_wavenumber", self.max_wavenumber.is_some()),
                ] {
                    unused(field, present, name)?;
                }
                let [low, high] = self.coefficient_values.unwrap_or([3.0, 12.0]);
                if !(low.is_finite() && high.is_finite() && low > 0.0 && high > 0.0) {
                    return Err(TaskError::field(
                        path,
                        "pde.coefficient_values",
                        format!("[{low}, {high}] is not accepted; use two positive finite numbers"),
                    ));
                }
                Equation::Darcy { low, high }
            }
            other => {
                return Err(TaskError::field(
                    path,
                    "pde.equation",
                    format!("unknown equation `{other}`; accepted: {EQUATIONS}"),
                ));
            }
        };
        let darcy = matches!(equation, Equation::Darcy { .. });
        if !darcy {
            unused(
                "coefficient_values",
                self.coefficient_values.is_some(),
                name,
            )?;
        }
        let batch = positive(path, "batch", self.batch, 4, 1, 256)?;
        let nx = if darcy {
            positive(path, "nx", self.nx, 48, 4, 1024)?
        } else {
            positive(path, "nx", self.nx, 256, 16, 1 << 16)?
        };
        let times = if darcy {
            Vec::new()
        } else {
            let frames = positive(path, "frames", self.frames, 10, 1, 10_000)?;
            let final_time =
                positive_real(path, "final_time", Some(self.final_time.unwrap_or(1.0)))?;
            (0..=frames)
                .map(|k| final_time * k as f64 / frames as f64)
                .collect()
        };
        let max_wavenumber =
            positive(path, "max_wavenumber", self.max_wavenumber, 4, 1, 64)? as u32;
        if !darcy && 2 * max_wavenumber as usize >= nx {
            return Err(TaskError::field(
                path,
                "pde.max_wavenumber",
                format!(
                    "{max_wavenumber} is not resolved on nx = {nx} points; accepted: below nx / 2"
                ),
            ));
        }
        let reference_grid = if darcy {
            unused("reference_grid", self.reference_grid.is_some(), name)?;
            0
        } else {
            let default = (nx * 2048usize.div_ceil(nx)) as i64;
            let m = positive(
                path,
                "reference_grid",
                self.reference_grid,
                default,
                nx as i64,
                1 << 20,
            )?;
            if m % nx != 0 {
                return Err(TaskError::field(
                    path,
                    "pde.reference_grid",
                    format!(
                        "{m} is not a multiple of nx = {nx}; the reference is subsampled onto the task grid"
                    ),
                ));
            }
            m
        };
        let fuel_weight = self.fuel_weight.unwrap_or(0.01);
        if !(fuel_weight.is_finite() && fuel_weight >= 0.0) {
            return Err(TaskError::field(
                path,
                "pde.fuel_weight",
                format!("{fuel_weight} is not accepted; use a number ≥ 0"),
            ));
        }
        let convergence = match self.convergence {
            Some(c) if c.enabled => Some(c.check(path, darcy, nx, batch, &times, name)?),
            _ => None,
        };
        let fuel = self.fuel.unwrap_or(5_000_000_000);
        if fuel == 0 {
            return Err(TaskError::field(
                path,
                "pde.fuel",
                "0 is not accepted; use a positive fuel limit",
            ));
        }
        let timeout_ms = self.timeout_ms.unwrap_or(10_000);
        let memory_mb = self.memory_mb.unwrap_or(256);
        if timeout_ms == 0 || memory_mb == 0 {
            let field = if timeout_ms == 0 {
                "pde.timeout_ms"
            } else {
                "pde.memory_mb"
            };
            return Err(TaskError::field(
                path,
                field,
                "0 is not accepted; use a positive limit",
            ));
        }
        Ok(Settings {
            equation,
            seed_solution: self.seed_solution,
            batch,
            nx,
            times,
            modes: positive(path, "modes", self.modes, 2, 1, 16)?,
            max_wavenumber,
            reference_grid,
            seed: self.seed.unwrap_or(1),
            final_seed: self.final_seed,
            fuel,
            timeout_ms,
            memory_mb,
            fuel_weight,
            convergence,
        })
    }
}

impl ConvergenceSection {
    fn check(
        self,
        path: &Path,
        darcy: bool,
        nx: usize,
        batch: usize,
        times: &[f64],
        equation: &str,
    ) -> Result<Convergence, TaskError> {
        let unused = |field: &str, present: bool| -> Result<(), TaskError> {
            if present {
                Err(TaskError::field(
                    path,
                    format!("pde.convergence.{field}"),
                    format!("not used by `{equation}`; remove it"),
                ))
            } else {
                Ok(())
            }
        };
        if let Some(r) = self.min_rate
            && !r.is_finite()
        {
            return Err(TaskError::field(
                path,
                "pde.convergence.min_rate",
                "use a finite number",
            ));
        }
        let plan = if darcy {
            unused("grids", self.grids.is_some())?;
            unused("compare", self.compare.is_some())?;
            let factors = self.down_sample.unwrap_or_else(|| vec![6, 4, 3, 2]);
            if factors.len() < 2 {
                return Err(TaskError::field(
                    path,
                    "pde.convergence.down_sample",
                    "give at least two factors",
                ));
            }
            let mut down_sample = Vec::new();
            for (i, &f) in factors.iter().enumerate() {
                let accepted = f >= 2
                    && (f as usize) < nx
                    && nx.is_multiple_of(f as usize)
                    && !down_sample.contains(&(f as usize));
                if !accepted {
                    return Err(TaskError::field(
                        path,
                        format!("pde.convergence.down_sample[{i}]"),
                        format!(
                            "{f} is not accepted; use distinct factors from 2 that divide nx = {nx} and leave at least 2 cells"
                        ),
                    ));
                }
                down_sample.push(f as usize);
            }
            // CodePDE sorts the factors, coarsest grid first.
            down_sample.sort_unstable_by(|a, b| b.cmp(a));
            let samples = match self.samples {
                Some(s) if s < 1 || s as usize > batch => {
                    return Err(TaskError::field(
                        path,
                        "pde.convergence.samples",
                        format!("{s} is not accepted; use 1 to batch ({batch})"),
                    ));
                }
                Some(s) => s as usize,
                None => batch.min(8),
            };
            ConvergencePlan::Darcy {
                down_sample,
                samples,
            }
        } else {
            unused("down_sample", self.down_sample.is_some())?;
            unused("samples", self.samples.is_some())?;
            let grids = self.grids.unwrap_or_else(|| vec![256, 512, 1024, 2048]);
            if grids.len() < 3 {
                return Err(TaskError::field(
                    path,
                    "pde.convergence.grids",
                    "give at least three grids (two errors make one rate)",
                ));
            }
            let mut checked = Vec::new();
            for (i, &g) in grids.iter().enumerate() {
                if !(16..=1 << 16).contains(&g) || (i > 0 && g <= grids[i - 1]) {
                    return Err(TaskError::field(
                        path,
                        format!("pde.convergence.grids[{i}]"),
                        format!("{g} is not accepted; use increasing grid sizes from 16 to 65536"),
                    ));
                }
                checked.push(g as usize);
            }
            let compare = match self.compare.as_deref() {
                Some("next") => Compare::Next,
                Some("finest") => Compare::Finest,
                None if equation == "burgers" => Compare::Next,
                None => Compare::Finest,
                Some(other) => {
                    return Err(TaskError::field(
                        path,
                        "pde.convergence.compare",
                        format!("`{other}` is not accepted; use \"next\" or \"finest\""),
                    ));
                }
            };
            ConvergencePlan::Periodic {
                grids: checked,
                compare,
                times: convergence_times(times.last().copied().unwrap_or(1.0)),
            }
        };
        Ok(Convergence {
            plan,
            min_rate: self.min_rate,
        })
    }
}
