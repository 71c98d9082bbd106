//! The command-line client's library against the real routers: imports of both Ragbot layouts
//! and every session oddity, idempotence, dry runs, bad files, chat, and export round trips.

mod helpers;

use std::path::Path;

use helpers::{SESSION_EPOCH, account, fixture, fixture_copy, ragenie, server, view};
use ragenie_cli::cli::build_plan;
use ragenie_cli::client::Client;
use ragenie_cli::import::{Report, execute};
use ragenie_cli::plan::DEFAULT_MAX_FILE_BYTES;
use ragenie_cli::ragbot::ReadOptions;
use ragenie_common::storage::{Condition, Item};

fn opts(max_file_bytes: u64) -> ReadOptions {
    ReadOptions {
        max_file_bytes,
        allow_outside: false,
    }
}

async fn import_dir(client: &Client, root: &Path, max: u64, dry_run: bool) -> Report {
    let plan = build_plan(Some(root), &[], None, opts(max)).unwrap();
    execute(client, &plan, dry_run).await.unwrap()
}

fn reason_for<'a>(report: &'a Report, path_end: &str) -> &'a str {
    report
        .skipped
        .iter()
        .find(|s| s.path.ends_with(path_end))
        .map(|s| s.reason.as_str())
        .unwrap_or_else(|| panic!("{path_end} not skipped: {:#?}", report.skipped))
}

#[tokio::test]
async fn the_workspace_layout_becomes_profiles_documents_conversations_and_preferences() {
    let server = server().await;
    let (client, _) = account(&server).await;
    let (_tmp, root) = fixture_copy("workspaces-data");
    let report = import_dir(&client, &root, DEFAULT_MAX_FILE_BYTES, false).await;
    println!("{}", report.render());

    assert_eq!(report.documents_created, 11, "{}", report.render());
    assert_eq!(report.profiles_created, 5);
    assert_eq!(report.conversations_created, 4);
    // Three session files are bad or empty, one image, one broken workspace.yaml, one link
    // to nowhere.
    assert_eq!(report.skipped.len(), 6, "{:#?}", report.skipped);
    assert!(reason_for(&report, "photo.png").contains("binary"));
    assert!(reason_for(&report, "broken/workspace.yaml").contains("invalid YAML"));
    assert!(reason_for(&report, "truncated.json").contains("invalid JSON"));
    assert!(reason_for(&report, "settings.json").contains("expected a JSON array"));
    assert!(reason_for(&report, "only-system.json").contains("no user or assistant"));
    assert!(reason_for(&report, "lost-on-another-disk.md").contains("unreadable"));
    assert!(
        report.system_messages_dropped > 2000,
        "{}",
        report.system_messages_dropped
    );
    assert_eq!(report.context_messages_dropped, 1);

    let v = view(&client).await;
    let names: Vec<&str> = v.profiles.keys().map(String::as_str).collect();
    assert_eq!(names, ["Base", "Client X", "Personal", "Work", "broken"]);
    // Inheritance kept; the Work ↔ Client X loop cut where it closed.
    assert_eq!(v.profiles["Personal"].parents, ["Base"]);
    assert_eq!(v.profiles["Work"].parents, ["Base"]);
    assert_eq!(v.profiles["Client X"].parents, ["Work"]);
    assert_eq!(
        v.profiles["Base"].description,
        "What every workspace shares"
    );
    // The same tone.md in two workspaces is one document linked twice.
    assert_eq!(
        v.profiles["Base"].instructions[0],
        v.profiles["Work"].instructions[0]
    );
    assert_eq!(
        v.profiles["Base"].instructions.len(),
        2,
        "instructions/ and runbooks/"
    );
    let doc_name = |hash: &String| v.documents[hash].0.clone();
    let personal: Vec<String> = v.profiles["Personal"]
        .datasets
        .iter()
        .map(doc_name)
        .collect();
    assert_eq!(
        personal,
        [
            "workspaces/personal/datasets/recipes.txt",
            "workspaces/personal/datasets/travel/paris.md",
            "workspaces/personal/household.yaml",
            "shared/bio.md",
            "shared/datasets/team.md",
        ]
    );
    assert_eq!(
        v.profiles["broken"].datasets.len(),
        1,
        "its files still come in"
    );

    // Sessions: title from the file name, date from the file time, no system messages.
    let paris = &v.conversations["2024-05-02 Paris museums"];
    assert_eq!(paris.created_at, SESSION_EPOCH as i64);
    assert_eq!(paris.turns.len(), 4);
    assert_eq!(paris.turns[0].0, "user");
    let exploded = &v.conversations["caldo verde (exploded system)"];
    assert_eq!(
        exploded.turns,
        [
            ("user".to_owned(), "What is in caldo verde?".to_owned()),
            (
                "assistant".to_owned(),
                "Kale, potatoes, chourico and olive oil.".to_owned()
            )
        ]
    );
    assert_eq!(exploded.created_at, SESSION_EPOCH as i64 + 3600);
    assert_eq!(
        v.conversations["no-system-role"].turns[0].1,
        "Who does design on the team?"
    );
    assert_eq!(v.conversations["new-style"].turns.len(), 4);

    // engines.yaml: the default engine's model where the catalog has it; what did not apply.
    assert_eq!(v.default_model.as_deref(), Some("claude-sonnet-4-5"));
    assert_eq!(v.default_profile.as_deref(), Some("Personal"));
    let not_applied = report.not_applied.join("\n");
    assert!(not_applied.contains("gpt-3.5-turbo-0301"), "{not_applied}");
    assert!(not_applied.contains("creative: 0.9"), "{not_applied}");
    assert!(
        !not_applied.contains("gemini/gemini-2.5-flash"),
        "gemini/ prefix matched"
    );

    // Twice: nothing new.
    let again = import_dir(&client, &root, DEFAULT_MAX_FILE_BYTES, false).await;
    assert_eq!(again.created(), 0, "{}", again.render());
    assert_eq!(again.documents_existing, 11);
    assert_eq!(again.profiles_matched, 5);
    assert_eq!(again.profiles_updated, 0);
    assert_eq!(again.conversations_existing, 4);
    assert_eq!(view(&client).await, v);
}

