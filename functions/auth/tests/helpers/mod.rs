//! The harness of the auth suite: a fresh embedded store per test and requests through the
//! router with `oneshot`.

#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use ragenie_auth::AuthOptions;
use ragenie_common::AppState;
use ragenie_common::config::Settings;
use ragenie_common::http::with_fallback;
use ragenie_common::testing;
pub use ragenie_common::testing::Resp;
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery staple";

pub struct App {
    pub router: Router,
    pub state: AppState,
    pub dir: tempfile::TempDir,
}

pub async fn app() -> App {
    app_with(AuthOptions::default()).await
}

pub async fn app_with(options: AuthOptions) -> App {
    app_configured(options, |_| {}).await
}

/// An app whose settings `configure` adjusts first (the operator's defaults, say).
pub async fn app_configured(options: AuthOptions, configure: impl FnOnce(&mut Settings)) -> App {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::embedded(dir.path(), "http://127.0.0.1:1");
    configure(&mut settings);
    let state = AppState::connect(settings).await.unwrap();
    let router = with_fallback(ragenie_auth::router_with(state.clone(), options));
    App { router, state, dir }
}

impl App {
    pub async fn send(&self, request: Request<Body>) -> Resp {
        testing::oneshot(&self.router, request).await
    }

    /// A JSON request, with a bearer credential when given.
    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        self.raw(method, uri, bearer, body.map(|b| b.to_string()), &[])
            .await
    }

    /// `GET uri` as `bearer`.
    pub async fn get(&self, uri: &str, bearer: &str) -> Resp {
        self.call("GET", uri, Some(bearer), None).await
    }

    /// `DELETE uri` as `bearer`.
    pub async fn delete(&self, uri: &str, bearer: &str) -> Resp {
        self.call("DELETE", uri, Some(bearer), None).await
    }

    /// `POST uri` without a credential, with a JSON body.
    pub async fn post(&self, uri: &str, body: Value) -> Resp {
        self.call("POST", uri, None, Some(body)).await
    }

    /// `method uri` as `bearer`, with a JSON body.
    pub async fn json(&self, method: &str, uri: &str, bearer: &str, body: Value) -> Resp {
        self.call(method, uri, Some(bearer), Some(body)).await
    }

    pub async fn raw(
        &self,
        method: &str,
        uri: &str,
        bearer: Option<&str>,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Resp {
        self.send(testing::request(method, uri, bearer, body, headers))
            .await
    }

    /// `POST /auth/api-keys` as `bearer`: a key named `name`.
    pub async fn create_api_key(&self, bearer: &str, name: impl Into<Value>) -> Resp {
        self.json(
            "POST",
            "/auth/api-keys",
            bearer,
            json!({ "name": name.into() }),
        )
        .await
    }

    /// `PATCH /admin/users/{user}` as `admin`.
    pub async fn admin_update(
        &self,
        admin: &str,
        user: &dyn std::fmt::Display,
        change: Value,
    ) -> Resp {
        self.json("PATCH", &format!("/admin/users/{user}"), admin, change)
            .await
    }

    pub async fn register(&self, email: &str) -> Tokens {
        let r = self
            .call(
                "POST",
                "/auth/register",
                None,
                Some(json!({"email": email, "password": PASSWORD})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        Tokens::from(&r)
    }

    pub async fn login(&self, email: &str, password: &str) -> Resp {
        self.call(
            "POST",
            "/auth/login",
            None,
            Some(json!({"email": email, "password": password})),
        )
        .await
    }

    /// Logs in as a client whose socket address is `address` (what the local server sees).
    pub async fn login_from(&self, email: &str, password: &str, address: &str) -> Resp {
        self.login_with(email, password, address, &[]).await
    }

    /// Logs in from the peer `address`, with extra headers (e.g. a forged `X-Forwarded-For`).
    pub async fn login_with(
        &self,
        email: &str,
        password: &str,
        address: &str,
        headers: &[(&str, &str)],
    ) -> Resp {
        let body = json!({"email": email, "password": password}).to_string();
        let peer: std::net::IpAddr = address.parse().expect("an IP address");
        let mut request = Request::post("/auth/login")
            .header("content-type", "application/json")
            .extension(axum::extract::ConnectInfo(std::net::SocketAddr::new(
                peer, 40000,
            )));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }
}

#[derive(Clone, Debug)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl From<&Resp> for Tokens {
    fn from(r: &Resp) -> Self {
        assert_eq!(r.body["token_type"], "bearer", "{}", r.text);
        assert_eq!(r.body["expires_in"], 900, "{}", r.text);
        Tokens {
            access: r.str("access_token"),
            refresh: r.str("refresh_token"),
        }
    }
}
