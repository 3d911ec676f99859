//! Sizes and dates for people, and the fixed formats FTP and access logs
//! want: the one home for both in the crate.

/// A byte count in binary units: `0 B`, `512 B`, `1.5 KiB`, `3.0 GiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Parses a size such as `100`, `512K`, `10M`, `2G`, `1GiB` or `1.5g` (binary units).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = (t[..split].trim(), t[split..].trim().to_ascii_lowercase());
    let mult: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(format!("invalid size '{s}' (try 100, 512K, 10M, 2G)")),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid size '{s}' (try 100, 512K, 10M, 2G)"))?;
    let bytes = n * mult as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("invalid size '{s}'"));
    }
    Ok(bytes as u64)
}

/// [`parse_size`] into a smaller integer type (`usize`, `u32`), with an
/// error for a size it cannot hold.
pub fn parse_size_as<T: TryFrom<u64>>(s: &str) -> Result<T, String> {
    let n = parse_size(s)?;
    T::try_from(n).map_err(|_| format!("size '{s}' is too large"))
}

/// A UTC calendar date and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year, e.g. 2024.
    pub year: i64,
    /// Month, 1-12.
    pub month: u32,
    /// Day of the month, 1-31.
    pub day: u32,
    /// Hour, 0-23.
    pub hour: u32,
    /// Minute, 0-59.
    pub minute: u32,
    /// Second, 0-59.
    pub second: u32,
}

impl Civil {
    /// The UTC date and time of `unix` seconds since 1970 (Howard Hinnant's algorithm).
    pub fn from_unix(unix: i64) -> Civil {
        let days = unix.div_euclid(86_400);
        let secs = unix.rem_euclid(86_400) as u32;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Civil {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
        }
    }

    /// Seconds since 1970 of this UTC date and time (the inverse of
    /// [`Civil::from_unix`]; fields are taken as they are, unchecked).
    pub fn to_unix(&self) -> i64 {
        let (m, d) = (i64::from(self.month), i64::from(self.day));
        let y = self.year - i64::from(m <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// Three-letter English month name, as `ls -l` prints it.
    pub fn month_name(&self) -> &'static str {
        const NAMES: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        NAMES[(self.month.clamp(1, 12) - 1) as usize]
    }
}

/// `2024-05-01 12:00` (UTC), for listings people read.
pub fn date(unix: i64) -> String {
    let c = Civil::from_unix(unix);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute
    )
}

/// `20240501120000` (UTC), the timestamp format of FTP's MDTM and MLSD.
pub fn ftp_timestamp(unix: i64) -> String {
    let c = Civil::from_unix(unix);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// Parses FTP's `YYYYMMDDHHMMSS` (UTC; a `.sss` fraction is accepted and
/// dropped), as MFMT sends it; `None` unless it is a real date and time.
pub fn parse_ftp_timestamp(s: &str) -> Option<i64> {
    let whole = s.split_once('.').map_or(s, |(w, frac)| {
        if frac.bytes().all(|b| b.is_ascii_digit()) {
            w
        } else {
            ""
        }
    });
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |a: usize, b: usize| whole[a..b].parse::<u32>().ok();
    let c = Civil {
        year: i64::from(n(0, 4)?),
        month: n(4, 6)?,
        day: n(6, 8)?,
        hour: n(8, 10)?,
        minute: n(10, 12)?,
        second: n(12, 14)?,
    };
    let unix = c.to_unix();
    // A date that does not exist (Feb 30, hour 25) does not come back the same.
    (Civil::from_unix(unix) == c).then_some(unix)
}

/// `22/Nov/2026:05:00:00 +0000` (UTC), the common log format's time.
pub fn clf(unix: i64) -> String {
    let c = Civil::from_unix(unix);
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        c.day,
        c.month_name(),
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// The current time in unix seconds.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A duration as people write it on the command line: `500ms`, `5s`, `2m`, `1m30s`, `1h`.
pub fn duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 && !d.is_zero() {
        return format!("{}us", d.as_micros());
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if ms % 1000 != 0 {
        return format!("{:.1}s", d.as_secs_f64());
    }
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ftp_timestamps_round_trip_and_refuse_what_is_no_date() {
        for unix in [0, 951_782_400, 1_714_564_800, 4_102_444_799] {
            assert_eq!(
                parse_ftp_timestamp(&ftp_timestamp(unix)),
                Some(unix),
                "{unix}"
            );
        }
        assert_eq!(parse_ftp_timestamp("20240501120000"), Some(1_714_564_800));
        assert_eq!(
            parse_ftp_timestamp("20240501120000.123"),
            Some(1_714_564_800)
        );
        for bad in [
            "",
            "2024050112000",
            "20240230120000",
            "20241301000000",
            "20240501250000",
            "2024050112000a",
            "20240501120000.x",
        ] {
            assert_eq!(parse_ftp_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(3 << 30), "3.0 GiB");
        assert_eq!(parse_size("100").unwrap(), 100);
        assert_eq!(parse_size("512K").unwrap(), 512 << 10);
        assert_eq!(parse_size("10 MiB").unwrap(), 10 << 20);
        assert_eq!(parse_size("1.5g").unwrap(), 3 << 29);
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5X").is_err());
        assert!(parse_size("-1").is_err());
    }

    #[test]
    fn dates() {
        assert_eq!(clf(1_700_000_000), "14/Nov/2023:22:13:20 +0000");
        assert_eq!(clf(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(date(0), "1970-01-01 00:00");
        assert_eq!(ftp_timestamp(951_782_400), "20000229000000");
        assert_eq!(ftp_timestamp(1_714_564_800), "20240501120000");
        assert_eq!(Civil::from_unix(1_714_564_800).month_name(), "May");
        assert_eq!(date(-1), "1969-12-31 23:59");
    }

    #[test]
    fn durations_read_as_typed() {
        use std::time::Duration;
        assert_eq!(duration(Duration::from_millis(500)), "500ms");
        assert_eq!(duration(Duration::from_secs(5)), "5s");
        assert_eq!(duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(duration(Duration::from_secs(3600)), "1h");
        assert_eq!(duration(Duration::ZERO), "0ms");
        assert_eq!(duration(Duration::from_micros(50)), "50us");
    }
}