#[tokio::test]
async fn profiles_yaml_with_both_spellings_folders_and_a_moved_data_root() {
    let server = server().await;
    let (client, _) = account(&server).await;
    let (_tmp, root) = fixture_copy("profiles-data");
    let report = import_dir(&client, &root, 4096, false).await;
    println!("{}", report.render());

    let v = view(&client).await;
    let names: Vec<&str> = v.profiles.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["Coding", "Personal"],
        "the (none…) pseudo-profile is not one"
    );
    assert!(reason_for(&report, "`(none - dont use a profile)`").contains("no profile"));
    assert!(reason_for(&report, "`Personal`").contains("second profile"));
    assert!(reason_for(&report, "big-export.txt").contains("oversize"));
    assert!(reason_for(&report, "legacy-latin1.txt").contains("UTF-8"));
    assert!(reason_for(&report, "code/empty.md").contains("empty"));
    assert!(reason_for(&report, "curated-datasets/missing.md").contains("does not exist"));
    assert!(reason_for(&report, "unused.md").contains("not referenced"));

    let personal = &v.profiles["Personal"];
    let coding = &v.profiles["Coding"];
    assert_eq!(personal.instructions.len(), 1);
    assert_eq!(
        coding.instructions.len(),
        1,
        "a single string for `instructions:`"
    );
    // A folder means every file in it, nested ones too; shared-notes.md once for both.
    let personal_docs: Vec<&str> = personal
        .datasets
        .iter()
        .map(|h| v.documents[h].0.as_str())
        .collect();
    assert_eq!(
        personal_docs,
        [
            "curated-datasets/personal/family.md",
            "curated-datasets/personal/nested/hobbies.md",
            "curated-datasets/shared-notes.md",
        ]
    );
    assert_eq!(coding.datasets[0], personal.datasets[2]);
    // The absolute path from the old machine was found under this data root.
    assert_eq!(
        v.documents[&coding.datasets[1]].0,
        "curated-datasets/code/snippets.md"
    );
    assert_eq!(report.documents_created, 6);
    assert_eq!(report.document_links, 7);
}

