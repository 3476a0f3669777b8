//! How the tour's steps write what they measured.

use std::time::Duration;

/// `12.3 ms`.
pub fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}
