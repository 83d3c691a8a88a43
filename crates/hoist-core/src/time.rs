//! A small UTC timestamp: seconds and nanoseconds since the Unix epoch.
//!
//! hoist-core never reads the clock. Callers pass the time in, usually
//! `ClockOffset::apply(Timestamp::from(SystemTime::now()))` (see [`crate::clock`]), so that
//! signing uses time corrected against the store's `Date` header and tests can pin any instant.
//!
//! Formats: the SigV4 basic form (`20130524T000000Z`), RFC 3339 (`2013-05-24T00:00:00Z`, as
//! S3 writes `LastModified`) and the HTTP date (`Fri, 24 May 2013 00:00:00 GMT`, the `Date`
//! header).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An instant in UTC, with nanosecond resolution, as seconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    secs: i64,
    nanos: u32,
}

/// A timestamp string that could not be parsed; carries the input and the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {format} timestamp {input:?}")]
#[non_exhaustive]
pub struct ParseTimeError {
    /// The rejected text.
    pub input: String,
    /// The form that was expected, for example `"SigV4 (yyyymmddThhmmssZ)"`.
    pub format: &'static str,
}

const SECS_PER_DAY: i64 = 86_400;
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

impl Timestamp {
    /// The Unix epoch.
    pub const UNIX_EPOCH: Timestamp = Timestamp { secs: 0, nanos: 0 };

    /// From whole seconds since the epoch.
    pub const fn from_unix(secs: i64) -> Self {
        Timestamp { secs, nanos: 0 }
    }

    /// From seconds and nanoseconds since the epoch; nanoseconds past one second carry over.
    pub const fn new(secs: i64, nanos: u32) -> Self {
        Timestamp {
            secs: secs + (nanos / 1_000_000_000) as i64,
            nanos: nanos % 1_000_000_000,
        }
    }

    /// From milliseconds since the epoch (may be negative).
    pub const fn from_unix_millis(millis: i64) -> Self {
        Timestamp {
            secs: millis.div_euclid(1000),
            nanos: (millis.rem_euclid(1000) * 1_000_000) as u32,
        }
    }

    /// From a civil UTC date and time. Returns `None` when a field is out of range.
    pub fn from_civil(
        year: i64,
        month: u32,
        day: u32,
        hour: u32,
        min: u32,
        sec: u32,
    ) -> Option<Self> {
        if !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || min > 59
            || sec > 60
        {
            return None;
        }
        // A leap second (sec = 60) is folded onto the next second, as Unix time does.
        let days = days_from_civil(year, month, day);
        Some(Timestamp::from_unix(
            days * SECS_PER_DAY + i64::from(hour) * 3600 + i64::from(min) * 60 + i64::from(sec),
        ))
    }

    /// Whole seconds since the epoch (floor).
    pub const fn unix_seconds(self) -> i64 {
        self.secs
    }

    /// Milliseconds since the epoch (floor).
    pub const fn unix_millis(self) -> i64 {
        self.secs * 1000 + (self.nanos / 1_000_000) as i64
    }

    /// The sub-second part, in nanoseconds.
    pub const fn subsec_nanos(self) -> u32 {
        self.nanos
    }

    /// This instant truncated to the whole second (SigV4 dates have second resolution).
    pub const fn trunc_seconds(self) -> Self {
        Timestamp::from_unix(self.secs)
    }

    /// `self + d`, saturating at the far future.
    pub fn plus(self, d: Duration) -> Self {
        let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        Timestamp::new(
            self.secs.saturating_add(secs),
            self.nanos + d.subsec_nanos(),
        )
    }

