//! What every tour's steps print the same way: a step's heading and a measured duration.

use std::time::Duration;

/// Prints a step's heading, `N. title`, after a blank line: the tours print their steps one
/// after another, and the blank line keeps each step's lines together.
pub fn heading(number: u32, title: &str) {
    println!("\n{number}. {title}");
}

/// A measured duration, in µs below a millisecond, else in ms: "3 µs", "300.1 ms".
pub fn duration(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{} µs", d.as_micros())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_switches_unit_at_one_millisecond() {
        assert_eq!(duration(Duration::from_micros(3)), "3 µs");
        assert_eq!(duration(Duration::from_micros(999)), "999 µs");
        assert_eq!(duration(Duration::from_micros(1000)), "1.0 ms");
        assert_eq!(duration(Duration::from_micros(300_140)), "300.1 ms");
    }
}