#[tokio::test]
async fn a_dry_run_prints_the_plan_and_writes_nothing() {
    let server = server().await;
    let (client, _) = account(&server).await;
    let (_tmp, root) = fixture_copy("workspaces-data");
    let plan_report = import_dir(&client, &root, DEFAULT_MAX_FILE_BYTES, true).await;
    assert!(plan_report.render().starts_with("Dry run"));
    let empty = view(&client).await;
    assert!(empty.documents.is_empty() && empty.profiles.is_empty());
    assert!(empty.conversations.is_empty() && empty.default_model.is_none());

    let real = import_dir(&client, &root, DEFAULT_MAX_FILE_BYTES, false).await;
    assert_eq!(
        (
            plan_report.documents_created,
            plan_report.profiles_created,
            plan_report.conversations_created,
            plan_report.document_links,
            plan_report.parent_links,
            plan_report.skipped.len(),
        ),
        (
            real.documents_created,
            real.profiles_created,
            real.conversations_created,
            real.document_links,
            real.parent_links,
            real.skipped.len(),
        )
    );
    // A dry run after the import sees it all there.
    let after = import_dir(&client, &root, DEFAULT_MAX_FILE_BYTES, true).await;
    assert_eq!(after.documents_created + after.profiles_created, 0);
}

#[tokio::test]
async fn bad_files_are_reported_by_the_command_and_the_rest_continues() {
    let server = server().await;
    let (client, _) = account(&server).await;
    let key = login_key(&server).await;
    let data = fixture("bad-files-data");
    let sessions = fixture("workspaces-data/sessions");
    let (result, out, err) = ragenie(
        &client,
        Some(&key),
        &[
            "import",
            data.to_str().unwrap(),
            "--sessions",
            sessions.join("new-style.json").to_str().unwrap(),
        ],
    )
    .await;
    assert!(result.is_ok(), "{result:?} {err}");
    assert!(out.contains("profiles.yaml — invalid YAML"), "{out}");
    assert!(out.contains("engines.yaml — invalid YAML"), "{out}");
    assert!(out.contains("binary.json — invalid JSON"), "{out}");
    assert!(out.contains("Skipped: 3 files"), "{out}");
    assert!(
        err.contains("… conversations: 1 conversation"),
        "progress: {err}"
    );
    let keyed = Client::new(&server.base, Some(key)).unwrap();
    assert_eq!(
        keyed.conversations().await.unwrap().len(),
        1,
        "the good session came in"
    );
}

/// A second account signed in through the command (`ragenie login`), returning its key.
async fn login_key(server: &helpers::Server) -> String {
    let email = format!("login-{}@example.test", std::process::id());
    let anonymous = Client::new(&server.base, None).unwrap();
    anonymous.register(&email, helpers::PASSWORD).await.unwrap();
    let config = tempfile::tempdir().unwrap();
    let config_file = config.path().join("ragenie/config.json");
    let input = format!("{}\n", helpers::PASSWORD);
    let argv = [
        "ragenie",
        "--url",
        &server.base,
        "--config",
        config_file.to_str().unwrap(),
        "login",
        "--email",
        &email,
        "--password-stdin",
    ]
    .map(std::ffi::OsString::from);
    let (result, out, _) = helpers::run_cli(argv.into(), input.as_bytes()).await;
    result.unwrap();
    assert!(out.contains("Signed in"));
    let stored = ragenie_cli::config::Config::load(&config_file).unwrap();
    stored
        .resolve_key(&server.base, None)
        .expect("login stored a key for this server")
}

