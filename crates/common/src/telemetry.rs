//! Tracing, set up once per process: JSON lines on Lambda (CloudWatch parses them), readable
//! lines locally. `RUST_LOG` filters; the default is `info`.

use std::sync::Once;

use tracing_subscriber::EnvFilter;

static INIT: Once = Once::new();

pub fn init() {
    INIT.call_once(|| {
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        let on_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let builder = tracing_subscriber::fmt().with_env_filter(filter);
        // `try_init` so tests that share a process never panic on a second subscriber.
        let _ = if on_lambda {
            builder
                .json()
                .with_current_span(false)
                .without_time()
                .try_init()
        } else {
            builder.compact().try_init()
        };
    });
}
