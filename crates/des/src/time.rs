//! Simulated time: integer nanoseconds, never floating point.
//!
//! [`SimTime`] is an instant since the start of the run; [`SimDuration`] is a span. Arithmetic is
//! checked: overflowing the u64 nanosecond range (584 years) panics with a clear message in the
//! operators, and the `checked_*` methods return `None` for callers that can recover.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::str::FromStr;

/// A span of simulated time in nanoseconds.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

/// An instant of simulated time: nanoseconds since the run started.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);
    pub const NANOSECOND: SimDuration = SimDuration(1);
    pub const MICROSECOND: SimDuration = SimDuration(1_000);
    pub const MILLISECOND: SimDuration = SimDuration(1_000_000);
    pub const SECOND: SimDuration = SimDuration(1_000_000_000);
    pub const MINUTE: SimDuration = SimDuration(60 * 1_000_000_000);
    pub const HOUR: SimDuration = SimDuration(3_600 * 1_000_000_000);
    pub const DAY: SimDuration = SimDuration(86_400 * 1_000_000_000);
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us * 1_000)
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * 1_000_000)
    }
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * 1_000_000_000)
    }
    /// Rounds a non-negative number of seconds to the nearest nanosecond (saturating).
    /// Used only at the boundary where a sampled real number becomes simulated time.
    pub fn from_secs_f64(s: f64) -> Self {
        Self::from_nanos_f64(s * 1e9)
    }
    /// Rounds a non-negative number of nanoseconds to the nearest integer (saturating; NaN → 0).
    pub fn from_nanos_f64(ns: f64) -> Self {
        if ns.is_nan() || ns <= 0.0 {
            SimDuration(0)
        } else if ns >= u64::MAX as f64 {
            SimDuration(u64::MAX)
        } else {
            // Round half up; IEEE addition and truncation give the same bits everywhere.
            SimDuration((ns + 0.5) as u64)
        }
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
    pub fn checked_add(self, o: SimDuration) -> Option<SimDuration> {
        self.0.checked_add(o.0).map(SimDuration)
    }
    pub fn checked_sub(self, o: SimDuration) -> Option<SimDuration> {
        self.0.checked_sub(o.0).map(SimDuration)
    }
    pub fn checked_mul(self, k: u64) -> Option<SimDuration> {
        self.0.checked_mul(k).map(SimDuration)
    }
    pub fn saturating_add(self, o: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(o.0))
    }
    pub fn saturating_mul(self, k: u64) -> SimDuration {
        SimDuration(self.0.saturating_mul(k))
    }
}

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        SimTime(ns)
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// Time elapsed since the start of the run.
    pub const fn since_start(self) -> SimDuration {
        SimDuration(self.0)
    }
    pub fn checked_add(self, d: SimDuration) -> Option<SimTime> {
        self.0.checked_add(d.0).map(SimTime)
    }
    pub fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
    /// The span from `earlier` to `self`, or `None` if `earlier` is later.
    pub fn checked_since(self, earlier: SimTime) -> Option<SimDuration> {
        self.0.checked_sub(earlier.0).map(SimDuration)
    }
    /// The span from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    #[inline]
    fn add(self, d: SimDuration) -> SimTime {
        self.checked_add(d)
            .expect("simulated time overflowed u64 nanoseconds")
    }
}
impl AddAssign<SimDuration> for SimTime {
    #[inline]
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}
impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    #[inline]
    fn sub(self, o: SimTime) -> SimDuration {
        self.checked_since(o)
            .expect("subtracting a later SimTime from an earlier one")
    }
}
impl Add for SimDuration {
    type Output = SimDuration;
    #[inline]
    fn add(self, o: SimDuration) -> SimDuration {
        self.checked_add(o).expect("SimDuration overflowed")
    }
}
impl AddAssign for SimDuration {
    #[inline]
    fn add_assign(&mut self, o: SimDuration) {
        *self = *self + o;
    }
}
impl Sub for SimDuration {
    type Output = SimDuration;
    #[inline]
    fn sub(self, o: SimDuration) -> SimDuration {
        self.checked_sub(o).expect("SimDuration underflowed")
    }
}

const UNITS: [(&str, u64); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
];

/// Why a duration string did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseDurationError(pub String);

impl fmt::Display for ParseDurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}; expected a duration like \"250ms\", \"1.5s\", \"10m\" or \"1h30m\" (units ns, us, ms, s, m, h, d)",
            self.0
        )
    }
}
impl std::error::Error for ParseDurationError {}

/// Parses `"<int>[.<frac>]"` times a unit scale exactly, in integer arithmetic.
pub(crate) fn parse_scaled(number: &str, scale: u64) -> Option<u64> {
    let (int, frac) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut total = whole.checked_mul(scale)?;
    let mut place = scale;
    for d in frac.bytes() {
        place /= 10;
        if place == 0 {
            // Finer than the base unit: must be zeros to be exact.
            if d != b'0' {
                return None;
            }
            continue;
        }
        total = total.checked_add(u64::from(d - b'0') * place)?;
    }
    Some(total)
}

