//! `ragenie chat`: picks the profile and conversation, sends the prompt, writes the answer
//! token by token as the Server-Sent Events arrive, then its tokens and cost.

use std::io::Write;

use anyhow::{Context, bail};
use futures::StreamExt;
use serde_json::Value;

use crate::client::{Client, Profile};

#[derive(Clone, Debug, Default)]
pub struct ChatRequest {
    pub prompt: String,
    /// A profile name (case-insensitive) or id.
    pub profile: Option<String>,
    pub model: Option<String>,
    /// Continue this conversation instead of starting one.
    pub conversation: Option<String>,
}

/// What one answer came to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatOutcome {
    pub conversation_id: String,
    pub model: String,
    pub text: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    pub cost_estimated: bool,
    pub finish_reason: Option<String>,
    pub error: Option<String>,
}

impl ChatOutcome {
    /// The closing line: model, tokens and cost.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "[{} · {} tokens in, {} out · ${:.6}{} · conversation {}]",
            if self.model.is_empty() {
                "default model"
            } else {
                &self.model
            },
            self.input_tokens,
            self.output_tokens,
            self.cost_usd,
            if self.cost_estimated {
                " (estimated)"
            } else {
                ""
            },
            self.conversation_id
        );
        if let Some(reason) = self.finish_reason.as_deref().filter(|r| *r != "stop") {
            line.push_str(&format!(" finished: {reason}"));
        }
        line
    }
}

/// Finds a profile by id or by name (exact, then case-insensitive).
pub fn find_profile<'a>(profiles: &'a [Profile], wanted: &str) -> Option<&'a Profile> {
    profiles
        .iter()
        .find(|p| p.id == wanted)
        .or_else(|| profiles.iter().find(|p| p.name == wanted))
        .or_else(|| {
            profiles
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(wanted))
        })
}

/// Resolves the conversation to use, creating one when none is given (`true`).
pub async fn conversation_for(
    client: &Client,
    request: &ChatRequest,
) -> anyhow::Result<(String, bool)> {
    if let Some(id) = &request.conversation {
        return Ok((id.clone(), false));
    }
    let profile_id = match &request.profile {
        Some(wanted) => {
            let profiles = client.profiles().await?;
            match find_profile(&profiles, wanted) {
                Some(p) => Some(p.id.clone()),
                None => {
                    let names: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
                    bail!(
                        "no profile `{wanted}`; you have: {}",
                        if names.is_empty() {
                            "none".to_owned()
                        } else {
                            names.join(", ")
                        }
                    )
                }
            }
        }
        None => None,
    };
    let conversation = client
        .create_conversation(profile_id.as_deref(), request.model.as_deref(), None)
        .await
        .context("starting a conversation")?;
    Ok((conversation.id, true))
}

/// Sends into the conversation the request names or a new one; a new conversation whose first
/// message was refused (an unusable model, a spent budget) is removed again, so a failed
/// attempt leaves no empty conversation behind.
pub async fn ask(
    client: &Client,
    request: &ChatRequest,
    out: &mut dyn Write,
) -> anyhow::Result<ChatOutcome> {
    let (conversation, created) = conversation_for(client, request).await?;
    let result = send(
        client,
        &conversation,
        &request.prompt,
        request.model.as_deref(),
        out,
    )
    .await;
    if result.is_err() && created {
        let _ = client.delete_conversation(&conversation).await;
    }
    let hint = |e: anyhow::Error| {
        let refused_model = e
            .downcast_ref::<crate::client::ApiError>()
            .and_then(|a| a.status())
            == Some(422);
        if refused_model {
            e.context("the message was refused; `ragenie models` lists the models you can use with --model")
        } else {
            e
        }
    };
    result.map_err(hint)
}

/// Sends one prompt into `conversation` and streams the answer into `out`.
pub async fn send(
    client: &Client,
    conversation: &str,
    prompt: &str,
    model: Option<&str>,
    out: &mut dyn Write,
) -> anyhow::Result<ChatOutcome> {
    if prompt.trim().is_empty() {
        bail!("the prompt is empty");
    }
    let mut outcome = ChatOutcome {
        conversation_id: conversation.to_owned(),
        ..ChatOutcome::default()
    };
    let mut events = Box::pin(client.send_message(conversation, prompt, model).await?);
    while let Some(event) = events.next().await {
        let event = event?;
        let data = &event.data;
        match event.name.as_str() {
            "meta" => {
                outcome.model = data["model"].as_str().unwrap_or_default().to_owned();
            }
            "delta" => {
                let text = data["text"].as_str().unwrap_or_default();
                outcome.text.push_str(text);
                out.write_all(text.as_bytes())?;
                out.flush()?;
            }
            "usage" => {
                outcome.input_tokens = data["usage"]["input"].as_u64().unwrap_or(0);
                outcome.output_tokens = data["usage"]["output"].as_u64().unwrap_or(0);
                outcome.cost_usd = data["cost"]["total_usd"].as_f64().unwrap_or(0.0);
                outcome.cost_estimated = data["cost"]["estimated"].as_bool().unwrap_or(false);
            }
            "error" => {
                outcome.error = Some(
                    data["message"]
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| data.to_string()),
                );
            }
            "done" => {
                outcome.finish_reason = data["finish_reason"].as_str().map(str::to_owned);
                if let Value::String(id) = &data["conversation"]["id"] {
                    outcome.conversation_id = id.clone();
                }
                break;
            }
            _ => {}
        }
    }
    if !outcome.text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(id: &str, name: &str) -> Profile {
        Profile {
            id: id.into(),
            name: name.into(),
            description: String::new(),
            instruction_ids: vec![],
            dataset_ids: vec![],
            parent_ids: vec![],
            default_model: None,
            temperature_preset: None,
            temperature: None,
            max_output_tokens: None,
        }
    }

    #[test]
    fn profiles_are_found_by_id_or_name() {
        let profiles = [
            profile("01A", "Work"),
            profile("01B", "work"),
            profile("01C", "Home"),
        ];
        assert_eq!(find_profile(&profiles, "01C").unwrap().name, "Home");
        assert_eq!(find_profile(&profiles, "work").unwrap().id, "01B");
        assert_eq!(find_profile(&profiles, "HOME").unwrap().id, "01C");
        assert!(find_profile(&profiles, "Play").is_none());
    }

    #[test]
    fn the_summary_names_tokens_cost_and_an_unusual_finish() {
        let outcome = ChatOutcome {
            conversation_id: "c1".into(),
            model: "gpt-4o".into(),
            input_tokens: 1200,
            output_tokens: 34,
            cost_usd: 0.00334,
            cost_estimated: true,
            finish_reason: Some("length".into()),
            ..ChatOutcome::default()
        };
        assert_eq!(
            outcome.summary(),
            "[gpt-4o · 1200 tokens in, 34 out · $0.003340 (estimated) · conversation c1] finished: length"
        );
    }
}
