//! The lessons about coordination: who waits for the other process, and how. A row that
//! blocks sleeps in the kernel until woken, and where the woken process runs sets the price
//! (`wakeup`); a row that spins is fastest only while each process has a core of its own
//! (`spinning`) and pays for it in CPU time (`spin_cpu`). A row spins when its demo crate's
//! coordination column says so.

use super::{ordinal, ratio_words};
use crate::row::{Mechanism, Row, lecture_mechanisms, reference, rtt, size_words, us};

/// A row that busy-polls shared memory instead of sleeping in the kernel until woken.
fn spins(m: &Mechanism) -> bool {
    m.design.coordination.contains("spin")
}

/// Lecture: "the kernel handles blocking and wakeup". Its price depends on placement.
pub(super) fn wakeup(rows: &[Row]) -> Option<String> {
    let size = reference(rows);
    let mut ratios: Vec<(f64, &'static str)> = Vec::new();
    for m in lecture_mechanisms(rows).iter().filter(|m| !spins(m)) {
        let at = |size| Some((rtt(rows, m, "same", size)?, rtt(rows, m, "split", size)?));
        let Some((same, split)) = at(size).or_else(|| at(0)) else {
            continue;
        };
        ratios.push((split.p50() as f64 / same.p50().max(1) as f64, m.label));
    }
    ratios.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (low, high) = (ratios.first()?, ratios.last()?);
    let which = match ratios.len() {
        1 => format!("for {}", low.1),
        n => format!(
            "in the {n} rows that block ({} least, {} most)",
            low.1, high.1
        ),
    };
    Some(format!(
        "The kernel handles blocking and wakeup, and where the woken process runs sets the \
         price: a {} round trip between two cores took {} the same-core one {which}.",
        size_words(size),
        ratio_words(low.0, high.0),
    ))
}

/// Lecture: "shared memory is the fastest IPC". Only when each process has a core to spin on.
/// A rank among shared-memory rows alone says nothing about IPC: no line unless each
/// placement's ranking holds a row outside shared memory.
pub(super) fn spinning(rows: &[Row]) -> Option<String> {
    let size = reference(rows);
    let found = lecture_mechanisms(rows);
    let spin = found.iter().find(|m| spins(m))?;
    let ranked = |place: &str| -> Option<Vec<(u64, &'static str)>> {
        let measured = found
            .iter()
            .filter_map(|m| Some((rtt(rows, m, place, size)?.p50(), m)));
        let all: Vec<(u64, &Mechanism)> = measured.collect();
        if all.iter().all(|(_, m)| m.design.data.contains("shared")) {
            return None;
        }
        let mut all: Vec<(u64, &'static str)> = all.iter().map(|(p, m)| (*p, m.label)).collect();
        all.sort_unstable();
        Some(all)
    };
    let (split, same) = (ranked("split")?, ranked("same")?);
    let rank = |all: &[(u64, &str)]| all.iter().position(|(_, l)| *l == spin.label);
    let (split_at, same_at) = (rank(&split)?, rank(&same)?);
    let where_split = match split_at {
        0 => format!(
            "fastest on two cores ({} µs; next, {}: {} µs)",
            us(split[0].0 as f64),
            split.get(1)?.1,
            us(split.get(1)?.0 as f64)
        ),
        n => format!("{} fastest of {} on two cores", ordinal(n + 1), split.len()),
    };
    let where_same = match same_at + 1 == same.len() {
        true => format!(
            "slowest on one core ({} µs, {:.0}x {})",
            us(same[same_at].0 as f64),
            same[same_at].0 as f64 / same[0].0.max(1) as f64,
            same[0].1
        ),
        false => format!(
            "{} fastest of {} on one core",
            ordinal(same_at + 1),
            same.len()
        ),
    };
    Some(format!(
        "Spinning on shared memory is the fastest IPC only while each process has a core to \
         spin on: of the rows that carry {} messages, {} was the {where_split}, and the \
         {where_same}, where the spinner waits for the scheduler to run its peer.",
        size_words(size),
        spin.label
    ))
}

/// Lecture: with shared memory "you own coordination". Spinning is paid for in CPU time.
pub(super) fn spin_cpu(rows: &[Row]) -> Option<String> {
    let size = reference(rows);
    let found = lecture_mechanisms(rows);
    let spin = found.iter().find(|m| spins(m))?;
    let blocking = found.iter().find(|m| !spins(m) && m.key != spin.key)?;
    let cpu = |m: &Mechanism, place| Some(rtt(rows, m, place, size)?.cpu_us_per_msg());
    let (spin_same, block_same) = (cpu(spin, "same")?, cpu(blocking, "same")?);
    Some(format!(
        "Coordination is the user's to pay for with shared memory: on one core {} burned {:.1} \
         µs of CPU per message against {:.1} µs for {}, which sleeps in the kernel until woken.",
        spin.label, spin_same, block_same, blocking.label
    ))
}