#[tokio::test]
async fn chat_streams_the_answer_then_tokens_and_cost() {
    let server = server().await;
    let (client, _) = account(&server).await;
    let (_tmp, root) = fixture_copy("workspaces-data");
    import_dir(&client, &root, DEFAULT_MAX_FILE_BYTES, false).await;
    let key = login_key(&server).await;
    let keyed = Client::new(&server.base, Some(key.clone())).unwrap();
    let (result, out, _) = ragenie(&keyed, Some(&key), &["profiles"]).await;
    assert!(result.is_ok());
    assert!(
        out.contains("No profiles yet"),
        "another account sees none: {out}"
    );

    // The offline server answers from the documents (retrieval-only model).
    let (result, out, err) = ragenie_key_flag(
        &client,
        &[
            "chat",
            "--profile",
            "personal",
            "--model",
            "ragenie-retrieval-only",
            "Which museum does the pass cover in Paris?",
        ],
    )
    .await;
    assert!(result.is_ok(), "{result:?} {err}");
    assert!(out.to_lowercase().contains("orsay"), "{out}");
    assert!(err.contains("tokens in"), "{err}");
    assert!(err.contains("ragenie-retrieval-only"), "{err}");
    assert!(err.contains('$'), "{err}");
    let conversations = client.conversations().await.unwrap();
    let chatted = conversations
        .iter()
        .find(|c| c.message_count == 2 && c.profile_id.is_some())
        .expect("the chat made a conversation on the Personal profile");
    // Continue it from a file.
    let prompt = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(prompt.path(), "And the hotel?").unwrap();
    let (result, _, err) = ragenie_key_flag(
        &client,
        &[
            "chat",
            "--conversation",
            &chatted.id,
            "--file",
            prompt.path().to_str().unwrap(),
        ],
    )
    .await;
    assert!(result.is_ok(), "{result:?} {err}");
    assert_eq!(
        client
            .conversation(&chatted.id)
            .await
            .unwrap()
            .messages
            .len(),
        4
    );

    // The default model engines.yaml chose has no provider key on this server: the message
    // is refused with a hint, and the conversation started for it is not left behind.
    let count_before = client.conversations().await.unwrap().len();
    let (result, _, _) = ragenie(
        &client,
        Some(&api_key_of(&client).await),
        &["chat", "--profile", "Personal", "hello"],
    )
    .await;
    let message = format!("{:#}", result.unwrap_err());
    assert!(message.contains("ragenie models"), "{message}");
    assert!(message.contains("anthropic"), "{message}");
    assert_eq!(client.conversations().await.unwrap().len(), count_before);

    // The prompt on standard input, as `echo … | ragenie chat` sends it.
    let (result, out, err) = helpers::ragenie_with_stdin(
        &client,
        Some(&api_key_of(&client).await),
        &[
            "chat",
            "--profile",
            "Personal",
            "--model",
            "ragenie-retrieval-only",
        ],
        b"Who does design on the team?\n",
    )
    .await;
    assert!(result.is_ok(), "{result:?} {err}");
    assert!(out.contains("Mei"), "{out}");
    let (result, _, _) = ragenie_key_flag(&client, &["chat", "--profile", "Nope", "hi"]).await;
    assert!(
        result
            .unwrap_err()
            .to_string()
            .contains("no profile `Nope`")
    );
}

/// The key a helper client authenticates with (tests pass it to the command line).
async fn api_key_of(client: &Client) -> String {
    client.bearer().unwrap().to_owned()
}

/// [`ragenie`] with the client's key given as `--api-key` before `args`.
async fn ragenie_key_flag(client: &Client, args: &[&str]) -> (anyhow::Result<()>, String, String) {
    let key = api_key_of(client).await;
    let argv = [&["--api-key", key.as_str()], args].concat();
    ragenie(client, None, &argv).await
}

