//! Exact arithmetic on Kubernetes resource quantities (`500m`, `0.5`, `1Gi`, `1G`, `2e3`) and on
//! Go's byte counts as the runtime reads `GOMEMLIMIT` (`900MiB`, `1073741824`, `off`).
//!
//! Quantities are held as an integer number of nano-units (10⁻⁹), which covers every suffix
//! Kubernetes accepts (`n` … `Ei`) without rounding; finer fractions round up the way the API
//! server canonicalises them.

use std::fmt;

/// A Kubernetes quantity in nano-units (1 = 10⁻⁹ of the base unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(pub i128);

const NANO: i128 = 1_000_000_000;

impl Quantity {
    pub const ZERO: Quantity = Quantity(0);

    /// Parse a quantity as the API server does (`resource.ParseQuantity`).
    pub fn parse(text: &str) -> Result<Quantity, String> {
        let s = text.trim();
        if s.is_empty() {
            return Err("empty quantity".into());
        }
        let (negative, rest) = match s.as_bytes()[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(num_end);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(format!("`{text}` is not a quantity: expected a number"));
        }
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        // Multiplier as (numerator, power of ten) applied to the decimal number.
        let (mul, pow10): (i128, i32) = match suffix {
            "" => (1, 0),
            "n" => (1, -9),
            "u" => (1, -6),
            "m" => (1, -3),
            "k" => (1, 3),
            "M" => (1, 6),
            "G" => (1, 9),
            "T" => (1, 12),
            "P" => (1, 15),
            "E" => (1, 18),
            "Ki" => (1 << 10, 0),
            "Mi" => (1 << 20, 0),
            "Gi" => (1 << 30, 0),
            "Ti" => (1 << 40, 0),
            "Pi" => (1 << 50, 0),
            "Ei" => (1 << 60, 0),
            other if other.starts_with(['e', 'E']) => {
                let exp: i32 = other[1..].parse().map_err(|_| format!("`{text}` is not a quantity: bad exponent `{other}`"))?;
                if !(-40..=40).contains(&exp) {
                    return Err(format!("`{text}` is out of range"));
                }
                (1, exp)
            }
            other => return Err(format!("`{text}` is not a quantity: unknown suffix `{other}` (use m, k, M, G, Ki, Mi, Gi, …)")),
        };
        // value = int.frac * mul * 10^pow10, in nano-units: digits * mul * 10^(pow10 + 9 - frac_len)
        let digits: String = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 30 {
            return Err(format!("`{text}` is out of range"));
        }
        let mantissa: i128 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| format!("`{text}` is out of range"))? };
        let scale = pow10 + 9 - frac_part.len() as i32;
        let overflow = || format!("`{text}` is out of range");
        let mut value = mantissa.checked_mul(mul).ok_or_else(overflow)?;
        if scale >= 0 {
            value = value.checked_mul(10i128.checked_pow(scale as u32).ok_or_else(overflow)?).ok_or_else(overflow)?;
        } else {
            let div = 10i128.checked_pow((-scale) as u32).unwrap_or(i128::MAX);
            // Sub-nano precision rounds up, as the API server does.
            value = value / div + i128::from(value % div != 0);
        }
        Ok(Quantity(if negative { -value } else { value }))
    }

    /// Parse a JSON value holding a quantity (a string, or a bare YAML number such as `1` or `0.5`).
    pub fn from_json(v: &serde_json::Value) -> Option<Result<Quantity, String>> {
        match v {
            serde_json::Value::String(s) => Some(Quantity::parse(s)),
            serde_json::Value::Number(n) => Some(Quantity::parse(&n.to_string())),
            serde_json::Value::Null => None,
            other => Some(Err(format!("`{other}` is not a quantity"))),
        }
    }

    /// Whole base units, rounded up (bytes for memory).
    pub fn ceil_units(self) -> i128 {
        let q = self.0.div_euclid(NANO);
        if self.0.rem_euclid(NANO) != 0 { q + 1 } else { q }
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }
}

