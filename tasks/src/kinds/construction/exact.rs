//! Exact numbers for verification: strict parsing of printed decimals, and a common scale
//! that turns every number of one construction into an integer.
//!
//! A decimal string `m.f e k` is the rational `mf * 10^(k - len(f))` exactly. The numbers of
//! one construction are brought to one denominator `S = 10^D` (`D` the largest count of
//! decimal places among them), so each value `v` becomes the integer `V = v * S` and every
//! constraint, a polynomial inequality with integer coefficients, is decided on big
//! integers with no rounding at all.

use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive, Zero};

/// The most digits a printed number may have (its mantissa: integer and fraction digits).
/// A double printed with `%.17g` has 17; longer numbers are allowed for exact rationals.
pub const MAX_DIGITS: usize = 100;

/// The largest exponent magnitude accepted in `1.5e-7` notation.
pub const MAX_EXPONENT: i64 = 30;

/// A parsed decimal: `mantissa * 10^exponent`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decimal {
    mantissa: BigInt,
    exponent: i64,
}

impl Decimal {
    /// Parses one token strictly: an optional `-`, digits, optionally `.` and digits,
    /// optionally `e`/`E`, a sign and digits. Anything else (NaN, infinities, hex floats,
    /// `+5`, `.5`, `5.`, `1_000`, more than [`MAX_DIGITS`] digits, an exponent beyond
    /// [`MAX_EXPONENT`]) is an error saying what is wrong with the token.
    pub fn parse(token: &str) -> Result<Decimal, String> {
        let lower = token.to_ascii_lowercase();
        let unsigned = lower.trim_start_matches(['-', '+']);
        if unsigned.starts_with("nan") || unsigned.starts_with("inf") {
            return Err("is not a finite number".into());
        }
        if unsigned.starts_with("0x") {
            return Err("is a hexadecimal number; print decimals (e.g. 0.25)".into());
        }
        let bad = || "is not a decimal number (accepted forms: 3, -0.25, 1.5e-3)".to_string();
        let (negative, rest) = match token.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, token),
        };
        let (number, exponent) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (integer, fraction) = match number.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (number, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(integer) || fraction.is_some_and(|f| !all_digits(f)) {
            return Err(bad());
        }
        let fraction = fraction.unwrap_or("");
        let digits = integer.len() + fraction.len();
        if digits > MAX_DIGITS {
            return Err(format!(
                "has {digits} digits; at most {MAX_DIGITS} are accepted"
            ));
        }
        let exponent = match exponent {
            None => 0,
            Some(e) => {
                let magnitude = e.strip_prefix(['-', '+']).unwrap_or(e);
                if !all_digits(magnitude) {
                    return Err(bad());
                }
                let value = magnitude
                    .trim_start_matches('0')
                    .parse::<i64>()
                    .ok()
                    .or_else(|| magnitude.bytes().all(|b| b == b'0').then_some(0))
                    .filter(|v| *v <= MAX_EXPONENT)
                    .ok_or_else(|| format!("has an exponent beyond {MAX_EXPONENT} in magnitude"))?;
                if e.starts_with('-') { -value } else { value }
            }
        };
        let mut mantissa: BigInt = format!("{integer}{fraction}").parse().map_err(|_| bad())?;
        if negative {
            mantissa = -mantissa;
        }
        Ok(Decimal {
            mantissa,
            exponent: exponent - fraction.len() as i64,
        })
    }

    /// Decimal places needed to write this value as an integer over `10^places`.
    fn places(&self) -> i64 {
        (-self.exponent).max(0)
    }
}

/// The numbers of one construction over the common denominator `10^places`.
#[derive(Clone, Debug)]
pub struct Scaled {
    /// `value * 10^places`, in the order given.
    pub values: Vec<BigInt>,
    /// `10^places`: the scaled value of 1.
    pub one: BigInt,
    pub places: u32,
}

impl Scaled {
    /// Brings decimals to their least common power-of-ten denominator.
    pub fn new(decimals: &[Decimal]) -> Scaled {
        let places = decimals.iter().map(Decimal::places).max().unwrap_or(0);
        let values = decimals
            .iter()
            .map(|d| &d.mantissa * pow10((d.exponent + places) as u32))
            .collect();
        Scaled {
            values,
            one: pow10(places as u32),
            places: places as u32,
        }
    }

    /// The exact decimal text of `value / 10^(places * power)` (a scaled quantity of degree
    /// `power`).
    pub fn decimal_text(&self, value: &BigInt, power: u32) -> String {
        decimal_text(value, self.places * power)
    }
}

