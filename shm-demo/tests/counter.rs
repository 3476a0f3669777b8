//! The lost-update demo: what must hold on every machine, asserted; what may vary, printed.
#![allow(clippy::unwrap_used)]

mod common;

use common::{numbers, run, stderr, stdout};

#[test]
fn synchronized_counts_exactly_2n_unsynchronized_never_more() {
    let n = 2_000_000u64;
    let out = run(&["counter", "--increments", &n.to_string()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}{text}", stderr(&out));
    println!("{text}");
    assert!(text.contains(&format!("expected {}\n", 2 * n)), "{text}");
    // "   <what>   <counter> <lost> <time> ms <ns per increment>"
    let total = |what: &str| {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("   {what} ")))
            .unwrap_or_else(|| panic!("no {what} line"));
        let nums = numbers(line);
        assert_eq!(nums[0] + nums[1], 2 * n, "lost is 2N - counter: {line}");
        nums[0]
    };
    assert_eq!(total("atomic fetch_add"), 2 * n);
    assert_eq!(total("process-shared robust pthread mutex"), 2 * n);
    // Lost updates can take the count below N too (a process that stalls between its load and
    // its store overwrites everything the other did meanwhile): only 2..=2N is guaranteed.
    let racy = total("unsynchronized");
    assert!((2..=2 * n).contains(&racy), "unsynchronized counter {racy}");
    let lost = 2 * n - racy;
    println!("unsynchronized: {lost} updates lost of {}", 2 * n);
    // On two CPUs, with the processes pinned apart, both count at the same moment: losses are
    // certain in practice (hundreds of thousands of 2N). On one CPU they need a preemption
    // between a load and its store, which may never happen in a short run.
    let cpus = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).unwrap();
    let usable = (0..nix::sched::CpuSet::count())
        .filter(|&c| cpus.is_set(c).unwrap_or(false))
        .count();
    if usable < 2 {
        eprintln!("skipped: only {usable} usable CPU, so losing no update is possible");
        return;
    }
    assert!(
        text.contains("(pinned to CPUs "),
        "two CPUs, yet the processes were not pinned apart: {text}"
    );
    assert!(
        lost > 0,
        "no update lost on two CPUs: the unsynchronized counter is synchronized after all"
    );
}
