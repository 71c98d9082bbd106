//! The Lambda output: CloudWatch Embedded Metric Format documents written to stdout (the
//! function's log stream), which CloudWatch turns into metrics with no API call and no added
//! latency. This module is the `metrics` facade's recorder on Lambda, and flushes after each
//! request (`lambda::with_emf_flush`).
//!
//! Each series (a metric name with one set of label values) is published under its labels
//! (e.g. `provider`, `kind`) **and** with no dimension at all (an extra empty dimension set):
//! the dimensionless series are the totals the CDK alarms watch (provider error rate,
//! time-to-first-token p95, ingestion failures, budget refusals), which CloudWatch cannot
//! otherwise sum across dimension values for an alarm on a percentile.
//!
//! Built for a per-request flush that costs about a microsecond: everything of a series'
//! document except its timestamp and value (namespace, dimension sets, metric name and unit,
//! label values, all JSON-escaped) is rendered once, when the series is first recorded; a
//! record marks the series pending, so a flush visits only the series recorded since the last
//! one, writes each as `{"_aws":{"Timestamp":…` + the pre-rendered middle + the value, into one
//! reused buffer, and hands that to stdout in one write.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata,
    SharedString, Unit,
};

/// The CloudWatch namespace unless `RAGENIE_METRICS_NAMESPACE` says otherwise.
pub const DEFAULT_NAMESPACE: &str = "RaGenie";

/// EMF allows at most 100 values per metric in one document; more go in further documents.
const MAX_VALUES_PER_DOCUMENT: usize = 100;
/// Histogram values kept between two flushes; beyond this (a flush that never comes) the
/// newest are dropped rather than growing without bound.
const MAX_PENDING_VALUES: usize = 10_000;

static STATE: OnceLock<State> = OnceLock::new();
/// Whether [`install`] made this the process's recorder (decided once).
static INSTALLED: OnceLock<bool> = OnceLock::new();
/// Where flushed lines go: stdout, or a buffer a test installed.
static SINK: Mutex<Option<Vec<u8>>> = Mutex::new(None);

struct State {
    /// The namespace as a JSON string (quoted, escaped).
    namespace: String,
    /// Units from `describe_*`, by metric name.
    units: RwLock<HashMap<String, Unit>>,
    /// Every series registered, by key; a series' index in `all` is its id.
    series: RwLock<Registry>,
    /// Ids of the series recorded since the last flush.
    pending: Mutex<Vec<usize>>,
    /// The flush's output buffer, kept (with its capacity) from one flush to the next.
    out: Mutex<Vec<u8>>,
}

#[derive(Default)]
struct Registry {
    by_key: HashMap<Key, Arc<Series>>,
    all: Vec<Arc<Series>>,
}

struct Series {
    id: usize,
    /// Everything after the timestamp up to the value: `,"CloudWatchMetrics":[…]},"label":
    /// "value",…,"name":`.
    middle: Box<str>,
    pending: AtomicBool,
    data: Data,
}

enum Data {
    Counter(AtomicU64),
    /// The current value's bits (written at each flush after a change; kept across flushes).
    Gauge(AtomicU64),
    Histogram(Mutex<Vec<f64>>),
}

impl Series {
    /// Queues the series for the next flush (once until that flush).
    fn touch(&self) {
        if !self.pending.swap(true, Ordering::AcqRel)
            && let Some(state) = STATE.get()
        {
            state.pending.lock().expect("EMF pending").push(self.id);
        }
    }
}

impl CounterFn for Series {
    fn increment(&self, value: u64) {
        if let Data::Counter(n) = &self.data {
            n.fetch_add(value, Ordering::Relaxed);
            self.touch();
        }
    }
    fn absolute(&self, value: u64) {
        if let Data::Counter(n) = &self.data {
            n.fetch_max(value, Ordering::Relaxed);
            self.touch();
        }
    }
}

impl GaugeFn for Series {
    fn increment(&self, delta: f64) {
        self.update(|v| v + delta);
    }
    fn decrement(&self, delta: f64) {
        self.update(|v| v - delta);
    }
    fn set(&self, value: f64) {
        self.update(|_| value);
    }
}

impl Series {
    fn update(&self, f: impl Fn(f64) -> f64) {
        if let Data::Gauge(bits) = &self.data {
            let _ = bits.fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                Some(f(f64::from_bits(b)).to_bits())
            });
            self.touch();
        }
    }
}

impl HistogramFn for Series {
    fn record(&self, value: f64) {
        if let Data::Histogram(values) = &self.data {
            let mut values = values.lock().expect("EMF histogram");
            if values.len() < MAX_PENDING_VALUES {
                values.push(value);
            }
            drop(values);
            self.touch();
        }
    }
}

/// The recorder the `metrics` facade calls; all its state is in [`STATE`].
struct Recorder;

