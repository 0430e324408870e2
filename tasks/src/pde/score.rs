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

/// CodePDE's convergence rate: `rate_i = log(e_i / e_{i+1}) / log(nx_{i+1} / nx_i)`, averaged
/// over the first two rates (or the only one). `None` with fewer than two grids or when an
/// error is zero or not finite.
pub fn convergence_rate(grids: &[usize], errors: &[f64]) -> Option<f64> {
    let rates: Vec<f64> = grids
        .windows(2)
        .zip(errors.windows(2))
        .take(2)
        .map(|(g, e)| (e[0] / e[1]).ln() / (g[1] as f64 / g[0] as f64).ln())
        .collect();
    if rates.is_empty() || rates.iter().any(|r| !r.is_finite()) {
        return None;
    }
    Some(rates.iter().sum::<f64>() / rates.len() as f64)
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
        let grids = [256, 512, 1024, 2048];
        let errors = [1e-2, 2.5e-3, 6.25e-4, 1e-9];
        assert!((convergence_rate(&grids, &errors).unwrap() - 2.0).abs() < 1e-12);
        assert_eq!(convergence_rate(&grids[..1], &errors[..1]), None);
        assert_eq!(convergence_rate(&grids, &[0.0, 0.0, 0.0, 0.0]), None);
    }
}