#[tokio::test]
async fn export_then_import_into_fresh_accounts_loses_nothing() {
    let server = server().await;
    let (source, _) = account(&server).await;
    let (_a, workspaces) = fixture_copy("workspaces-data");
    let (_b, profiles) = fixture_copy("profiles-data");
    import_dir(&source, &workspaces, DEFAULT_MAX_FILE_BYTES, false).await;
    import_dir(&source, &profiles, 4096, false).await;
    // A document no profile uses, and a conversation made by chatting.
    source
        .upload_document(
            "loose notes.md",
            "",
            "dataset",
            "text/markdown",
            b"# Loose\n\nNo profile uses me.\n".to_vec(),
        )
        .await
        .unwrap();
    let key = api_key_of(&source).await;
    let (result, _, err) = ragenie(
        &source,
        Some(&key),
        &[
            "chat",
            "--profile",
            "Work",
            "--model",
            "ragenie-retrieval-only",
            "How is the ingestion pipeline wired",
        ],
    )
    .await;
    assert!(result.is_ok(), "{err}");
    let before = view(&source).await;
    assert_eq!(before.profiles.len(), 6, "Personal is in both fixtures");
    assert_eq!(before.conversations.len(), 5);

    let out = tempfile::tempdir().unwrap();
    let folder = out.path().join("ragbot-data");
    let archive = out.path().join("account.json");
    let (result, text, err) =
        ragenie(&source, Some(&key), &["export", folder.to_str().unwrap()]).await;
    assert!(result.is_ok(), "{err}");
    assert!(text.contains("6 profiles"), "{text}");
    let (result, _, err) =
        ragenie(&source, Some(&key), &["export", archive.to_str().unwrap()]).await;
    assert!(result.is_ok(), "{err}");
    assert!(folder.join("workspaces/personal/workspace.yaml").is_file());
    assert!(folder.join("unlinked/datasets/loose notes.md").is_file());

    // The archive brings back everything, names and kinds included.
    let (fresh, _) = account(&server).await;
    let report = execute(
        &fresh,
        &build_plan(Some(&archive), &[], None, opts(DEFAULT_MAX_FILE_BYTES)).unwrap(),
        false,
    )
    .await
    .unwrap();
    assert!(report.skipped.is_empty(), "{}", report.render());
    assert_eq!(view(&fresh).await, before);
    // Importing the archive again, or into the account it came from, adds nothing.
    let plan = build_plan(Some(&archive), &[], None, opts(DEFAULT_MAX_FILE_BYTES)).unwrap();
    assert_eq!(execute(&fresh, &plan, false).await.unwrap().created(), 0);
    assert_eq!(execute(&source, &plan, false).await.unwrap().created(), 0);

    // The Ragbot folder: the same profiles, links, inheritance, contents and conversations.
    // What Ragbot's files cannot hold is not compared: document names carry the new folder,
    // and a session file names no profile.
    let (ragbot, _) = account(&server).await;
    let report = import_dir(&ragbot, &folder, DEFAULT_MAX_FILE_BYTES, false).await;
    assert!(report.skipped.is_empty(), "{}", report.render());
    let after = view(&ragbot).await.datasets_unordered();
    let before = before.datasets_unordered();
    let strip = |v: &helpers::View| -> (Vec<String>, Vec<(String, String)>) {
        (
            v.documents.keys().cloned().collect(),
            v.documents
                .iter()
                .map(|(h, (name, _))| (h.clone(), name.rsplit('/').next().unwrap().to_owned()))
                .collect(),
        )
    };
    assert_eq!(
        strip(&after),
        strip(&before),
        "same contents, same file names"
    );
    assert_eq!(after.profiles, before.profiles);
    assert_eq!(after.default_model, before.default_model);
    assert_eq!(after.default_profile, before.default_profile);
    assert_eq!(
        after.conversations.keys().collect::<Vec<_>>(),
        before.conversations.keys().collect::<Vec<_>>()
    );
    for (title, c) in &before.conversations {
        assert_eq!(after.conversations[title].turns, c.turns, "{title}");
        assert_eq!(
            after.conversations[title].created_at, c.created_at,
            "{title}"
        );
    }
}