impl Recorder {
    fn register(&self, key: &Key, data: fn() -> Data) -> Option<Arc<Series>> {
        let state = STATE.get()?;
        if let Some(found) = state.series.read().expect("EMF series").by_key.get(key) {
            return Some(found.clone());
        }
        let mut registry = state.series.write().expect("EMF series");
        if let Some(found) = registry.by_key.get(key) {
            return Some(found.clone());
        }
        let unit = state
            .units
            .read()
            .expect("EMF units")
            .get(key.name())
            .and_then(|u| cloudwatch_unit(*u));
        let series = Arc::new(Series {
            id: registry.all.len(),
            middle: render_middle(&state.namespace, key, unit).into_boxed_str(),
            pending: AtomicBool::new(false),
            data: data(),
        });
        registry.all.push(series.clone());
        registry.by_key.insert(key.clone(), series.clone());
        Some(series)
    }

    fn describe(&self, key: KeyName, unit: Option<Unit>) {
        if let (Some(state), Some(unit)) = (STATE.get(), unit) {
            state
                .units
                .write()
                .expect("EMF units")
                .insert(key.as_str().to_owned(), unit);
        }
    }
}

impl metrics::Recorder for Recorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.register(key, || Data::Counter(AtomicU64::new(0)))
            .map_or_else(Counter::noop, Counter::from_arc)
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.register(key, || Data::Gauge(AtomicU64::new(0f64.to_bits())))
            .map_or_else(Gauge::noop, Gauge::from_arc)
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.register(key, || Data::Histogram(Mutex::new(Vec::new())))
            .map_or_else(Histogram::noop, Histogram::from_arc)
    }
}

/// `,"CloudWatchMetrics":[{"Namespace":…,"Dimensions":[[labels…],[]],"Metrics":[{"Name":…,
/// "Unit":…}]}]},"label":"value",…,"name":` — a series' document between its timestamp and
/// its value.
fn render_middle(namespace: &str, key: &Key, unit: Option<&str>) -> String {
    let json = |s: &str| serde_json::to_string(s).expect("a string serialises");
    let name = json(key.name());
    let labels: Vec<(String, String)> = key
        .labels()
        .map(|l| (json(l.key()), json(l.value())))
        .collect();
    let mut out = String::with_capacity(160 + 32 * labels.len());
    out.push_str(",\"CloudWatchMetrics\":[{\"Namespace\":");
    out.push_str(namespace);
    out.push_str(",\"Dimensions\":[[");
    for (i, (k, _)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
    }
    out.push(']');
    if !labels.is_empty() {
        // The dimensionless rollup.
        out.push_str(",[]");
    }
    out.push_str("],\"Metrics\":[{\"Name\":");
    out.push_str(&name);
    if let Some(unit) = unit {
        out.push_str(",\"Unit\":\"");
        out.push_str(unit);
        out.push('"');
    }
    out.push_str("}]}]}");
    for (k, v) in &labels {
        out.push(',');
        out.push_str(k);
        out.push(':');
        out.push_str(v);
    }
    out.push(',');
    out.push_str(&name);
    out.push(':');
    out
}

/// CloudWatch's name for a unit; `None` for units CloudWatch does not have.
fn cloudwatch_unit(unit: Unit) -> Option<&'static str> {
    Some(match unit {
        Unit::Count => "Count",
        Unit::Percent => "Percent",
        Unit::Seconds => "Seconds",
        Unit::Milliseconds => "Milliseconds",
        Unit::Microseconds => "Microseconds",
        Unit::Bytes => "Bytes",
        Unit::Kibibytes => "Kilobytes",
        Unit::Mebibytes => "Megabytes",
        Unit::Gibibytes => "Gigabytes",
        Unit::Tebibytes => "Terabytes",
        Unit::BitsPerSecond => "Bits/Second",
        Unit::KilobitsPerSecond => "Kilobits/Second",
        Unit::MegabitsPerSecond => "Megabits/Second",
        Unit::GigabitsPerSecond => "Gigabits/Second",
        Unit::TerabitsPerSecond => "Terabits/Second",
        Unit::CountPerSecond => "Count/Second",
        Unit::Nanoseconds => return None,
    })
}

/// Installs the EMF recorder as the process's recorder (once; later calls answer the same).
/// `false` when another recorder is already installed.
pub fn install(namespace: &str) -> bool {
    *INSTALLED.get_or_init(|| {
        // The state exists before the recorder is reachable, so no series registers without it.
        let _ = STATE.set(State {
            namespace: serde_json::to_string(namespace).expect("a string serialises"),
            units: RwLock::default(),
            series: RwLock::default(),
            pending: Mutex::new(Vec::new()),
            out: Mutex::new(Vec::with_capacity(4096)),
        });
        match metrics::set_global_recorder(Recorder) {
            Ok(()) => {
                super::describe();
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "EMF metrics not installed");
                false
            }
        }
    })
}

