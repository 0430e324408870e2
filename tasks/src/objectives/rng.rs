//! A tiny portable generator (SplitMix64) whose streams any language reproduces bit for bit,
//! so a sandboxed objective program can draw the same instances as the native objective.

/// SplitMix64 (Steele, Lea and Flood): one 64-bit state, add a constant, mix.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform in [-1, 1).
    #[inline]
    pub fn symmetric(&mut self) -> f64 {
        2.0 * self.uniform() - 1.0
    }

    /// A Beta(1/2, 3/2) draw using only multiplications and comparisons: if (u, v) is
    /// uniform on the quarter disc, u has density proportional to sqrt(1 - u²) on [0, 1],
    /// and then u² has density proportional to x^(-1/2) (1 - x)^(1/2), which is Beta(1/2, 3/2).
    /// (u, v) comes from rejection sampling in the unit square (acceptance pi/4).
    pub fn beta_half_three_halves(&mut self) -> f64 {
        loop {
            let u = self.uniform();
            let v = self.uniform();
            if u * u + v * v <= 1.0 {
                return u * u;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_distr::Distribution;

    use super::*;

    #[test]
    fn splitmix_matches_the_reference_stream() {
        // First outputs of SplitMix64 seeded with 1234567 (from the reference C code).
        let mut rng = SplitMix64::new(1234567);
        assert_eq!(rng.next_u64(), 6457827717110365317);
        assert_eq!(rng.next_u64(), 3203168211198807973);
    }

    #[test]
    fn beta_sampler_matches_rand_distr_beta() {
        // Same distribution as rand_distr's Beta(0.5, 1.5): compare deciles of 40,000 draws.
        let n = 40_000;
        let mut ours: Vec<f64> = {
            let mut rng = SplitMix64::new(3);
            (0..n).map(|_| rng.beta_half_three_halves()).collect()
        };
        let mut theirs: Vec<f64> = {
            let beta = rand_distr::Beta::new(0.5, 1.5).unwrap();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
            (0..n).map(|_| beta.sample(&mut rng)).collect()
        };
        ours.sort_by(f64::total_cmp);
        theirs.sort_by(f64::total_cmp);
        for decile in 1..10 {
            let i = n * decile / 10;
            assert!(
                (ours[i] - theirs[i]).abs() < 0.01,
                "decile {decile}: {} vs {}",
                ours[i],
                theirs[i]
            );
        }
        let mean = ours.iter().sum::<f64>() / n as f64;
        assert!((mean - 0.25).abs() < 0.005, "mean {mean}");
    }
}
