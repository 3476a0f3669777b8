//! What the numbers were measured on (`row::Machine`): kernel, CPU, the CPUs we may use, and
//! the clock.

use std::time::Instant;

use nix::unistd::Pid;

use crate::row::Machine;

/// Probes the machine: uname, /proc/cpuinfo, our CPU affinity, the clock source, and what a
/// clock read costs.
pub fn probe() -> Machine {
    let kernel = match nix::sys::utsname::uname() {
        Ok(u) => format!(
            "{} {} {}",
            u.sysname().to_string_lossy(),
            u.release().to_string_lossy(),
            u.machine().to_string_lossy()
        ),
        Err(e) => format!("unknown (uname: {e})"),
    };
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or_else(|| "unknown".to_string(), |(_, m)| m.trim().to_string());
    let cpus_online = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    // None listed when sched_getaffinity fails: the header shows [], "split" is n/a.
    let allowed = plumbing::cpu::allowed(Pid::from_raw(0)).unwrap_or_default();
    let clocksource =
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .map_or_else(|_| "unknown".to_string(), |s| s.trim().to_string());
    Machine {
        kernel,
        cpu_model,
        cpus_online,
        allowed,
        clocksource,
        clock_read_ns: clock_read_ns(),
    }
}

fn clock_read_ns() -> f64 {
    let mut runs: Vec<f64> = (0..11)
        .map(|_| {
            let start = Instant::now();
            let mut last = start;
            for _ in 0..1000 {
                last = std::hint::black_box(Instant::now());
            }
            (last - start).as_nanos() as f64 / 1000.0
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}
