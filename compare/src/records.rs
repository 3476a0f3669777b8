//! JSON and CSV: one flat record per row, every measured number and the lecture's columns.

use serde_json::{Value, json};

use crate::harness::Skip;
use crate::mechanisms::COLUMNS;
use crate::report::Row;

fn status(r: &Result<impl Sized, Skip>) -> (&'static str, Option<&str>) {
    match r {
        Ok(_) => ("ok", None),
        Err(Skip::NotApplicable(why)) => ("n/a", Some(why)),
        Err(Skip::Failed(why)) => ("failed", Some(why)),
        Err(Skip::Stopped) => ("stopped", Some("stopped by a signal")),
    }
}

pub fn record(row: &Row) -> Value {
    let m = &row.mechanism;
    let (status, reason) = status(&row.latency);
    let lat = row.latency.as_ref().ok();
    let tp = row.throughput.as_ref().ok();
    let mut v = json!({
        "mechanism": m.label,
        "key": m.key,
        "placement": row.placement.name,
        "cpus": row.placement.possible.then_some([row.placement.parent_cpu, row.placement.child_cpu]),
        "size": row.size,
        "status": status,
        "reason": reason,
        "samples": lat.map(|l| l.summary.count),
        "rtt_p50_ns": lat.map(|l| l.summary.p50),
        "rtt_p99_ns": lat.map(|l| l.summary.p99),
        "rtt_max_ns": lat.map(|l| l.summary.max),
        "rtt_batch_ns": lat.and_then(|l| l.batch_ns),
        "cpu_us_per_msg": lat.map(|l| l.cpu_us_per_msg),
        "throughput_mib_s": tp.map(|t| t.mib_s),
        "throughput_msg_size": tp.map(|t| t.chunk),
        "throughput_note": status_note(&row.throughput),
        "setup_us": row.setup_us.as_ref().ok(),
        "setup_note": status_note(&row.setup_us),
        "verified": row.payload_checked(),
        "verification": row.verification(),
    });
    if let Value::Object(map) = &mut v {
        for column in COLUMNS {
            map.insert(column.to_string(), Value::from(m.design(column)));
        }
    }
    v
}

fn status_note<T>(r: &Result<T, Skip>) -> Option<String> {
    match status(r) {
        ("ok", _) => None,
        (s, why) => Some(format!("{s}: {}", why.unwrap_or(""))),
    }
}

pub fn json(rows: &[Row]) -> String {
    let all: Vec<Value> = rows.iter().map(record).collect();
    serde_json::to_string_pretty(&all).unwrap_or_else(|e| format!("\"json: {e}\""))
}

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

pub fn csv(rows: &[Row]) -> String {
    let mut fields: Vec<&str> = CSV_FIELDS.to_vec();
    fields.extend(["naming", "persistence"]);
    let mut out = fields.join(",") + "\n";
    for row in rows {
        let rec = record(row);
        let cells: Vec<String> = fields
            .iter()
            .map(|f| match &rec[*f] {
                Value::Null => String::new(),
                Value::String(s) => csv_quote(s),
                other => other.to_string(),
            })
            .collect();
        out += &(cells.join(",") + "\n");
    }
    out
}

fn csv_quote(s: &str) -> String {
    match s.contains([',', '"', '\n']) {
        true => format!("\"{}\"", s.replace('"', "\"\"")),
        false => s.to_string(),
    }
}
