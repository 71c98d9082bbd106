//! OpenAI Chat Completions and Embeddings, as api.openai.com sends them.

use std::sync::Arc;

use axum::extract::State as AxState;
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::scenario::{Finish, Plan, Prompt, Scenario, injected_failure, plan};
use crate::wire::{
    content_text, error_response, json_response, now_secs, required_array, required_str,
    retry_after_for, sse_data, sse_response,
};
use crate::{State, embed};

fn error(
    status: u16,
    message: &str,
    kind: &str,
    code: Option<&str>,
    retry_after: Option<&str>,
) -> Response {
    error_response(
        status,
        json!({"error": {"message": message, "type": kind, "param": null, "code": code}}),
        retry_after,
    )
}

fn injected(status: u16, s: &Scenario) -> Response {
    let (kind, code, msg) = match status {
        429 => (
            "requests",
            Some("rate_limit_exceeded"),
            "Rate limit reached (injected by the fake provider).",
        ),
        500..=599 => (
            "server_error",
            None,
            "The server had an error while processing your request (injected).",
        ),
        _ => ("invalid_request_error", None, "Injected client error."),
    };
    error(
        status,
        msg,
        kind,
        code,
        retry_after_for(status, s).as_deref(),
    )
}

/// Checks the bearer key (required on /openai, optional on /compat).
/// The rejection, if the key is missing (where required) or the magic `invalid-key`.
fn auth(headers: &HeaderMap, required: bool) -> Option<Response> {
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    if key == "invalid-key" || (required && key.is_empty()) {
        return Some(error(
            401,
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            Some("invalid_api_key"),
            None,
        ));
    }
    None
}

/// The request's JSON body once the key is checked; or OpenAI's answer (401 for the key, 400
/// for a body that is not JSON).
fn keyed_json(
    headers: &HeaderMap,
    body: &Bytes,
    key_required: bool,
) -> Result<Value, Box<Response>> {
    if let Some(r) = auth(headers, key_required) {
        return Err(Box::new(r));
    }
    serde_json::from_slice(body).map_err(|e| {
        Box::new(error(
            400,
            &format!("We could not parse the JSON body of your request: {e}"),
            "invalid_request_error",
            None,
            None,
        ))
    })
}

fn scenario_header(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-fake-scenario").and_then(|v| v.to_str().ok())
}

/// A request to an OpenAI endpoint whose key and JSON body passed the checks.
struct Call {
    state: Arc<State>,
    headers: HeaderMap,
    body: Bytes,
    provider: &'static str,
    req: Value,
}

impl Call {
    /// Checks the key and reads the JSON body; or OpenAI's answer (see [`keyed_json`]).
    fn checked(
        AxState(state): AxState<Arc<State>>,
        headers: HeaderMap,
        body: Bytes,
        key_required: bool,
        provider: &'static str,
    ) -> Result<Self, Box<Response>> {
        let req = keyed_json(&headers, &body, key_required)?;
        Ok(Call {
            state,
            headers,
            body,
            provider,
            req,
        })
    }

    /// The scenario `text` (or the scenario header) asks for; or the failure it injects.
    fn scenario(&self, text: &str) -> Result<Scenario, Box<Response>> {
        let scenario = Scenario::parse(text, scenario_header(&self.headers));
        match injected_failure(&self.state, self.provider, &self.body, &scenario) {
            Some(status) => Err(Box::new(injected(status, &scenario))),
            None => Ok(scenario),
        }
    }
}

pub async fn chat_keyed(st: AxState<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    Call::checked(st, headers, body, true, "openai").map_or_else(|refused| *refused, chat)
}

pub async fn chat_open(st: AxState<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    Call::checked(st, headers, body, false, "openai_compatible")
        .map_or_else(|refused| *refused, chat)
}

fn prompt(req: &Value) -> Result<Prompt, String> {
    let model = required_str(req, "model", "you must provide a model parameter")?;
    let messages = required_array(req, "messages", "'messages' must be a non-empty array")?;
    let mut p = Prompt {
        model: model.to_owned(),
        ..Default::default()
    };
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        if !["system", "developer", "user", "assistant", "tool"].contains(&role) {
            return Err(format!("Invalid value for 'messages[{i}].role': {role:?}"));
        }
        let text = content_text(m.get("content"))
            .ok_or(format!("Invalid type for 'messages[{i}].content'"))?;
        if role == "user" {
            p.last_user = text.clone();
        }
        p.texts.push(text);
    }
    p.max_tokens = req
        .get("max_completion_tokens")
        .or_else(|| req.get("max_tokens"))
        .and_then(Value::as_u64);
    Ok(p)
}

