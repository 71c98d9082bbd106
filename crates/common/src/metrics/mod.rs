//! Application metrics, defined once and written two ways: CloudWatch Embedded Metric Format
//! lines on Lambda ([`emf`]) and Prometheus text at `GET /metrics` on the local server
//! ([`prometheus`]). Recording goes through the `metrics` facade, so code that records does
//! not know (or pay for) the output; with no exporter installed (unit tests, tools) every
//! recording is a no-op.
//!
//! Every label has a bounded set of values: route *templates* (never raw paths), catalog model
//! ids, provider kinds, fixed outcome and kind words. Never label with user ids, emails,
//! document names or free text: each label combination is a time series (and on CloudWatch a
//! billed custom metric).

pub mod emf;
pub mod prometheus;

use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_histogram, histogram};

/// Every metric: name, kind, unit, labels and meaning. The Grafana dashboard test and the
/// README list are checked against it.
pub const CATALOG: &[MetricSpec] = &[
    MetricSpec {
        name: HTTP_REQUESTS,
        kind: Kind::Counter,
        unit: Unit::Count,
        labels: &["function", "route", "method", "status"],
        help: "HTTP requests answered, by route template and status code",
    },
    MetricSpec {
        name: HTTP_REQUEST_DURATION,
        kind: Kind::Histogram,
        unit: Unit::Seconds,
        labels: &["function", "route", "method"],
        help: "Time until the response head was ready (a streamed body may go on after)",
    },
    MetricSpec {
        name: PROVIDER_REQUESTS,
        kind: Kind::Counter,
        unit: Unit::Count,
        labels: &["provider", "outcome"],
        help: "Requests to model providers (answers and embeddings), by outcome (ok, error)",
    },
    MetricSpec {
        name: PROVIDER_ERRORS,
        kind: Kind::Counter,
        unit: Unit::Count,
        labels: &["provider", "kind"],
        help: "Provider failures by kind (auth, rate_limited, upstream_4xx, upstream_5xx, timeout, connection, protocol, provider)",
    },
    MetricSpec {
        name: ANSWERS,
        kind: Kind::Counter,
        unit: Unit::Count,
        labels: &["provider", "model", "outcome"],
        help: "Answers streamed from a model, by outcome (completed, failed, stopped)",
    },
    MetricSpec {
        name: ANSWER_TTFT,
        kind: Kind::Histogram,
        unit: Unit::Seconds,
        labels: &["provider", "model"],
        help: "Time from sending the request to the model's first text",
    },
    MetricSpec {
        name: ANSWER_DURATION,
        kind: Kind::Histogram,
        unit: Unit::Seconds,
        labels: &["provider", "model"],
        help: "Time from sending the request to the answer's end",
    },
    MetricSpec {
        name: TOKENS,
        kind: Kind::Counter,
        unit: Unit::Count,
        labels: &["provider", "model", "kind"],
        help: "Tokens billed, by kind (input, output, cache_read, cache_write)",
    },
    MetricSpec {
        name: COST,
        kind: Kind::Counter,
        unit: Unit::Count,
        labels: &["provider", "model"],
        help: "Cost of answers in millionths of a US dollar",
    },
    MetricSpec {
        name: INGESTION_DURATION,
        kind: Kind::Histogram,
        unit: Unit::Seconds,
        labels: &["file_type", "outcome"],
        help: "Time to extract, chunk, embed and index a document version",
    },
    MetricSpec {
        name: INGESTION_FAILURES,
        kind: Kind::Counter,
        unit: Unit::Count,
        labels: &["file_type"],
        help: "Document versions that could not be ingested, by file type",
    },
    MetricSpec {
        name: SEARCH_DURATION,
        kind: Kind::Histogram,
        unit: Unit::Seconds,
        labels: &["mode"],
        help: "Search latency over a user's documents (bm25 or hybrid)",
    },
    MetricSpec {
        name: SIGN_INS,
        kind: Kind::Counter,
        unit: Unit::Count,
        labels: &["outcome"],
        help: "Sign-in attempts by outcome (succeeded, failed, throttled)",
    },
    MetricSpec {
        name: THROTTLED,
        kind: Kind::Counter,
        unit: Unit::Count,
        labels: &["function", "scope"],
        help: "Requests refused by a rate limit, by the limit's scope",
    },
    MetricSpec {
        name: BUDGET_REFUSALS,
        kind: Kind::Counter,
        unit: Unit::Count,
        labels: &["function", "scope"],
        help: "Requests refused because a spending budget or quota was used up",
    },
    MetricSpec {
        name: AUDIT_WRITE_FAILURES,
        kind: Kind::Counter,
        unit: Unit::Count,
        labels: &["action"],
        help: "Security events that could not be written to the audit trail",
    },
];

