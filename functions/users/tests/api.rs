//! The users function through its router on the embedded store: preferences, profiles (CRUD,
//! presets, inheritance, pagination, bad input), the profile chain other functions load, and
//! the isolation matrix (user B against user A's ids, profiles and API keys).

use axum::Router;
use axum::http::StatusCode;
use ragenie_common::AppState;
use ragenie_common::accounts::profiles::resolve_profile_chain;
use ragenie_common::accounts::{ProfileId, UserId};
use ragenie_common::config::Settings;
use ragenie_common::http::with_fallback;
use ragenie_common::testing::{self, Resp};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

struct App {
    router: Router,
    state: AppState,
    _dir: tempfile::TempDir,
}

async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::connect(Settings::embedded(dir.path(), "http://127.0.0.1:1"))
        .await
        .unwrap();
    let router = with_fallback(
        ragenie_users::router(state.clone()).merge(ragenie_auth::router(state.clone())),
    );
    App {
        router,
        state,
        _dir: dir,
    }
}

impl App {
    async fn raw(
        &self,
        method: &str,
        uri: &str,
        bearer: Option<&str>,
        body: Option<String>,
    ) -> Resp {
        let request = testing::request(method, uri, bearer, body, &[]);
        testing::oneshot(&self.router, request).await
    }

    async fn call(&self, method: &str, uri: &str, bearer: &str, body: Option<Value>) -> Resp {
        self.raw(method, uri, Some(bearer), body.map(|b| b.to_string()))
            .await
    }

    /// Registers a user; returns its access token and id.
    async fn user(&self, email: &str) -> (String, UserId) {
        let r = self
            .raw(
                "POST",
                "/auth/register",
                None,
                Some(json!({"email": email, "password": PASSWORD}).to_string()),
            )
            .await;
        let token = r.ok(201)["access_token"].as_str().unwrap().to_owned();
        let me = self.call("GET", "/auth/me", &token, None).await;
        let id = UserId::parse(me.ok(200)["id"].as_str().unwrap()).unwrap();
        (token, id)
    }

    /// `POST /profiles` as `token`.
    async fn create_profile(&self, token: &str, body: Value) -> Resp {
        self.call("POST", "/profiles", token, Some(body)).await
    }

    /// `PATCH /profiles/{id}` as `token`.
    async fn patch_profile(&self, token: &str, id: &str, body: Value) -> Resp {
        self.call("PATCH", &format!("/profiles/{id}"), token, Some(body))
            .await
    }

