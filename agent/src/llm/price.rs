//! Per-model prices (dollars per million tokens): built-in defaults merged with overrides.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{LlmError, Usage};

/// The price of one model, in US dollars per million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// Dollars per million prompt (input) tokens.
    pub input: f64,
    /// Dollars per million completion (output) tokens.
    pub output: f64,
}

impl ModelPrice {
    /// Dollars for the given usage.
    pub fn cost(&self, usage: &Usage) -> f64 {
        (usage.prompt_tokens as f64 * self.input + usage.completion_tokens as f64 * self.output)
            / 1e6
    }
}

/// Defaults for common models (public list prices, USD per million tokens; override them in
/// the config file when they change). Keys match model names by longest prefix.
const DEFAULT_PRICES: &[(&str, f64, f64)] = &[
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4.1", 2.00, 8.00),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-5", 1.25, 10.00),
    ("gpt-5-mini", 0.25, 2.00),
    ("gpt-5-nano", 0.05, 0.40),
    ("o1", 15.00, 60.00),
    ("o3", 2.00, 8.00),
    ("o3-mini", 1.10, 4.40),
    ("o4-mini", 1.10, 4.40),
    ("claude-opus-4", 15.00, 75.00),
    ("claude-sonnet-4", 3.00, 15.00),
    ("claude-3-5-haiku", 0.80, 4.00),
    ("deepseek-chat", 0.27, 1.10),
    ("deepseek-reasoner", 0.55, 2.19),
    ("gemini-2.5-pro", 1.25, 10.00),
    ("gemini-2.5-flash", 0.30, 2.50),
];

/// Model name -> price. Lookup is by exact name, then by the longest key that is a prefix of
/// the name (so `gpt-4o-2024-08-06` costs as `gpt-4o`, `gpt-4o-mini-x` as `gpt-4o-mini`), after
/// dropping a provider prefix such as `openai/`. Unknown models (local servers) are unpriced.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceTable {
    prices: BTreeMap<String, ModelPrice>,
}

impl Default for PriceTable {
    fn default() -> PriceTable {
        PriceTable::defaults()
    }
}

impl PriceTable {
    /// The built-in defaults.
    pub fn defaults() -> PriceTable {
        let prices = DEFAULT_PRICES
            .iter()
            .map(|&(name, input, output)| (name.to_string(), ModelPrice { input, output }))
            .collect();
        PriceTable { prices }
    }

    /// An empty table: every model is unpriced.
    pub fn empty() -> PriceTable {
        PriceTable {
            prices: BTreeMap::new(),
        }
    }

    /// This table with `overrides` merged in (an override replaces the entry of the same name).
    pub fn with_overrides(
        mut self,
        overrides: BTreeMap<String, ModelPrice>,
    ) -> Result<PriceTable, LlmError> {
        for (name, price) in overrides {
            if !(price.input.is_finite()
                && price.output.is_finite()
                && price.input >= 0.0
                && price.output >= 0.0)
            {
                return Err(LlmError::Config(format!(
                    "prices.\"{name}\": prices must be finite and non-negative dollars per million tokens"
                )));
            }
            self.prices.insert(name, price);
        }
        Ok(self)
    }

    /// Merges overrides from a TOML table of the form
    /// `{ "my-model" = { input = 0.5, output = 1.5 } }` (a config file's `[prices]` table).
    pub fn with_toml_overrides(self, table: &toml::Table) -> Result<PriceTable, LlmError> {
        let overrides: BTreeMap<String, ModelPrice> = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| {
                LlmError::Config(format!("prices: {}", e.message().trim()))
            })?;
        self.with_overrides(overrides)
    }

    /// Adds or replaces one entry.
    pub fn insert(&mut self, model: impl Into<String>, price: ModelPrice) {
        self.prices.insert(model.into(), price);
    }

    /// The price of a model, if known.
    pub fn lookup(&self, model: &str) -> Option<ModelPrice> {
        if let Some(price) = self.prices.get(model) {
            return Some(*price);
        }
        let bare = model.rsplit_once('/').map(|(_, m)| m).unwrap_or(model);
        if let Some(price) = self.prices.get(bare) {
            return Some(*price);
        }
        self.prices
            .iter()
            .filter(|(key, _)| bare.starts_with(key.as_str()))
            .max_by_key(|(key, _)| key.len())
            .map(|(_, p)| *p)
    }

    /// Dollars for a call, and whether the model was priced.
    pub fn cost(&self, model: &str, usage: &Usage) -> (f64, bool) {
        match self.lookup(model) {
            Some(price) => (price.cost(usage), true),
            None => (0.0, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        let t = PriceTable::defaults();
        assert_eq!(
            t.lookup("gpt-4o-mini-2024-07-18").map(|p| p.input),
            Some(0.15)
        );
        assert_eq!(t.lookup("gpt-4o-2024-08-06").map(|p| p.input), Some(2.50));
        assert_eq!(
            t.lookup("openai/gpt-4.1-mini").map(|p| p.output),
            Some(1.60)
        );
        assert_eq!(t.lookup("qwen2.5-coder:7b"), None);
    }

    #[test]
    fn overrides_merge() {
        let table: toml::Table = toml::from_str(
            "[\"qwen2.5-coder\"]\ninput = 0.0\noutput = 0.0\n[gpt-4o]\ninput = 1.0\noutput = 2.0\n",
        )
        .unwrap_or_default();
        let t = PriceTable::defaults().with_toml_overrides(&table);
        let t = t.ok().unwrap_or_else(PriceTable::empty);
        assert_eq!(
            t.lookup("gpt-4o"),
            Some(ModelPrice {
                input: 1.0,
                output: 2.0
            })
        );
        assert!(t.lookup("qwen2.5-coder:7b").is_some());
        let usage = Usage {
            prompt_tokens: 1_000_000,
            completion_tokens: 500_000,
            estimated: false,
        };
        assert_eq!(t.cost("gpt-4o", &usage), (2.0, true));
        let bad: toml::Table =
            toml::from_str("[m]\ninput = -1.0\noutput = 0.0\n").unwrap_or_default();
        assert!(PriceTable::defaults().with_toml_overrides(&bad).is_err());
        let unknown_field: toml::Table =
            toml::from_str("[m]\ninput = 1.0\noutptu = 0.0\n").unwrap_or_default();
        assert!(
            PriceTable::defaults()
                .with_toml_overrides(&unknown_field)
                .is_err()
        );
    }
}
