//! How the run writes its numbers and names, once for both wings: the progress lines on
//! stderr (`measure/`) and the report (`report/`) say a size, a time or a placement alike.

/// "same core" or "different cores", for a placement's name ("same" / "split").
pub fn placement_words(name: &str) -> &'static str {
    match name {
        "same" => "same core",
        _ => "different cores",
    }
}

/// A placement where there is little room (a narrow column header, a progress line).
pub fn short_placement(name: &str) -> &'static str {
    match name {
        "same" => "same core",
        _ => "diff. cores",
    }
}

/// Microseconds with three significant digits ("0.36" below 1 µs: two decimals). The format
/// is chosen for the value as rounded, so 9997 ns is "10.0", not "10.00", and 99 970 ns "100",
/// not "100.0". Rounded as `format!` rounds (8745 ns, 8.7449… µs in binary, is "8.74"), so a
/// test that formats a JSON number the same way prints the same digits.
pub fn us(ns: f64) -> String {
    let decimals = |u: f64| match u {
        u if u < 10.0 => 2,
        u if u < 100.0 => 1,
        _ => 0,
    };
    let us = ns / 1000.0;
    let rounded: f64 = format!("{us:.*}", decimals(us)).parse().unwrap_or(us);
    format!("{us:.*}", decimals(rounded))
}

/// `x` rounded to 3 significant digits (1234.5 -> 1230, 0.012345 -> 0.0123), as JSON and CSV
/// keep every number that is not whole ns.
pub fn sig3(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(2 - x.abs().log10().floor() as i32);
    let rounded = (x * scale).round() / scale;
    // Printed from a decimal string, so 0.0123 is not written as 0.012299999999999999.
    format!("{rounded:.12}").parse().unwrap_or(rounded)
}

/// A ratio as JSON keeps it, three significant digits, trailing zeros written: "0.0105",
/// "0.360", "1.06", "13.4", "120".
pub fn times(x: f64) -> String {
    let x = sig3(x);
    match x > 0.0 && x.is_finite() {
        true => format!("{x:.*}", (2 - x.log10().floor() as i32).max(0) as usize),
        false => format!("{x}"),
    }
}

pub fn size_words(size: usize) -> String {
    match size {
        0 => "no payload".to_string(),
        s if s >= 1024 && s % 1024 == 0 => format!("{} KiB", s / 1024),
        s => format!("{s} B"),
    }
}

/// The size the design-space table and the lessons compare at: 64 B when measured, else the
/// smallest of `sizes` (None when there is none).
pub fn reference_size(sizes: impl IntoIterator<Item = usize>) -> Option<usize> {
    let sizes: Vec<usize> = sizes.into_iter().collect();
    match sizes.contains(&64) {
        true => Some(64),
        false => sizes.into_iter().min(),
    }
}

/// `line` cut to `width` characters, the cut marked with "…".
pub fn fit(line: &str, width: usize) -> String {
    match line.chars().count() > width {
        true => line.chars().take(width - 1).chain(['…']).collect(),
        false => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_rounds_before_it_picks_a_format() {
        // Values that round up across a format's edge.
        assert_eq!(us(9_997.0), "10.0");
        assert_eq!(us(99_970.0), "100");
        assert_eq!(us(999_700.0), "1000");
        assert_eq!(us(999.7), "1.00");
        // The edges' halves: 99.95 and 0.9995 round up; 9.995 µs is 9.99499… in binary.
        assert_eq!(us(9_995.0), "9.99");
        assert_eq!(us(99_950.0), "100");
        assert_eq!(us(999_500.0), "1000");
        assert_eq!(us(999.5), "1.00");
        // Just below an edge, and the ordinary cases.
        assert_eq!(us(9_994.0), "9.99");
        assert_eq!(us(99_940.0), "99.9");
        assert_eq!(us(360.0), "0.36");
        assert_eq!(us(27_400.0), "27.4");
        assert_eq!(us(135_400.0), "135");
    }

    #[test]
    fn times_rounds_before_it_picks_a_format() {
        assert_eq!(times(9.996), "10.0");
        assert_eq!(times(99.96), "100");
        assert_eq!(times(0.9996), "1.00");
        assert_eq!(times(1.06), "1.06");
        assert_eq!(times(0.0105), "0.0105");
    }
}
