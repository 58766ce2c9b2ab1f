//! Numbers, durations and times as a person reads them in the report: `100,000`, `2 h 05 min`,
//! `12.5 ms`, `2026-11-30 15:16:49 UTC`.

/// A count with thousands separators; a value with a fraction keeps one decimal (below 10)
/// or none.
pub(crate) fn count(value: f64) -> String {
    if !value.is_finite() {
        return "-".into();
    }
    if value.fract().abs() > 1e-9 && value.abs() < 10.0 {
        return format!("{value:.1}");
    }
    let whole = value.round() as i64;
    let digits = whole.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if whole < 0 {
        grouped.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// A whole number of rows or requests.
pub(crate) fn int(value: u64) -> String {
    count(value as f64)
}

/// A share of a total, as `12.3 %` (`<0.1 %` for a few rows of many).
pub(crate) fn share(part: u64, total: u64) -> String {
    if total == 0 {
        return String::new();
    }
    let percent = part as f64 * 100.0 / total as f64;
    match percent {
        p if p > 0.0 && p < 0.1 => "<0.1 %".into(),
        p if p >= 99.95 && part < total => ">99.9 %".into(),
        p => format!("{p:.1} %"),
    }
}

/// How long something took: `0.4 s`, `14.5 s`, `3 min 20 s`, `2 h 05 min`.
pub(crate) fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "-".into();
    }
    if seconds < 60.0 {
        return format!("{seconds:.1} s");
    }
    let whole = seconds.round() as u64;
    let (hours, minutes, secs) = (whole / 3600, whole / 60 % 60, whole % 60);
    match hours {
        0 => format!("{minutes} min {secs:02} s"),
        _ => format!("{hours} h {minutes:02} min"),
    }
}

/// A label on a time axis: `0`, `45 s`, `2 min`, `1 h 30`.
pub(crate) fn duration_label(seconds: f64) -> String {
    let whole = seconds.round() as u64;
    match whole {
        0 => "0".into(),
        s if s < 60 => format!("{s} s"),
        s if s < 3600 && s % 60 == 0 => format!("{} min", s / 60),
        s if s < 3600 => format!("{}:{:02}", s / 60, s % 60),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s => format!("{} h {:02}", s / 3600, s / 60 % 60),
    }
}

/// A latency: `0.4 ms`, `12 ms`, `1.2 s`.
pub(crate) fn milliseconds(ms: f64) -> String {
    match ms {
        ms if ms >= 1000.0 => {
            let seconds = ms / 1000.0;
            if seconds.fract() == 0.0 {
                format!("{seconds:.0} s")
            } else {
                format!("{seconds:.1} s")
            }
        }
        ms if ms >= 10.0 => format!("{ms:.0} ms"),
        ms if ms >= 1.0 && ms.fract() == 0.0 => format!("{ms:.0} ms"),
        ms => format!("{ms:.1} ms"),
    }
}

/// A measured latency: one decimal below 10 ms (`1.0 ms`, `6.2 ms`), else as [`milliseconds`].
pub(crate) fn latency(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        milliseconds(ms)
    }
}

/// An RFC 3339 time from summary.json, for reading: `2026-11-30 15:16:49 UTC`.
pub(crate) fn time(rfc3339: &str) -> String {
    match humantime::parse_rfc3339_weak(rfc3339) {
        Ok(at) => {
            let text = humantime::format_rfc3339_seconds(at).to_string();
            format!("{} UTC", text.trim_end_matches('Z').replace('T', " "))
        }
        Err(_) => rfc3339.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_a_person_writes_them() {
        assert_eq!(count(100_000.0), "100,000");
        assert_eq!(count(999.0), "999");
        assert_eq!(count(1_234_567.0), "1,234,567");
        assert_eq!(count(2.5), "2.5");
        assert_eq!(count(241.6), "242");
        assert_eq!(share(3422, 100_000), "3.4 %");
        assert_eq!(share(1, 100_000), "<0.1 %");
        assert_eq!(share(99_999, 100_000), ">99.9 %");
        assert_eq!(share(5, 5), "100.0 %");
        assert_eq!(duration(14.46), "14.5 s");
        assert_eq!(duration(200.0), "3 min 20 s");
        assert_eq!(duration(7500.0), "2 h 05 min");
        assert_eq!(duration_label(90.0), "1:30");
        assert_eq!(duration_label(5400.0), "1 h 30");
        assert_eq!(milliseconds(0.45), "0.5 ms");
        assert_eq!(milliseconds(12.34), "12 ms");
        assert_eq!(milliseconds(2500.0), "2.5 s");
        assert_eq!(latency(1.0), "1.0 ms");
        assert_eq!(latency(14.2), "14 ms");
        assert_eq!(time("2026-11-30T15:16:49.714Z"), "2026-11-30 15:16:49 UTC");
    }
}
