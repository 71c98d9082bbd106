//! The documents API through its router on the embedded store, served on a port-0 server so the
//! presigned-URL flow runs over real HTTP.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ragenie_common::storage::Blobs;
use ragenie_common::storage::counting::CountingBlobs;

use ragenie_common::accounts::UserId;
use ragenie_common::accounts::profiles::{self, NewProfile};
use ragenie_common::storage::embedded::presigned_routes;
use ragenie_common::testing::{TestServer, embedded_state, http_client, test_user};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

struct App {
    base: String,
    http: Client,
    state: ragenie_common::AppState,
    _dir: tempfile::TempDir,
    _server: TestServer,
}

async fn app() -> App {
    app_with_blobs(|blobs| blobs).await
}

/// The app with its blob store wrapped (e.g. to watch what the API reads).
async fn app_with_blobs(wrap: impl FnOnce(Arc<dyn Blobs>) -> Arc<dyn Blobs>) -> App {
    let dir = tempfile::tempdir().unwrap();
    let listener = TestServer::bind().await;
    let base = listener.base.clone();
    let mut state = embedded_state(dir.path(), &base).await;
    state.blobs = wrap(state.blobs.clone());
    let mut settings = (*state.settings).clone();
    settings.max_upload_body = 256 * 1024;
    state.settings = std::sync::Arc::new(settings);
    let router = ragenie_common::http::with_fallback(
        ragenie_documents::router(ragenie_corpus::ProviderState::offline(state.clone()).unwrap())
            .merge(presigned_routes(state.local_blobs.clone().unwrap())),
    );
    let server = listener.serve(router);
    let http = http_client(Duration::from_secs(30));
    App {
        base,
        http,
        state,
        _dir: dir,
        _server: server,
    }
}

impl App {
    async fn upload(
        &self,
        bearer: &str,
        kind: &str,
        name: &str,
        media_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        let request = self.request(Method::POST, bearer, "/documents");
        send(
            request
                .query(&[("kind", kind), ("name", name)])
                .header("content-type", media_type)
                .body(body),
        )
        .await
    }

    /// A request to `path` carrying `bearer`.
    fn request(&self, method: Method, bearer: &str, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("authorization", bearer)
    }

    async fn get(&self, bearer: &str, path: &str) -> Response {
        send(self.request(Method::GET, bearer, path)).await
    }

