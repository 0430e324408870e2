//! CodePDE's accuracy measures: nRMSE per sample and over a batch, per-frame errors, and the
//! observed convergence rate over a sequence of grids.

/// nRMSE of a batch: for each sample `sqrt(mean((u − u_ref)²)) / sqrt(mean(u_ref²))` over all
/// its values (every frame, frame 0 included), then the mean over samples. Returns the mean
/// and the per-sample values. `sample_len` is the number of values of one sample.
pub fn nrmse(output: &[f64], reference: &[f64], sample_len: usize) -> (f64, Vec<f64>) {
    let per_sample: Vec<f64> = output
        .chunks(sample_len.max(1))
        .zip(reference.chunks(sample_len.max(1)))
        .map(|(u, r)| relative_rms(u, r))
        .collect();
    let mean = if per_sample.is_empty() {
        0.0
    } else {
        per_sample.iter().sum::<f64>() / per_sample.len() as f64
    };
    (mean, per_sample)
}

/// `sqrt(mean((u − r)²)) / sqrt(mean(r²))`; the plain RMS error when `r` is all zero.
pub fn relative_rms(u: &[f64], r: &[f64]) -> f64 {
    let error: f64 = u.iter().zip(r).map(|(a, b)| (a - b) * (a - b)).sum();
    let norm: f64 = r.iter().map(|b| b * b).sum();
    if norm > 0.0 {
        (error / norm).sqrt()
    } else {
        (error / u.len().max(1) as f64).sqrt()
    }
}

/// Relative RMS error of each frame, averaged over samples: `frames` values.
pub fn frame_errors(
    output: &[f64],
    reference: &[f64],
    batch: usize,
    frames: usize,
    nx: usize,
) -> Vec<f64> {
    let mut errors = vec![0.0; frames];
    for b in 0..batch {
        for (t, error) in errors.iter_mut().enumerate() {
            let start = (b * frames + t) * nx;
            *error += relative_rms(&output[start..start + nx], &reference[start..start + nx])
                / batch as f64;
        }
    }
    errors
}

/// CodePDE's observed convergence rate: `rate_i = log(e_i / e_{i+1}) / log(n_{i+1} / n_i)` for
/// every pair of consecutive errors, averaged. `sizes[i]` is the grid size (points or cells
/// per side) of error `i`. `None` without two errors or when a rate is not finite (an error
/// of zero, or not finite).
pub fn convergence_rate(sizes: &[usize], errors: &[f64]) -> Option<f64> {
    let rates: Vec<f64> = sizes
        .windows(2)
        .zip(errors.windows(2))
        .map(|(g, e)| (e[0] / e[1]).ln() / (g[1] as f64 / g[0] as f64).ln())
        .collect();
    if rates.is_empty() || rates.iter().any(|r| !r.is_finite()) {
        return None;
    }
    Some(rates.iter().sum::<f64>() / rates.len() as f64)
}

/// CodePDE's self-convergence error between a coarse run and a finer one mapped onto the
/// coarse points (`projected`, same layout): the mean over samples of the Euclidean norm of
/// the difference, divided by the square root of the number of coarse values in all
/// (`np.mean(np.linalg.norm(u_c − u_f, axis)) / np.sqrt(u_c.size)`).
pub fn self_convergence_error(coarse: &[f64], projected: &[f64], samples: usize) -> f64 {
    let per = coarse.len() / samples.max(1);
    if per == 0 {
        return 0.0;
    }
    let norms: f64 = coarse
        .chunks(per)
        .zip(projected.chunks(per))
        .map(|(c, f)| {
            c.iter()
                .zip(f)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt()
        })
        .sum();
    norms / samples.max(1) as f64 / (coarse.len() as f64).sqrt()
}

/// Linear interpolation of `values` given at increasing points `from` onto the points `to`,
/// extrapolating linearly beyond either end (scipy's `interp1d(kind="linear",
/// fill_value="extrapolate")`). `from` needs at least two points.
pub fn interpolate_linear(from: &[f64], values: &[f64], to: &[f64]) -> Vec<f64> {
    let last = from.len().saturating_sub(2);
    to.iter()
        .map(|&x| {
            // The interval [from[i], from[i + 1]] holding x (the first or last beyond the ends).
            let i = from
                .partition_point(|&p| p <= x)
                .saturating_sub(1)
                .min(last);
            let (x0, x1) = (from[i], from[i + 1]);
            let w = (x - x0) / (x1 - x0);
            values[i] + w * (values[i + 1] - values[i])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nrmse_matches_the_definition() {
        let reference = [1.0, -1.0, 2.0, 2.0];
        let output = [1.1, -1.0, 2.0, 2.0];
        let (mean, per) = nrmse(&output, &reference, 2);
        assert!((per[0] - (0.01f64 / 2.0).sqrt()).abs() < 1e-15);
        assert_eq!(per[1], 0.0);
        assert!((mean - per[0] / 2.0).abs() < 1e-15);
    }

    #[test]
    fn rate_of_a_second_order_sequence() {
        let grids = [256, 512, 1024];
        let errors = [1e-2, 2.5e-3, 6.25e-4];
        assert!((convergence_rate(&grids, &errors).unwrap() - 2.0).abs() < 1e-12);
        // Every consecutive pair counts: a stalled last error lowers the average.
        let stalled = convergence_rate(&grids, &[1e-2, 2.5e-3, 2.5e-3]).unwrap();
        assert!((stalled - 1.0).abs() < 1e-12);
        assert_eq!(convergence_rate(&grids[..1], &errors[..1]), None);
        assert_eq!(convergence_rate(&grids, &[0.0, 0.0, 0.0]), None);
    }

    #[test]
    fn self_convergence_error_is_codepde_norm_over_all_values() {
        // Two samples of two values: norms 3 and 0 (of [3, 0] and [0, 0]); mean 1.5; / sqrt(4).
        let coarse = [3.0, 0.0, 1.0, 1.0];
        let projected = [0.0, 0.0, 1.0, 1.0];
        assert!((self_convergence_error(&coarse, &projected, 2) - 0.75).abs() < 1e-15);
    }

    #[test]
    fn linear_interpolation_inside_and_beyond_the_ends() {
        let from = [0.0, 1.0, 2.0];
        let values = [0.0, 10.0, 30.0];
        let got = interpolate_linear(&from, &values, &[-1.0, 0.5, 1.0, 1.5, 3.0]);
        assert_eq!(got, vec![-10.0, 5.0, 10.0, 20.0, 50.0]);
    }
}
