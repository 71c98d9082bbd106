//! Deleting an account removes everything it owns, on the embedded store: items, document
//! bytes, text and segments, uploads, conversations, usage, sessions and API keys. The count
//! of what is left is nothing. (`tests/localstack` runs the same on DynamoDB and S3.)

use ragenie_common::config::Settings;
use ragenie_common::testing::{Remains, TestServer, populated_account, remains};
use serde_json::{Value, json};

#[tokio::test]
async fn deleting_an_account_leaves_nothing_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TestServer::bind().await;
    let providers =
        ragenie_local::connect(Settings::embedded(dir.path().join("data"), &listener.base))
            .await
            .unwrap();
    let state = providers.app.clone();
    let server = listener.serve(ragenie_local::app(providers, None));
    let account = populated_account(&server.base).await;
    let other = populated_account(&server.base).await;
    let before = remains(&state, &account).await;
    assert!(before.items > 10 && before.files >= 3, "{before:?}");
    assert!(before.email_claim && before.api_key_lookup);

    let http = reqwest::Client::new();
    let delete = |bearer: String, password: &str| {
        http.delete(server.url("/auth/me"))
            .header("authorization", bearer)
            .json(&json!({"password": password}))
            .send()
    };
    let bearer = format!("Bearer {}", account.access_token);
    assert_eq!(
        delete(bearer.clone(), "not my password")
            .await
            .unwrap()
            .status(),
        403
    );
    let with_key = delete(format!("Bearer {}", account.api_key), &account.password)
        .await
        .unwrap();
    assert_eq!(
        with_key.status(),
        403,
        "an API key cannot delete the account"
    );

    let response = delete(bearer.clone(), &account.password).await.unwrap();
    assert_eq!(response.status(), 200);
    let removed: Value = response.json().await.unwrap();
    let removed = &removed["removed"];
    assert_eq!(removed["documents"], 1, "{removed}");
    assert_eq!(removed["conversations"], 1, "{removed}");
    assert!(removed["messages"].as_u64().unwrap() >= 2, "{removed}");
    assert!(removed["usage_records"].as_u64().unwrap() >= 1, "{removed}");
    assert_eq!(removed["api_keys"], 1, "{removed}");
    assert_eq!(removed["profiles"], 1, "{removed}");
    // Its audit trail (sign-ins, the API key) went too.
    assert!(!before.audit_events.is_empty(), "{before:?}");
    assert_eq!(
        removed["items"].as_u64().unwrap() as usize,
        before.items + before.audit_events.len(),
        "{removed}"
    );
    assert_eq!(
        removed["files"].as_u64().unwrap() as usize,
        before.files,
        "{removed}"
    );

    // Nothing is left but the record of the deletion in the security trail.
    assert_eq!(remains(&state, &account).await, Remains::deleted());
    // The other account is untouched.
    assert_eq!(remains(&state, &other).await, remains(&state, &other).await);
    assert!(remains(&state, &other).await.items > 10);
    // Nothing works with the old credentials; the email is free again.
    let me = http
        .get(server.url("/auth/me"))
        .header("authorization", format!("Bearer {}", account.api_key))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
    let login = http
        .post(server.url("/auth/login"))
        .json(&json!({"email": account.email, "password": account.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 401);
    let again = http
        .post(server.url("/auth/register"))
        .json(&json!({"email": account.email, "password": account.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
}
