//! Times for people: a Unix time in the machine's local zone (`TZ`, else /etc/localtime, as
//! `date` shows it), and a duration in hours, minutes and seconds.

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// `2026-12-04 21:03 CET`: `unix` in the local zone (C library `localtime_r` and `strftime`).
pub fn local(unix: u64) -> String {
    let t = unix as libc::time_t;
    // SAFETY: an all-zero `tm` is a valid value for localtime_r to overwrite.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to a time_t and a tm that live across the call.
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return format!("@{unix}");
    }
    let mut buf = [0u8; 64];
    let fmt = c"%Y-%m-%d %H:%M %Z";
    // SAFETY: the buffer's length is passed; the format is NUL-terminated; tm was filled above.
    let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), fmt.as_ptr(), &tm) };
    if n == 0 {
        return format!("@{unix}");
    }
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// `2h 05m`, `7m 30s`, `42s`.
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "-".into();
    }
    let s = seconds.round() as u64;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m {sec:02}s"),
        (h, m, _) if h < 48 => format!("{h}h {m:02}m"),
        (h, _, _) => format!("{}d {:02}h", h / 24, h % 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(duration(42.4), "42s");
        assert_eq!(duration(450.0), "7m 30s");
        assert_eq!(duration(2.0 * 3600.0 + 5.0 * 60.0 + 10.0), "2h 05m");
        assert_eq!(duration(50.0 * 3600.0), "2d 02h");
        assert_eq!(duration(f64::NAN), "-");
    }

    #[test]
    fn local_time_follows_the_zone_like_date_does() {
        // 2026-12-04 21:03:20 UTC. The zone is the process's (TZ unset here: /etc/localtime), so
        // compare with `date` in the same environment, an independent formatter.
        let unix = 1_796_418_200u64;
        let o = std::process::Command::new("date")
            .args(["-d", &format!("@{unix}"), "+%Y-%m-%d %H:%M %Z"])
            .output()
            .expect("running date");
        assert!(o.status.success());
        assert_eq!(local(unix), String::from_utf8_lossy(&o.stdout).trim());
        let utc = std::process::Command::new("date")
            .env("TZ", "UTC")
            .args(["-d", &format!("@{unix}"), "+%Y-%m-%d %H:%M %Z"])
            .output()
            .expect("running date");
        assert_eq!(String::from_utf8_lossy(&utc.stdout).trim(), "2026-12-04 21:03 UTC");
    }
}
