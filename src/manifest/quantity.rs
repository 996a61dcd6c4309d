//! Exact arithmetic on Kubernetes resource quantities (`500m`, `0.5`, `1Gi`, `1G`, `2e3`) and on
//! Go's byte counts as the runtime reads `GOMEMLIMIT` (`900MiB`, `1073741824`, `off`).
//!
//! Quantities are held as an integer number of nano-units (10⁻⁹), which covers every suffix
//! Kubernetes accepts (`n` … `Ei`) without rounding; finer fractions round up the way the API
//! server canonicalises them. [`canonical`] gives the string the API server stores for a quantity
//! (what admission policies and `quantity(...)` see), ported from apimachinery
//! `pkg/api/resource/quantity.go` (`ParseQuantity`, `CanonicalizeBytes`).

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

/// How a quantity was written, which decides its canonical form (apimachinery `resource.Format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// No suffix or a decimal SI one (`m`, `k`, `M`, ...).
    DecimalSi,
    /// A binary SI suffix (`Ki`, `Mi`, ...).
    BinarySi,
    /// An exponent (`1e3`, `5E-3`).
    DecimalExponent,
}

/// The format `ParseQuantity` gives text ending in `suffix` (`suffix.go` `interpret`).
fn format_of(suffix: &str) -> Format {
    match suffix {
        "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => Format::BinarySi,
        "" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => Format::DecimalSi,
        _ => Format::DecimalExponent,
    }
}

/// Decimal SI suffixes by power of ten (`suffix.go` `newSuffixer`).
const DECIMAL_SUFFIXES: [(i32, &str); 10] = [(-9, "n"), (-6, "u"), (-3, "m"), (0, ""), (3, "k"), (6, "M"), (9, "G"), (12, "T"), (15, "P"), (18, "E")];
const BINARY_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/// The string the API server stores for the quantity written `text` (a `resource.Quantity` field
/// read from JSON and written back): `ParseQuantity` keeps the text when it is already canonical
/// (its fast path), else `Quantity.String` builds it with `CanonicalizeBytes`. None when `text`
/// is no quantity or lies outside what [`Quantity`] holds (30 significant digits, exponents
/// within ±40), where the text is left as written.
pub fn canonical(text: &str) -> Option<String> {
    let text = text.trim();
    if text == "0" {
        return Some(text.to_string());
    }
    let quantity = Quantity::parse(text).ok()?;
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let number_end = unsigned.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let whole = if whole.is_empty() { "0" } else { whole };
    let mut format = format_of(suffix);
    if kept_as_written(whole, fraction, suffix, format) {
        return Some(text.to_string());
    }
    // `ParseQuantity`'s slow path: binary quantities are capped at the largest int64, and one
    // between 0 and 1 is shown as decimal.
    let mut nano = quantity.0;
    if format == Format::BinarySi {
        let cap = i128::from(i64::MAX) * NANO;
        nano = nano.clamp(-cap, cap);
        if nano.abs() < NANO {
            format = Format::DecimalSi;
        }
    }
    Some(canonical_string(nano, format))
}

/// `ParseQuantity`'s fast path keeps the text when it is canonical already: a decimal number
/// with a scale that is a multiple of three and neither trailing `000` nor a leading zero, or a
/// binary one whose number is not a multiple of eight (so no larger suffix fits).
fn kept_as_written(whole: &str, fraction: &str, suffix: &str, format: Format) -> bool {
    let exponent: i32 = match format {
        Format::BinarySi => 10 * BINARY_SUFFIXES.iter().position(|s| *s == suffix).unwrap_or(0) as i32,
        Format::DecimalSi => DECIMAL_SUFFIXES.iter().find(|(_, s)| *s == suffix).map_or(0, |(e, _)| *e),
        Format::DecimalExponent => match suffix[1..].parse() {
            Ok(e) => e,
            Err(_) => return false,
        },
    };
    let digits = whole.len() + fraction.len();
    match format {
        Format::BinarySi => {
            let precision = 15 - whole.len() as i32 - (exponent as f32 * 3.0 / 10.0) as i32 - 1;
            let value: Option<i64> = whole.parse().ok();
            fraction.is_empty() && precision >= 0 && value.is_some_and(|v| v.checked_mul(1 << exponent).is_some() && v & 0x07 != 0)
        }
        _ => {
            let scale = exponent - fraction.len() as i32;
            let shifted = format!("{whole}{fraction}");
            let fits = 18 - digits as i32 >= 0 && scale >= -9 && shifted.parse::<i64>().is_ok();
            fits && scale % 3 == 0 && !shifted.ends_with("000") && !shifted.starts_with('0')
        }
    }
}

