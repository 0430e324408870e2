//! Seeded initial data: sums of random Fourier modes (PDEBench style) for the periodic
//! problems and thresholded Gaussian random fields for Darcy coefficients.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// The random generator of sample `sample` of a batch drawn from `seed`: every sample has
/// its own stream, so growing a batch keeps its first samples unchanged.
pub fn sample_rng(seed: u64, sample: usize) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix(seed) ^ mix(sample as u64 ^ 0x5eed_0f5a_3b1e))
}

fn mix(mut z: u64) -> u64 {
    // splitmix64's finalizer: spreads neighbouring seeds over the whole state.
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One Fourier mode `amplitude * sin(2π k x + phase)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mode {
    pub amplitude: f64,
    pub wavenumber: u32,
    pub phase: f64,
}

/// A periodic initial condition on [0, 1): a sum of a few random Fourier modes, optionally
/// mapped affinely into [0, 1] (reaction–diffusion). A trigonometric polynomial, so it is
/// defined on every grid and exactly representable by the spectral reference.
#[derive(Clone, Debug, PartialEq)]
pub struct FourierInitial {
    pub modes: Vec<Mode>,
    /// `(low, high)`: the value is `(s(x) - low) / (high - low)` where `s` is the mode sum.
    pub unit_map: Option<(f64, f64)>,
}

/// Points used to find the extremes of the mode sum for the [0, 1] map.
const EXTREME_SAMPLES: usize = 4096;

impl FourierInitial {
    /// Draws `modes` modes with wavenumbers in `1..=max_wavenumber`, amplitudes uniform in
    /// [0, 1] and phases uniform in [0, 2π); `unit` maps the result into [0, 1].
    pub fn random(
        seed: u64,
        sample: usize,
        modes: usize,
        max_wavenumber: u32,
        unit: bool,
    ) -> FourierInitial {
        let mut rng = sample_rng(seed, sample);
        let modes: Vec<Mode> = (0..modes.max(1))
            .map(|_| Mode {
                amplitude: rng.random::<f64>(),
                wavenumber: rng.random_range(1..=max_wavenumber.max(1)),
                phase: rng.random::<f64>() * std::f64::consts::TAU,
            })
            .collect();
        let mut initial = FourierInitial {
            modes,
            unit_map: None,
        };
        if unit {
            let values = initial.sample(EXTREME_SAMPLES);
            let low = values.iter().copied().fold(f64::INFINITY, f64::min);
            let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            // A (nearly) constant sum cannot be stretched; keep it at one half.
            initial.unit_map = Some(if high - low > 1e-12 {
                (low, high)
            } else {
                (low - 1.0, low + 1.0)
            });
        }
        initial
    }

    /// The value at `x`.
    pub fn value(&self, x: f64) -> f64 {
        let s: f64 = self
            .modes
            .iter()
            .map(|m| {
                m.amplitude * (std::f64::consts::TAU * m.wavenumber as f64 * x + m.phase).sin()
            })
            .sum();
        match self.unit_map {
            Some((low, high)) => (s - low) / (high - low),
            None => s,
        }
    }

    /// Values at the cell centres `x_j = (j + ½) / nx`, `j = 0..nx` (PDEBench's
    /// `x-coordinate`).
    pub fn sample(&self, nx: usize) -> Vec<f64> {
        (0..nx)
            .map(|j| self.value((j as f64 + 0.5) / nx as f64))
            .collect()
    }

    /// The largest wavenumber present.
    pub fn max_wavenumber(&self) -> u32 {
        self.modes.iter().map(|m| m.wavenumber).max().unwrap_or(0)
    }
}

/// CodePDE's five initial conditions for its 1-D convergence test (`init` in its evaluators,
/// `u0 = 1`, `du = 0.1`): "sin", "sinsin", "Gaussian", "react" and "possin", at the points `x`.
/// Returns `[5, x.len()]` flattened. They are not periodic on [0, 1); CodePDE uses them as
/// they are, and so does hone.
pub fn codepde_convergence_initial(x: &[f64]) -> Vec<f64> {
    use std::f64::consts::PI;
    let shapes: [&dyn Fn(f64) -> f64; 5] = [
        &|x| ((x + 1.0) * PI).sin(),
        &|x| ((x + 1.0) * PI).sin() + 0.1 * ((x + 1.0) * PI * 8.0).sin(),
        &|x| (-(x * x) * PI / 4.0).exp() / 2f64.sqrt(),
        &|x| (-0.5 * (x - PI).powi(2) / (0.25 * PI).powi(2)).exp(),
        &|x| ((x + 1.0) * PI).sin().abs(),
    ];
    shapes
        .iter()
        .flat_map(|f| x.iter().map(|&x| f(x)))
        .collect()
}

/// The cell centres of `n` equal cells on `[low, high]` (CodePDE's `get_x_coordinate`).
pub fn cell_centres(low: f64, high: f64, n: usize) -> Vec<f64> {
    let dx = (high - low) / n as f64;
    (0..n).map(|j| low + (j as f64 + 0.5) * dx).collect()
}

/// A piecewise-constant Darcy coefficient: a smooth Gaussian random field (cosine series
/// with spectral decay `(π²|k|² + τ²)^(-α/2)`, α = 2, τ = 3, as the FNO Darcy data) thresholded
/// at zero into two values.
#[derive(Clone, Debug, PartialEq)]
pub struct DarcyCoefficient {
    /// `(kx, ky, coefficient)` of `cos(π kx x) cos(π ky y)`.
    pub terms: Vec<(u32, u32, f64)>,
    /// Value where the field is negative.
    pub low: f64,
    /// Value where the field is non-negative.
    pub high: f64,
}

/// Modes per direction of the random field.
const FIELD_MODES: u32 = 16;
const FIELD_ALPHA: f64 = 2.0;
const FIELD_TAU: f64 = 3.0;

impl DarcyCoefficient {
    pub fn random(seed: u64, sample: usize, low: f64, high: f64) -> DarcyCoefficient {
        let mut rng = sample_rng(seed, sample);
        let mut terms = Vec::with_capacity((FIELD_MODES * FIELD_MODES) as usize);
        for kx in 0..FIELD_MODES {
            for ky in 0..FIELD_MODES {
                let xi: f64 = StandardNormal.sample(&mut rng);
                let k2 = std::f64::consts::PI.powi(2) * f64::from(kx * kx + ky * ky);
                let decay = (k2 + FIELD_TAU * FIELD_TAU).powf(-FIELD_ALPHA / 2.0);
                terms.push((kx, ky, xi * decay));
            }
        }
        // Remove the mean so that both values occur in (almost) every sample.
        if let Some(first) = terms.first_mut() {
            first.2 = 0.0;
        }
        DarcyCoefficient { terms, low, high }
    }

    /// The smooth field at `(x, y)`.
    pub fn field(&self, x: f64, y: f64) -> f64 {
        let pi = std::f64::consts::PI;
        self.terms
            .iter()
            .map(|&(kx, ky, c)| c * (pi * f64::from(kx) * x).cos() * (pi * f64::from(ky) * y).cos())
            .sum()
    }

    /// The coefficient on the `n × n` cells of the unit square, row-major: entry
    /// `i * n + j` is the cell centred at `x = (j + ½)/n`, `y = (i + ½)/n`.
    pub fn cells(&self, n: usize) -> Vec<f64> {
        let pi = std::f64::consts::PI;
        let centre = |j: usize| (j as f64 + 0.5) / n as f64;
        let table = |k: u32| -> Vec<f64> {
            (0..n)
                .map(|j| (pi * f64::from(k) * centre(j)).cos())
                .collect()
        };
        let tables: Vec<Vec<f64>> = (0..FIELD_MODES).map(table).collect();
        let mut field = vec![0.0; n * n];
        for &(kx, ky, c) in &self.terms {
            if c == 0.0 {
                continue;
            }
            let (cx, cy) = (&tables[kx as usize], &tables[ky as usize]);
            for i in 0..n {
                let row = c * cy[i];
                for j in 0..n {
                    field[i * n + j] += row * cx[j];
                }
            }
        }
        field
            .into_iter()
            .map(|v| if v >= 0.0 { self.high } else { self.low })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_reproducible_and_distinct() {
        let a = FourierInitial::random(7, 0, 2, 4, false);
        assert_eq!(a, FourierInitial::random(7, 0, 2, 4, false));
        assert_ne!(a, FourierInitial::random(7, 1, 2, 4, false));
        assert_ne!(a, FourierInitial::random(8, 0, 2, 4, false));
    }

    #[test]
    fn unit_map_stays_in_the_unit_interval() {
        for sample in 0..8 {
            let u = FourierInitial::random(3, sample, 3, 4, true).sample(1000);
            let (lo, hi) = u
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            assert!(lo > -1e-4 && hi < 1.0 + 1e-4, "{lo} {hi}");
            assert!(hi - lo > 0.9);
        }
    }

    #[test]
    fn darcy_coefficient_takes_both_values() {
        let a = DarcyCoefficient::random(1, 0, 3.0, 12.0).cells(32);
        assert!(a.iter().all(|&v| v == 3.0 || v == 12.0));
        let high = a.iter().filter(|&&v| v == 12.0).count();
        assert!(high > 0 && high < a.len());
    }
}
