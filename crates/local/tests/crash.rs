//! Crash safety of the local server (the `ragenie-server` binary on the embedded store):
//! killed with SIGKILL in the middle of uploads and streamed answers, it restarts on the same
//! data with every acknowledged write, no half-done upload and the cut answers saved as
//! `interrupted`; stopped with SIGTERM, it lets short answers finish, ends long ones with a
//! clear event, and exits.

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use support::{ServerProcess, Streamed};

fn server_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_ragenie-server"))
}

/// A fake OpenAI server and the environment pointing a server at it.
async fn fakes() -> (
    ragenie_fake_providers::FakeHandle,
    Vec<(&'static str, String)>,
) {
    let (fakes, urls) = ragenie_fake_providers::spawn(Default::default())
        .await
        .unwrap();
    let env = vec![
        ("RAGENIE_OPENAI_BASE_URL", urls.openai.clone()),
        ("OPENAI_API_KEY", "crash-key".to_owned()),
    ];
    (fakes, env)
}

/// A server on a fresh data directory (kept in the returned folder) and a user signed up on it.
async fn server_with_user(
    env: &[(&'static str, String)],
    email: &str,
) -> (tempfile::TempDir, ServerProcess, reqwest::Client, String) {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(server_binary(), &dir.path().join("data"), env)
        .await
        .unwrap();
    let http = support::client();
    let auth = support::register(&http, &server.base, email).await.unwrap();
    (dir, server, http, auth)
}

/// Starts a streamed answer in `conv`; the returned receiver yields once its `meta` event (the
/// question acknowledged) arrived, the task the whole stream as the client saw it.
fn stream(
    http: &reqwest::Client,
    base: &str,
    auth: &str,
    conv: &str,
    content: &str,
) -> (
    tokio::sync::oneshot::Receiver<()>,
    tokio::task::JoinHandle<Streamed>,
) {
    let (acked, on_ack) = tokio::sync::oneshot::channel();
    let (http, base, auth, conv, content) = (
        http.clone(),
        base.to_owned(),
        auth.to_owned(),
        conv.to_owned(),
        content.to_owned(),
    );
    let task = tokio::spawn(async move {
        let mut acked = Some(acked);
        support::send_with(&http, &base, &auth, &conv, &content, |seen| {
            if seen.meta.is_some()
                && let Some(tx) = acked.take()
            {
                let _ = tx.send(());
            }
            false
        })
        .await
        .unwrap()
    });
    (on_ack, task)
}

async fn message(http: &reqwest::Client, base: &str, auth: &str, conv: &str, id: &str) -> Value {
    support::messages(http, base, auth, conv)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("message {id} is not stored"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_restarts_with_every_acknowledged_write_and_its_answers_marked_interrupted()
{
    let (_fakes, env) = fakes().await;
    // One kill in the test command; `scripts/bench.sh faults` runs the full form
    // (`RAGENIE_CRASH_ROUNDS=N`), each round killing the server later in the burst.
    let rounds: usize = std::env::var("RAGENIE_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    for round in 0..rounds {
        kill_during_a_burst_then_restart(&env, round).await;
    }
}

/// Kills the server once `6 + 7 × round` uploads are acknowledged, with three answers
/// streaming, then checks what the restarted server holds.
async fn kill_during_a_burst_then_restart(env: &[(&'static str, String)], round: usize) {
    let email = format!("crash{round}@crash.example");
    let (_dir, mut server, http, auth) = server_with_user(env, &email).await;
    let (base, data) = (server.base.clone(), server.data_dir.clone());

    // Three long answers (the default limit of answers at once), acknowledged before the kill.
    let mut streams = Vec::new();
    for i in 0..3 {
        let conv = support::conversation(&http, &base, &auth, None, "gpt-4o-mini")
            .await
            .unwrap();
        let question = format!("Tell me everything, part {i} [[fake:long=2000 delay=20]]");
        let (acked, task) = stream(&http, &base, &auth, &conv, &question);
        streams.push((conv, question, acked, task));
    }
    // A burst of uploads from four clients, running until the kill.
    let acknowledged: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let attempted: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let mut uploaders = Vec::new();
    for client in 0..4 {
        let (http, base, auth) = (http.clone(), base.clone(), auth.clone());
        let (acknowledged, attempted) = (acknowledged.clone(), attempted.clone());
        uploaders.push(tokio::spawn(async move {
            for n in 0.. {
                let name = format!("burst-{client}-{n}.md");
                let text = support::note(client * 10_000 + n, 400);
                attempted.lock().unwrap().push((name.clone(), text.clone()));
                match support::upload(&http, &base, &auth, &name, text.clone()).await {
                    Ok((201, body)) => acknowledged
                        .lock()
                        .unwrap()
                        .push((body["id"].as_str().unwrap().to_owned(), text)),
                    Ok((status, body)) => panic!("upload refused: {status} {body}"),
                    // The server was killed.
                    Err(_) => return,
                }
            }
        }));
    }
    for (_, _, acked, _) in &mut streams {
        tokio::time::timeout(Duration::from_secs(60), acked)
            .await
            .expect("every answer starts")
            .unwrap();
    }
    while acknowledged.lock().unwrap().len() < 6 + 7 * round {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.signal("KILL").unwrap();
    assert!(server.wait_exit(Duration::from_secs(10)).await.is_some());
    for uploader in uploaders {
        uploader.await.unwrap();
    }
    let mut seen = Vec::new();
    for (conv, question, _, task) in streams {
        let streamed = task.await.unwrap();
        assert!(streamed.broken && streamed.done.is_none(), "{streamed:?}");
        seen.push((conv, question, streamed));
    }
    drop(server);

    let server = ServerProcess::start(server_binary(), &data, env)
        .await
        .unwrap();
    let base = server.base.clone();
    let (status, auth) = support::login(&http, &base, &email).await.unwrap();
    assert_eq!(status, 200);
    let auth = auth.unwrap();

    // Every acknowledged upload is there, ready, with the bytes that were sent (the restarted
    // server queues the interrupted ones again: wait for its background ingestion).
    let acknowledged = acknowledged.lock().unwrap().clone();
    let before = support::get_json(&http, &base, &auth, "/documents?limit=200")
        .await
        .unwrap();
    let all: Vec<String> = before["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    support::wait_until_settled(&http, &base, &auth, &all)
        .await
        .unwrap();
    for (id, text) in &acknowledged {
        let doc = support::get_json(&http, &base, &auth, &format!("/documents/{id}"))
            .await
            .unwrap();
        assert_eq!(doc["status"], "ready", "{doc}");
        let link = support::get_json(&http, &base, &auth, &format!("/documents/{id}/content"))
            .await
            .unwrap();
        let bytes = support::fetch_text(&http, link["url"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(&bytes, text);
    }
    // The others are complete or gone: nothing is left pending, nothing unknown appears.
    let attempted = attempted.lock().unwrap().clone();
    let list = support::get_json(&http, &base, &auth, "/documents?limit=200")
        .await
        .unwrap();
    let listed = list["items"].as_array().unwrap();
    assert!(listed.len() >= acknowledged.len());
    for doc in listed {
        assert_eq!(doc["status"], "ready", "{doc}");
        assert!(
            attempted
                .iter()
                .any(|(name, _)| doc["name"] == name.as_str()),
            "{doc}"
        );
    }

    // The questions are stored; the cut answers are saved as interrupted, with a reason.
    for (conv, question, streamed) in &seen {
        let meta = streamed.meta.as_ref().unwrap();
        let asked = message(
            &http,
            &base,
            &auth,
            conv,
            meta["user_message_id"].as_str().unwrap(),
        )
        .await;
        assert_eq!(asked["content"], question.as_str());
        let answer = message(
            &http,
            &base,
            &auth,
            conv,
            meta["assistant_message_id"].as_str().unwrap(),
        )
        .await;
        assert_eq!(answer["finish_reason"], "interrupted", "{answer}");
        assert!(
            answer["error"].as_str().unwrap().contains("regenerate"),
            "{answer}"
        );
    }

    // What the killed answers held (three concurrent-answer slots) was given back: three new
    // answers at once are admitted and complete.
    let mut again = Vec::new();
    for (conv, _, _) in &seen {
        let (_, task) = stream(&http, &base, &auth, conv, "And briefly?");
        again.push(task);
    }
    for task in again {
        let streamed = task.await.unwrap();
        assert!(streamed.complete(), "{streamed:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_short_answers_finish_and_ends_long_ones_with_an_interrupted_event() {
    let (_fakes, mut env) = fakes().await;
    env.push(("RAGENIE_SHUTDOWN_GRACE_SECS", "2".into()));
    let (_dir, mut server, http, auth) = server_with_user(&env, "term@crash.example").await;
    let (base, data) = (server.base.clone(), server.data_dir.clone());
    let short_conv = support::conversation(&http, &base, &auth, None, "gpt-4o-mini")
        .await
        .unwrap();
    let long_conv = support::conversation(&http, &base, &auth, None, "gpt-4o-mini")
        .await
        .unwrap();
    // About half a second of answer, and about forty.
    let (short_acked, short) = stream(
        &http,
        &base,
        &auth,
        &short_conv,
        "Briefly [[fake:long=25 delay=20]]",
    );
    let (long_acked, long) = stream(
        &http,
        &base,
        &auth,
        &long_conv,
        "At length [[fake:long=2000 delay=20]]",
    );
    short_acked.await.unwrap();
    long_acked.await.unwrap();
    server.signal("TERM").unwrap();

    let short = short.await.unwrap();
    assert!(short.complete(), "{short:?}");
    assert_eq!(short.finish_reason(), Some("stop"));
    let long = long.await.unwrap();
    assert!(!long.broken, "the stream ends, it is not cut: {long:?}");
    assert_eq!(long.finish_reason(), Some("interrupted"), "{long:?}");
    assert!(
        long.errors.iter().any(|e| e.contains("shutting down")),
        "{long:?}"
    );
    let status = server
        .wait_exit(Duration::from_secs(15))
        .await
        .expect("the server exits after draining");
    assert!(status.success(), "{status:?}\n{}", server.log_text());
    drop(server);

    // The partial answer was saved as the client saw it, once (nothing left to recover).
    let server = ServerProcess::start(server_binary(), &data, &env)
        .await
        .unwrap();
    let messages = support::messages(&http, &server.base, &auth, &long_conv)
        .await
        .unwrap();
    assert_eq!(messages.len(), 2, "{messages:?}");
    let answer = &messages[1];
    assert_eq!(answer["finish_reason"], "interrupted");
    assert_eq!(answer["content"], long.text.as_str());
    assert!(!long.text.is_empty());
}
