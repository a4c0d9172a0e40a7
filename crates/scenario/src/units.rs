//! Unit-bearing values: durations ("250ms"), sizes ("535kB"), rates ("20Mbit/s").

use des::SimDuration;
use serde::{Deserialize, Deserializer};

/// A duration written as a string with units, e.g. "250ms", "10m", "1h30m".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dur(pub SimDuration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<SimDuration>()
            .map(Dur)
            .map_err(serde::de::Error::custom)
    }
}

const SIZE_UNITS: [(&str, u64); 8] = [
    ("B", 1),
    ("kB", 1_000),
    ("KB", 1_000),
    ("KiB", 1_024),
    ("MB", 1_000_000),
    ("MiB", 1_048_576),
    ("GB", 1_000_000_000),
    ("GiB", 1_073_741_824),
];

const RATE_UNITS: [(&str, u64); 7] = [
    ("bit/s", 1),
    ("kbit/s", 1_000),
    ("Mbit/s", 1_000_000),
    ("Gbit/s", 1_000_000_000),
    ("B/s", 8),
    ("kB/s", 8_000),
    ("MB/s", 8_000_000),
];

fn parse_with_units(s: &str, units: &[(&str, u64)], what: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = (&s[..split], s[split..].trim());
    let scale = units
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|(_, k)| *k)
        .ok_or_else(|| {
            let names: Vec<&str> = units.iter().map(|(u, _)| *u).collect();
            format!(
                "\"{s}\" is not a {what}: expected a number and one of the units {}",
                names.join(", ")
            )
        })?;
    parse_decimal(num, scale)
        .ok_or_else(|| format!("\"{s}\" is not a {what} (number too large or not exact)"))
}

/// `number` × `scale` for numbers like "1.5", rounded to the nearest integer (exact rational
/// arithmetic, so "1.5MiB" is exactly 1,572,864).
fn parse_decimal(number: &str, scale: u64) -> Option<u64> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if (int.is_empty() && frac.is_empty()) || frac.len() > 18 {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: u128 = format!("{int}{frac}").parse().ok()?;
    let den = 10u128.pow(frac.len() as u32);
    let total = (digits * u128::from(scale) + den / 2) / den;
    u64::try_from(total).ok()
}

/// A size in bytes, written "535kB", "1MB", "61B" or as a bare integer number of bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bytes(pub u64);

/// A rate in bits per second, written "20Mbit/s", "1Gbit/s", "10MB/s".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate(pub u64);

#[derive(Deserialize)]
#[serde(untagged)]
enum IntOrStr {
    Int(u64),
    Str(String),
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match IntOrStr::deserialize(d)? {
            IntOrStr::Int(n) => Ok(Bytes(n)),
            IntOrStr::Str(s) => parse_with_units(&s, &SIZE_UNITS, "size")
                .map(Bytes)
                .map_err(serde::de::Error::custom),
        }
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_with_units(&s, &RATE_UNITS, "rate")
            .map(Rate)
            .map_err(serde::de::Error::custom)
    }
}

pub fn parse_size(s: &str) -> Result<u64, String> {
    parse_with_units(s, &SIZE_UNITS, "size")
}

pub fn parse_rate(s: &str) -> Result<u64, String> {
    parse_with_units(s, &RATE_UNITS, "rate")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_rates() {
        assert_eq!(parse_size("535kB"), Ok(535_000));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size("1.5MiB"), Ok(1_572_864));
        assert_eq!(parse_size("61B"), Ok(61));
        assert_eq!(parse_rate("20Mbit/s"), Ok(20_000_000));
        assert_eq!(parse_rate("19.2Mbit/s"), Ok(19_200_000));
        assert_eq!(parse_rate("1MB/s"), Ok(8_000_000));
        for bad in ["", "5", "5 parsecs", "MB", "1.2.3MB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert!(parse_rate("20Mbps").unwrap_err().contains("Mbit/s"));
    }
}
