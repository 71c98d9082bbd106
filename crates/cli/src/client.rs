//! A typed HTTP client for the RaGenie API: the calls the command-line client makes, with
//! problem+json errors turned into [`ApiError`]s that say what the server said.

use std::time::Duration;

use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::sse::{SseEvent, SseParser};

/// What a call to the API can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server answered with an error status (its problem+json title and detail).
    #[error("{method} {path}: {status} {title}{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Status {
        method: String,
        path: String,
        status: u16,
        title: String,
        detail: Option<String>,
    },
    #[error("{method} {path}: {source}")]
    Transport {
        method: String,
        path: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{path}: unexpected answer: {message}")]
    Decode { path: String, message: String },
    #[error("not signed in: pass --api-key, set RAGENIE_API_KEY, or run `ragenie login`")]
    NoCredentials,
}

impl ApiError {
    /// The HTTP status when the server answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's own words (detail, else title) for reports.
    pub fn reason(&self) -> String {
        match self {
            ApiError::Status {
                status,
                title,
                detail,
                ..
            } => match detail {
                Some(d) if !d.is_empty() => format!("RaGenie refused it ({status}): {d}"),
                _ => format!("RaGenie refused it ({status}): {title}"),
            },
            other => other.to_string(),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// `POST /auth/login`, `/auth/register`.
#[derive(Clone, Debug, Deserialize)]
pub struct Tokens {
    pub access_token: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CreatedKey {
    pub id: String,
    pub key: String,
}

/// A profile as the server shows it. Fields an older server or archive lacks read as empty.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    pub id: String,
    pub name: String,
    pub description: String,
    pub instruction_ids: Vec<String>,
    pub dataset_ids: Vec<String>,
    pub parent_ids: Vec<String>,
    pub default_model: Option<String>,
    pub temperature_preset: Option<String>,
    pub temperature: Option<f64>,
    pub max_output_tokens: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub id: String,
    pub name: String,
    /// The folder path (`a/b`; `""`: the root).
    #[serde(default)]
    pub folder: String,
    pub kind: String,
    #[serde(default)]
    pub media_type: String,
    #[serde(default)]
    pub size: u64,
    pub content_hash: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub token_count: Option<u64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Upload {
    #[serde(flatten)]
    pub document: Document,
    #[serde(default)]
    pub duplicate: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub profile_id: Option<String>,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub head_id: Option<String>,
    #[serde(default)]
    pub message_count: u64,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    #[serde(default)]
    pub parent_id: Option<String>,
    pub role: String,
    pub content: String,
    #[serde(default)]
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ConversationDetail {
    #[serde(flatten)]
    pub conversation: Conversation,
    #[serde(default)]
    pub messages: Vec<Message>,
}

impl ConversationDetail {
    /// The branch the user is on: from the root to the head (or the latest message).
    pub fn current_branch(&self) -> Vec<&Message> {
        let head = self
            .conversation
            .head_id
            .clone()
            .or_else(|| self.messages.last().map(|m| m.id.clone()));
        let mut branch = Vec::new();
        let mut next = head;
        while let Some(id) = next {
            let Some(m) = self.messages.iter().find(|m| m.id == id) else {
                break;
            };
            if branch.len() >= self.messages.len() {
                break; // a malformed tree (a parent cycle) must not loop forever
            }
            branch.push(m);
            next = m.parent_id.clone();
        }
        branch.reverse();
        branch
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct ModelInfo {
    pub id: String,
    #[serde(default)]
    pub provider: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub context_window: u64,
    #[serde(default)]
    pub input_price: Option<f64>,
    #[serde(default)]
    pub output_price: Option<f64>,
    #[serde(default)]
    pub available: bool,
    #[serde(default)]
    pub unavailable_reason: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ModelList {
    pub items: Vec<ModelInfo>,
    #[serde(default)]
    pub default_model: String,
    #[serde(default)]
    pub offline: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Preferences {
    #[serde(default)]
    pub default_profile: Option<String>,
    #[serde(default)]
    pub default_model: Option<String>,
    #[serde(default = "default_theme")]
    pub theme: String,
}

fn default_theme() -> String {
    "system".into()
}

/// `POST /conversations/import`.
#[derive(Clone, Debug, Serialize)]
pub struct ImportConversation {
    pub title: String,
    pub profile_id: Option<String>,
    pub model: Option<String>,
    pub created_at: Option<String>,
    pub import_key: Option<String>,
    pub messages: Vec<ImportMessage>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportMessage {
    pub role: String,
    pub content: String,
}

#[derive(Deserialize)]
struct Page<T> {
    items: Vec<T>,
    #[serde(default)]
    next_cursor: Option<String>,
}

/// The API at one base URL, with an optional bearer credential (API key or access token).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    bearer: Option<String>,
}

impl Client {
    pub fn new(base: &str, bearer: Option<String>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .user_agent(concat!("ragenie-cli/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            bearer,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The credential this client sends.
    pub fn bearer(&self) -> Option<&str> {
        self.bearer.as_deref()
    }

    pub fn with_bearer(&self, bearer: String) -> Self {
        Self {
            bearer: Some(bearer),
            ..self.clone()
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> ApiResult<reqwest::RequestBuilder> {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        Ok(match &self.bearer {
            Some(b) => builder.bearer_auth(b),
            None if path.starts_with("/auth/register") || path.starts_with("/auth/login") => {
                builder
            }
            None => return Err(ApiError::NoCredentials),
        })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> ApiResult<reqwest::Response> {
        let request = build(self.request(method.clone(), path)?);
        let response = request.send().await.map_err(|source| ApiError::Transport {
            method: method.to_string(),
            path: path.to_owned(),
            source,
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let problem: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let title = problem["title"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| {
                reqwest::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("error")
                    .to_owned()
            });
        let detail = problem["detail"].as_str().map(str::to_owned).or_else(|| {
            let t = text.trim();
            (!t.is_empty() && problem.is_null()).then(|| t.chars().take(300).collect())
        });
        Err(ApiError::Status {
            method: method.to_string(),
            path: path.to_owned(),
            status,
            title,
            detail,
        })
    }

    async fn decode<T: DeserializeOwned>(path: &str, response: reqwest::Response) -> ApiResult<T> {
        let bytes = response.bytes().await.map_err(|e| ApiError::Decode {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> ApiResult<T> {
        let response = self.send(reqwest::Method::GET, path, |b| b).await?;
        Self::decode(path, response).await
    }

    async fn send_json<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &impl Serialize,
    ) -> ApiResult<(u16, T)> {
        let response = self.send(method, path, |b| b.json(body)).await?;
        let status = response.status().as_u16();
        Ok((status, Self::decode(path, response).await?))
    }

    /// Every item of a paginated list.
    async fn all_pages<T: DeserializeOwned>(&self, path: &str, limit: usize) -> ApiResult<Vec<T>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let mut url = format!("{path}{sep}limit={limit}");
            if let Some(c) = &cursor {
                url.push_str("&cursor=");
                url.push_str(&encode_query(c));
            }
            let page: Page<T> = self.get_json(&url).await?;
            items.extend(page.items);
            match page.next_cursor {
                Some(c) if Some(&c) != cursor.as_ref() => cursor = Some(c),
                _ => return Ok(items),
            }
        }
    }

    /// Any call with an optional JSON body; the JSON answer (`null` for an empty one, e.g. 204).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> ApiResult<Value> {
        let response = self
            .send(method, path, |b| match body {
                Some(body) => b.json(body),
                None => b,
            })
            .await?;
        if response.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        Self::decode(path, response).await
    }

    pub async fn register(&self, email: &str, password: &str) -> ApiResult<Tokens> {
        let body = json!({"email": email, "password": password});
        Ok(self
            .send_json(reqwest::Method::POST, "/auth/register", &body)
            .await?
            .1)
    }

    pub async fn login(&self, email: &str, password: &str) -> ApiResult<Tokens> {
        let body = json!({"email": email, "password": password});
        Ok(self
            .send_json(reqwest::Method::POST, "/auth/login", &body)
            .await?
            .1)
    }

    pub async fn create_api_key(&self, name: &str) -> ApiResult<CreatedKey> {
        Ok(self
            .send_json(
                reqwest::Method::POST,
                "/auth/api-keys",
                &json!({"name": name}),
            )
            .await?
            .1)
    }

    pub async fn me(&self) -> ApiResult<Value> {
        self.get_json("/auth/me").await
    }

    pub async fn profiles(&self) -> ApiResult<Vec<Profile>> {
        self.all_pages("/profiles", 100).await
    }

    pub async fn create_profile(&self, body: &Value) -> ApiResult<Profile> {
        Ok(self
            .send_json(reqwest::Method::POST, "/profiles", body)
            .await?
            .1)
    }

    pub async fn update_profile(&self, id: &str, patch: &Value) -> ApiResult<Profile> {
        Ok(self
            .send_json(reqwest::Method::PATCH, &format!("/profiles/{id}"), patch)
            .await?
            .1)
    }

    pub async fn preferences(&self) -> ApiResult<Preferences> {
        self.get_json("/users/me/preferences").await
    }

    pub async fn put_preferences(&self, prefs: &Preferences) -> ApiResult<Preferences> {
        Ok(self
            .send_json(reqwest::Method::PUT, "/users/me/preferences", prefs)
            .await?
            .1)
    }

    pub async fn models(&self) -> ApiResult<ModelList> {
        self.get_json("/models").await
    }

    pub async fn documents(&self) -> ApiResult<Vec<Document>> {
        self.all_pages("/documents", 200).await
    }

    /// One document's current state (its status moves `pending → processing → ready | failed`).
    pub async fn document(&self, id: &str) -> ApiResult<Document> {
        self.get_json(&format!("/documents/{}", encode_query(id)))
            .await
    }

    /// Uploads raw bytes; the answer says whether identical content was already stored.
    pub async fn upload_document(
        &self,
        name: &str,
        folder: &str,
        kind: &str,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> ApiResult<Upload> {
        let path = format!(
            "/documents?kind={}&name={}&folder={}",
            encode_query(kind),
            encode_query(name),
            encode_query(folder)
        );
        let response = self
            .send(reqwest::Method::POST, &path, |b| {
                b.header(reqwest::header::CONTENT_TYPE, media_type)
                    .body(bytes)
            })
            .await?;
        Self::decode(&path, response).await
    }

    /// The document's original bytes, through its download URL.
    pub async fn document_bytes(&self, id: &str) -> ApiResult<Vec<u8>> {
        let path = format!("/documents/{id}/content");
        let link: Value = self.get_json(&path).await?;
        let url = link["url"].as_str().ok_or_else(|| ApiError::Decode {
            path: path.clone(),
            message: "no `url` in the answer".into(),
        })?;
        let transport = |source| ApiError::Transport {
            method: "GET".into(),
            path: path.clone(),
            source,
        };
        let response = self.http.get(url).send().await.map_err(transport)?;
        if !response.status().is_success() {
            return Err(ApiError::Status {
                method: "GET".into(),
                path: format!("{path} (download)"),
                status: response.status().as_u16(),
                title: "download failed".into(),
                detail: None,
            });
        }
        Ok(response.bytes().await.map_err(transport)?.to_vec())
    }

    /// The document's extracted text.
    pub async fn document_text(&self, id: &str) -> ApiResult<String> {
        let path = format!("/documents/{id}/content?format=text");
        let response = self.send(reqwest::Method::GET, &path, |b| b).await?;
        response.text().await.map_err(|e| ApiError::Decode {
            path,
            message: e.to_string(),
        })
    }

    pub async fn conversations(&self) -> ApiResult<Vec<Conversation>> {
        self.all_pages("/conversations", 100).await
    }

    pub async fn conversation(&self, id: &str) -> ApiResult<ConversationDetail> {
        self.get_json(&format!("/conversations/{id}")).await
    }

    pub async fn create_conversation(
        &self,
        profile_id: Option<&str>,
        model: Option<&str>,
        title: Option<&str>,
    ) -> ApiResult<Conversation> {
        let body = json!({"profile_id": profile_id, "model": model, "title": title});
        Ok(self
            .send_json(reqwest::Method::POST, "/conversations", &body)
            .await?
            .1)
    }

    pub async fn delete_conversation(&self, id: &str) -> ApiResult<()> {
        self.send(
            reqwest::Method::DELETE,
            &format!("/conversations/{id}"),
            |b| b,
        )
        .await?;
        Ok(())
    }

    /// Imports a conversation; `true` when it was created, `false` when its import key had
    /// already been used (the existing conversation is returned).
    pub async fn import_conversation(
        &self,
        body: &ImportConversation,
    ) -> ApiResult<(Conversation, bool)> {
        let (status, conversation) = self
            .send_json(reqwest::Method::POST, "/conversations/import", body)
            .await?;
        Ok((conversation, status == 201))
    }

    /// Sends a message and returns the answer's Server-Sent Events as they arrive.
    pub async fn send_message(
        &self,
        conversation: &str,
        content: &str,
        model: Option<&str>,
    ) -> ApiResult<impl Stream<Item = ApiResult<SseEvent>> + use<>> {
        let path = format!("/conversations/{conversation}/messages");
        let mut body = json!({"content": content});
        if let Some(m) = model {
            body["model"] = Value::from(m);
        }
        let response = self
            .send(reqwest::Method::POST, &path, |b| {
                b.header(reqwest::header::ACCEPT, "text/event-stream")
                    .json(&body)
            })
            .await?;
        let mut parser = SseParser::default();
        let bytes = response.bytes_stream();
        Ok(bytes
            .map(move |chunk| match chunk {
                Ok(chunk) => Ok(parser.push(&chunk)),
                Err(source) => Err(ApiError::Transport {
                    method: "POST".into(),
                    path: path.clone(),
                    source,
                }),
            })
            .flat_map(|r: ApiResult<Vec<SseEvent>>| {
                futures::stream::iter(match r {
                    Ok(events) => events.into_iter().map(Ok).collect::<Vec<_>>(),
                    Err(e) => vec![Err(e)],
                })
            }))
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass as they are).
pub fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode_query("a b/c&d=é"), "a%20b%2Fc%26d%3D%C3%A9");
        assert_eq!(encode_query("notes-1_v2.md~"), "notes-1_v2.md~");
    }

    #[test]
    fn the_current_branch_follows_parents_from_the_head() {
        let m = |id: &str, parent: Option<&str>| Message {
            id: id.into(),
            parent_id: parent.map(str::to_owned),
            role: "user".into(),
            content: id.into(),
            created_at: String::new(),
            model: None,
        };
        let detail = ConversationDetail {
            conversation: Conversation {
                id: "c".into(),
                title: "t".into(),
                profile_id: None,
                model: String::new(),
                head_id: Some("b2".into()),
                message_count: 4,
                created_at: String::new(),
                updated_at: String::new(),
            },
            messages: vec![
                m("a", None),
                m("b1", Some("a")),
                m("b2", Some("a")),
                m("c1", Some("b1")),
            ],
        };
        let ids: Vec<&str> = detail
            .current_branch()
            .iter()
            .map(|m| m.id.as_str())
            .collect();
        assert_eq!(ids, ["a", "b2"]);

        // A parent cycle (a corrupt export) ends instead of looping.
        let cyclic = ConversationDetail {
            conversation: Conversation {
                head_id: Some("x".into()),
                ..detail.conversation.clone()
            },
            messages: vec![m("x", Some("y")), m("y", Some("x"))],
        };
        assert_eq!(cyclic.current_branch().len(), 2);
    }
}
