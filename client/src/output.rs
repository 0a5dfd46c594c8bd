//! Output helpers that match Docker's: human sizes (`4.26MB`), human durations (`2 hours ago`),
//! and Go `tabwriter`-style tables; writes go through `io::Result` so a closed pipe is not a panic.

use std::io::Write as _;

/// Writes a line to stdout.
pub fn line(s: impl std::fmt::Display) -> anyhow::Result<()> {
    writeln!(std::io::stdout().lock(), "{s}")?;
    Ok(())
}

/// Docker's `units.HumanSizeWithPrecision(size, 3)`: decimal units, 3 significant digits.
pub fn human_size(size: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut v = size as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g3(v), UNITS[i])
}

/// Go's `%.3g` for non-negative values below 1000.
fn go_g3(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    // Round to 3 significant digits first, then pick a notation as Go does.
    let exp = v.abs().log10().floor() as i32;
    let scale = 10f64.powi(2 - exp);
    let rounded = (v * scale).round() / scale;
    let exp = if rounded > 0.0 {
        rounded.log10().floor() as i32
    } else {
        0
    };
    if !(-4..3).contains(&exp) {
        let mant = rounded / 10f64.powi(exp);
        let m = trim_zeros(format!("{mant:.2}"));
        return format!("{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    let decimals = (2 - exp).max(0) as usize;
    trim_zeros(format!("{rounded:.decimals$}"))
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// Docker's `units.HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    let seconds = secs;
    if seconds < 1 {
        return "Less than a second".into();
    }
    if seconds == 1 {
        return "1 second".into();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = seconds / 60;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = ((seconds as f64) / 3600.0 + 0.5) as i64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", seconds / 3600 / 24 / 365)
}

/// `"2 hours ago"` for an RFC 3339 time, `"N/A"` when missing or unreadable.
pub fn since(created: Option<&str>) -> String {
    match created.and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok()) {
        Some(t) => {
            // Docker keeps whole seconds of the creation time, then truncates the difference.
            let millis = chrono::Utc::now().timestamp_millis() - t.timestamp() * 1000;
            let secs = millis.div_euclid(1000);
            format!("{} ago", human_duration(secs))
        }
        None => "N/A".into(),
    }
}

/// The time as Go's `time.RFC3339` in local time (what `docker history -H=false` prints).
pub fn rfc3339_local(created: Option<&str>) -> String {
    match created.and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok()) {
        Some(t) => {
            let local = t.with_timezone(&chrono::Local);
            local.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        }
        None => String::new(),
    }
}

/// Lays out rows like Go's `tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)` (Docker's tables): every
/// column but the last padded to its widest cell plus 3, at least 10.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 < r.len() {
                widths[i] = widths[i].max((c.chars().count() + 3).max(10));
            }
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                let pad = widths[i] - c.chars().count();
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Docker's `Ellipsis`: at most `max` characters, the last one `…` when cut.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(100), "100B");
        assert_eq!(human_size(1234), "1.23kB");
        assert_eq!(human_size(4_260_000), "4.26MB");
        assert_eq!(human_size(1_000_000), "1MB");
        assert_eq!(human_size(999_999), "1e+03kB");
        assert_eq!(human_size(12_345_678), "12.3MB");
        assert_eq!(human_size(123_456_789), "123MB");
    }

    #[test]
    fn durations_like_docker() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(59), "59 seconds");
        assert_eq!(human_duration(60), "About a minute");
        assert_eq!(human_duration(3 * 60), "3 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(5 * 3600), "5 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
    }

    #[test]
    fn tables_like_tabwriter() {
        let t = table(&[
            vec!["A".into(), "BB".into(), "C".into()],
            vec!["long-cell".into(), "x".into(), "y".into()],
        ]);
        assert_eq!(t, "A           BB        C\nlong-cell   x         y\n");
        assert_eq!(ellipsis("abcdef", 4), "abc…");
    }
}

/// An error that ends the command with this exit status and prints nothing (`diff --exit-code`).
#[derive(Debug)]
pub struct SilentExit(pub u8);

impl std::fmt::Display for SilentExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for SilentExit {}