pub const HTTP_REQUESTS: &str = "ragenie_http_requests_total";
pub const HTTP_REQUEST_DURATION: &str = "ragenie_http_request_duration_seconds";
pub const PROVIDER_REQUESTS: &str = "ragenie_provider_requests_total";
pub const PROVIDER_ERRORS: &str = "ragenie_provider_errors_total";
pub const ANSWERS: &str = "ragenie_answers_total";
pub const ANSWER_TTFT: &str = "ragenie_answer_ttft_seconds";
pub const ANSWER_DURATION: &str = "ragenie_answer_duration_seconds";
pub const TOKENS: &str = "ragenie_tokens_total";
pub const COST: &str = "ragenie_cost_microdollars_total";
pub const INGESTION_DURATION: &str = "ragenie_ingestion_duration_seconds";
pub const INGESTION_FAILURES: &str = "ragenie_ingestion_failures_total";
pub const SEARCH_DURATION: &str = "ragenie_search_duration_seconds";
pub const SIGN_INS: &str = "ragenie_sign_ins_total";
pub const THROTTLED: &str = "ragenie_throttled_requests_total";
pub const BUDGET_REFUSALS: &str = "ragenie_budget_refusals_total";
pub const AUDIT_WRITE_FAILURES: &str = "ragenie_audit_write_failures_total";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Histogram,
}

#[derive(Clone, Copy, Debug)]
pub struct MetricSpec {
    pub name: &'static str,
    pub kind: Kind,
    pub unit: Unit,
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

/// Registers units and help texts with the installed exporter (called by the installers).
fn describe() {
    for spec in CATALOG {
        match spec.kind {
            Kind::Counter => describe_counter!(spec.name, spec.unit, spec.help),
            Kind::Histogram => describe_histogram!(spec.name, spec.unit, spec.help),
        }
    }
}

/// An HTTP request answered by a function's router (`route` is the matched template, e.g.
/// `/profiles/{id}`, or `unmatched`).
pub fn http_request(
    function: &'static str,
    route: &str,
    method: &str,
    status: u16,
    duration: Duration,
) {
    let route = route.to_owned();
    let method = method.to_owned();
    counter!(HTTP_REQUESTS,
        "function" => function,
        "route" => route.clone(),
        "method" => method.clone(),
        "status" => status_label(status),
    )
    .increment(1);
    histogram!(HTTP_REQUEST_DURATION,
        "function" => function,
        "route" => route,
        "method" => method,
    )
    .record(duration.as_secs_f64());
}

fn status_label(status: u16) -> &'static str {
    // Interned so recording allocates nothing for the common codes.
    const CODES: [(u16, &str); 20] = [
        (200, "200"),
        (201, "201"),
        (202, "202"),
        (204, "204"),
        (304, "304"),
        (400, "400"),
        (401, "401"),
        (402, "402"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (409, "409"),
        (413, "413"),
        (415, "415"),
        (422, "422"),
        (429, "429"),
        (500, "500"),
        (502, "502"),
        (503, "503"),
        (504, "504"),
    ];
    CODES
        .iter()
        .find(|(c, _)| *c == status)
        .map(|(_, s)| *s)
        .unwrap_or(match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        })
}

/// A request to a model provider finished its start (`ok`) or failed before or during the
/// answer (`error`, with [`provider_error`] saying why).
pub fn provider_request(provider: &'static str, ok: bool) {
    counter!(PROVIDER_REQUESTS, "provider" => provider, "outcome" => if ok { "ok" } else { "error" })
        .increment(1);
}

/// A provider failure; `kind` is one of the fixed words in the catalog's help.
pub fn provider_error(provider: &'static str, kind: &'static str) {
    counter!(PROVIDER_ERRORS, "provider" => provider, "kind" => kind).increment(1);
}

/// How an answer ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerOutcome {
    Completed,
    Failed,
    /// The reader stopped (the user pressed stop or went away).
    Stopped,
}

impl AnswerOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerOutcome::Completed => "completed",
            AnswerOutcome::Failed => "failed",
            AnswerOutcome::Stopped => "stopped",
        }
    }
}

/// What one answer took and cost. `model` must be a catalog id (bounded), never what a client
/// typed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AnswerRecord {
    pub ttft: Option<Duration>,
    pub duration: Duration,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub cost_usd: f64,
}

