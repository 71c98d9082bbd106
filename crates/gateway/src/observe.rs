//! What the gateway reports about each provider call: a `provider_call` tracing span (its close
//! line in the logs carries the duration), and the metrics of `ragenie_common::metrics` —
//! requests and errors by provider and kind, and for answers the time to first token, total
//! time, tokens and cost by provider and model.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::Stream;
use ragenie_common::metrics::{self, AnswerOutcome, AnswerRecord};
use tracing::Span;

use crate::{Cost, GatewayError, LlmEvent, LlmStream, ModelSpec, Usage};

impl GatewayError {
    /// The fixed word this error is counted under in `ragenie_provider_errors_total`.
    pub fn metric_kind(&self) -> &'static str {
        match self {
            GatewayError::Auth { .. } => "auth",
            GatewayError::RateLimited { .. } => "rate_limited",
            GatewayError::Upstream { status, .. } if *status >= 500 => "upstream_5xx",
            GatewayError::Upstream { .. } => "upstream_4xx",
            GatewayError::Provider { .. } => "provider",
            GatewayError::Timeout(_) => "timeout",
            GatewayError::Connection(_) => "connection",
            GatewayError::Protocol(_) => "protocol",
            GatewayError::InvalidRequest(_) => "invalid_request",
            GatewayError::MissingKey { .. }
            | GatewayError::UnknownModel(_)
            | GatewayError::Config { .. } => "config",
        }
    }
}

/// Counts a provider failure (before or during an answer).
pub(crate) fn failed(provider: &'static str, error: &GatewayError) {
    metrics::provider_request(provider, false);
    metrics::provider_error(provider, error.metric_kind());
    tracing::warn!(provider, kind = error.metric_kind(), error = %error, "provider call failed");
}

/// An answer stream that records its metrics when it ends, fails or is dropped unfinished.
pub(crate) struct Observed {
    inner: LlmStream,
    span: Span,
    provider: &'static str,
    spec: ModelSpec,
    started: Instant,
    ttft: Option<std::time::Duration>,
    usage: Option<Usage>,
    done: bool,
}

impl Observed {
    pub(crate) fn new(
        inner: LlmStream,
        span: Span,
        provider: &'static str,
        spec: ModelSpec,
        started: Instant,
    ) -> Self {
        Self {
            inner,
            span,
            provider,
            spec,
            started,
            ttft: None,
            usage: None,
            done: false,
        }
    }

    fn finish(&mut self, outcome: AnswerOutcome, error: Option<&GatewayError>) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        match error {
            Some(e) => failed(self.provider, e),
            None => metrics::provider_request(self.provider, true),
        }
        let usage = self.usage.unwrap_or_default();
        let cost = match self.usage {
            Some(u) => Cost::from_usage(&self.spec, &u).total_usd,
            None => 0.0,
        };
        let record = AnswerRecord {
            ttft: self.ttft,
            duration: self.started.elapsed(),
            input_tokens: usage.input,
            output_tokens: usage.output,
            cache_read_tokens: usage.cache_read,
            cache_write_tokens: usage.cache_write,
            cost_usd: cost,
        };
        metrics::answer(self.provider, &self.spec.id, outcome, &record);
        tracing::info!(
            parent: &self.span,
            outcome = outcome.as_str(),
            ttft_ms = record.ttft.map(|d| d.as_secs_f64() * 1000.0),
            duration_ms = record.duration.as_secs_f64() * 1000.0,
            input_tokens = usage.input,
            output_tokens = usage.output,
            "answer ended"
        );
    }
}

impl Stream for Observed {
    type Item = LlmEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<LlmEvent>> {
        let this = &mut *self;
        let polled = {
            let _entered = this.span.enter();
            this.inner.as_mut().poll_next(cx)
        };
        match &polled {
            Poll::Ready(Some(LlmEvent::TextDelta(_))) if this.ttft.is_none() => {
                this.ttft = Some(this.started.elapsed());
            }
            Poll::Ready(Some(LlmEvent::Usage(u))) => this.usage = Some(*u),
            Poll::Ready(Some(LlmEvent::Finish { .. })) => {
                this.finish(AnswerOutcome::Completed, None)
            }
            Poll::Ready(Some(LlmEvent::Error(e))) => {
                let e = e.clone();
                this.finish(AnswerOutcome::Failed, Some(&e));
            }
            Poll::Ready(None) => this.finish(
                AnswerOutcome::Failed,
                Some(&GatewayError::Connection(
                    "the stream ended without a finish".into(),
                )),
            ),
            _ => {}
        }
        polled
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        // Dropped before its end: the reader stopped (stop button, disconnect).
        self.finish(AnswerOutcome::Stopped, None);
    }
}