#[test]
fn one_file_in_place_of_a_folder_is_read_for_what_it_is() {
    let data = fixture("workspaces-data");
    let session = build_plan(
        Some(&data.join("sessions/new-style.json")),
        &[],
        None,
        opts(DEFAULT_MAX_FILE_BYTES),
    )
    .unwrap();
    assert_eq!(session.conversations.len(), 1);
    assert_eq!(session.conversations[0].title, "new-style");
    let engines = build_plan(
        Some(&data.join("engines.yaml")),
        &[],
        None,
        opts(DEFAULT_MAX_FILE_BYTES),
    )
    .unwrap();
    let engines = engines.engines.unwrap();
    assert_eq!(engines.default_model.as_deref(), Some("claude-sonnet-4-5"));
    assert_eq!(engines.models.len(), 4);
    let profiles = build_plan(
        Some(&fixture("profiles-data/profiles.yaml")),
        &[],
        None,
        opts(DEFAULT_MAX_FILE_BYTES),
    )
    .unwrap();
    assert_eq!(profiles.profiles.len(), 2);
    let not_archive = build_plan(
        Some(&data.join("sessions/settings.json")),
        &[],
        None,
        opts(DEFAULT_MAX_FILE_BYTES),
    )
    .unwrap();
    assert!(
        not_archive.skipped[0]
            .reason
            .contains("not a RaGenie archive")
    );
}

// `ragenie admin …`: the first account is the admin; a second one is held for approval,
// approved, given a quota, models and a role, suspended and reactivated; models are listed,
// disabled, priced; a plain user's key is refused.

/// Runs `ragenie --url … --api-key <key> admin <args>`: what it printed, or its error.
async fn admin(server: &helpers::Server, key: &str, args: &[&str]) -> Result<String, String> {
    let config = tempfile::tempdir().unwrap();
    let config_file = config.path().join("config.json");
    let mut argv = vec![
        "ragenie",
        "--url",
        &server.base,
        "--config",
        config_file.to_str().unwrap(),
        "--api-key",
        key,
        "admin",
    ];
    argv.extend_from_slice(args);
    let argv = argv.into_iter().map(std::ffi::OsString::from).collect();
    match helpers::run_cli(argv, b"").await {
        (Ok(()), out, _) => Ok(out),
        (Err(e), _, _) => Err(format!("{e:#}")),
    }
}

/// [`admin`], which must succeed and print `said`: what it printed.
async fn admin_says(server: &helpers::Server, key: &str, args: &[&str], said: &str) -> String {
    let out = admin(server, key, args).await.unwrap();
    assert!(out.contains(said), "{args:?}: {out}");
    out
}

/// The API key of a new account on `server`.
async fn key_of(server: &helpers::Server, email: &str) -> String {
    let anonymous = Client::new(&server.base, None).unwrap();
    let tokens = anonymous.register(email, helpers::PASSWORD).await.unwrap();
    anonymous
        .with_bearer(tokens.access_token)
        .create_api_key("t")
        .await
        .map(|k| k.key)
        .unwrap_or_default()
}