    /// `self - d`, saturating at the far past.
    pub fn minus(self, d: Duration) -> Self {
        self.add_millis(-(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
    }

    /// `self` moved by a signed number of milliseconds.
    pub fn add_millis(self, millis: i64) -> Self {
        let total = i128::from(self.secs) * 1_000_000_000
            + i128::from(self.nanos)
            + i128::from(millis) * 1_000_000;
        let secs = total.div_euclid(1_000_000_000);
        let secs = i64::try_from(secs).unwrap_or(if secs < 0 { i64::MIN } else { i64::MAX });
        Timestamp {
            secs,
            nanos: total.rem_euclid(1_000_000_000) as u32,
        }
    }

    /// The time elapsed from `earlier` to `self`, or `None` when `earlier` is later.
    pub fn duration_since(self, earlier: Timestamp) -> Option<Duration> {
        if self < earlier {
            return None;
        }
        let mut secs = self.secs - earlier.secs;
        let nanos = if self.nanos >= earlier.nanos {
            self.nanos - earlier.nanos
        } else {
            secs -= 1;
            self.nanos + 1_000_000_000 - earlier.nanos
        };
        Some(Duration::new(secs as u64, nanos))
    }

    /// Signed difference `self - other` in milliseconds.
    pub fn millis_since(self, other: Timestamp) -> i64 {
        self.unix_millis() - other.unix_millis()
    }

    /// Signed difference `self - other` in whole seconds (floor of the exact difference).
    pub fn seconds_since(self, other: Timestamp) -> i64 {
        self.millis_since(other).div_euclid(1000)
    }

    /// The civil UTC date and time: (year, month 1–12, day 1–31, hour, minute, second).
    pub fn civil(self) -> (i64, u32, u32, u32, u32, u32) {
        let days = self.secs.div_euclid(SECS_PER_DAY);
        let rem = self.secs.rem_euclid(SECS_PER_DAY) as u32;
        let (y, m, d) = civil_from_days(days);
        (y, m, d, rem / 3600, rem / 60 % 60, rem % 60)
    }

    /// The SigV4 basic form, `yyyymmddThhmmssZ`, as 16 ASCII bytes without allocating.
    pub fn amz_date_bytes(self) -> [u8; 16] {
        let (y, mo, d, h, mi, s) = self.civil();
        let mut out = *b"00000000T000000Z";
        // Years outside 0..=9999 cannot be signed; they wrap into four digits here and
        // `presign` refuses them before they get that far.
        let y = y.rem_euclid(10_000) as u32;
        put_digits(&mut out[0..4], y);
        put_digits(&mut out[4..6], mo);
        put_digits(&mut out[6..8], d);
        put_digits(&mut out[9..11], h);
        put_digits(&mut out[11..13], mi);
        put_digits(&mut out[13..15], s);
        out
    }

    /// The SigV4 basic form, `yyyymmddThhmmssZ`.
    pub fn to_amz_date(self) -> String {
        String::from_utf8_lossy(&self.amz_date_bytes()).into_owned()
    }

    /// Parses the SigV4 basic form, `yyyymmddThhmmssZ` (the `X-Amz-Date` value).
    pub fn parse_amz_date(s: &str) -> Result<Self, ParseTimeError> {
        let err = || ParseTimeError {
            input: s.to_owned(),
            format: "SigV4 (yyyymmddThhmmssZ)",
        };
        let b = s.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| digits(&b[r]).ok_or_else(err);
        Timestamp::from_civil(
            i64::from(num(0..4)?),
            num(4..6)?,
            num(6..8)?,
            num(9..11)?,
            num(11..13)?,
            num(13..15)?,
        )
        .ok_or_else(err)
    }

    /// RFC 3339 in UTC with whole seconds: `2013-05-24T00:00:00Z`.
    pub fn to_rfc3339(self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }

    /// RFC 3339 in UTC with milliseconds, as S3 writes `LastModified`: `2013-05-24T00:00:00.000Z`.
    pub fn to_rfc3339_millis(self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        let ms = self.nanos / 1_000_000;
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
    }

    /// Parses RFC 3339 (`2013-05-24T00:00:00Z`, `…00.123Z`, `…00+02:00`, lower-case `t`/`z`).
    pub fn parse_rfc3339(s: &str) -> Result<Self, ParseTimeError> {
        let err = || ParseTimeError {
            input: s.to_owned(),
            format: "RFC 3339",
        };
        let b = s.as_bytes();
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't' | b' ')
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| digits(&b[r]).ok_or_else(err);
        let base = Timestamp::from_civil(
            i64::from(num(0..4)?),
            num(5..7)?,
            num(8..10)?,
            num(11..13)?,
            num(14..16)?,
            num(17..19)?,
        )
        .ok_or_else(err)?;
        let mut i = 19;
        let mut nanos = 0u32;
        if b[i] == b'.' {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 9 {
                    nanos = nanos * 10 + u32::from(b[i] - b'0');
                }
                i += 1;
            }
            let n = i - start;
            if n == 0 {
                return Err(err());
            }
            for _ in n..9 {
                nanos *= 10;
            }
        }
        let offset_secs: i64 = match &b[i..] {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let h = digits(&[*h1, *h2]).ok_or_else(err)?;
                let m = digits(&[*m1, *m2]).ok_or_else(err)?;
                if h > 23 || m > 59 {
                    return Err(err());
                }
                let v = i64::from(h * 3600 + m * 60);
                if *sign == b'+' { v } else { -v }
            }
            _ => return Err(err()),
        };
        Ok(Timestamp::new(base.secs - offset_secs, nanos))
    }

    /// The HTTP date (IMF-fixdate): `Fri, 24 May 2013 00:00:00 GMT`.
    pub fn to_http_date(self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        let wd = WEEKDAYS[self.secs.div_euclid(SECS_PER_DAY).rem_euclid(7) as usize];
        let mon = MONTHS[mo as usize - 1];
        format!("{wd}, {d:02} {mon} {y:04} {h:02}:{mi:02}:{s:02} GMT")
    }

    /// Parses an HTTP date in IMF-fixdate form (`Fri, 24 May 2013 00:00:00 GMT`), as servers
    /// send in the `Date` header. The weekday is not checked against the date.
    pub fn parse_http_date(s: &str) -> Result<Self, ParseTimeError> {
        let err = || ParseTimeError {
            input: s.to_owned(),
            format: "HTTP date (IMF-fixdate)",
        };
        let b = s.trim().as_bytes();
        if b.len() != 29
            || b[3] != b','
            || b[4] != b' '
            || b[7] != b' '
            || b[11] != b' '
            || b[16] != b' '
            || b[19] != b':'
            || b[22] != b':'
            || &b[25..] != b" GMT"
        {
            return Err(err());
        }
        if !WEEKDAYS.iter().any(|w| w.as_bytes() == &b[0..3]) {
            return Err(err());
        }
        let month = MONTHS
            .iter()
            .position(|m| m.as_bytes() == &b[8..11])
            .ok_or_else(err)? as u32
            + 1;
        let num = |r: std::ops::Range<usize>| digits(&b[r]).ok_or_else(err);
        Timestamp::from_civil(
            i64::from(num(12..16)?),
            month,
            num(5..7)?,
            num(17..19)?,
            num(20..22)?,
            num(23..25)?,
        )
        .ok_or_else(err)
    }
}

