//! Structured logs: one JSON object per line on stdout.
//!
//! Lines are written whole under the stdout lock, so lines from concurrent workers never
//! interleave. Callers never pass passwords, codes (except the console mailer's own line),
//! `Authorization` values or tokens.

use serde_json::{Map, Value};
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Writes `{"time", "level", "event", ...fields}` as one line on stdout.
pub fn line(level: &str, event: &str, fields: Value) {
    let mut object = Map::new();
    object.insert("time".into(), Value::String(rfc3339_now()));
    object.insert("level".into(), Value::String(level.into()));
    object.insert("event".into(), Value::String(event.into()));
    if let Value::Object(extra) = fields {
        object.extend(extra);
    }
    let mut text = Value::Object(object).to_string();
    text.push('\n');
    let mut out = std::io::stdout().lock();
    // A closed stdout must not take the service down with it.
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

/// `info`-level [`line()`].
pub fn info(event: &str, fields: Value) {
    line("info", event, fields);
}

/// `error`-level [`line()`].
pub fn error(event: &str, fields: Value) {
    line("error", event, fields);
}

/// The current UTC time as RFC 3339 with milliseconds, e.g. `2026-11-23T18:28:00.123Z`.
pub fn rfc3339_now() -> String {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    rfc3339(since_epoch.as_secs() as i64, since_epoch.subsec_millis())
}

/// Formats Unix seconds + milliseconds as RFC 3339 UTC (days-to-civil, Howard Hinnant's algorithm).
pub fn rfc3339(unix_seconds: i64, millis: u32) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let secs_of_day = unix_seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        secs_of_day / 3_600,
        secs_of_day % 3_600 / 60,
        secs_of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(1_795_458_480, 999), "2026-11-23T18:28:00.999Z");
    }
}
