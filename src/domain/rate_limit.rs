//! Sliding-window rate limits: the pure half (the other half is one upsert in
//! `features::rate_limits::sql`, which keeps the counts in PostgreSQL so every instance shares them).
//!
//! A window of `W` seconds is kept as two fixed buckets aligned to multiples of `W`. The number of
//! hits in the sliding window ending now is estimated as
//! `previous × (1 − elapsed/W) + current`, where `elapsed` is the time since the current bucket
//! began: the previous bucket's hits are assumed spread evenly, and only the part of it that the
//! sliding window still covers counts. A hit is allowed when `estimate + 1 ≤ limit`.

/// One limit: at most `max` hits per sliding window of `window_seconds`. `max == 0` is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Hits allowed per window; 0 disables the limit.
    pub max: u32,
    /// Window length in seconds.
    pub window_seconds: u32,
}

impl Limit {
    /// `max` per minute.
    pub fn per_minute(max: u32) -> Limit {
        Limit { max, window_seconds: 60 }
    }

    /// `max` per hour.
    pub fn per_hour(max: u32) -> Limit {
        Limit { max, window_seconds: 3_600 }
    }

    /// `max` per day.
    pub fn per_day(max: u32) -> Limit {
        Limit { max, window_seconds: 86_400 }
    }

    /// False when the setting is 0: such a limit is never checked and counts nothing.
    pub fn is_on(&self) -> bool {
        self.max > 0
    }
}

/// The counters after a check, as the store returns them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowState {
    /// Hits in the bucket before the current one.
    pub previous: u32,
    /// Hits in the current bucket.
    pub current: u32,
    /// Seconds since the current bucket began (0 ≤ elapsed < window).
    pub elapsed_seconds: f64,
}

/// Estimated hits in the sliding window `after_seconds` from now (no new hits assumed).
pub fn estimate(limit: Limit, state: WindowState, after_seconds: f64) -> f64 {
    let window = f64::from(limit.window_seconds);
    let at = state.elapsed_seconds + after_seconds;
    if at < window {
        f64::from(state.previous) * (1.0 - at / window) + f64::from(state.current)
    } else if at < 2.0 * window {
        f64::from(state.current) * (1.0 - (at - window) / window)
    } else {
        0.0
    }
}

/// Whole seconds (≥ 1) until one more hit would be allowed: the `Retry-After` of a 429.
pub fn retry_after_seconds(limit: Limit, state: WindowState) -> u32 {
    let window = f64::from(limit.window_seconds);
    let room = f64::from(limit.max.saturating_sub(1));
    let remaining = (window - state.elapsed_seconds).max(0.0);
    // In the current bucket only the previous bucket's weight decays.
    let wait = if f64::from(state.current) <= room && state.previous > 0 {
        let needed = window
            * (1.0
                - state.elapsed_seconds / window
                - (room - f64::from(state.current)) / f64::from(state.previous));
        if needed <= remaining { Some(needed.max(0.0)) } else { None }
    } else {
        None
    };
    // Otherwise wait into the next bucket, where the current bucket's hits decay.
    let wait = wait.unwrap_or_else(|| {
        let fraction =
            if state.current == 0 { 0.0 } else { (1.0 - room / f64::from(state.current)).max(0.0) };
        remaining + fraction * window
    });
    ((wait - 1e-9).ceil() as u32).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(previous: u32, current: u32, elapsed_seconds: f64) -> WindowState {
        WindowState { previous, current, elapsed_seconds }
    }

    #[test]
    fn the_previous_bucket_fades_out_linearly() {
        let limit = Limit::per_minute(10);
        assert_eq!(estimate(limit, state(10, 0, 0.0), 0.0), 10.0);
        assert_eq!(estimate(limit, state(10, 0, 30.0), 0.0), 5.0);
        assert_eq!(estimate(limit, state(10, 4, 45.0), 0.0), 6.5);
        assert_eq!(estimate(limit, state(10, 4, 45.0), 15.0), 4.0); // next bucket begins
        assert_eq!(estimate(limit, state(10, 4, 45.0), 45.0), 2.0);
        assert_eq!(estimate(limit, state(10, 4, 45.0), 200.0), 0.0);
    }

    #[test]
    fn retry_after_is_when_one_more_hit_fits() {
        let limit = Limit::per_minute(10);
        for s in [
            state(10, 0, 0.0),
            state(10, 5, 20.0),
            state(0, 10, 59.0),
            state(7, 10, 10.0),
            state(20, 20, 0.0),
        ] {
            let wait = f64::from(retry_after_seconds(limit, s));
            assert!(estimate(limit, s, wait) + 1.0 <= 10.0 + 1e-9, "{s:?} wait {wait}");
            assert!(
                wait <= 1.0 || estimate(limit, s, wait - 1.0) + 1.0 > 10.0,
                "{s:?} wait {wait} not minimal"
            );
        }
    }

    #[test]
    fn a_limit_of_one_waits_for_the_window_to_clear() {
        let limit = Limit::per_hour(1);
        assert_eq!(retry_after_seconds(limit, state(0, 1, 600.0)), 3_000 + 3_600);
    }

    #[test]
    fn zero_is_off() {
        assert!(!Limit::per_minute(0).is_on());
        assert!(Limit::per_day(10).is_on());
    }
}