#[tokio::test]
async fn an_admin_governs_accounts_sign_ups_and_models_from_the_command_line() {
    let server = server().await;
    let key = key_of(&server, "admin@example.test").await;
    let me = Client::new(&server.base, Some(key.clone()))
        .unwrap()
        .me()
        .await
        .unwrap();
    assert_eq!(me["role"], "admin", "the first account is the admin");

    let out = admin(&server, &key, &["registration", "approval"])
        .await
        .unwrap();
    assert_eq!(out.trim(), "Registration: approval");
    // A new account now waits (it cannot even create an API key).
    assert_eq!(key_of(&server, "bob@example.test").await, "");
    let pending = admin(&server, &key, &["users", "--status", "pending"])
        .await
        .unwrap();
    assert!(
        pending.contains("bob@example.test") && pending.contains("pending"),
        "{pending}"
    );
    assert_eq!(pending.lines().count(), 1, "{pending}");

    let (s, k) = (&server, key.as_str());
    admin_says(s, k, &["approve", "bob@example.test"], "active").await;
    admin_says(s, k, &["quota", "bob@example.test", "2.5"], "quota $2.50").await;
    admin_says(
        s,
        k,
        &["quota", "bob@example.test", "default"],
        "default quota",
    )
    .await;
    let models = [
        "allow-models",
        "bob@example.test",
        "gpt-4.1",
        "claude-haiku-4-5",
    ];
    admin_says(s, k, &models, "models gpt-4.1,claude-haiku-4-5").await;
    let out = admin_says(s, k, &["allow-models", "bob@example.test", "--all"], "").await;
    assert!(!out.contains("models "), "{out}");
    admin_says(s, k, &["role", "bob@example.test", "admin"], " admin ").await;
    admin_says(s, k, &["role", "bob@example.test", "user"], "").await;
    admin_says(s, k, &["suspend", "bob@example.test"], "suspended").await;
    admin_says(s, k, &["reactivate", "bob@example.test"], "active").await;
    let err = admin(&server, &key, &["approve", "nobody@example.test"])
        .await
        .unwrap_err();
    assert!(err.contains("no account with the email"), "{err}");

    let out = admin(&server, &key, &["invite", "--hours", "5"])
        .await
        .unwrap();
    let token = out.lines().last().unwrap().trim();
    assert_eq!(token.len(), 40, "{out}");

    let list = admin_says(s, k, &["models", "list"], "").await;
    assert!(list.lines().any(|l| l.starts_with("+ gpt-4.1 ")), "{list}");
    let out = admin_says(s, k, &["models", "disable", "gpt-4.1"], "").await;
    assert!(out.starts_with("- gpt-4.1 "), "{out}");
    admin_says(
        s,
        k,
        &["models", "price", "gpt-4.1", "1", "2"],
        "$1/$2 per M",
    )
    .await;
    let out = admin_says(s, k, &["models", "enable", "gpt-4.1"], "").await;
    assert!(out.starts_with("+ gpt-4.1 "), "{out}");
    // No compatible server on this one: the server's reason comes through.
    let err = admin(
        &server,
        &key,
        &[
            "models",
            "add",
            "llama3.1",
            "--provider",
            "openai_compatible",
        ],
    )
    .await
    .unwrap_err();
    assert!(err.contains("not configured"), "{err}");

    let out = admin(&server, &key, &["backfill-users"]).await.unwrap();
    assert_eq!(out.trim(), "2 accounts read, 0 added to the admin list.");

    // A plain user's key is refused by the server.
    admin(&server, &key, &["registration", "open"])
        .await
        .unwrap();
    let user_key = key_of(&server, "carol@example.test").await;
    let err = admin(&server, &user_key, &["users"]).await.unwrap_err();
    assert!(err.contains("403"), "{err}");
}