/// An answer ended: count, time to first token, total time, tokens and cost by provider/model.
pub fn answer(provider: &'static str, model: &str, outcome: AnswerOutcome, record: &AnswerRecord) {
    let model = model.to_owned();
    counter!(ANSWERS, "provider" => provider, "model" => model.clone(), "outcome" => outcome.as_str())
        .increment(1);
    if let Some(ttft) = record.ttft {
        histogram!(ANSWER_TTFT, "provider" => provider, "model" => model.clone())
            .record(ttft.as_secs_f64());
    }
    histogram!(ANSWER_DURATION, "provider" => provider, "model" => model.clone())
        .record(record.duration.as_secs_f64());
    for (kind, n) in [
        ("input", record.input_tokens),
        ("output", record.output_tokens),
        ("cache_read", record.cache_read_tokens),
        ("cache_write", record.cache_write_tokens),
    ] {
        if n > 0 {
            counter!(TOKENS, "provider" => provider, "model" => model.clone(), "kind" => kind)
                .increment(n);
        }
    }
    let micros = (record.cost_usd * 1_000_000.0).round();
    if micros >= 1.0 {
        counter!(COST, "provider" => provider, "model" => model).increment(micros as u64);
    }
}

/// The file types ingestion is labelled by, from a document's media type.
pub fn file_type(media_type: &str) -> &'static str {
    let essence = media_type.split(';').next().unwrap_or("").trim();
    match essence {
        "text/markdown" | "text/x-markdown" => "markdown",
        "text/plain" => "text",
        "text/html" | "application/xhtml+xml" => "html",
        "application/pdf" => "pdf",
        _ => "other",
    }
}

/// A document version was ingested (`ok`) or could not be (`failed`).
pub fn ingestion(media_type: &str, ok: bool, duration: Duration) {
    let file_type = file_type(media_type);
    histogram!(INGESTION_DURATION,
        "file_type" => file_type,
        "outcome" => if ok { "ok" } else { "failed" },
    )
    .record(duration.as_secs_f64());
    if !ok {
        counter!(INGESTION_FAILURES, "file_type" => file_type).increment(1);
    }
}

/// A search over a user's documents (`hybrid` when the question's embedding was used).
pub fn search(hybrid: bool, duration: Duration) {
    histogram!(SEARCH_DURATION, "mode" => if hybrid { "hybrid" } else { "bm25" })
        .record(duration.as_secs_f64());
}

/// How a sign-in attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignIn {
    Succeeded,
    Failed,
    Throttled,
}

pub fn sign_in(outcome: SignIn) {
    let outcome = match outcome {
        SignIn::Succeeded => "succeeded",
        SignIn::Failed => "failed",
        SignIn::Throttled => "throttled",
    };
    counter!(SIGN_INS, "outcome" => outcome).increment(1);
}

/// A request refused by a rate limit (`scope`: `account`, `address`, `user`, …: a fixed word).
pub fn throttled(function: &'static str, scope: &'static str) {
    counter!(THROTTLED, "function" => function, "scope" => scope).increment(1);
}

/// A request refused because a budget or quota is used up (`scope`: `user`, `deployment`, …).
pub fn budget_refused(function: &'static str, scope: &'static str) {
    counter!(BUDGET_REFUSALS, "function" => function, "scope" => scope).increment(1);
}

/// An audit event could not be stored.
pub fn audit_write_failed(action: &'static str) {
    counter!(AUDIT_WRITE_FAILURES, "action" => action).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_prometheus_names_with_the_conventional_suffixes() {
        let mut seen = std::collections::HashSet::new();
        for spec in CATALOG {
            assert!(seen.insert(spec.name), "{} twice", spec.name);
            assert!(
                spec.name.starts_with("ragenie_")
                    && spec
                        .name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{}",
                spec.name
            );
            match spec.kind {
                Kind::Counter => assert!(spec.name.ends_with("_total"), "{}", spec.name),
                Kind::Histogram => assert!(spec.name.ends_with("_seconds"), "{}", spec.name),
            }
            assert!(!spec.labels.is_empty() && spec.labels.len() <= 4);
        }
    }

    #[test]
    fn file_types_and_status_codes_map_to_a_bounded_set() {
        assert_eq!(file_type("text/markdown; charset=utf-8"), "markdown");
        assert_eq!(file_type("application/pdf"), "pdf");
        assert_eq!(file_type("application/x-whatever"), "other");
        assert_eq!(status_label(404), "404");
        assert_eq!(status_label(418), "4xx");
        assert_eq!(status_label(599), "5xx");
    }
}