/// `10^k`.
pub fn pow10(k: u32) -> BigInt {
    num_traits::pow(BigInt::from(10), k as usize)
}

/// The exact decimal text of `value / 10^places`, without trailing zeros.
pub fn decimal_text(value: &BigInt, places: u32) -> String {
    let digits = value.abs().to_string();
    let places = places as usize;
    let padded = if digits.len() <= places {
        format!("{}{digits}", "0".repeat(places + 1 - digits.len()))
    } else {
        digits
    };
    let (integer, fraction) = padded.split_at(padded.len() - places);
    let fraction = fraction.trim_end_matches('0');
    let sign = if value.is_negative() { "-" } else { "" };
    if fraction.is_empty() {
        format!("{sign}{integer}")
    } else {
        format!("{sign}{integer}.{fraction}")
    }
}

/// `p / q` as an f64 within a relative error of about 2^-52 (a 64-bit truncated quotient,
/// then rounded), for reporting: every decision is taken on the exact integers. `q` must be
/// positive.
pub fn ratio_to_f64(p: &BigInt, q: &BigInt) -> f64 {
    if p.is_zero() || q.is_zero() {
        return 0.0;
    }
    let shift = q.bits() as i64 - p.bits() as i64 + 64;
    let quotient = if shift >= 0 {
        (p << shift as usize) / q
    } else {
        p / (q << (-shift) as usize)
    };
    let mut value = quotient.to_f64().unwrap_or(f64::NAN);
    // value * 2^-shift, in steps that stay within the exponent range.
    let mut remaining = -shift;
    while remaining != 0 {
        let step = remaining.clamp(-1000, 1000);
        value *= 2f64.powi(step as i32);
        remaining -= step;
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scaled(tokens: &[&str]) -> Scaled {
        let decimals: Vec<Decimal> = tokens
            .iter()
            .map(|t| Decimal::parse(t).unwrap_or_else(|e| panic!("{t}: {e}")))
            .collect();
        Scaled::new(&decimals)
    }

    #[test]
    fn decimals_are_read_exactly() {
        let s = scaled(&["0.1", "-2", "1.5e-3", "25E+1", "0.30000000000000004"]);
        assert_eq!(s.places, 17);
        let texts: Vec<String> = s.values.iter().map(|v| s.decimal_text(v, 1)).collect();
        assert_eq!(texts, ["0.1", "-2", "0.0015", "250", "0.30000000000000004"]);
        assert_eq!(s.decimal_text(&s.one, 1), "1");
        // 0.1 + 0.2 is exactly 0.3 here, unlike in floating point.
        let t = scaled(&["0.1", "0.2", "0.3"]);
        assert_eq!(&t.values[0] + &t.values[1], t.values[2]);
    }

    #[test]
    fn everything_but_plain_decimals_is_refused() {
        for token in [
            "nan",
            "NaN",
            "-nan",
            "inf",
            "-Infinity",
            "0x1p-2",
            "+5",
            ".5",
            "5.",
            "1_000",
            "1,5",
            "1e",
            "1e+",
            "e5",
            "--1",
            "1.2.3",
            "1e31",
            "1e-31",
            "1e99999999999999999999",
            "",
            "-",
            "score=2.6",
        ] {
            assert!(Decimal::parse(token).is_err(), "{token:?} was accepted");
        }
        let long = "1".repeat(MAX_DIGITS + 1);
        let message = Decimal::parse(&long).err().unwrap_or_default();
        assert!(message.contains("101 digits"), "{message}");
        assert!(Decimal::parse(&"1".repeat(MAX_DIGITS)).is_ok());
        assert!(Decimal::parse("1e30").is_ok() && Decimal::parse("-1E-030").is_ok());
        assert!(
            Decimal::parse("nan")
                .err()
                .unwrap_or_default()
                .contains("finite")
        );
    }

    #[test]
    fn ratios_convert_to_nearby_floats() {
        let r = ratio_to_f64(&BigInt::from(1), &BigInt::from(3));
        assert!((r - 1.0 / 3.0).abs() < 1e-16, "{r}");
        let big = pow10(200);
        let r = ratio_to_f64(&(&big * 7), &(&big * 2));
        assert_eq!(r, 3.5);
        assert_eq!(ratio_to_f64(&BigInt::from(0), &BigInt::from(5)), 0.0);
        let tiny = ratio_to_f64(&BigInt::from(1), &pow10(300));
        assert!((tiny / 1e-300 - 1.0).abs() < 1e-15, "{tiny}");
    }
}
