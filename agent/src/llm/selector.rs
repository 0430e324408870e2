//! Choosing among several models: fixed weights, or a cost-aware UCB bandit on score gain
//! per dollar (as ShinkaEvolve does).

use rand::Rng;

use super::LlmError;

/// How a [`ModelSelector`] picks the next model.
#[derive(Clone, Debug, PartialEq)]
pub enum SelectionRule {
    /// Random choice in proportion to each model's weight.
    Fixed,
    /// UCB1 over each model's mean reward, where a call's reward is its score gain (clipped
    /// at 0) per dollar, normalised by the best model's mean so rewards are in [0, 1].
    /// `exploration` is the UCB constant (about 1.0); `min_cost` (dollars) floors a call's
    /// cost so free local models do not divide by zero.
    CostAwareUcb { exploration: f64, min_cost: f64 },
}

#[derive(Clone, Debug)]
struct Arm {
    model: String,
    weight: f64,
    pulls: u64,
    pending: u64,
    reward_sum: f64,
    gain_sum: f64,
    dollars_sum: f64,
}

/// Picks a model for each call and learns from each outcome. Deterministic given the RNG.
#[derive(Clone, Debug)]
pub struct ModelSelector {
    arms: Vec<Arm>,
    rule: SelectionRule,
}

impl ModelSelector {
    /// `models` as (name, weight). Weights matter for [`SelectionRule::Fixed`] only and must
    /// be positive there.
    pub fn new(models: Vec<(String, f64)>, rule: SelectionRule) -> Result<ModelSelector, LlmError> {
        if models.is_empty() {
            return Err(LlmError::Config("no model given; pass --model NAME".into()));
        }
        for (name, weight) in &models {
            if rule == SelectionRule::Fixed && !(weight.is_finite() && *weight > 0.0) {
                return Err(LlmError::Config(format!(
                    "model `{name}`: weight {weight} must be a positive number"
                )));
            }
        }
        let arms = models
            .into_iter()
            .map(|(model, weight)| Arm {
                model,
                weight,
                pulls: 0,
                pending: 0,
                reward_sum: 0.0,
                gain_sum: 0.0,
                dollars_sum: 0.0,
            })
            .collect();
        Ok(ModelSelector { arms, rule })
    }

    /// One model, always chosen.
    pub fn single(model: impl Into<String>) -> ModelSelector {
        ModelSelector {
            arms: vec![Arm {
                model: model.into(),
                weight: 1.0,
                pulls: 0,
                pending: 0,
                reward_sum: 0.0,
                gain_sum: 0.0,
                dollars_sum: 0.0,
            }],
            rule: SelectionRule::Fixed,
        }
    }

    pub fn models(&self) -> impl Iterator<Item = &str> {
        self.arms.iter().map(|a| a.model.as_str())
    }

    /// The model for the next call.
    pub fn choose(&mut self, rng: &mut impl Rng) -> String {
        let index = match &self.rule {
            SelectionRule::Fixed => {
                let total: f64 = self.arms.iter().map(|a| a.weight).sum();
                let mut pick = rng.random::<f64>() * total;
                let mut chosen = self.arms.len() - 1;
                for (i, arm) in self.arms.iter().enumerate() {
                    if pick < arm.weight {
                        chosen = i;
                        break;
                    }
                    pick -= arm.weight;
                }
                chosen
            }
            SelectionRule::CostAwareUcb { exploration, .. } => {
                // Untried arms first (counting calls still in flight, so K concurrent
                // choices spread over the untried models).
                if let Some(i) =
                    (0..self.arms.len()).min_by_key(|&i| self.arms[i].pulls + self.arms[i].pending)
                    && self.arms[i].pulls + self.arms[i].pending == 0
                {
                    i
                } else {
                    let best_mean = self
                        .arms
                        .iter()
                        .filter(|a| a.pulls > 0)
                        .map(|a| a.reward_sum / a.pulls as f64)
                        .fold(0.0, f64::max);
                    let total: f64 = self
                        .arms
                        .iter()
                        .map(|a| (a.pulls + a.pending) as f64)
                        .sum::<f64>()
                        .max(1.0);
                    let mut best = (f64::NEG_INFINITY, 0usize);
                    for (i, arm) in self.arms.iter().enumerate() {
                        let n = (arm.pulls + arm.pending).max(1) as f64;
                        let mean = if arm.pulls == 0 || best_mean <= 0.0 {
                            0.0
                        } else {
                            arm.reward_sum / arm.pulls as f64 / best_mean
                        };
                        let ucb = mean
                            + exploration * (total.ln() / n).sqrt()
                            + rng.random::<f64>() * 1e-9;
                        if ucb > best.0 {
                            best = (ucb, i);
                        }
                    }
                    best.1
                }
            }
        };
        self.arms[index].pending += 1;
        self.arms[index].model.clone()
    }

    /// Records the outcome of a call to `model`: the child's score gain over its parent
    /// (negative gains count as 0) and the dollars it cost. Unknown models are ignored.
    pub fn observe(&mut self, model: &str, gain: f64, dollars: f64) {
        let min_cost = match self.rule {
            SelectionRule::CostAwareUcb { min_cost, .. } => min_cost.max(1e-12),
            SelectionRule::Fixed => 1e-12,
        };
        let Some(arm) = self.arms.iter_mut().find(|a| a.model == model) else {
            return;
        };
        let gain = if gain.is_finite() { gain.max(0.0) } else { 0.0 };
        let dollars = if dollars.is_finite() {
            dollars.max(0.0)
        } else {
            0.0
        };
        arm.pending = arm.pending.saturating_sub(1);
        arm.pulls += 1;
        arm.gain_sum += gain;
        arm.dollars_sum += dollars;
        arm.reward_sum += gain / dollars.max(min_cost);
    }

    /// (model, calls observed, total gain, total dollars), for reports.
    pub fn stats(&self) -> Vec<(String, u64, f64, f64)> {
        self.arms
            .iter()
            .map(|a| (a.model.clone(), a.pulls, a.gain_sum, a.dollars_sum))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn fixed_weights_are_respected() {
        let mut s = ModelSelector::new(
            vec![("a".into(), 3.0), ("b".into(), 1.0)],
            SelectionRule::Fixed,
        )
        .unwrap_or_else(|_| ModelSelector::single("x"));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let a = (0..4000).filter(|_| s.choose(&mut rng) == "a").count();
        assert!((2800..3200).contains(&a), "{a}");
        assert!(ModelSelector::new(vec![("a".into(), 0.0)], SelectionRule::Fixed).is_err());
    }

    #[test]
    fn ucb_prefers_gain_per_dollar() {
        let rule = SelectionRule::CostAwareUcb {
            exploration: 0.5,
            min_cost: 1e-4,
        };
        let mut s = ModelSelector::new(vec![("cheap".into(), 1.0), ("dear".into(), 1.0)], rule)
            .unwrap_or_else(|_| ModelSelector::single("x"));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut counts = [0usize; 2];
        for _ in 0..400 {
            let model = s.choose(&mut rng);
            // Same gain, but `dear` costs 20x more.
            let (i, dollars) = if model == "cheap" {
                (0, 0.001)
            } else {
                (1, 0.02)
            };
            counts[i] += 1;
            s.observe(&model, 1.0, dollars);
        }
        assert!(counts[0] > 3 * counts[1], "{counts:?}");
        assert!(counts[1] >= 1);
    }
}
