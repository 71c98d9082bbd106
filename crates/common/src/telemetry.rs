//! Tracing, set up once per process: JSON lines on Lambda (CloudWatch parses them), readable
//! lines locally. `RUST_LOG` filters; the default is `info`.
//!
//! Every log line of a request carries its `request_id` (the `request` span, see
//! [`crate::request_id`]); on Lambda the JSON line lists its spans with their fields. When a
//! span closes — a request, a provider call (`provider_call`), a search (`search`), an ingest
//! (`ingest`), or at DEBUG a storage call (`storage`) — a line with `time.busy` and `time.idle`
//! records how long it took.

use std::sync::Once;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

static INIT: Once = Once::new();

pub fn init() {
    INIT.call_once(|| {
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        let on_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_span_events(FmtSpan::CLOSE);
        // `try_init` so tests that share a process never panic on a second subscriber.
        let _ = if on_lambda {
            builder
                .json()
                .with_current_span(false)
                .with_span_list(true)
                .without_time()
                .try_init()
        } else {
            builder.compact().try_init()
        };
    });
}