impl FromStr for SimDuration {
    type Err = ParseDurationError;
    /// Accepts one or more `<number><unit>` parts, e.g. `"250ms"`, `"1.5s"`, `"1h30m"`, and `"0"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "0" {
            return Ok(SimDuration::ZERO);
        }
        if s.is_empty() {
            return Err(ParseDurationError("empty duration".into()));
        }
        let mut rest = s;
        let mut total: u64 = 0;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(|| {
                    ParseDurationError(format!("\"{s}\" has a number without a unit"))
                })?;
            if num_len == 0 {
                return Err(ParseDurationError(format!("\"{s}\" is not a duration")));
            }
            let (num, tail) = rest.split_at(num_len);
            let unit_len = tail
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(tail.len());
            let (unit, tail) = tail.split_at(unit_len);
            let unit = unit.trim();
            let scale = UNITS
                .iter()
                .find(|(u, _)| *u == unit || (unit == "µs" && *u == "us"))
                .map(|(_, k)| *k)
                .ok_or_else(|| ParseDurationError(format!("unknown unit \"{unit}\" in \"{s}\"")))?;
            let v = parse_scaled(num, scale).ok_or_else(|| {
                ParseDurationError(format!("\"{num}{unit}\" is not exact or too large"))
            })?;
            total = total
                .checked_add(v)
                .ok_or_else(|| ParseDurationError(format!("\"{s}\" is too large")))?;
            rest = tail;
        }
        Ok(SimDuration(total))
    }
}

impl fmt::Display for SimDuration {
    /// Prints the largest unit that represents the value exactly, e.g. `250ms`, `1h30m`, `1.5s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            return write!(f, "0s");
        }
        // Compose h/m/s when the value is a whole number of seconds of at least a minute.
        if ns.is_multiple_of(1_000_000_000) && ns >= 60_000_000_000 {
            let mut secs = ns / 1_000_000_000;
            let h = secs / 3600;
            secs %= 3600;
            let m = secs / 60;
            secs %= 60;
            if h > 0 {
                write!(f, "{h}h")?;
            }
            if m > 0 {
                write!(f, "{m}m")?;
            }
            if secs > 0 {
                write!(f, "{secs}s")?;
            }
            return Ok(());
        }
        for (unit, scale) in [("s", 1_000_000_000u64), ("ms", 1_000_000), ("us", 1_000)] {
            if ns >= scale {
                let whole = ns / scale;
                let frac = ns % scale;
                if frac == 0 {
                    return write!(f, "{whole}{unit}");
                }
                let width = scale.ilog10() as usize;
                let digits = format!("{frac:0width$}");
                return write!(f, "{whole}.{}{unit}", digits.trim_end_matches('0'));
            }
        }
        write!(f, "{ns}ns")
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}", SimDuration(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_human_units() {
        let p = |s: &str| s.parse::<SimDuration>().unwrap();
        assert_eq!(p("250ms"), SimDuration::from_millis(250));
        assert_eq!(p("10m"), SimDuration::MINUTE.saturating_mul(10));
        assert_eq!(p("1h30m"), SimDuration::from_secs(5400));
        assert_eq!(p("1.5s"), SimDuration::from_millis(1500));
        assert_eq!(p("0"), SimDuration::ZERO);
        assert_eq!(p("2us"), SimDuration::from_nanos(2000));
        assert_eq!(p("0.001ms"), SimDuration::from_nanos(1000));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "5",
            "ms",
            "1.2.3s",
            "3 parsecs",
            "1.0000000001s",
            "-1s",
            "99999999999999999999s",
        ] {
            assert!(bad.parse::<SimDuration>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn display_round_trips() {
        for ns in [
            1u64,
            999,
            1_000,
            1_500_000,
            250_000_000,
            1_000_000_000,
            5_400_000_000_000,
            61_500_000_000,
            86_400_000_000_000,
        ] {
            let d = SimDuration::from_nanos(ns);
            let s = d.to_string();
            assert_eq!(s.parse::<SimDuration>().unwrap(), d, "{s}");
        }
        assert_eq!(SimDuration::from_secs(5400).to_string(), "1h30m");
        assert_eq!(SimDuration::from_millis(250).to_string(), "250ms");
    }

    #[test]
    fn checked_arithmetic() {
        assert_eq!(SimTime::MAX.checked_add(SimDuration::NANOSECOND), None);
        assert_eq!(SimTime::ZERO.checked_since(SimTime::from_nanos(1)), None);
        let t = SimTime::ZERO + SimDuration::SECOND;
        assert_eq!(t - SimTime::ZERO, SimDuration::SECOND);
    }

    #[test]
    #[should_panic(expected = "overflowed")]
    fn overflow_panics_with_message() {
        let _ = SimTime::MAX + SimDuration::SECOND;
    }
}
