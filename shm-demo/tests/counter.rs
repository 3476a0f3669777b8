//! The lost-update demo: what must hold on every machine, asserted; what may vary, printed.
#![allow(clippy::unwrap_used)]

mod common;

use common::{numbers, run, stderr, stdout};

#[test]
fn synchronized_counts_exactly_2n_unsynchronized_never_more() {
    let n = 200_000u64;
    let out = run(&["counter", "--increments", &n.to_string()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}{text}", stderr(&out));
    println!("{text}");
    // "   <what>  counter = X of Y, L updates lost, ..."
    let total = |what: &str| {
        let line = text
            .lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what} line"));
        let after = line.split("counter = ").nth(1).unwrap();
        let nums = numbers(after);
        assert_eq!(nums[1], 2 * n, "{line}");
        assert_eq!(nums[0] + nums[2], 2 * n, "lost is 2N - counter: {line}");
        nums[0]
    };
    assert_eq!(total("atomic fetch_add"), 2 * n);
    assert_eq!(total("pthread mutex"), 2 * n);
    // Lost updates can take the count below N too (a process that stalls between its load and
    // its store overwrites everything the other did meanwhile): only 2..=2N is guaranteed.
    let racy = total("unsynchronized");
    assert!((2..=2 * n).contains(&racy), "unsynchronized counter {racy}");
    println!("unsynchronized: {} updates lost of {}", 2 * n - racy, 2 * n);
}