/// Whether EMF output is on in this process.
pub fn installed() -> bool {
    INSTALLED.get().copied().unwrap_or(false)
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

/// Writes every series recorded since the last flush as EMF lines, in one write. Never fails
/// the caller: a write error is logged.
pub fn flush() {
    let Some(state) = STATE.get() else {
        return;
    };
    let mut out = state.out.lock().expect("EMF buffer");
    out.clear();
    render_pending(state, &mut out, timestamp_ms());
    if out.is_empty() {
        return;
    }
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

fn timestamp_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// Appends one document per pending series (more for a histogram with over 100 values).
fn render_pending(state: &State, out: &mut Vec<u8>, timestamp: u64) {
    let ids = std::mem::take(&mut *state.pending.lock().expect("EMF pending"));
    if ids.is_empty() {
        return;
    }
    let registry = state.series.read().expect("EMF series");
    let mut ts = itoa::Buffer::new();
    let ts = ts.format(timestamp);
    let mut values = Vec::new();
    for id in ids.iter().copied() {
        let Some(series) = registry.all.get(id) else {
            continue;
        };
        // Cleared before the value is taken: a record from now on queues the series again.
        series.pending.store(false, Ordering::Release);
        let mut document = |value: &dyn Fn(&mut Vec<u8>)| {
            out.extend_from_slice(b"{\"_aws\":{\"Timestamp\":");
            out.extend_from_slice(ts.as_bytes());
            out.extend_from_slice(series.middle.as_bytes());
            value(out);
            out.extend_from_slice(b"}\n");
        };
        match &series.data {
            Data::Counter(n) => {
                let n = n.swap(0, Ordering::AcqRel);
                if n > 0 {
                    document(&|out| {
                        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes())
                    });
                }
            }
            Data::Gauge(bits) => {
                let v = f64::from_bits(bits.load(Ordering::Acquire));
                if v.is_finite() {
                    document(&|out| write_f64(out, v));
                }
            }
            Data::Histogram(recorded) => {
                // Swap with a kept vector: neither side allocates once both have grown.
                std::mem::swap(&mut values, &mut *recorded.lock().expect("EMF histogram"));
                values.retain(|v| v.is_finite());
                for chunk in values.chunks(MAX_VALUES_PER_DOCUMENT) {
                    document(&|out| {
                        out.push(b'[');
                        for (i, v) in chunk.iter().enumerate() {
                            if i > 0 {
                                out.push(b',');
                            }
                            write_f64(out, *v);
                        }
                        out.push(b']');
                    });
                }
                values.clear();
            }
        }
    }
    drop(registry);
    // Hand the (emptied) id vector back, with its capacity, unless records queued a new one.
    let mut pending = state.pending.lock().expect("EMF pending");
    if pending.is_empty() {
        let mut ids = ids;
        ids.clear();
        *pending = ids;
    }
}

fn write_f64(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics::Label;
    use serde_json::{Value, json};

    fn key(name: &'static str, labels: &[(&'static str, &'static str)]) -> Key {
        Key::from_parts(
            name,
            labels
                .iter()
                .map(|(k, v)| Label::new(*k, *v))
                .collect::<Vec<_>>(),
        )
    }

    fn document(middle: &str, value: &str) -> Value {
        let line = format!("{{\"_aws\":{{\"Timestamp\":1700000000000{middle}{value}}}");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    #[test]
    fn a_labelled_series_renders_its_dimensions_a_dimensionless_rollup_unit_and_escaped_values() {
        let middle = render_middle(
            "\"RaGenie\"",
            &key(
                "ragenie_provider_errors_total",
                &[("provider", "open\"ai"), ("kind", "time\\out")],
            ),
            Some("Count"),
        );
        let doc = document(&middle, "3");
        assert_eq!(
            doc,
            json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_000u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "RaGenie",
                        "Dimensions": [["provider", "kind"], []],
                        "Metrics": [{"Name": "ragenie_provider_errors_total", "Unit": "Count"}]
                    }]
                },
                "provider": "open\"ai",
                "kind": "time\\out",
                "ragenie_provider_errors_total": 3
            })
        );
    }

    #[test]
    fn a_series_without_labels_has_one_empty_dimension_set_and_no_unit_when_unknown() {
        let middle = render_middle("\"N\"", &key("x", &[]), None);
        let doc = document(&middle, "[0.25,1.0]");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{"Name": "x"}])
        );
        assert_eq!(doc["x"], json!([0.25, 1.0]));
    }

    #[test]
    fn floats_render_as_json_numbers() {
        for v in [0.0, 1.0, 0.00025, 1e-9, 123456.789, 1e21] {
            let mut out = Vec::new();
            write_f64(&mut out, v);
            let parsed: f64 = serde_json::from_slice(&out).unwrap();
            assert_eq!(parsed, v);
        }
    }
}