    async fn json(&self, bearer: &str, path: &str) -> Value {
        let response = self.get(bearer, path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// `GET path` (expects 200): its `items`.
    async fn items(&self, bearer: &str, path: &str) -> Vec<Value> {
        self.json(bearer, path).await["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Uploads `text` as a Markdown dataset named `name`; (status, body).
    async fn upload_md(
        &self,
        bearer: &str,
        name: &str,
        text: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        body(
            self.upload(bearer, "dataset", name, "text/markdown", text)
                .await,
        )
        .await
    }

    /// Uploads a PDF that cannot be read as the dataset "broken.pdf"; (status, body).
    async fn upload_broken_pdf(&self, bearer: &str) -> (StatusCode, Value) {
        let pdf = b"%PDF-1.7\n1 0 obj garbage".to_vec();
        body(
            self.upload(bearer, "dataset", "broken.pdf", "application/pdf", pdf)
                .await,
        )
        .await
    }

    /// `POST path` with no body.
    async fn post(&self, bearer: &str, path: &str) -> Response {
        send(self.request(Method::POST, bearer, path)).await
    }

    /// `DELETE /documents/{id}`: the status.
    async fn delete(&self, bearer: &str, id: &str) -> StatusCode {
        let path = format!("/documents/{id}");
        send(self.request(Method::DELETE, bearer, &path))
            .await
            .status()
    }

    /// `POST /documents/uploads` (a presigned upload starts); (status, body).
    async fn start_upload(&self, bearer: &str, request: Value) -> (StatusCode, Value) {
        call(
            self.request(Method::POST, bearer, "/documents/uploads")
                .json(&request),
        )
        .await
    }

    /// A multipart upload: `fields` as text parts, then one file part; (status, body).
    async fn upload_form(
        &self,
        bearer: &str,
        fields: &[(&'static str, &'static str)],
        (file_name, media_type, bytes): (&'static str, &str, &'static [u8]),
    ) -> (StatusCode, Value) {
        let form = fields
            .iter()
            .fold(reqwest::multipart::Form::new(), |form, (k, v)| {
                form.text(*k, *v)
            })
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes)
                    .file_name(file_name)
                    .mime_str(media_type)
                    .unwrap(),
            );
        call(
            self.request(Method::POST, bearer, "/documents")
                .multipart(form),
        )
        .await
    }

    /// PUTs Markdown `content` to a presigned upload `url`: the status.
    async fn put_upload(&self, url: &str, content: impl Into<reqwest::Body>) -> StatusCode {
        let request = self.http.put(url).header("content-type", "text/markdown");
        send(request.body(content)).await.status()
    }
}

async fn send(request: RequestBuilder) -> Response {
    request.send().await.unwrap()
}

/// Sends `request`; (status, JSON body or null).
async fn call(request: RequestBuilder) -> (StatusCode, Value) {
    body(send(request).await).await
}

async fn body(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Asserts an answer's status and the folder its document is in.
fn assert_in_folder(status: StatusCode, doc: &Value, want: StatusCode, folder: &str) {
    assert_eq!(
        (status, doc["folder"].as_str()),
        (want, Some(folder)),
        "{doc}"
    );
}

/// The characters of `text` from a hit's `start` to its `end`.
fn span(text: &str, hit: &Value) -> String {
    let start = hit["start"].as_u64().unwrap() as usize;
    let end = hit["end"].as_u64().unwrap() as usize;
    text.chars().skip(start).take(end - start).collect()
}

const GUIDE: &str = "# Espresso guide\n\n## Grinding\n\nA fine, even grind matters most for espresso extraction.\n\n## Tamping\n\nTamp with thirty pounds of pressure, level and firm.\n";

#[tokio::test]
async fn an_uploaded_markdown_document_is_ready_listed_readable_and_searchable() {
    let app = app().await;
    let (_, alice) = test_user();
    let (status, doc) = app.upload_md(&alice, "espresso.md", GUIDE).await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    assert_eq!(
        (
            doc["status"].as_str(),
            doc["kind"].as_str(),
            doc["version"].as_u64()
        ),
        (Some("ready"), Some("dataset"), Some(1))
    );
    assert!(doc["token_count"].as_u64().unwrap() > 10);
    assert_eq!(doc["size"], GUIDE.len());
    assert_eq!(doc["duplicate"], false);
    let id = doc["id"].as_str().unwrap();

    let detail = app.json(&alice, &format!("/documents/{id}")).await;
    assert_eq!(detail["name"], "espresso.md");
    assert_eq!(detail["versions"].as_array().unwrap().len(), 1);
    let list = app.json(&alice, "/documents?kind=dataset").await;
    assert_eq!(list["items"][0]["id"], id);
    assert!(
        app.items(&alice, "/documents?kind=instructions")
            .await
            .is_empty()
    );

    let text = app
        .get(&alice, &format!("/documents/{id}/content?format=text"))
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("thirty pounds"));

    let hits = app
        .json(&alice, "/search?q=how%20hard%20to%20tamp&k=3")
        .await;
    let top = &hits["items"][0];
    assert_eq!(top["document_id"], id);
    assert_eq!(top["document_name"], "espresso.md");
    assert_eq!(top["heading_path"], json!(["Espresso guide", "Tamping"]));
    assert!(top["snippet"].as_str().unwrap().contains("<mark>"), "{top}");
    assert!(span(&text, top).contains("Tamp"));

    let url = app.json(&alice, &format!("/documents/{id}/content")).await;
    let downloaded = app
        .http
        .get(url["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(downloaded.text().await.unwrap(), GUIDE);
}

#[tokio::test]
async fn identical_content_is_stored_once_per_user() {
    let app = app().await;
    let (_, alice) = test_user();
    let (_, bob) = test_user();
    let (_, first) = app.upload_md(&alice, "a.md", GUIDE).await;
    let (status, second) = app.upload_md(&alice, "copy.md", GUIDE).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (second["id"].clone(), second["duplicate"].clone()),
        (first["id"].clone(), json!(true))
    );
    assert_eq!(app.items(&alice, "/documents").await.len(), 1);
    let (status, other) = app.upload_md(&bob, "a.md", GUIDE).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "another user's copy is their own"
    );
    assert_ne!(other["id"], first["id"]);
}

#[tokio::test]
async fn multipart_uploads_take_the_file_name_and_kind_from_the_form() {
    let app = app().await;
    let (_, alice) = test_user();
    let (status, doc) = app
        .upload_form(
            &alice,
            &[("kind", "instructions")],
            ("style.txt", "text/plain", b"Always answer in French."),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    assert_eq!(
        (
            doc["name"].as_str(),
            doc["kind"].as_str(),
            doc["status"].as_str()
        ),
        (Some("style.txt"), Some("instructions"), Some("ready"))
    );
}

#[tokio::test]
async fn bad_uploads_get_clear_errors_and_store_nothing() {
    let app = app().await;
    let (_, alice) = test_user();
    let (status, problem) = body(
        app.upload(
            &alice,
            "dataset",
            "x.png",
            "image/png",
            vec![0x89, b'P', b'N', b'G'],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("text/markdown"),
        "names the accepted types: {problem}"
    );
    assert_eq!(
        app.upload_md(&alice, "empty.md", "").await.0,
        StatusCode::BAD_REQUEST
    );
    let (status, problem) = body(
        app.upload(
            &alice,
            "dataset",
            "big.md",
            "text/markdown",
            "x".repeat(300 * 1024),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("/documents/uploads"),
        "{problem}"
    );
    let (status, problem) = body(
        app.upload(&alice, "notes", "a.md", "text/markdown", "hi")
            .await,
    )
    .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("kind"))
    );
    let unauthenticated = app
        .http
        .post(format!("{}/documents?kind=dataset&name=a", app.base))
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    assert!(app.items(&alice, "/documents").await.is_empty());
}

#[tokio::test]
async fn a_corrupt_pdf_ends_failed_with_a_reason_never_pending() {
    let app = app().await;
    let (_, alice) = test_user();
    let (status, doc) = app.upload_broken_pdf(&alice).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(doc["status"], "failed");
    assert!(
        !doc["failure_reason"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{doc}"
    );
    let id = doc["id"].as_str().unwrap();
    assert_eq!(
        app.get(&alice, &format!("/documents/{id}/content?format=text"))
            .await
            .status(),
        StatusCode::CONFLICT
    );
}

#[tokio::test]
async fn replacing_makes_a_new_version_that_search_follows() {
    let app = app().await;
    let (_, alice) = test_user();
    let (_, doc) = app
        .upload_md(&alice, "notes.md", "# Notes\n\nThe launch code is walrus.")
        .await;
    let id = doc["id"].as_str().unwrap();
    let response = app
        .http
        .put(format!("{}/documents/{id}/content", app.base))
        .header("authorization", &alice)
        .header("content-type", "text/markdown")
        .body("# Notes\n\nThe launch code is pelican.")
        .send()
        .await
        .unwrap();
    let (status, replaced) = body(response).await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(
        (replaced["version"].as_u64(), replaced["status"].as_str()),
        (Some(2), Some("ready"))
    );
    let detail = app.json(&alice, &format!("/documents/{id}")).await;
    let versions: Vec<u64> = detail["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [2, 1]);
    assert_eq!(
        app.json(&alice, "/search?q=pelican").await["items"][0]["version"],
        2
    );
    assert!(
        app.items(&alice, "/search?q=walrus").await.is_empty(),
        "old versions are not searched"
    );

    let (_, renamed) = app.patch(&alice, id, json!({"name": "Launch notes"})).await;
    assert_eq!(renamed["name"], "Launch notes");
}

#[tokio::test]
async fn deleting_removes_metadata_bytes_and_index_segments() {
    let app = app().await;
    let (alice_id, alice) = test_user();
    let (_, doc) = app
        .upload_md(&alice, "gone.md", "# Gone\n\nZebras are striped.")
        .await;
    let id = doc["id"].as_str().unwrap();
    assert_eq!(app.delete(&alice, id).await, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&alice, &format!("/documents/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(app.items(&alice, "/search?q=zebras").await.is_empty());
    let leftovers = app
        .state
        .blobs
        .list(&format!("users/{alice_id}/"))
        .await
        .unwrap();
    assert!(leftovers.is_empty(), "every blob is gone: {leftovers:?}");
    // The same content can be uploaded again afterwards.
    assert_eq!(
        app.upload_md(&alice, "again.md", "# Gone\n\nZebras are striped.")
            .await
            .0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_presigned_upload_commits_and_a_wrong_length_or_tampered_url_keeps_nothing() {
    let app = app().await;
    let (alice_id, alice) = test_user();
    let content = format!(
        "# Big\n\n{}\n\nThe needle is a sapphire.",
        "filler text. ".repeat(40_000)
    );
    let start = |size: usize| {
        app.start_upload(
            &alice,
            json!({"name": "big.md", "kind": "dataset", "media_type": "text/markdown", "size": size}),
        )
    };
    let (status, pending) = start(content.len()).await;
    assert_eq!(status, StatusCode::CREATED, "{pending}");
    let id = pending["document_id"].as_str().unwrap();
    let url = pending["upload"]["url"].as_str().unwrap();

    let tampered = url.replace(id, "01ARZ3NDEKTSV4RRFFQ69G5FAV");
    assert_eq!(
        app.put_upload(&tampered, content.clone()).await,
        StatusCode::FORBIDDEN
    );

    assert_eq!(app.put_upload(url, content.clone()).await, 200);
    let commit = app.post(&alice, &format!("/documents/{id}/commit")).await;
    let (status, doc) = body(commit).await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    assert_eq!(
        (
            doc["id"].as_str(),
            doc["status"].as_str(),
            doc["size"].as_u64()
        ),
        (Some(id), Some("ready"), Some(content.len() as u64))
    );
    assert_eq!(
        app.json(&alice, "/search?q=sapphire%20needle").await["items"][0]["document_id"],
        id
    );

    // Announce one size, send another: the store refuses the PUT (the length is signed), and
    // nothing half-written remains.
    let (_, pending) = start(10).await;
    let id2 = pending["document_id"].as_str().unwrap();
    assert_eq!(
        pending["upload"]["headers"],
        json!([["content-type", "text/markdown"], ["content-length", "10"]])
    );
    assert_eq!(
        app.put_upload(
            pending["upload"]["url"].as_str().unwrap(),
            "more than ten bytes"
        )
        .await,
        StatusCode::FORBIDDEN
    );
    let upload_key = format!("uploads/users/{alice_id}/{id2}");
    assert!(app.state.blobs.head(&upload_key).await.unwrap().is_none());
    // Were a store to take it anyway (moto checks no signature), the commit refuses it.
    app.state
        .blobs
        .put(&upload_key, "more than ten bytes".into(), "text/markdown")
        .await
        .unwrap();
    let commit = app.post(&alice, &format!("/documents/{id2}/commit")).await;
    let (status, problem) = body(commit).await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("size"))
    );
    assert_eq!(
        app.get(&alice, &format!("/documents/{id2}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(
        app.state
            .blobs
            .list(&format!("uploads/users/{alice_id}/"))
            .await
            .unwrap()
            .is_empty()
    );
    // An announced size over the limit is an invalid field of the request (422 naming it), not
    // an oversize request body (413), as /openapi.json declares.
    let (status, problem) = start(1 << 30).await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("size"))
    );
    let (status, problem) = start(0).await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("size"))
    );
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_at_commit_before_it_is_read_and_nothing_is_indexed() {
    let counter: Arc<std::sync::OnceLock<Arc<CountingBlobs>>> = Default::default();
    let app = {
        let counter = counter.clone();
        app_with_blobs(move |inner| {
            let counting = Arc::new(CountingBlobs::new(inner));
            let _ = counter.set(counting.clone());
            counting
        })
        .await
    };
    let reads = counter.get().unwrap();
    let (alice_id, alice) = test_user();
    let (status, pending) = app.start_upload(&alice, json!({"name": "huge.md", "kind": "dataset", "media_type": "text/markdown", "size": 1000})).await;
    assert_eq!(status, StatusCode::CREATED, "{pending}");
    let id = pending["document_id"].as_str().unwrap();
    // What a store that enforces no signed length (moto) would let through: one byte over the
    // limit, whatever was announced.
    let over = ragenie_corpus::MAX_PRESIGNED_UPLOAD_BYTES as usize + 1;
    let key = format!("uploads/users/{alice_id}/{id}");
    app.state
        .blobs
        .put(&key, Bytes::from(vec![b'a'; over]), "text/markdown")
        .await
        .unwrap();
    let before = reads.calls().bytes_read;
    let commit = app.post(&alice, &format!("/documents/{id}/commit")).await;
    assert_eq!(commit.headers()["content-type"], "application/problem+json");
    let (status, problem) = body(commit).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains(&over.to_string()),
        "{problem}"
    );
    assert_eq!(
        reads.calls().bytes_read - before,
        0,
        "refused from its size (HEAD), not after reading it"
    );
    assert_eq!(
        app.get(&alice, &format!("/documents/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(app.items(&alice, "/documents").await.is_empty());
    assert!(
        app.state.blobs.head(&key).await.unwrap().is_none(),
        "removed"
    );
}

#[tokio::test]
async fn twenty_concurrent_uploads_all_end_up_searchable() {
    let app = std::sync::Arc::new(app().await);
    let (_, alice) = test_user();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (app, alice) = (app.clone(), alice.clone());
            tokio::spawn(async move {
                let text = format!("# Note {i}\n\nThe secret word number {i} is token{i}x.");
                app.upload_md(&alice, &format!("note{i}.md"), text).await.0
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::CREATED);
    }
    for i in 0..20 {
        let hits = app.json(&alice, &format!("/search?q=token{i}x&k=1")).await;
        assert_eq!(
            hits["items"][0]["document_name"],
            format!("note{i}.md"),
            "note {i} is searchable"
        );
    }
}

#[tokio::test]
async fn search_by_profile_covers_its_datasets_and_inherited_ones_only() {
    let app = app().await;
    let (alice_id, alice) = test_user();
    let (app_ref, alice_ref) = (&app, &alice);
    let upload = |name: &'static str, text: &'static str| async move {
        app_ref.upload_md(alice_ref, name, text).await.1["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let work = upload(
        "work.md",
        "# Work\n\nQuarterly revenue grew by nine percent.",
    )
    .await;
    let base = upload("base.md", "# Base\n\nRevenue reports are due on Fridays.").await;
    let private = upload(
        "private.md",
        "# Private\n\nMy revenue from the lemonade stand.",
    )
    .await;
    let user = alice_id;
    let table = app.state.table.as_ref();
    let parent = profiles::create(
        table,
        user,
        NewProfile {
            name: "Base".into(),
            dataset_ids: vec![base.clone()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let child = profiles::create(
        table,
        user,
        NewProfile {
            name: "Work".into(),
            dataset_ids: vec![work.clone()],
            parent_ids: vec![parent.id],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let hits = app
        .json(&alice, &format!("/search?q=revenue&profile={}", child.id))
        .await;
    let found: std::collections::HashSet<_> = hits["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["document_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(found, [work.clone(), base.clone()].into_iter().collect());
    assert!(!found.contains(&private));
    let listed = app
        .json(&alice, &format!("/documents?profile={}", child.id))
        .await;
    let ids: Vec<_> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, [base, work], "inherited documents first");
}

#[tokio::test]
async fn another_user_gets_404_on_every_documents_endpoint_and_changes_nothing() {
    let app = app().await;
    let (_, alice) = test_user();
    let (_, mallory) = test_user();
    let (_, doc) = app
        .upload_md(&alice, "secret.md", "# Secret\n\nThe vault code is 4471.")
        .await;
    let id = doc["id"].as_str().unwrap();
    let before = app.json(&alice, &format!("/documents/{id}")).await;

    let url = |p: &str| format!("{}{p}", app.base);
    let attempts = vec![
        app.http.get(url(&format!("/documents/{id}"))),
        app.http
            .patch(url(&format!("/documents/{id}")))
            .json(&json!({"name": "pwned"})),
        app.http.delete(url(&format!("/documents/{id}"))),
        app.http.get(url(&format!("/documents/{id}/content"))),
        app.http
            .get(url(&format!("/documents/{id}/content?format=text"))),
        app.http
            .put(url(&format!("/documents/{id}/content")))
            .header("content-type", "text/plain")
            .body("overwritten"),
        app.http.post(url(&format!("/documents/{id}/commit"))),
    ];
    for attempt in attempts {
        let response = attempt
            .header("authorization", &mallory)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert_eq!(status, StatusCode::NOT_FOUND, "{:?}", response.url().path());
    }
    assert!(
        app.items(&mallory, "/search?q=vault%20code")
            .await
            .is_empty()
    );
    assert!(app.items(&mallory, "/documents").await.is_empty());
    assert_eq!(
        app.json(&alice, &format!("/documents/{id}")).await,
        before,
        "alice's document is unchanged"
    );
    assert_eq!(
        app.json(&alice, "/search?q=vault%20code").await["items"][0]["document_id"],
        id
    );
}

#[tokio::test]
async fn many_small_documents_are_compacted_into_one_merged_segment_that_searches_the_same() {
    use ragenie_corpus::Corpus;
    let app = app().await;
    let (alice_id, alice) = test_user();
    for i in 0..20 {
        let text = format!(
            "# Note {i}\n\nThe code word of note {i} is kiwi{i}. Fruit salad recipes use kiwi."
        );
        assert_eq!(
            app.upload_md(&alice, &format!("n{i}.md"), text).await.0,
            StatusCode::CREATED
        );
    }
    let first = app.json(&alice, "/search?q=kiwi7%20fruit&k=5").await;
    let merged = format!("users/{alice_id}/segments/_merged.seg");
    let mut written = false;
    for _ in 0..100 {
        if app.state.blobs.head(&merged).await.unwrap().is_some() {
            written = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        written,
        "a merged segment is written once many separate segments were read"
    );
    // A cold process reads the merged segment and ranks exactly as before.
    let cold = Corpus::new(app.state.table.clone(), app.state.blobs.clone());
    let hits = cold.search(alice_id, None, "kiwi7 fruit", 5).await.unwrap();
    let ids: Vec<&str> = hits.iter().map(|h| h.document_id.as_str()).collect();
    let before: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["document_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, before);
    assert_eq!(hits[0].document_name, "n7.md");
    // Deleting a document drops the merged segment, so its text does not linger.
    let id = first["items"][0]["document_id"].as_str().unwrap();
    assert_eq!(app.delete(&alice, id).await, StatusCode::NO_CONTENT);
    assert!(app.state.blobs.head(&merged).await.unwrap().is_none());
    assert!(
        app.items(&alice, "/search?q=kiwi7")
            .await
            .iter()
            .all(|h| h["document_id"] != id)
    );
}

#[tokio::test]
async fn an_idempotency_key_makes_a_retried_upload_and_commit_return_the_original() {
    let app = app().await;
    let (_, alice) = test_user();
    let (_, bob) = test_user();
    let upload = |bearer: &str, key: &str, text: &str| {
        app.http
            .post(format!("{}/documents", app.base))
            .query(&[("kind", "dataset"), ("name", "notes.md")])
            .header("authorization", bearer)
            .header("content-type", "text/markdown")
            .header("idempotency-key", key)
            .body(text.to_owned())
            .send()
    };
    let (status, first) = body(
        upload(&alice, "k-1", "# Notes\n\nThe first.")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    // The retry gets the original answer (201, not the 200 `duplicate` a plain re-upload gets).
    let (status, again) = body(
        upload(&alice, "k-1", "# Notes\n\nThe first.")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, &again), (StatusCode::CREATED, &first));
    // The same key with another body is refused, and stores nothing.
    let (status, problem) = body(
        upload(&alice, "k-1", "# Other\n\nNot the same.")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key"),
        "{problem}"
    );
    assert_eq!(app.items(&alice, "/documents").await.len(), 1);
    // Keys are per user: Bob's same key with Alice's conflicting body is his own first upload.
    let (status, bobs) = body(
        upload(&bob, "k-1", "# Other\n\nNot the same.")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{bobs}");
    assert_ne!(bobs["id"], first["id"]);
    assert_eq!(app.items(&bob, "/documents").await.len(), 1);
    // A malformed key is a 400.
    let (status, _) = body(upload(&alice, "two words", "# x").await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A retried commit of a presigned upload returns the committed document again.
    let content = "# Big\n\nCommitted once.";
    let (_, pending) = app.start_upload(&alice, json!({"name": "big.md", "kind": "dataset", "media_type": "text/markdown", "size": content.len()})).await;
    let id = pending["document_id"].as_str().unwrap();
    assert_eq!(
        app.put_upload(pending["upload"]["url"].as_str().unwrap(), content)
            .await,
        200
    );
    let commit = |key: &str| {
        app.http
            .post(format!("{}/documents/{id}/commit", app.base))
            .header("authorization", &alice)
            .header("idempotency-key", key)
            .send()
    };
    let (status, committed) = body(commit("c-1").await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{committed}");
    let (status, again) = body(commit("c-1").await.unwrap()).await;
    assert_eq!((status, &again), (StatusCode::CREATED, &committed));
    // Without the key, a second commit is not a success: the replay above came from the record.
    let (status, _) = body(commit("c-2").await.unwrap()).await;
    assert!(!status.is_success(), "{status}");
    assert_eq!(app.items(&alice, "/documents").await.len(), 2);
}

/// The documents router with ingestion on a local queue and its background worker, as the local
/// server runs it.
async fn queued_app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let listener = TestServer::bind().await;
    let base = listener.base.clone();
    let state = embedded_state(dir.path(), &base).await;
    let (queue, jobs) = ragenie_common::storage::LocalQueue::new();
    let corpus = std::sync::Arc::new(
        ragenie_corpus::Corpus::new(state.table.clone(), state.blobs.clone())
            .with_queue(std::sync::Arc::new(queue)),
    );
    corpus.spawn_local_worker(jobs);
    let mut providers = ragenie_corpus::ProviderState::offline(state.clone()).unwrap();
    providers.corpus = corpus;
    let server = listener.serve(ragenie_common::http::with_fallback(
        ragenie_documents::router(providers),
    ));
    App {
        base,
        http: Client::new(),
        state,
        _dir: dir,
        _server: server,
    }
}

impl App {
    /// The document once background ingestion has settled it.
    async fn settled(&self, bearer: &str, id: &str) -> Value {
        ragenie_common::testing::settled_document(&self.http, &self.base, bearer, id).await
    }
}

#[tokio::test]
async fn an_upload_answers_pending_is_ingested_in_the_background_and_a_failed_one_is_retried() {
    let app = queued_app().await;
    let (_, alice) = test_user();
    let (status, doc) = app.upload_md(&alice, "guide.md", GUIDE).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(
        doc["status"] == "pending" || doc["status"] == "processing",
        "{doc}"
    );
    let id = doc["id"].as_str().unwrap();
    assert_eq!(app.settled(&alice, id).await["status"], "ready");
    let hits = app.json(&alice, "/search?q=tamp").await;
    assert_eq!(hits["items"][0]["document_id"], id);

    let (_, broken) = app.upload_broken_pdf(&alice).await;
    let broken_id = broken["id"].as_str().unwrap();
    let failed = app.settled(&alice, broken_id).await;
    assert_eq!(failed["status"], "failed");
    assert!(failed["failure_reason"].is_string(), "{failed}");
    let retry = |id: String| {
        let (http, url, bearer) = (
            app.http.clone(),
            format!("{}/documents/{id}/reindex", app.base),
            alice.clone(),
        );
        async move {
            http.post(url)
                .header("authorization", bearer)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(retry(broken_id.to_owned()).await.status(), 202);
    let again = app.settled(&alice, broken_id).await;
    assert_eq!(again["status"], "failed", "retried, and unreadable again");
    // Another user cannot retry it.
    let (_, mallory) = test_user();
    let foreign = app
        .post(&mallory, &format!("/documents/{broken_id}/reindex"))
        .await;
    assert_eq!(foreign.status(), 404);
    // Without an embedding model, a ready document has nothing to re-index: 409.
    assert_eq!(retry(id.to_owned()).await.status(), 409);
}

impl App {
    /// Uploads `text` as a Markdown dataset named `name` into `folder`; (status, body).
    async fn upload_in(
        &self,
        bearer: &str,
        folder: &str,
        name: &str,
        text: &str,
    ) -> (StatusCode, Value) {
        let request = self.request(Method::POST, bearer, "/documents");
        call(
            request
                .query(&[("kind", "dataset"), ("name", name), ("folder", folder)])
                .header("content-type", "text/markdown")
                .body(text.to_owned()),
        )
        .await
    }

    /// A profile named "Project" built from one folder.
    async fn folder_profile(&self, user: UserId, folder: &str) -> profiles::Profile {
        let new = NewProfile {
            name: "Project".into(),
            folders: vec![folder.into()],
            ..Default::default()
        };
        profiles::create(self.state.table.as_ref(), user, new)
            .await
            .unwrap()
    }

    async fn move_folder(&self, bearer: &str, request: Value) -> (StatusCode, Value) {
        let path = "/documents/folders/rename";
        call(self.request(Method::POST, bearer, path).json(&request)).await
    }

    async fn patch(&self, bearer: &str, id: &str, change: Value) -> (StatusCode, Value) {
        let path = format!("/documents/{id}");
        call(self.request(Method::PATCH, bearer, &path).json(&change)).await
    }
}

fn names_and_folders(list: &Value) -> Vec<(String, String)> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["folder"].as_str().unwrap().to_owned(),
                d["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn folders_keep_paths_names_are_unique_per_folder_and_bad_paths_get_422() {
    let app = app().await;
    let (_, alice) = test_user();
    // Three README.md from three folders stay three documents with their paths.
    let (status, a) = app
        .upload_in(&alice, "a", "README.md", "# A\n\nalpha")
        .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    assert_eq!(a["folder"], "a");
    let (status, b) = app
        .upload_form(
            &alice,
            &[("kind", "dataset"), ("folder", "b")],
            ("README.md", "text/markdown", b"# B\n\nbravo"),
        )
        .await;
    assert_in_folder(status, &b, StatusCode::CREATED, "b");
    let (status, c) = app
        .upload_in(&alice, "/c//d/", "README.md", "# C\n\ncharlie")
        .await;
    assert_in_folder(status, &c, StatusCode::CREATED, "c/d");

    // The same name in the same folder is refused; elsewhere it is fine.
    let (status, taken) = app
        .upload_in(&alice, "a", "README.md", "# A2\n\nanother")
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{taken}");
    assert!(
        taken["detail"].as_str().unwrap().contains("folder `a`"),
        "{taken}"
    );

    // Bad paths and names: 422 naming the field, nothing stored.
    for (folder, name, field) in [
        ("../etc", "x.md", "folder"),
        ("a/./b", "x.md", "folder"),
        (&"deep/".repeat(17), "x.md", "folder"),
        (&"n".repeat(101), "x.md", "folder"),
        ("a", "sub/x.md", "name"),
    ] {
        let (status, problem) = app.upload_in(&alice, folder, name, "# X\n\nx").await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{folder}: {problem}"
        );
        assert_eq!(problem["field"], field, "{problem}");
    }

    // Listing by folder, recursively or not, and the tree with its counts.
    let in_a = app.json(&alice, "/documents?folder=a").await;
    assert_eq!(names_and_folders(&in_a), [("a".into(), "README.md".into())]);
    assert!(app.items(&alice, "/documents?folder=c").await.is_empty());
    let under_c = app.json(&alice, "/documents?folder=c&recursive=true").await;
    assert_eq!(
        names_and_folders(&under_c),
        [("c/d".into(), "README.md".into())]
    );
    let page = app
        .json(&alice, "/documents?folder=&recursive=true&limit=2")
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = app
        .json(
            &alice,
            &format!("/documents?folder=&recursive=true&limit=2&cursor={cursor}"),
        )
        .await;
    assert_eq!(
        names_and_folders(&rest),
        [("c/d".into(), "README.md".into())]
    );
    assert!(rest["next_cursor"].is_null());
    let bad_cursor = app.get(&alice, "/documents?folder=a&cursor=zzz").await;
    assert_eq!(bad_cursor.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let tree = app.json(&alice, "/documents/folders").await;
    let rows: Vec<(String, u64, u64)> = tree["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["documents"].as_u64().unwrap(),
                f["total"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("".into(), 0, 3),
            ("a".into(), 1, 1),
            ("b".into(), 1, 1),
            ("c".into(), 0, 1),
            ("c/d".into(), 1, 1)
        ]
    );
    let first = app.json(&alice, "/documents/folders?limit=2").await;
    let next = first["next_cursor"].as_str().unwrap();
    let second = app
        .json(&alice, &format!("/documents/folders?limit=2&cursor={next}"))
        .await;
    assert_eq!(second["items"][0]["path"], "b");

    // Moving: into a folder holding the name is refused; elsewhere it frees the old name.
    let a_id = a["id"].as_str().unwrap();
    let (status, _) = app.patch(&alice, a_id, json!({"folder": "b"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, moved) = app.patch(&alice, a_id, json!({"folder": "e/f"})).await;
    assert_in_folder(status, &moved, StatusCode::OK, "e/f");
    let (status, _) = app
        .upload_in(&alice, "a", "README.md", "# A2\n\nanother")
        .await;
    assert_eq!(status, StatusCode::CREATED, "the name is free in `a` again");
    let (status, renamed) = app
        .patch(&alice, a_id, json!({"name": "INDEX.md", "folder": "a"}))
        .await;
    assert_eq!(
        (status, renamed["name"].as_str(), renamed["folder"].as_str()),
        (StatusCode::OK, Some("INDEX.md"), Some("a"))
    );
    for change in [json!({"folder": "../x"}), json!({"name": "x/y.md"})] {
        let (status, problem) = app.patch(&alice, a_id, change).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    }
    // Deleting frees the name too.
    let c_id = c["id"].as_str().unwrap();
    assert_eq!(app.delete(&alice, c_id).await, StatusCode::NO_CONTENT);
    let (status, _) = app
        .upload_in(&alice, "c/d", "README.md", "# C2\n\ncharlie two")
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // A presigned upload takes its folder when it starts, or from the commit.
    let content = "# Big\n\nin a folder";
    let (status, pending) = app.start_upload(&alice, json!({"name": "big.md", "folder": "p", "kind": "dataset", "media_type": "text/markdown", "size": content.len()})).await;
    assert_eq!(status, StatusCode::CREATED, "{pending}");
    assert_eq!(
        app.put_upload(pending["upload"]["url"].as_str().unwrap(), content)
            .await,
        200
    );
    let id = pending["document_id"].as_str().unwrap();
    let (status, doc) = body(
        app.post(&alice, &format!("/documents/{id}/commit?folder=q/r"))
            .await,
    )
    .await;
    assert_in_folder(status, &doc, StatusCode::CREATED, "q/r");
}

#[tokio::test]
async fn a_folder_scoped_profile_picks_up_a_file_added_later_and_other_users_see_nothing() {
    let app = app().await;
    let (alice_id, alice) = test_user();
    let (_, mallory) = test_user();
    let (_, first) = app
        .upload_in(
            &alice,
            "proj",
            "one.md",
            "# One\n\nThe launch code word is heron.",
        )
        .await;
    let (_, outside) = app
        .upload_in(
            &alice,
            "other",
            "two.md",
            "# Two\n\nThe heron nests by the lake.",
        )
        .await;
    let profile = app.folder_profile(alice_id, "/proj/").await;
    assert_eq!(profile.folders, ["proj"]);
    let found = |hits: Value| -> Vec<String> {
        let mut ids: Vec<String> = hits["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["document_id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let search = format!("/search?q=heron&profile={}", profile.id);
    assert_eq!(
        found(app.json(&alice, &search).await),
        [first["id"].as_str().unwrap()]
    );

    // A file added to a folder below it later joins the profile.
    let (status, later) = app
        .upload_in(
            &alice,
            "proj/notes",
            "three.md",
            "# Three\n\nA heron was seen at dawn.",
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut want = vec![
        first["id"].as_str().unwrap().to_owned(),
        later["id"].as_str().unwrap().to_owned(),
    ];
    want.sort();
    assert_eq!(found(app.json(&alice, &search).await), want);
    assert!(
        !found(app.json(&alice, &search).await)
            .contains(&outside["id"].as_str().unwrap().to_owned())
    );
    let listed = app
        .json(&alice, &format!("/documents?profile={}", profile.id))
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    let one = app
        .json(
            &alice,
            &format!("/documents?profile={}&limit=1", profile.id),
        )
        .await;
    assert_eq!(one["next_cursor"], "o1");

    // Another user: nothing in the tree or the folder, 404 on moving or committing into one.
    assert!(app.items(&mallory, "/documents/folders").await.is_empty());
    assert!(
        app.items(&mallory, "/documents?folder=proj&recursive=true")
            .await
            .is_empty()
    );
    let (status, _) = app
        .patch(
            &mallory,
            first["id"].as_str().unwrap(),
            json!({"folder": "stolen"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .upload_in(&mallory, "proj", "one.md", "# Mine\n\nmallory's")
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "names are per user: mallory's own proj/one.md"
    );
    assert_eq!(app.items(&alice, "/documents?folder=proj").await.len(), 1);
    assert_eq!(
        found(app.json(&alice, &search).await),
        want,
        "alice's profile is unchanged"
    );
}

#[tokio::test]
async fn a_folder_moves_with_its_subfolders_in_batches_its_profile_follows_and_strangers_get_404() {
    let app = app().await;
    let (alice_id, alice) = test_user();
    let (_, mallory) = test_user();
    for (folder, name) in [
        ("proj", "a.md"),
        ("proj", "b.md"),
        ("proj/sub", "c.md"),
        ("other", "x.md"),
    ] {
        let text = format!("# {name}\n\nThe kestrel hovers over {folder}.");
        let (status, _) = app.upload_in(&alice, folder, name, &text).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let profile = app.folder_profile(alice_id, "proj").await;
    let in_tree = |tree: &Value| -> Vec<(String, u64)> {
        tree["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["path"].as_str().unwrap().to_owned(),
                    f["total"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let before = in_tree(&app.json(&alice, "/documents/folders").await);

    // Another user cannot move (or learn about) alice's folder.
    let (status, problem) = app
        .move_folder(&mallory, json!({"from": "proj", "to": "stolen"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    assert_eq!(
        in_tree(&app.json(&alice, "/documents/folders").await),
        before
    );

    // A bounded batch, then the same call again finishes it.
    let (status, first) = app
        .move_folder(
            &alice,
            json!({"from": "proj", "to": "archive/proj", "limit": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(
        first,
        json!({"from": "proj", "to": "archive/proj", "moved": 2, "remaining": 1,
            "profiles_updated": 1, "done": false})
    );
    let (status, last) = app
        .move_folder(&alice, json!({"from": "proj", "to": "archive/proj"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{last}");
    assert_eq!(
        (&last["moved"], &last["remaining"], &last["done"]),
        (&json!(1), &json!(0), &json!(true))
    );
    assert_eq!(
        in_tree(&app.json(&alice, "/documents/folders").await),
        [
            ("".into(), 4),
            ("archive".into(), 3),
            ("archive/proj".into(), 3),
            ("archive/proj/sub".into(), 1),
            ("other".into(), 1)
        ]
    );
    let profile_now = profiles::get(app.state.table.as_ref(), alice_id, profile.id)
        .await
        .unwrap();
    assert_eq!(profile_now.folders, ["archive/proj"]);
    // The profile still brings every moved document, to lists and to search.
    let listed = app
        .json(&alice, &format!("/documents?profile={}", profile.id))
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 3);
    let hits = app
        .json(
            &alice,
            &format!("/search?q=kestrel&profile={}&k=10", profile.id),
        )
        .await;
    assert_eq!(hits["items"].as_array().unwrap().len(), 3);
    // A repeat of the finished move is done with nothing to move.
    let (status, repeat) = app
        .move_folder(&alice, json!({"from": "proj", "to": "archive/proj"}))
        .await;
    assert_eq!(
        (status, &repeat["moved"], &repeat["done"]),
        (StatusCode::OK, &json!(0), &json!(true))
    );

    // A name taken at the destination: 409 naming it, nothing moved.
    let (status, _) = app
        .upload_in(&alice, "other", "a.md", "# Another a\n\nnot the same")
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, conflict) = app
        .move_folder(&alice, json!({"from": "archive/proj", "to": "other"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{conflict}");
    let detail = conflict["detail"].as_str().unwrap();
    assert!(
        detail.contains("`archive/proj/a.md` → `other/a.md`"),
        "{detail}"
    );
    assert!(detail.starts_with("nothing moved"), "{detail}");
    assert_eq!(
        app.items(&alice, "/documents?folder=archive/proj&recursive=true")
            .await
            .len(),
        3
    );

    // Into itself, from the top level, bad limits and fields: 422 naming the field.
    for (request, field) in [
        (json!({"from": "other", "to": "other"}), "to"),
        (
            json!({"from": "archive", "to": "archive/proj/deeper"}),
            "to",
        ),
        (json!({"from": "/", "to": "x"}), "from"),
        (json!({"from": "other", "to": "../x"}), "to"),
        (json!({"from": "other", "to": "x", "limit": 0}), "limit"),
        (json!({"from": "other", "to": "x", "limit": 501}), "limit"),
    ] {
        let (status, problem) = app.move_folder(&alice, request.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{request}: {problem}"
        );
        assert_eq!(problem["field"], field, "{request}: {problem}");
    }
    let (status, _) = app
        .move_folder(&alice, json!({"from": "other", "to": "x", "force": true}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        in_tree(&app.json(&alice, "/documents/folders").await)[4],
        ("other".into(), 2)
    );
}
