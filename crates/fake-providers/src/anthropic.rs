//! Anthropic Messages API, as api.anthropic.com sends it.

use std::sync::Arc;

use axum::extract::State as AxState;
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::State;
use crate::scenario::{Finish, Plan, Prompt, Scenario, injected_failure, plan};
use crate::wire::{
    content_text, error_response, json_response, required_array, required_str, retry_after_for,
    sse_response,
};

fn error(status: u16, kind: &str, message: &str, retry_after: Option<&str>) -> Response {
    error_response(
        status,
        json!({"type": "error", "error": {"type": kind, "message": message}}),
        retry_after,
    )
}

fn event(name: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

fn prompt(req: &Value) -> Result<Prompt, String> {
    let model = required_str(req, "model", "model: Field required")?;
    let max_tokens = req
        .get("max_tokens")
        .and_then(Value::as_u64)
        .ok_or("max_tokens: Field required")?;
    let messages = required_array(
        req,
        "messages",
        "messages: at least one message is required",
    )?;
    let mut p = Prompt {
        model: model.to_owned(),
        max_tokens: Some(max_tokens),
        ..Default::default()
    };
    if let Some(sys) = req.get("system") {
        p.texts.push(
            content_text(Some(sys))
                .ok_or("system: Input should be a valid string or list of text blocks")?,
        );
    }
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        if role != "user" && role != "assistant" {
            return Err(format!(
                "messages.{i}.role: Input should be 'user' or 'assistant'"
            ));
        }
        let text = content_text(m.get("content")).ok_or(format!(
            "messages.{i}.content: Input should be a valid list"
        ))?;
        if role == "user" {
            p.last_user = text.clone();
        }
        p.texts.push(text);
    }
    if messages
        .first()
        .and_then(|m| m.get("role"))
        .and_then(Value::as_str)
        != Some("user")
    {
        return Err("messages: first message must use the \"user\" role".into());
    }
    Ok(p)
}

/// The system text when its blocks carry a `cache_control` breakpoint.
fn cached_system(req: &Value) -> Option<String> {
    let blocks = req.get("system")?.as_array()?;
    blocks
        .iter()
        .any(|b| b.get("cache_control").is_some())
        .then(|| content_text(req.get("system")))
        .flatten()
}

fn stop_reason(plan: &Plan) -> &'static str {
    match plan.finish {
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
    }
}

fn usage(plan: &Plan, output: u64) -> Value {
    json!({
        "input_tokens": plan.input_tokens - plan.cache_read - plan.cache_write,
        "cache_creation_input_tokens": plan.cache_write,
        "cache_read_input_tokens": plan.cache_read,
        "output_tokens": output,
        "service_tier": "standard"
    })
}

pub async fn messages(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        })
        .unwrap_or("");
    if key.is_empty() {
        return error(
            401,
            "authentication_error",
            "x-api-key header is required",
            None,
        );
    }
    if key == "invalid-key" {
        return error(401, "authentication_error", "invalid x-api-key", None);
    }
    if headers.get("anthropic-version").is_none() {
        return error(
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
            None,
        );
    }
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error(
                400,
                "invalid_request_error",
                &format!("The request body is not valid JSON: {e}"),
                None,
            );
        }
    };
    state.record("anthropic", "/v1/messages", &req);
    let p = match prompt(&req) {
        Ok(p) => p,
        Err(m) => return error(400, "invalid_request_error", &m, None),
    };
    let scenario = Scenario::parse(
        &p.last_user,
        headers.get("x-fake-scenario").and_then(|v| v.to_str().ok()),
    );
    if let Some(status) = injected_failure(&state, "anthropic", &body, &scenario) {
        let (kind, msg) = match status {
            429 => (
                "rate_limit_error",
                "Number of requests has exceeded your rate limit (injected).",
            ),
            529 | 503 => ("overloaded_error", "Overloaded"),
            500..=599 => ("api_error", "Internal server error (injected)."),
            _ => ("invalid_request_error", "Injected client error."),
        };
        return error(
            status,
            kind,
            msg,
            retry_after_for(status, &scenario).as_deref(),
        );
    }
    let mut plan = plan(&state.config, &p, &scenario);
    if let Some(system) = cached_system(&req) {
        // Like the real prompt cache: the first request writes it, identical ones read it.
        let tokens = crate::scenario::count_tokens(&system);
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&system, &mut h);
        let fresh = state
            .prompt_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(std::hash::Hasher::finish(&h));
        if fresh {
            plan.cache_write = tokens;
            plan.cache_read = 0;
        } else {
            plan.cache_read = tokens;
            plan.cache_write = 0;
        }
    }
    let n = state.next_id();
    let id = format!("msg_fake{n:020}");
    let rid = ("request-id", format!("req_fake{n}"));
    if !req.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        let body = json!({
            "id": id, "type": "message", "role": "assistant", "model": p.model,
            "content": [{"type": "text", "text": plan.text()}],
            "stop_reason": stop_reason(&plan), "stop_sequence": null,
            "usage": usage(&plan, plan.output_tokens)
        });
        return json_response(&body, plan.cut, rid);
    }
    let head = vec![
        event(
            "message_start",
            &json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": p.model, "content": [],
            "stop_reason": null, "stop_sequence": null, "usage": usage(&plan, 1)}}),
        ),
        event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        event("ping", &json!({"type": "ping"})),
    ];
    let text = plan
        .chunks
        .iter()
        .map(|t| event("content_block_delta", &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}})))
        .collect();
    let tail = vec![
        event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": 0}),
        ),
        event(
            "message_delta",
            &json!({"type": "message_delta",
            "delta": {"stop_reason": stop_reason(&plan), "stop_sequence": null},
            "usage": {"output_tokens": plan.output_tokens}}),
        ),
        event("message_stop", &json!({"type": "message_stop"})),
    ];
    let error = event(
        "error",
        &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    );
    sse_response(&state, &plan, rid, head, text, tail, error)
}