/// A Ragbot folder holding whole source trees: same-named files in different folders stay
/// distinct documents, each with its path relative to the data folder, and a second import
/// creates nothing.
#[tokio::test]
async fn a_nested_folder_imports_same_named_files_with_their_paths() {
    let server = server().await;
    let (client, _) = account(&server).await;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for (dir, body) in [("a", "alpha"), ("b", "bravo"), ("c/deep", "charlie")] {
        let folder = root.join("curated-datasets/project").join(dir);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join("README.md"),
            format!("# {dir}\n\n{body} notes\n"),
        )
        .unwrap();
    }
    std::fs::write(
        root.join("profiles.yaml"),
        "profiles:\n  - name: Project\n    datasets:\n      - curated-datasets/project/\n",
    )
    .unwrap();
    let report = import_dir(&client, root, DEFAULT_MAX_FILE_BYTES, false).await;
    assert_eq!(report.documents_created, 3, "{}", report.render());
    let mut placed: Vec<(String, String)> = client
        .documents()
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.folder, d.name))
        .collect();
    placed.sort();
    assert_eq!(
        placed,
        [
            ("curated-datasets/project/a".into(), "README.md".into()),
            ("curated-datasets/project/b".into(), "README.md".into()),
            ("curated-datasets/project/c/deep".into(), "README.md".into()),
        ]
    );
    let again = import_dir(&client, root, DEFAULT_MAX_FILE_BYTES, false).await;
    assert_eq!((again.documents_created, again.documents_existing), (0, 3));
    assert_eq!(client.documents().await.unwrap().len(), 3);

    // `ragenie move-folder` moves the tree, and a profile built from a folder in it follows.
    let deep = client
        .create_profile(
            &serde_json::json!({"name": "Deep", "folders": ["curated-datasets/project/c"]}),
        )
        .await
        .unwrap();
    let key = client.bearer().map(str::to_owned);
    let args = ["move-folder", "curated-datasets/project", "archive/project"];
    let (result, out, err) = ragenie(&client, key.as_deref(), &args).await;
    assert!(result.is_ok(), "{result:?} {err}");
    assert_eq!(
        out,
        "Moved curated-datasets/project to archive/project: 3 documents, 1 profile update.\n"
    );
    let mut placed: Vec<String> = client
        .documents()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.folder)
        .collect();
    placed.sort();
    assert_eq!(
        placed,
        [
            "archive/project/a",
            "archive/project/b",
            "archive/project/c/deep"
        ]
    );
    let deep = client
        .call(
            reqwest::Method::GET,
            &format!("/profiles/{}", deep.id),
            None,
        )
        .await
        .unwrap();
    assert_eq!(deep["folders"], serde_json::json!(["archive/project/c"]));
    let (refused, _, _) = ragenie(
        &client,
        key.as_deref(),
        &["move-folder", "archive", "archive/in"],
    )
    .await;
    let refused = format!("{:#}", refused.unwrap_err());
    assert!(refused.contains("inside it"), "{refused}");
}

/// Writes `item` straight to the embedded store in `data`, as the server would have; the store
/// is closed again before this returns, so a command can open it.
async fn put_in_store(data: &Path, item: Item) {
    let state = ragenie_common::testing::embedded_state(data, "http://127.0.0.1:9").await;
    state.table.put(item, Condition::None).await.unwrap();
}

/// `ragenie admin fsck` as an operator runs it: the binary, the store named by the server's
/// settings (here an embedded data directory), no server URL or API key. Clean: exit 0; an
/// orphan: listed (JSON), exit non-zero.
#[tokio::test]
async fn admin_fsck_checks_the_store_itself_and_fails_on_a_finding() {
    use ragenie_common::accounts::UserId;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let fsck = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ragenie"))
            .args(["admin", "fsck"])
            .args(args)
            .env("RAGENIE_STORE", "embedded")
            .env("RAGENIE_DATA_DIR", &data)
            .env("RAGENIE_URL", "http://127.0.0.1:9")
            .env_remove("RAGENIE_API_KEY")
            .output()
            .unwrap()
    };
    let user = UserId::new();
    let kept = Item::new(user.partition(), "PROFILE#01KEPT").with("name", "Work");
    put_in_store(&data, kept).await;
    let clean = fsck(&[]);
    let out = String::from_utf8_lossy(&clean.stdout);
    assert!(
        clean.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&clean.stderr)
    );
    assert!(out.contains("0 problem(s)"), "{out}");

    put_in_store(&data, Item::new(user.partition(), "MSG#01GONE#01M")).await;
    let found = fsck(&["--json", "--user", &user.to_string()]);
    assert!(!found.status.success());
    let report: serde_json::Value = serde_json::from_slice(&found.stdout).unwrap();
    assert_eq!(report["findings"][0]["kind"], "orphan_item", "{report}");
    assert_eq!(report["findings"][0]["key"], "MSG#01GONE#01M", "{report}");
}
