//! JSON and CSV: one flat record per row, every measured number and the lecture's columns,
//! beside the facts of the run (JSON: a `run` object; CSV: `#` lines after the rows, so the
//! header stays the first line and the first row the second). Times in ns are integers; other
//! numbers carry 3 significant digits.

use serde_json::{Value, json};

pub use crate::row::sig3;
use crate::row::{PROBED, RATIO_UNSTEADY, Row, Run, Skip, UNSTEADY, probe, x_pipe};

fn status(r: &Result<impl Sized, Skip>) -> (&'static str, Option<&str>) {
    match r {
        Ok(_) => ("ok", None),
        Err(Skip::NotApplicable(why)) => ("n/a", Some(why)),
        Err(Skip::Failed(why)) => ("failed", Some(why)),
        Err(Skip::Stopped) => ("stopped", Some("stopped by a signal")),
    }
}

/// One row as a flat JSON object; `rows` are the run's, for the row's x pipe.
pub fn record(rows: &[Row], row: &Row) -> Value {
    let m = &row.mechanism;
    let against = x_pipe(rows, row);
    let ratio = against.as_ref().ok();
    let (status, reason) = status(&row.latency);
    let lat = row.latency.as_ref().ok();
    let tp = row.throughput.as_ref().ok();
    let stream = row.stream.as_ref().and_then(|s| s.as_ref().ok());
    let cpus = row.placement.possible.then_some(row.placement);
    let mut v = json!({
        "mechanism": m.label,
        "key": m.key,
        "wraps": m.wraps.map(|w| w.key),
        "placement": row.placement.name,
        "cpus": cpus.map(|p| [p.parent_cpu, p.child_cpu]),
        "parent_cpu": cpus.map(|p| p.parent_cpu),
        "child_cpu": cpus.map(|p| p.child_cpu),
        "size": row.size,
        "status": status,
        "reason": reason,
        "samples": lat.map(|l| l.samples()),
        "rounds": lat.map(|l| l.rounds.len()),
        "rtt_p50_ns": lat.map(|l| l.p50()),
        "rtt_round_p50s_ns": lat.map(|l| l.rounds.iter().map(|r| r.summary.p50).collect::<Vec<_>>()),
        "rtt_p50_low_ns": lat.map(|l| l.p50_range().0),
        "rtt_p50_high_ns": lat.map(|l| l.p50_range().1),
        "rtt_rounds_disagree": lat.map(|l| l.unsteady()),
        "rtt_p99_ns": lat.map(|l| l.p99()),
        "rtt_max_ns": lat.map(|l| l.max()),
        "rtt_batch_ns": lat.and_then(|l| l.batch_ns()).map(|b| b.round() as u64),
        "x_pipe": ratio.map(|r| sig3(r.median())),
        "x_pipe_spread": ratio.map(|r| sig3(r.spread())),
        "x_pipe_rounds_disagree": ratio.map(|r| r.unsteady()),
        "x_pipe_round_ratios": ratio.map(|r| r.rounds.iter().map(|x| sig3(*x)).collect::<Vec<_>>()),
        "x_pipe_size": ratio.map(|r| r.pipe_size),
        "x_pipe_note": against.as_ref().err(),
        "cpu_us_per_msg": lat.map(|l| sig3(l.cpu_us_per_msg())),
        "throughput_mib_s": tp.map(|t| sig3(t.mib_s())),
        "throughput_low_mib_s": tp.map(|t| sig3(t.mib_s_range().0)),
        "throughput_high_mib_s": tp.map(|t| sig3(t.mib_s_range().1)),
        "throughput_round_mib_s": tp.map(|t| t.rounds.iter().map(|r| sig3(r.mib_s)).collect::<Vec<_>>()),
        "throughput_rounds_disagree": tp.map(|t| t.unsteady()),
        "throughput_msg_size": tp.map(|t| t.chunk()),
        "throughput_bytes": tp.map(|t| t.bytes()),
        "stream_mib_s": stream.map(|t| sig3(t.mib_s())),
        "stream_note": row.stream.as_ref().and_then(status_note),
        "throughput_note": status_note(&row.throughput),
        "setup_us": row.setup_us.as_ref().ok().map(|s| sig3(*s)),
        "setup_note": status_note(&row.setup_us),
        "verified": row.payload_checked(),
        "verification": row.verification(),
    });
    if let Value::Object(map) = &mut v {
        for (column, value) in m.design.cells() {
            map.insert(column.to_string(), Value::from(value));
        }
        // What the probes of the design-space table found: {"direction": {"fact", "seen"}}.
        let probes: serde_json::Map<String, Value> = row
            .probes
            .iter()
            .map(|p| {
                let found = json!({ "fact": p.fact.word(), "seen": p.seen });
                (p.column.to_string(), found)
            })
            .collect();
        map.insert("probes".into(), Value::Object(probes));
        for column in PROBED {
            let seen = probe(&row.probes, column).map(|p| p.seen.clone());
            map.insert(format!("probe_{column}"), json!(seen));
        }
    }
    v
}

/// The lecture's claims as this run judged them (`verdicts.rs`), as JSON objects.
fn verdicts(rows: &[Row]) -> Vec<Value> {
    crate::report::verdicts::claims(rows)
        .iter()
        .map(
            |c| json!({ "claim": c.claim, "verdict": c.verdict.to_string(), "because": c.because }),
        )
        .collect()
}