/// `CanonicalizeBytes` of a parsed quantity of `nano` nano-units written in `format`.
fn canonical_string(nano: i128, format: Format) -> String {
    if nano == 0 {
        return "0".into();
    }
    let mut format = format;
    if format == Format::BinarySi && (nano.abs() < 1024 * NANO || nano % NANO != 0) {
        // Small or fractional binary quantities are shown as decimal, avoiding rounding.
        format = Format::DecimalSi;
    }
    if format == Format::BinarySi {
        // `AsCanonicalBase1024Bytes`: every factor of 1024 goes into the suffix.
        let (mut amount, mut power) = (nano / NANO, 0);
        while amount % 1024 == 0 && power < BINARY_SUFFIXES.len() - 1 {
            amount /= 1024;
            power += 1;
        }
        return format!("{amount}{}", BINARY_SUFFIXES[power]);
    }
    // `AsCanonicalBytes`: every factor of ten into the exponent, then the exponent down to a
    // multiple of three.
    let (mut amount, mut exponent) = (nano, -9i32);
    while amount % 10 == 0 {
        amount /= 10;
        exponent += 1;
    }
    while exponent.rem_euclid(3) != 0 {
        amount *= 10;
        exponent -= 1;
    }
    let suffix = match format {
        Format::DecimalSi => match DECIMAL_SUFFIXES.iter().find(|(e, _)| *e == exponent) {
            Some((_, suffix)) => suffix.to_string(),
            // No SI suffix beyond `E`: exponent notation keeps the magnitude.
            None => format!("e{exponent}"),
        },
        _ if exponent == 0 => String::new(),
        _ => format!("e{exponent}"),
    };
    format!("{amount}{suffix}")
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

    /// apimachinery `quantity_test.go` `TestQuantityParseEmit`, with its negated cases.
    #[test]
    fn canonical_strings_as_quantity_test_parse_emit() {
        let table = [("1Ki", "1Ki"), ("1Mi", "1Mi"), ("1Gi", "1Gi"), ("1024Mi", "1Gi"), ("1000M", "1G"), (".001Ki", "1024m"), (".000001Ki", "1024u"), (".000000001Ki", "1024n"), (".000000000001Ki", "2n")];
        for (input, expected) in table {
            assert_eq!(canonical(input).as_deref(), Some(expected), "{input}");
            assert_eq!(canonical(&format!("-{input}")), Some(format!("-{expected}")), "-{input}");
        }
    }

    /// apimachinery `quantity_test.go` `TestQuantityString`: each canonical string parses to
    /// itself and each alternate spelling to the canonical one. Its rows built from values
    /// rather than text (`decQuantity(5, 0, BinarySI)`) appear here as the text that parses to
    /// them; the rows of binary quantities past `Ei` (2⁷⁰) are left out: parsed text caps them
    /// at the largest int64.
    #[test]
    fn canonical_strings_as_quantity_test_string() {
        let table = [
            ("1Gi", "1024Mi"),
            ("300Mi", "307200Ki"),
            ("6Ki", ""),
            ("1001Gi", "1025024Mi"),
            ("1Ti", "1024Gi"),
            ("1G", "1000M"),
            ("1G", "0.001T"),
            ("1m", "1000u"),
            ("80m", ""),
            ("1080m", "1.08"),
            ("1080m", "1080000000n"),
            ("300M", ""),
            ("1T", ""),
            ("1E", ""),
            ("1e21", "1000E"),
            ("5e21", "5000E"),
            ("1e24", "1000000E"),
            ("1234567M", ""),
            ("3k", ""),
            ("1025", ""),
            ("0", ""),
            ("1e9", ".001e12"),
            ("1e-3", "0.001e0"),
            ("1e-9", "1000e-12"),
            ("80e-3", ""),
            ("300e6", ""),
            ("1e12", ""),
            ("1e3", ""),
            ("3e3", ""),
            ("0", "00"),
            ("1n", ""),
            ("80n", ""),
            ("1080n", ""),
            ("1u", ""),
            ("80u", ""),
            ("1080u", ""),
        ];
        for (expected, alternate) in table {
            assert_eq!(canonical(expected).as_deref(), Some(expected), "{expected} is canonical");
            if !alternate.is_empty() {
                assert_eq!(canonical(alternate).as_deref(), Some(expected), "{alternate} -> {expected}");
            }
            if expected != "0" {
                assert_eq!(canonical(&format!("-{expected}")), Some(format!("-{expected}")), "-{expected}");
            }
        }
        // `decQuantity(5, 0, BinarySI)` "5", `decQuantity(500, -3, BinarySI)` "500m",
        // `decQuantity(1234567, -3, BinarySI)` "1234567m": binary quantities under 1024 or
        // fractional are decimal.
        assert_eq!(canonical("0.005Ki").as_deref(), Some("5120m"));
        assert_eq!(canonical("0.5Ki").as_deref(), Some("512"));
        assert_eq!(canonical("1.5Ki").as_deref(), Some("1536"));
        // Trailing zeros of a decimal number become its suffix (the fast path keeps no `000`).
        assert_eq!(canonical("2000").as_deref(), Some("2k"));
        // `TestQuantityParse`'s saturating rows: 9Ei is capped at the largest int64.
        assert_eq!(canonical("9Ei").as_deref(), Some("9223372036854775807"));
        assert_eq!(canonical("3.001n").as_deref(), Some("4n"));
        assert_eq!(canonical("0.00000012345").as_deref(), Some("124n"));
        assert_eq!(canonical("0.000000000001Ki").as_deref(), Some("2n"));
        // Kept as written: scale 0 after the shift, no trailing `000` (the fast path's test).
        assert_eq!(canonical("100.035k").as_deref(), Some("100.035k"));
        // What YAML numbers become (`cpu: 1`, `cpu: 0.5`) and text out of range.
        assert_eq!((canonical("1").as_deref(), canonical("0.5").as_deref(), canonical("1.").as_deref()), (Some("1"), Some("500m"), Some("1.")));
        assert_eq!((canonical("1e40k"), canonical("lots")), (None, None));
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
