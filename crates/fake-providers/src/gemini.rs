//! Google Gemini API (`generateContent`, `streamGenerateContent` with and without
//! `alt=sse`, `embedContent`, `batchEmbedContents`), as generativelanguage.googleapis.com
//! sends it (SSE events end with CRLF there).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State as AxState};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::scenario::{Finish, Plan, Prompt, Scenario, injected_failure, plan};
use crate::wire::{
    Frames, error_response, json_response, required_array, retry_after_for, stream_response,
};
use crate::{State, embed};

fn error(status: u16, message: &str, retry_after: Option<&str>) -> Response {
    let status_name = match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    };
    let mut e = json!({"error": {"code": status, "message": message, "status": status_name}});
    if let Some(secs) = retry_after {
        e["error"]["details"] = json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{secs}s")}]);
    }
    error_response(status, e, retry_after)
}

fn parts_text(v: Option<&Value>) -> Option<String> {
    let parts = v?.get("parts")?.as_array()?;
    Some(
        parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
    )
}

fn prompt(model: &str, req: &Value) -> Result<Prompt, String> {
    let contents = required_array(
        req,
        "contents",
        "* GenerateContentRequest.contents: contents is not specified",
    )?;
    let mut p = Prompt {
        model: model.to_owned(),
        ..Default::default()
    };
    if let Some(sys) = req
        .get("systemInstruction")
        .or_else(|| req.get("system_instruction"))
    {
        p.texts
            .push(parts_text(Some(sys)).ok_or("systemInstruction must have parts")?);
    }
    for (i, c) in contents.iter().enumerate() {
        let role = c.get("role").and_then(Value::as_str).unwrap_or("user");
        if role != "user" && role != "model" {
            return Err(format!(
                "Please use a valid role: user, model. (contents[{i}].role = {role:?})"
            ));
        }
        let text = parts_text(Some(c)).ok_or(format!(
            "* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty."
        ))?;
        if role == "user" {
            p.last_user = text.clone();
        }
        p.texts.push(text);
    }
    p.max_tokens = req
        .pointer("/generationConfig/maxOutputTokens")
        .and_then(Value::as_u64);
    Ok(p)
}