fn status_note<T>(r: &Result<T, Skip>) -> Option<String> {
    match status(r) {
        ("ok", _) => None,
        (s, why) => Some(format!("{s}: {}", why.unwrap_or(""))),
    }
}

/// The facts of the run, as (name, value) pairs: the same in JSON and CSV.
fn facts(run: &Run) -> Vec<(&'static str, Value)> {
    let m = run.machine;
    vec![
        ("compare_version", json!(env!("CARGO_PKG_VERSION"))),
        ("kernel", json!(m.kernel)),
        ("cpu_model", json!(m.cpu_model)),
        ("cpus_online", json!(m.cpus_online)),
        ("cpus_usable", json!(m.allowed)),
        ("build_profile", json!(build_profile())),
        ("date_utc", json!(date_utc())),
        ("options", json!(run.options)),
        ("rounds", json!(run.rounds)),
        ("iters_per_round", json!(run.plan.iters)),
        ("warmup_per_round", json!(run.plan.warmup)),
        (
            "round_cap_ms",
            json!(run.plan.cap.map(|c| c.as_millis() as u64)),
        ),
        ("rounds_disagree_above", json!(UNSTEADY)),
        ("x_pipe_rounds_disagree_above", json!(RATIO_UNSTEADY)),
        ("clocksource", json!(m.clocksource)),
    ]
}

/// "release" or "debug" (the dev profile): how this binary was built.
pub fn build_profile() -> &'static str {
    match cfg!(debug_assertions) {
        true => "debug",
        false => "release",
    }
}

/// Now, as "2026-11-29T23:40:12Z" (from the clock: no time zone database needed).
fn date_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// `{"run": {...}, "rows": [...], "lessons": [...], "verdicts": [...]}`: the lessons are the
/// lines the table prints under "What this run shows", the verdicts its closing block ("The
/// lecture, checked on this machine"), each `{"claim", "verdict", "because"}`.
pub fn json(rows: &[Row], run: &Run) -> String {
    let all: Vec<Value> = rows.iter().map(|r| record(rows, r)).collect();
    let run: serde_json::Map<String, Value> = facts(run)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let both = json!({
        "run": run,
        "rows": all,
        "lessons": crate::report::lessons::lines(rows),
        "verdicts": verdicts(rows),
    });
    serde_json::to_string_pretty(&both).unwrap_or_else(|e| format!("\"json: {e}\""))
}

/// The CSV columns, in order. The first 22 are as they always were (a script may read columns
/// by number; compare/baseline/run.sh reads them by name); new ones go at the end.
const CSV_FIELDS: [&str; 20] = [
    "mechanism",
    "key",
    "placement",
    "size",
    "status",
    "reason",
    "samples",
    "rtt_p50_ns",
    "rtt_p99_ns",
    "rtt_max_ns",
    "rtt_batch_ns",
    "cpu_us_per_msg",
    "throughput_mib_s",
    "throughput_msg_size",
    "setup_us",
    "verified",
    "data",
    "structure",
    "direction",
    "coordination",
];

/// Columns added after the first 22; a list (every round) is written space-separated.
const CSV_MORE: [&str; 13] = [
    "rounds",
    "rtt_p50_low_ns",
    "rtt_p50_high_ns",
    "rtt_rounds_disagree",
    "parent_cpu",
    "child_cpu",
    "rtt_round_p50s_ns",
    "throughput_round_mib_s",
    "throughput_rounds_disagree",
    "x_pipe",
    "x_pipe_spread",
    "x_pipe_rounds_disagree",
    "x_pipe_round_ratios",
];

fn csv_fields() -> Vec<&'static str> {
    let mut fields: Vec<&str> = CSV_FIELDS.to_vec();
    fields.extend(["naming", "persistence"]);
    fields.extend(CSV_MORE);
    fields.extend(PROBED.map(|column| match column {
        "structure" => "probe_structure",
        "direction" => "probe_direction",
        "naming" => "probe_naming",
        _ => "probe_persistence",
    }));
    fields
}

/// The CSV's first line: the names of its columns.
pub fn csv_header() -> String {
    csv_fields().join(",") + "\n"
}

/// After the header line (`csv_header`): one line per row, then the run's facts as
/// `# name: value` lines, then the verdicts as `# verdict: VERDICT claim: because` lines.
pub fn csv(rows: &[Row], run: &Run) -> String {
    let fields = csv_fields();
    let mut out = String::new();
    for row in rows {
        let rec = record(rows, row);
        let cells: Vec<String> = fields
            .iter()
            .map(|f| match &rec[*f] {
                Value::Null => String::new(),
                Value::String(s) => csv_quote(s),
                Value::Array(each) => each
                    .iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
                other => other.to_string(),
            })
            .collect();
        out += &(cells.join(",") + "\n");
    }
    for (name, value) in facts(run) {
        let value = match value {
            Value::String(s) => s,
            other => other.to_string(),
        };
        out += &format!("# {name}: {}\n", value.replace('\n', " "));
    }
    for c in crate::report::verdicts::claims(rows) {
        out += &format!("# verdict: {} {}: {}\n", c.verdict, c.claim, c.because);
    }
    out
}

fn csv_quote(s: &str) -> String {
    match s.contains([',', '"', '\n']) {
        true => format!("\"{}\"", s.replace('"', "\"\"")),
        false => s.to_string(),
    }
}