    /// A new profile (201 expected).
    async fn profile(&self, token: &str, body: Value) -> Value {
        self.create_profile(token, body).await.ok(201).clone()
    }
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_profile_is_created_read_listed_updated_and_deleted() {
    let app = app().await;
    let (t, _) = app.user("crud@example.com").await;
    let created = app
        .profile(
            &t,
            json!({
                "name": "  Work  ",
                "description": "Client work",
                "instruction_ids": ["doc-b", "doc-a"],
                "dataset_ids": ["ds1"],
                "default_model": "gpt-4o-mini",
                "max_output_tokens": 2048
            }),
        )
        .await;
    assert_eq!(created["name"], "Work", "names are trimmed");
    assert_eq!(
        created["instruction_ids"],
        json!(["doc-b", "doc-a"]),
        "order is kept"
    );
    assert_eq!(created["temperature_preset"], "balanced");
    assert_eq!(created["temperature"], 0.5);
    assert_eq!(created["parent_ids"], json!([]));
    assert_eq!(created["version"], 1);
    let id = id_of(&created);

    let got = app.call("GET", &format!("/profiles/{id}"), &t, None).await;
    assert_eq!(got.ok(200), &created);

    let list = app.call("GET", "/profiles", &t, None).await;
    assert_eq!(list.ok(200)["items"], json!([created.clone()]));
    assert_eq!(list.body["next_cursor"], Value::Null);

    let patched = app
        .patch_profile(&t, &id, json!({"description": "Changed", "default_model": null, "temperature_preset": "precise"}))
        .await;
    let patched = patched.ok(200);
    assert_eq!(patched["description"], "Changed");
    assert_eq!(patched["default_model"], Value::Null);
    assert_eq!(patched["temperature"], 0.25);
    assert_eq!(patched["max_output_tokens"], 2048, "absent fields are kept");
    assert_eq!(patched["version"], 2);

    // A stale version is a conflict and changes nothing.
    let stale = app
        .patch_profile(&t, &id, json!({"name": "Late", "version": 1}))
        .await;
    stale.problem(409);
    let r = app.call("GET", &format!("/profiles/{id}"), &t, None).await;
    assert_eq!(r.ok(200)["name"], "Work");

    app.call("DELETE", &format!("/profiles/{id}"), &t, None)
        .await
        .ok(204);
    app.call("GET", &format!("/profiles/{id}"), &t, None)
        .await
        .problem(404);
    app.call("DELETE", &format!("/profiles/{id}"), &t, None)
        .await
        .problem(404);
    app.call("GET", "/profiles/not-an-id", &t, None)
        .await
        .problem(404);
}

#[tokio::test]
async fn presets_set_the_temperature_and_custom_requires_a_value_within_range() {
    let app = app().await;
    let (t, _) = app.user("temp@example.com").await;
    for (preset, temp) in [("precise", 0.25), ("balanced", 0.5), ("creative", 0.75)] {
        let p = app
            .profile(&t, json!({"name": preset, "temperature_preset": preset}))
            .await;
        assert_eq!(p["temperature"], temp);
    }
    let custom = app
        .profile(
            &t,
            json!({"name": "c", "temperature_preset": "custom", "temperature": 1.3}),
        )
        .await;
    assert_eq!(custom["temperature"], 1.3);
    for body in [
        json!({"name": "x", "temperature_preset": "custom"}),
        json!({"name": "x", "temperature_preset": "custom", "temperature": 2.5}),
        json!({"name": "x", "temperature_preset": "custom", "temperature": -0.1}),
        json!({"name": "x", "temperature_preset": "precise", "temperature": 0.3}),
    ] {
        let r = app.create_profile(&t, body.clone()).await;
        assert_eq!(r.problem(422).as_deref(), Some("temperature"), "{body}");
    }
    let r = app
        .create_profile(&t, json!({"name": "x", "temperature_preset": "wild"}))
        .await;
    assert_eq!(r.problem(422).as_deref(), Some("temperature_preset"));
    // A PATCH with only a temperature makes the profile custom.
    let p = app
        .patch_profile(&t, &id_of(&custom), json!({"temperature": 0.1}))
        .await;
    assert_eq!(p.ok(200)["temperature_preset"], "custom");
    assert_eq!(p.body["temperature"], 0.1);
}

#[tokio::test]
async fn parents_must_exist_and_inheritance_cycles_are_refused() {
    let app = app().await;
    let (t, user) = app.user("tree@example.com").await;
    let base = app
        .profile(
            &t,
            json!({"name": "Base", "instruction_ids": ["style"], "dataset_ids": ["shared"]}),
        )
        .await;
    let team = app
        .profile(&t, json!({"name": "Team", "parent_ids": [id_of(&base)], "instruction_ids": ["team"], "dataset_ids": ["shared", "team-data"]}))
        .await;
    let me = app
        .profile(
            &t,
            json!({"name": "Me", "parent_ids": [id_of(&team)], "instruction_ids": ["mine"]}),
        )
        .await;

    // Base → Me would close a cycle (Me inherits Team inherits Base).
    let r = app
        .patch_profile(&t, &id_of(&base), json!({"parent_ids": [id_of(&me)]}))
        .await;
    assert_eq!(r.problem(422).as_deref(), Some("parent_ids"));
    let r = app
        .patch_profile(&t, &id_of(&base), json!({"parent_ids": [id_of(&base)]}))
        .await;
    assert_eq!(r.problem(422).as_deref(), Some("parent_ids[0]"));
    let r = app
        .create_profile(
            &t,
            json!({"name": "x", "parent_ids": [ProfileId::new().to_string()]}),
        )
        .await;
    assert_eq!(r.problem(422).as_deref(), Some("parent_ids[0]"));
    let r = app
        .create_profile(
            &t,
            json!({"name": "x", "parent_ids": [id_of(&base), id_of(&base)]}),
        )
        .await;
    assert_eq!(r.problem(422).as_deref(), Some("parent_ids[1]"));
    let r = app
        .create_profile(&t, json!({"name": "x", "parent_ids": ["nonsense"]}))
        .await;
    assert_eq!(r.problem(422).as_deref(), Some("parent_ids[0]"));

    // The chain other functions load: ancestors first, each once.
    let chain = resolve_profile_chain(
        app.state.table.as_ref(),
        user,
        ProfileId::parse(&id_of(&me)).unwrap(),
    )
    .await
    .unwrap();
    let names: Vec<&str> = chain.profiles().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Base", "Team", "Me"]);
    assert_eq!(chain.instruction_ids(), ["style", "team", "mine"]);
    assert_eq!(chain.dataset_ids(), ["shared", "team-data"]);

    // A parent cannot be deleted while a child inherits from it.
    let r = app
        .call("DELETE", &format!("/profiles/{}", id_of(&team)), &t, None)
        .await;
    r.problem(409);
    assert!(r.text.contains("Me"), "{}", r.text);
}

#[tokio::test]
async fn the_chain_of_a_diamond_lists_each_ancestor_once_after_its_parents() {
    let app = app().await;
    let (t, user) = app.user("diamond@example.com").await;
    let root = app.profile(&t, json!({"name": "Root"})).await;
    let left = app
        .profile(&t, json!({"name": "Left", "parent_ids": [id_of(&root)]}))
        .await;
    let right = app
        .profile(&t, json!({"name": "Right", "parent_ids": [id_of(&root)]}))
        .await;
    let leaf = app
        .profile(
            &t,
            json!({"name": "Leaf", "parent_ids": [id_of(&left), id_of(&right)]}),
        )
        .await;
    let chain = resolve_profile_chain(
        app.state.table.as_ref(),
        user,
        ProfileId::parse(&id_of(&leaf)).unwrap(),
    )
    .await
    .unwrap();
    let names: Vec<&str> = chain.ancestors.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Root", "Left", "Right"]);
    assert_eq!(chain.profile.name, "Leaf");
    // Someone else's id resolves to nothing.
    let (_, stranger) = app.user("stranger@example.com").await;
    let err = resolve_profile_chain(
        app.state.table.as_ref(),
        stranger,
        ProfileId::parse(&id_of(&leaf)).unwrap(),
    )
    .await
    .unwrap_err();
    assert!(matches!(
        err,
        ragenie_common::accounts::AccountError::NotFound(_)
    ));
}

#[tokio::test]
async fn profile_lists_are_paginated_with_opaque_cursors() {
    let app = app().await;
    let (t, _) = app.user("pages@example.com").await;
    for i in 0..5 {
        app.profile(&t, json!({"name": format!("p{i}")})).await;
    }
    let mut names = Vec::new();
    let mut uri = "/profiles?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = app.call("GET", &uri, &t, None).await;
        pages += 1;
        for p in page.ok(200)["items"].as_array().unwrap() {
            names.push(p["name"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => uri = format!("/profiles?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(names, ["p0", "p1", "p2", "p3", "p4"]);
    assert_eq!(pages, 3);
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=two", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("sort=name", "sort"),
    ] {
        let r = app
            .call("GET", &format!("/profiles?{query}"), &t, None)
            .await;
        assert_eq!(r.problem(422).as_deref(), Some(field), "{query}");
    }
}

#[tokio::test]
async fn preferences_default_then_save_and_point_only_at_the_users_own_profiles() {
    let app = app().await;
    let (t, _) = app.user("prefs@example.com").await;
    let r = app.call("GET", "/users/me/preferences", &t, None).await;
    assert_eq!(
        r.ok(200),
        &json!({"default_profile": null, "default_model": null, "theme": "system"})
    );
    let p = app.profile(&t, json!({"name": "Default"})).await;
    let saved = app
        .call(
            "PUT",
            "/users/me/preferences",
            &t,
            Some(json!({"default_profile": id_of(&p), "default_model": "claude-sonnet-4", "theme": "dark"})),
        )
        .await;
    assert_eq!(saved.ok(200)["theme"], "dark");
    let r = app.call("GET", "/users/me/preferences", &t, None).await;
    assert_eq!(r.ok(200)["default_profile"], id_of(&p).as_str());
    assert_eq!(r.body["default_model"], "claude-sonnet-4");

    for (body, field) in [
        (json!({"theme": "neon"}), "theme"),
        (
            json!({"default_profile": ProfileId::new().to_string()}),
            "default_profile",
        ),
        (json!({"default_profile": "x"}), "default_profile"),
        (json!({"default_model": ""}), "default_model"),
        (json!({"default_model": "m".repeat(201)}), "default_model"),
        (json!({"font": "serif"}), "font"),
    ] {
        let r = app
            .call("PUT", "/users/me/preferences", &t, Some(body.clone()))
            .await;
        assert_eq!(r.problem(422).as_deref(), Some(field), "{body}");
    }

    // Deleting the default profile clears the preference.
    app.call("DELETE", &format!("/profiles/{}", id_of(&p)), &t, None)
        .await
        .ok(204);
    let r = app.call("GET", "/users/me/preferences", &t, None).await;
    assert_eq!(r.ok(200)["default_profile"], Value::Null);
    assert_eq!(r.body["theme"], "dark");
}

#[tokio::test]
async fn bad_profile_input_is_a_4xx_problem_naming_the_field() {
    let app = app().await;
    let (t, _) = app.user("bad@example.com").await;
    let p = app.profile(&t, json!({"name": "ok"})).await;
    let patch_uri = format!("/profiles/{}", id_of(&p));
    let cases: Vec<(&str, &str, String, u16, Option<&str>)> = vec![
        ("POST", "/profiles", "{".into(), 400, None),
        ("POST", "/profiles", "{}".into(), 422, Some("name")),
        ("POST", "/profiles", json!({"name": ""}).to_string(), 422, Some("name")),
        ("POST", "/profiles", json!({"name": "   "}).to_string(), 422, Some("name")),
        ("POST", "/profiles", json!({"name": "n".repeat(101)}).to_string(), 422, Some("name")),
        ("POST", "/profiles", json!({"name": 7}).to_string(), 422, Some("name")),
        ("POST", "/profiles", json!({"name": "x", "description": "d".repeat(2001)}).to_string(), 422, Some("description")),
        ("POST", "/profiles", json!({"name": "x", "instruction_ids": "a"}).to_string(), 422, Some("instruction_ids")),
        ("POST", "/profiles", json!({"name": "x", "instruction_ids": ["ok", 5]}).to_string(), 422, Some("instruction_ids[1]")),
        ("POST", "/profiles", json!({"name": "x", "instruction_ids": ["ok", "../etc"]}).to_string(), 422, Some("instruction_ids[1]")),
        ("POST", "/profiles", json!({"name": "x", "dataset_ids": ["a", "a"]}).to_string(), 422, Some("dataset_ids[1]")),
        ("POST", "/profiles", json!({"name": "x", "dataset_ids": ["d".repeat(65)]}).to_string(), 422, Some("dataset_ids[0]")),
        ("POST", "/profiles", json!({"name": "x", "folders": ["a", "../etc"]}).to_string(), 422, Some("folders[1]")),
        ("POST", "/profiles", json!({"name": "x", "folders": ["/"]}).to_string(), 422, Some("folders[0]")),
        ("POST", "/profiles", json!({"name": "x", "folders": ["a/b", "/a/b/"]}).to_string(), 422, Some("folders[1]")),
        ("POST", "/profiles", json!({"name": "x", "folders": (0..51).map(|i| format!("f{i}")).collect::<Vec<_>>()}).to_string(), 422, Some("folders")),
        ("PATCH", &patch_uri, json!({"folders": ["a/./b"]}).to_string(), 422, Some("folders[0]")),
        ("POST", "/profiles", json!({"name": "x", "max_output_tokens": 0}).to_string(), 422, Some("max_output_tokens")),
        ("POST", "/profiles", json!({"name": "x", "max_output_tokens": -5}).to_string(), 422, Some("max_output_tokens")),
        ("POST", "/profiles", json!({"name": "x", "max_output_tokens": 1.5}).to_string(), 422, Some("max_output_tokens")),
        ("POST", "/profiles", json!({"name": "x", "default_model": "m".repeat(201)}).to_string(), 422, Some("default_model")),
        ("POST", "/profiles", json!({"name": "x", "owner": "someone"}).to_string(), 422, Some("owner")),
        ("POST", "/profiles", json!({"name": "x", "id": ProfileId::new().to_string()}).to_string(), 422, Some("id")),
        ("POST", "/profiles", json!({"name": "x", "dataset_ids": vec!["d"; 501].iter().enumerate().map(|(i, _)| format!("d{i}")).collect::<Vec<_>>()}).to_string(), 422, Some("dataset_ids")),
        ("POST", "/profiles", format!("{{\"name\":\"{}\"}}", "n".repeat(2 * 1024 * 1024)), 413, None),
        ("PATCH", &patch_uri, json!({"name": null}).to_string(), 422, Some("name")),
        ("PATCH", &patch_uri, json!({"name": "n".repeat(101)}).to_string(), 422, Some("name")),
        ("PATCH", &patch_uri, json!({"version": "one"}).to_string(), 422, Some("version")),
        ("PATCH", &patch_uri, json!({"colour": "red"}).to_string(), 422, Some("colour")),
        ("PATCH", &patch_uri, "\"just a string\"".into(), 422, Some("body")),
    ];
    for (method, uri, body, status, field) in cases {
        let r = app.raw(method, uri, Some(&t), Some(body.clone())).await;
        let got = r.problem(status);
        if field.is_some() {
            assert_eq!(
                got.as_deref(),
                field,
                "{method} {uri} {}: {}",
                &body[..body.len().min(100)],
                r.text
            );
        }
    }
    // Nothing of that changed the profile.
    let r = app.call("GET", &patch_uri, &t, None).await;
    assert_eq!(r.ok(200), &p);
}

#[tokio::test]
async fn every_route_demands_a_credential() {
    let app = app().await;
    let id = ProfileId::new();
    for (method, uri) in [
        ("GET", "/users/me/preferences".to_owned()),
        ("PUT", "/users/me/preferences".to_owned()),
        ("GET", "/profiles".to_owned()),
        ("POST", "/profiles".to_owned()),
        ("GET", format!("/profiles/{id}")),
        ("PATCH", format!("/profiles/{id}")),
        ("DELETE", format!("/profiles/{id}")),
    ] {
        let r = app.raw(method, &uri, None, Some("{}".into())).await;
        r.problem(401);
        let r = app
            .raw(method, &uri, Some("not-a-token"), Some("{}".into()))
            .await;
        r.problem(401);
    }
}

/// User B tries every profile and API-key endpoint with user A's ids: always 404 (or, where the
/// id is a reference inside a body, a 422 "no such profile"), never A's data; afterwards A's
/// data is exactly as it was.
#[tokio::test]
async fn isolation_matrix_user_b_cannot_see_or_touch_anything_of_user_a() {
    let app = app().await;
    let (a, _) = app.user("alice@example.com").await;
    let (b, _) = app.user("bob@example.com").await;
    let a_parent = app
        .profile(&a, json!({"name": "A base", "instruction_ids": ["a-doc"]}))
        .await;
    let a_profile = app
        .profile(
            &a,
            json!({"name": "A secret", "description": "private", "parent_ids": [id_of(&a_parent)]}),
        )
        .await;
    let pid = id_of(&a_profile);
    let key = app
        .call(
            "POST",
            "/auth/api-keys",
            &a,
            Some(json!({"name": "alice's key"})),
        )
        .await;
    let a_key_value = key.ok(201)["key"].as_str().unwrap().to_owned();
    let kid = id_of(&key.body);
    app.call(
        "PUT",
        "/users/me/preferences",
        &a,
        Some(json!({"default_profile": pid, "theme": "dark"})),
    )
    .await
    .ok(200);
    let a_cursor = app.call("GET", "/profiles?limit=1", &a, None).await.body["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let snapshot = |token: String| {
        let app = &app;
        async move {
            (
                app.call("GET", "/profiles", &token, None).await.text,
                app.call("GET", "/auth/api-keys", &token, None).await.text,
                app.call("GET", "/users/me/preferences", &token, None)
                    .await
                    .text,
            )
        }
    };
    let before = snapshot(a.clone()).await;

    // Direct access by id: 404, as for an id that does not exist.
    app.call("GET", &format!("/profiles/{pid}"), &b, None)
        .await
        .problem(404);
    app.patch_profile(&b, &pid, json!({"name": "pwned"}))
        .await
        .problem(404);
    app.call("DELETE", &format!("/profiles/{pid}"), &b, None)
        .await
        .problem(404);
    app.call(
        "DELETE",
        &format!("/profiles/{}", id_of(&a_parent)),
        &b,
        None,
    )
    .await
    .problem(404);
    app.call("DELETE", &format!("/auth/api-keys/{kid}"), &b, None)
        .await
        .problem(404);
    // References to A's profiles inside B's bodies: no such profile.
    let r = app
        .create_profile(&b, json!({"name": "leech", "parent_ids": [pid]}))
        .await;
    assert_eq!(r.problem(422).as_deref(), Some("parent_ids[0]"));
    let (b_own, _) = (app.profile(&b, json!({"name": "B's"})).await, ());
    let r = app
        .patch_profile(&b, &id_of(&b_own), json!({"parent_ids": [pid]}))
        .await;
    assert_eq!(r.problem(422).as_deref(), Some("parent_ids[0]"));
    let r = app
        .call(
            "PUT",
            "/users/me/preferences",
            &b,
            Some(json!({"default_profile": pid})),
        )
        .await;
    assert_eq!(r.problem(422).as_deref(), Some("default_profile"));
    // A's list cursor does not page B's list.
    let r = app
        .call("GET", &format!("/profiles?cursor={a_cursor}"), &b, None)
        .await;
    assert_eq!(r.problem(422).as_deref(), Some("cursor"));
    // B's lists and preferences show nothing of A's.
    let lists = [
        app.call("GET", "/profiles", &b, None).await,
        app.call("GET", "/auth/api-keys", &b, None).await,
        app.call("GET", "/users/me/preferences", &b, None).await,
    ];
    for r in &lists {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        for secret in [pid.as_str(), "A secret", "alice", &kid] {
            assert!(!r.text.contains(secret), "B sees {secret}: {}", r.text);
        }
    }
    assert_eq!(snapshot(a.clone()).await, before, "A's data changed");
    let r = app.call("GET", &format!("/profiles/{pid}"), &a, None).await;
    assert_eq!(r.ok(200), &a_profile);
    // A's key still works, and as A: B's attempts revoked nothing.
    let r = app.call("GET", "/auth/me", &a_key_value, None).await;
    assert_eq!(r.ok(200)["email"], "alice@example.com");
}