fn usage(plan: &Plan, output: Option<u64>) -> Value {
    let mut u = json!({"promptTokenCount": plan.input_tokens, "totalTokenCount": plan.input_tokens + output.unwrap_or(0),
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": plan.input_tokens}]});
    if let Some(o) = output {
        u["candidatesTokenCount"] = json!(o);
    }
    if plan.cache_read > 0 {
        u["cachedContentTokenCount"] = json!(plan.cache_read);
    }
    u
}

fn chunk(model: &str, rid: &str, text: &str, finish: Option<&str>, usage: Value) -> Value {
    let mut cand = json!({"content": {"parts": [{"text": text}], "role": "model"}, "index": 0});
    if let Some(f) = finish {
        cand["finishReason"] = json!(f);
    }
    json!({"candidates": [cand], "usageMetadata": usage, "modelVersion": model, "responseId": rid})
}

fn finish(plan: &Plan) -> &'static str {
    match plan.finish {
        Finish::Stop => "STOP",
        Finish::Length => "MAX_TOKENS",
    }
}

/// `POST /gemini/{version}/models/{model}:{method}`
pub async fn models(
    AxState(state): AxState<Arc<State>>,
    Path((_version, target)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = headers
        .get("x-goog-api-key")
        .and_then(|v| v.to_str().ok())
        .or(query.get("key").map(String::as_str))
        .unwrap_or("");
    if key.is_empty() {
        return error(
            403,
            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
            None,
        );
    }
    if key == "invalid-key" {
        return error(400, "API key not valid. Please pass a valid API key.", None);
    }
    let Some((model, method)) = target.split_once(':') else {
        return error(
            404,
            &format!("models/{target} is not found for API version v1beta"),
            None,
        );
    };
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(400, &format!("Invalid JSON payload received. {e}"), None),
    };
    let header = headers.get("x-fake-scenario").and_then(|v| v.to_str().ok());
    match method {
        "generateContent" | "streamGenerateContent" => {
            state.record("gemini", &format!("/models/{target}"), &req);
            generate(
                &state,
                model,
                method == "streamGenerateContent",
                query.get("alt").map(String::as_str) == Some("sse"),
                &req,
                &body,
                header,
            )
        }
        "embedContent" | "batchEmbedContents" => {
            embed_content(&state, method == "batchEmbedContents", &req, &body, header)
        }
        _ => error(404, &format!("Method {method} is not found"), None),
    }
}

fn generate(
    state: &Arc<State>,
    model: &str,
    stream: bool,
    sse: bool,
    req: &Value,
    body: &[u8],
    header: Option<&str>,
) -> Response {
    let p = match prompt(model, req) {
        Ok(p) => p,
        Err(m) => return error(400, &m, None),
    };
    let scenario = Scenario::parse(&p.last_user, header);
    if let Some(status) = injected_failure(state, "gemini", body, &scenario) {
        let msg = match status {
            429 => "Resource has been exhausted (e.g. check quota). (injected)",
            503 => "The model is overloaded. Please try again later. (injected)",
            _ => "An internal error has occurred. (injected)",
        };
        return error(status, msg, retry_after_for(status, &scenario).as_deref());
    }
    let plan = plan(&state.config, &p, &scenario);
    let n = state.next_id();
    let rid = format!("fake-gemini-{n}");
    let id_header = ("x-goog-request-id", rid.clone());
    if !stream {
        let body = chunk(
            model,
            &rid,
            &plan.text(),
            Some(finish(&plan)),
            usage(&plan, Some(plan.output_tokens)),
        );
        return json_response(&body, plan.cut, id_header);
    }
    let last = plan.chunks.len().saturating_sub(1);
    let chunks: Vec<Value> = if plan.chunks.is_empty() {
        vec![chunk(
            model,
            &rid,
            "",
            Some(finish(&plan)),
            usage(&plan, Some(0)),
        )]
    } else {
        plan.chunks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if i == last {
                    chunk(
                        model,
                        &rid,
                        t,
                        Some(finish(&plan)),
                        usage(&plan, Some(plan.output_tokens)),
                    )
                } else {
                    chunk(model, &rid, t, None, usage(&plan, None))
                }
            })
            .collect()
    };
    let error_chunk = json!({"error": {"code": 503, "message": "The model is overloaded. Please try again later. (injected mid-stream)", "status": "UNAVAILABLE"}});
    if sse {
        let frame = |v: &Value| Bytes::from(format!("data: {v}\r\n\r\n"));
        let text = chunks.iter().map(frame).collect();
        return stream_response(
            Frames {
                head: vec![],
                text,
                tail: vec![],
                error: frame(&error_chunk),
            },
            &plan,
            "text/event-stream",
            id_header,
            crate::ActiveGuard::new(state),
        );
    }
    // Without alt=sse the stream is one JSON array, written element by element.
    let n = chunks.len();
    let text = chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            Bytes::from(format!(
                "{}{c}{}",
                if i == 0 { "[" } else { "," },
                if i + 1 == n { "]" } else { "\r\n" }
            ))
        })
        .collect();
    stream_response(
        Frames {
            head: vec![],
            text,
            tail: vec![],
            error: Bytes::from(format!(",{error_chunk}]")),
        },
        &plan,
        "application/json; charset=UTF-8",
        id_header,
        crate::ActiveGuard::new(state),
    )
}

fn embed_content(
    state: &State,
    batch: bool,
    req: &Value,
    body: &[u8],
    header: Option<&str>,
) -> Response {
    let requests: Vec<&Value> = if batch {
        match req.get("requests").and_then(Value::as_array) {
            Some(r) if !r.is_empty() => r.iter().collect(),
            _ => {
                return error(
                    400,
                    "* BatchEmbedContentsRequest.requests: requests is not specified",
                    None,
                );
            }
        }
    } else {
        vec![req]
    };
    let mut texts = Vec::with_capacity(requests.len());
    for r in &requests {
        match parts_text(r.get("content")) {
            Some(t) => texts.push((
                t,
                r.get("outputDimensionality")
                    .and_then(Value::as_u64)
                    .unwrap_or(3072) as usize,
            )),
            None => {
                return error(
                    400,
                    "* EmbedContentRequest.content: content is not specified",
                    None,
                );
            }
        }
    }
    let all: String = texts
        .iter()
        .map(|(t, _)| t.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let scenario = Scenario::parse(&all, header);
    if let Some(status) = injected_failure(state, "gemini", body, &scenario) {
        return error(
            status,
            "Injected failure.",
            retry_after_for(status, &scenario).as_deref(),
        );
    }
    let n = state.next_id();
    let id_header = ("x-goog-request-id", format!("fake-gemini-{n}"));
    let vectors: Vec<Value> = texts
        .iter()
        .map(|(t, d)| json!({"values": embed::vector(t, *d)}))
        .collect();
    if batch {
        json_response(&json!({"embeddings": vectors}), false, id_header)
    } else {
        json_response(&json!({"embedding": vectors[0]}), false, id_header)
    }
}