fn usage(plan: &Plan) -> Value {
    json!({
        "prompt_tokens": plan.input_tokens,
        "completion_tokens": plan.output_tokens,
        "total_tokens": plan.input_tokens + plan.output_tokens,
        "prompt_tokens_details": {"cached_tokens": plan.cache_read, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    })
}

fn finish(plan: &Plan) -> &'static str {
    match plan.finish {
        Finish::Stop => "stop",
        Finish::Length => "length",
    }
}

fn chat(call: Call) -> Response {
    let (state, req) = (&call.state, &call.req);
    state.record(call.provider, "/chat/completions", req);
    let p = match prompt(req) {
        Ok(p) => p,
        Err(m) => return error(400, &m, "invalid_request_error", None, None),
    };
    let scenario = match call.scenario(&p.last_user) {
        Ok(scenario) => scenario,
        Err(injected) => return *injected,
    };
    let plan = plan(&state.config, &p, &scenario);
    let n = state.next_id();
    let id = format!("chatcmpl-fake{n}");
    let created = now_secs();
    let rid = ("x-request-id", format!("req_fake{n}"));
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false) && !scenario.nostream;
    if !stream {
        let body = json!({
            "id": id, "object": "chat.completion", "created": created, "model": p.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": plan.text(), "refusal": null, "annotations": []}, "logprobs": null, "finish_reason": finish(&plan)}],
            "usage": usage(&plan), "service_tier": "default", "system_fingerprint": "fp_fake"
        });
        return json_response(&body, plan.cut, rid);
    }
    let include_usage = req
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let chunk = |delta: Value, finish: Value| {
        let mut c = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": p.model,
            "service_tier": "default", "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]
        });
        if include_usage {
            c["usage"] = Value::Null;
        }
        sse_data(&c)
    };
    let head = vec![chunk(
        json!({"role": "assistant", "content": "", "refusal": null}),
        Value::Null,
    )];
    let text = plan
        .chunks
        .iter()
        .map(|t| chunk(json!({"content": t}), Value::Null))
        .collect();
    let mut tail = vec![chunk(json!({}), json!(finish(&plan)))];
    if include_usage {
        tail.push(sse_data(&json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": p.model,
            "service_tier": "default", "system_fingerprint": "fp_fake", "choices": [], "usage": usage(&plan)
        })));
    }
    tail.push(Bytes::from_static(b"data: [DONE]\n\n"));
    let error = sse_data(
        &json!({"error": {"message": "The server had an error while processing your request (injected mid-stream).", "type": "server_error", "param": null, "code": null}}),
    );
    sse_response(state, &plan, rid, head, text, tail, error)
}

pub async fn embeddings_keyed(
    st: AxState<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    Call::checked(st, headers, body, true, "openai").map_or_else(|refused| *refused, embeddings)
}

pub async fn embeddings_open(st: AxState<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    Call::checked(st, headers, body, false, "openai_compatible")
        .map_or_else(|refused| *refused, embeddings)
}

fn embeddings(call: Call) -> Response {
    let (state, req) = (&call.state, &call.req);
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let inputs: Vec<String> = match req.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => {
            return error(
                400,
                "'input' must be a string or a non-empty array of strings",
                "invalid_request_error",
                None,
                None,
            );
        }
    };
    if let Err(injected) = call.scenario(&inputs.join(" ")) {
        return *injected;
    }
    state.record(call.provider, "/v1/embeddings", req);
    let dims = req
        .get("dimensions")
        .and_then(Value::as_u64)
        .map(|d| d as usize)
        .unwrap_or(if model.contains("large") { 3072 } else { 1536 });
    let base64 = req.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let v = embed::vector(t, dims);
            let e = if base64 {
                json!(embed::to_base64(&v))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": e})
        })
        .collect();
    let tokens: u64 = inputs
        .iter()
        .map(|t| crate::scenario::count_tokens(t))
        .sum();
    let n = state.next_id();
    json_response(
        &json!({"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}),
        false,
        ("x-request-id", format!("req_fake{n}")),
    )
}
