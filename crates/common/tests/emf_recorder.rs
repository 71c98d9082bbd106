//! The EMF recorder on its own (one test: the process has one recorder): what a flush writes
//! after counters, gauges, histograms and concurrent records, read back as JSON.

use std::time::Duration;

use ragenie_common::metrics::{self, emf};
use serde_json::Value;

fn flushed() -> Vec<Value> {
    emf::flush();
    emf::take_captured()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn flushes_write_each_recorded_series_once_with_what_was_recorded_since_the_last() {
    assert!(emf::install("Test"));
    emf::capture();
    assert!(flushed().is_empty(), "nothing recorded, nothing written");

    for status in [200, 200, 404] {
        metrics::http_request(
            "docs",
            "/documents/{id}",
            "GET",
            status,
            Duration::from_millis(2),
        );
    }
    let docs = flushed();
    let count = |status: &str| {
        docs.iter()
            .find(|d| d["status"] == status && d.get(metrics::HTTP_REQUESTS).is_some())
            .map(|d| d[metrics::HTTP_REQUESTS].clone())
    };
    assert_eq!(count("200"), Some(2.into()));
    assert_eq!(count("404"), Some(1.into()));
    let durations: Vec<&Value> = docs
        .iter()
        .filter(|d| d.get(metrics::HTTP_REQUEST_DURATION).is_some())
        .collect();
    assert_eq!(durations.len(), 1, "one series (no status label)");
    assert_eq!(
        durations[0][metrics::HTTP_REQUEST_DURATION],
        serde_json::json!([0.002, 0.002, 0.002])
    );
    let directive = &durations[0]["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "Test");
    assert_eq!(
        directive["Dimensions"],
        serde_json::json!([["function", "route", "method"], []])
    );
    assert_eq!(directive["Metrics"][0]["Unit"], "Seconds");
    assert_eq!(docs.len(), 3);

    assert!(flushed().is_empty(), "a series is written once per flush");

    // A gauge keeps its value: written after each change, with what it is then.
    ::metrics::gauge!("test_gauge").set(2.5);
    ::metrics::gauge!("test_gauge").increment(1.0);
    let gauges: Vec<Value> = flushed().iter().map(|d| d["test_gauge"].clone()).collect();
    assert_eq!(gauges, [serde_json::json!(3.5)]);
    assert!(flushed().is_empty(), "unchanged, not written again");
    ::metrics::gauge!("test_gauge").decrement(0.5);
    assert_eq!(flushed()[0]["test_gauge"], 3.0);
    assert!(emf::installed());
    assert!(
        emf::install("Another"),
        "a second install answers as the first"
    );

    // Over 100 values: more documents, never more than 100 values in one.
    for _ in 0..250 {
        metrics::search(false, Duration::from_millis(1));
    }
    let sizes: Vec<usize> = flushed()
        .iter()
        .map(|d| d[metrics::SEARCH_DURATION].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [100, 100, 50]);

    // Concurrent records are neither lost nor counted twice across flushes.
    let total: u64 = std::thread::scope(|s| {
        let writers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..5_000 {
                        metrics::throttled("chat", "user");
                    }
                })
            })
            .collect();
        let mut total = 0;
        while writers.iter().any(|w| !w.is_finished()) {
            total += flushed()
                .iter()
                .map(|d| d[metrics::THROTTLED].as_u64().unwrap())
                .sum::<u64>();
        }
        total
    });
    let rest: u64 = flushed()
        .iter()
        .map(|d| d[metrics::THROTTLED].as_u64().unwrap())
        .sum();
    assert_eq!(total + rest, 20_000);
}