impl std::ops::Add<Duration> for Timestamp {
    type Output = Timestamp;

    fn add(self, d: Duration) -> Timestamp {
        self.plus(d)
    }
}

impl std::ops::Sub<Duration> for Timestamp {
    type Output = Timestamp;

    fn sub(self, d: Duration) -> Timestamp {
        self.minus(d)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 with whole seconds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d, h, mi, s) = self.civil();
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp::new(d.as_secs() as i64, d.subsec_nanos()),
            Err(e) => Timestamp::UNIX_EPOCH.minus(e.duration()),
        }
    }
}

impl From<Timestamp> for SystemTime {
    fn from(t: Timestamp) -> Self {
        if t.secs >= 0 {
            UNIX_EPOCH + Duration::new(t.secs as u64, t.nanos)
        } else {
            UNIX_EPOCH - Duration::from_millis(t.unix_millis().unsigned_abs())
        }
    }
}

fn put_digits(out: &mut [u8], mut v: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days: exact for the proleptic Gregorian
// calendar, with eras of 400 years so that only integer arithmetic is needed.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_date_round_trip() {
        let t = Timestamp::parse_amz_date("20130524T000000Z").unwrap();
        assert_eq!(t.unix_seconds(), 1_369_353_600);
        assert_eq!(t.to_amz_date(), "20130524T000000Z");
        let t = Timestamp::parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(t.unix_seconds(), 1_440_938_160);
        for bad in [
            "20130524T000000",
            "2013-05-24T00:00:00Z",
            "20131324T000000Z",
            "20130230T000000Z",
            "2013052xT000000Z",
            "",
        ] {
            assert!(Timestamp::parse_amz_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn civil_matches_known_days() {
        // 2000-02-29 (leap, century divisible by 400), 1900-03-01, 1969-12-31.
        assert_eq!(
            Timestamp::from_civil(2000, 2, 29, 0, 0, 0)
                .unwrap()
                .unix_seconds(),
            951_782_400
        );
        assert!(Timestamp::from_civil(1900, 2, 29, 0, 0, 0).is_none());
        assert_eq!(Timestamp::from_unix(-1).civil(), (1969, 12, 31, 23, 59, 59));
        // Every day for 1,000 years maps back to itself.
        for day in (-200_000..200_000).step_by(97) {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
    }

    #[test]
    fn rfc3339() {
        let t = Timestamp::parse_rfc3339("2013-05-24T00:00:00.123Z").unwrap();
        assert_eq!(t.unix_millis(), 1_369_353_600_123);
        assert_eq!(t.to_rfc3339_millis(), "2013-05-24T00:00:00.123Z");
        assert_eq!(t.to_rfc3339(), "2013-05-24T00:00:00Z");
        assert_eq!(t.to_string(), "2013-05-24T00:00:00Z");
        let t = Timestamp::parse_rfc3339("2013-05-24T02:00:00+02:00").unwrap();
        assert_eq!(t.unix_seconds(), 1_369_353_600);
        for bad in [
            "2013-05-24T00:00:00",
            "2013-05-24T00:00:00.Z",
            "2013-05-24",
            "2013-05-24T00:00:00+2:00",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn http_date() {
        let t = Timestamp::parse_http_date("Fri, 24 May 2013 00:00:00 GMT").unwrap();
        assert_eq!(t.unix_seconds(), 1_369_353_600);
        assert_eq!(t.to_http_date(), "Fri, 24 May 2013 00:00:00 GMT");
        assert_eq!(
            Timestamp::from_unix(0).to_http_date(),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(
            Timestamp::from_unix(1_440_938_160).to_http_date(),
            "Sun, 30 Aug 2015 12:36:00 GMT"
        );
        for bad in [
            "Fri, 24 May 2013 00:00:00 UTC",
            "Fri, 24 Foo 2013 00:00:00 GMT",
            "Friday, 24-May-13 00:00:00 GMT",
        ] {
            assert!(Timestamp::parse_http_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arithmetic() {
        let t = Timestamp::from_unix(100);
        assert_eq!(t.plus(Duration::from_millis(1500)).unix_millis(), 101_500);
        assert_eq!(t.minus(Duration::from_millis(1500)).unix_millis(), 98_500);
        assert_eq!(t.add_millis(-100_500).unix_millis(), -500);
        assert_eq!(
            Timestamp::from_unix(103).duration_since(t),
            Some(Duration::from_secs(3))
        );
        assert_eq!(t.duration_since(Timestamp::from_unix(103)), None);
        let st: SystemTime = Timestamp::from_unix_millis(1_500).into();
        assert_eq!(Timestamp::from(st).unix_millis(), 1_500);
    }
}
