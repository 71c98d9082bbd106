//! The Lambda output: CloudWatch Embedded Metric Format documents written to stdout (the
//! function's log stream), which CloudWatch turns into metrics with no API call and no added
//! latency. `metrics_cloudwatch_embedded` collects and formats; this module installs it, and
//! flushes after each request.
//!
//! Each document is published under its labels (e.g. `provider`, `kind`) **and** with no
//! dimension at all (an extra empty dimension set): the dimensionless series are the totals the
//! CDK alarms watch (provider error rate, time-to-first-token p95, ingestion failures, budget
//! refusals), which CloudWatch cannot otherwise sum across dimension values for an alarm on a
//! percentile.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use metrics_cloudwatch_embedded::{Builder, Collector};
use serde_json::Value;

/// The CloudWatch namespace unless `RAGENIE_METRICS_NAMESPACE` says otherwise.
pub const DEFAULT_NAMESPACE: &str = "RaGenie";

static COLLECTOR: OnceLock<&'static Collector> = OnceLock::new();
/// Where flushed lines go: stdout, or a buffer a test installed.
static SINK: Mutex<Option<Vec<u8>>> = Mutex::new(None);

/// Installs the EMF collector as the process's recorder (once). `false` when another recorder
/// is already installed.
pub fn install(namespace: &str) -> bool {
    if COLLECTOR.get().is_some() {
        return true;
    }
    match Builder::new()
        .cloudwatch_namespace(namespace.to_owned())
        .init()
    {
        Ok(collector) => {
            let _ = COLLECTOR.set(collector);
            super::describe();
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "EMF metrics not installed");
            false
        }
    }
}

/// Whether EMF output is on in this process.
pub fn installed() -> bool {
    COLLECTOR.get().is_some()
}

/// Sends later flushes to a buffer instead of stdout (tests read it with [`take_captured`]).
pub fn capture() {
    *SINK.lock().expect("EMF sink") = Some(Vec::new());
}

/// The lines flushed since [`capture`] (or the last call).
pub fn take_captured() -> String {
    let mut sink = SINK.lock().expect("EMF sink");
    let bytes = sink.as_mut().map(std::mem::take).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Writes every metric recorded since the last flush as EMF lines. Never fails the caller: a
/// write error is logged.
pub fn flush() {
    let Some(collector) = COLLECTOR.get() else {
        return;
    };
    let mut raw = Vec::new();
    if let Err(e) = collector.flush(&mut raw) {
        tracing::warn!(error = %e, "EMF flush failed");
        return;
    }
    if raw.is_empty() {
        return;
    }
    let out = with_rollups(&raw);
    let mut sink = SINK.lock().expect("EMF sink");
    match sink.as_mut() {
        Some(buffer) => buffer.extend_from_slice(&out),
        None => {
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout.write_all(&out).and_then(|_| stdout.flush()) {
                tracing::warn!(error = %e, "EMF write failed");
            }
        }
    }
}

/// Adds the empty dimension set to every document that has dimensions.
fn with_rollups(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 8);
    for line in raw.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        match serde_json::from_slice::<Value>(line) {
            Ok(mut doc) => {
                if let Some(sets) = doc
                    .pointer_mut("/_aws/CloudWatchMetrics")
                    .and_then(Value::as_array_mut)
                {
                    for directive in sets {
                        if let Some(dims) = directive
                            .get_mut("Dimensions")
                            .and_then(Value::as_array_mut)
                        {
                            let has_labels = dims
                                .iter()
                                .any(|d| d.as_array().is_some_and(|a| !a.is_empty()));
                            if has_labels {
                                dims.push(Value::Array(Vec::new()));
                            }
                        }
                    }
                }
                let _ = serde_json::to_writer(&mut out, &doc);
            }
            Err(_) => out.extend_from_slice(line),
        }
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_with_dimensions_gain_a_dimensionless_rollup() {
        let raw = br#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["provider","kind"]],"Metrics":[{"Name":"e"}]}]},"provider":"openai","kind":"timeout","e":1}
{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"x"}]}]},"x":2}
"#;
        let out = String::from_utf8(with_rollups(raw)).unwrap();
        let docs: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            docs[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["provider", "kind"], []])
        );
        assert_eq!(
            docs[1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([[]]),
            "no second empty set"
        );
        assert_eq!(docs[0]["e"], 1);
    }
}