impl std::ops::Add for Quantity {
    type Output = Quantity;
    fn add(self, o: Quantity) -> Quantity {
        Quantity(self.0.saturating_add(o.0))
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 % NANO == 0 {
            write!(f, "{}", self.0 / NANO)
        } else if self.0 % 1_000_000 == 0 {
            write!(f, "{}m", self.0 / 1_000_000)
        } else {
            write!(f, "{}n", self.0)
        }
    }
}

/// Value of `GOMEMLIMIT` as the Go runtime reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoMemLimit {
    /// `off`: no soft limit.
    Off,
    Bytes(i64),
}

/// Parse `GOMEMLIMIT` exactly like the Go runtime (`parseByteCount`): `^[0-9]+(([KMGT]i)?B)?$` or
/// `off`. Anything else (for example Kubernetes-style `1Gi` or `900M`) makes the Go runtime abort
/// at start-up.
pub fn parse_go_memlimit(text: &str) -> Result<GoMemLimit, String> {
    if text == "off" {
        return Ok(GoMemLimit::Off);
    }
    let bad = || {
        format!("`{text}` is not a byte count the Go runtime accepts (digits with an optional B, KiB, MiB, GiB or TiB suffix); the program aborts at start-up")
    };
    let digits_end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    if digits_end == 0 {
        return Err(bad());
    }
    let (digits, unit) = text.split_at(digits_end);
    let shift = match unit {
        "" | "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        "TiB" => 40,
        _ => return Err(bad()),
    };
    let n: i64 = digits.parse().map_err(|_| bad())?;
    n.checked_mul(1i64 << shift).map(GoMemLimit::Bytes).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    #[test]
    fn decimal_and_milli_forms_agree() {
        assert_eq!(q("0.5"), q("500m"));
        assert_eq!(q(".5"), q("500m"));
        assert_eq!(q("1"), q("1000m"));
        assert_eq!(q("1.5k"), q("1500"));
        assert_eq!(q("2e3"), q("2k"));
        assert_eq!(q("1E-3"), q("1m"));
        assert_eq!(q("+1"), q("1"));
        assert_eq!(q("0"), Quantity::ZERO);
        assert_eq!(q("0Mi"), Quantity::ZERO);
    }

    #[test]
    fn binary_and_decimal_suffixes_differ() {
        assert_eq!(q("1Gi").ceil_units(), 1_073_741_824);
        assert_eq!(q("1G").ceil_units(), 1_000_000_000);
        assert!(q("1Gi") > q("1G"));
        assert_eq!(q("128Mi").ceil_units(), 134_217_728);
        assert_eq!(q("1Ei").ceil_units(), 1 << 60);
        assert_eq!(q("0.5Gi").ceil_units(), 536_870_912);
    }

    #[test]
    fn sub_nano_rounds_up_and_bad_input_is_rejected() {
        assert_eq!(q("0.0000000001"), Quantity(1));
        assert_eq!(q("1.5m").ceil_units(), 1);
        for bad in ["", "abc", "1.2.3", "1gi", "1 Gi", "Mi", "1KB", "1e"] {
            assert!(Quantity::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn json_numbers_are_quantities() {
        assert_eq!(Quantity::from_json(&serde_json::json!(0.5)).unwrap().unwrap(), q("500m"));
        assert_eq!(Quantity::from_json(&serde_json::json!(2)).unwrap().unwrap(), q("2"));
        assert!(Quantity::from_json(&serde_json::Value::Null).is_none());
    }

    #[test]
    fn go_memlimit_is_parsed_like_the_runtime() {
        assert_eq!(parse_go_memlimit("900MiB"), Ok(GoMemLimit::Bytes(900 << 20)));
        assert_eq!(parse_go_memlimit("1073741824"), Ok(GoMemLimit::Bytes(1 << 30)));
        assert_eq!(parse_go_memlimit("1024B"), Ok(GoMemLimit::Bytes(1024)));
        assert_eq!(parse_go_memlimit("1GiB"), Ok(GoMemLimit::Bytes(1 << 30)));
        assert_eq!(parse_go_memlimit("off"), Ok(GoMemLimit::Off));
        for bad in ["1Gi", "900M", "1G", "1GB", "1.5GiB", "", "-1", "MiB", " 1"] {
            assert!(parse_go_memlimit(bad).is_err(), "{bad} should be rejected");
        }
    }
}
