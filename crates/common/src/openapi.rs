//! The parts of the OpenAPI contract every function shares, applied once to the assembled
//! document instead of repeated in every handler's attribute: the problem+json schema, the
//! security schemes (every operation takes them unless its attribute says `security(())`), and
//! the error statuses the shared plumbing answers with on any operation (the auth extractor's
//! 401, the admin extractor's 403 on `/admin/` routes, the JSON extractor's 400/413/415/422, an
//! id that names nothing's 404, the store's 503 and the generic 500). Route-specific statuses
//! are in each handler's doc comment (`# Errors`, read by [`route`]); an error status declared
//! without a body gets the problem schema here.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes,
    SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr};
use utoipa::{Modify, PartialSchema, ToSchema};

/// Declares a handler's route: see `ragenie_route`.
pub use ragenie_route::route;

use crate::error::{PROBLEM_JSON, Problem};

/// The pattern of a name or title: not only blanks, no control characters.
const ONE_LINE: &str = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$";
/// The same for a file name, which has no slashes either.
const FILE_NAME: &str = r"^[^/\\\u0000-\u001f\u007f-\u009f]*[^/\\\s\u0000-\u001f\u007f-\u009f][^/\\\u0000-\u001f\u007f-\u009f]*$";

/// A name or title as the API takes it: 1 to `MAX` characters, not only blanks, no control
/// characters. The type carries the schema (fields take it `#[schema(inline)]`); the domain
/// checks the value and names the field when it is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct OneLine<const MAX: usize>(pub String);

/// A file's name as the API takes it: a [`OneLine`] of at most 200 characters without `/` or `\\`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct FileName(pub String);

impl<const MAX: usize> std::ops::Deref for OneLine<MAX> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> From<OneLine<MAX>> for String {
    fn from(text: OneLine<MAX>) -> String {
        text.0
    }
}

impl std::ops::Deref for FileName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

fn text_schema(max: usize, pattern: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(pattern))
        .into()
}

impl<const MAX: usize> PartialSchema for OneLine<MAX> {
    fn schema() -> RefOr<Schema> {
        text_schema(MAX, ONE_LINE)
    }
}

impl<const MAX: usize> ToSchema for OneLine<MAX> {}

impl PartialSchema for FileName {
    fn schema() -> RefOr<Schema> {
        text_schema(200, FILE_NAME)
    }
}

impl ToSchema for FileName {}

/// The security scheme of an access token or personal API key in `Authorization: Bearer`.
pub const BEARER: &str = "bearer";
/// The same credentials in `x-api-key`, as some OpenAI-style clients send them.
pub const API_KEY_HEADER: &str = "api_key";
/// How OAuth2 clients obtain the bearer access token: the password grant at `/auth/token`.
pub const OAUTH2: &str = "oauth2";

/// Completes an assembled document: see the module documentation.
pub struct Contract;

impl Modify for Contract {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components
            .schemas
            .insert(Problem::name().into_owned(), Problem::schema());
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT access token, or a personal API key (rg_…)")
                    .description(Some(
                        "An access token from /auth/login, /auth/register or /auth/refresh, \
                         or a personal API key from /auth/api-keys",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            API_KEY_HEADER,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "The same credentials as `bearer`, for clients that send them in this header",
            ))),
        );
        components.add_security_scheme(
            OAUTH2,
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::Password(Password::with_refresh_url(
                    "/auth/token",
                    Scopes::new(),
                    "/auth/token",
                ))],
                "The access token `bearer` carries, from the OAuth2 password grant",
            )),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            let operations = [
                ("get", &mut item.get),
                ("put", &mut item.put),
                ("post", &mut item.post),
                ("delete", &mut item.delete),
                ("patch", &mut item.patch),
            ];
            for (method, operation) in operations {
                if let Some(operation) = operation {
                    // Handler names repeat across functions (`list`, `search`, `health`…);
                    // operation ids must be unique in the merged document.
                    operation.operation_id = Some(operation_id(method, path));
                    complete(path, operation);
                }
            }
        }
    }
}

/// `get /documents/{id}/content` → `get_documents_id_content`.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_owned();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        id.extend(
            segment
                .chars()
                .filter(|c| !matches!(c, '{' | '}'))
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    id
}

/// Whether an operation takes the bearer credential: every one does unless its attribute says
/// `security(())` (the few that serve the signed-out: register, sign-in, password reset…), so
/// a new route is documented as authenticated until someone decides otherwise.
fn is_secured(operation: &Operation) -> bool {
    let public = operation.security.as_ref().is_some_and(|requirements| {
        requirements.iter().all(|r| {
            serde_json::to_value(r)
                .ok()
                .and_then(|v| v.as_object().map(|o| o.is_empty()))
                .unwrap_or(false)
        })
    });
    !public
}

fn has_query(operation: &Operation) -> bool {
    operation
        .parameters
        .iter()
        .flatten()
        .any(|p| p.parameter_in == ParameterIn::Query)
}

fn takes_body(body: Option<&RequestBody>) -> bool {
    body.is_some_and(|b| !b.content.is_empty())
}

fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(Problem::name())))
                .build(),
        )
        .build()
}

const EVENT_STREAM: &str = "text/event-stream";

/// What a `text/event-stream` body is made of, one event at a time (as OpenAPI 3.2's
/// `itemSchema` and schemathesis read it): the payload is `data`, JSON text whose schema the
/// response's description names (`ChatEvent` for answers, chat.completion.chunk on `/v1`).
fn sse_event() -> RefOr<Schema> {
    let text = || ObjectBuilder::new().schema_type(Type::String);
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "One Server-Sent Event: `event` names it (absent: `message`), `data` is its JSON",
        ))
        .property("event", text())
        .property("data", text())
        .property("id", text())
        .property(
            "retry",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0)),
        )
        .required("data")
        .into()
}

fn add(operation: &mut Operation, status: u16, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| RefOr::T(problem(description)));
}

fn complete(path: &str, operation: &mut Operation) {
    if path.ends_with("/health") {
        // Health answers its own JSON, 200 or 503, never a problem.
        return;
    }
    let secured = is_secured(operation);
    if !secured {
        // `security(())` marks the route public; the document says so by naming no scheme.
        operation.security = None;
    }
    if secured {
        operation.security = Some(vec![
            SecurityRequirement::new(BEARER, Vec::<String>::new()),
            SecurityRequirement::new(API_KEY_HEADER, Vec::<String>::new()),
            SecurityRequirement::new(OAUTH2, Vec::<String>::new()),
        ]);
        add(
            operation,
            401,
            "No credential, or an invalid or expired one (problem+json)",
        );
        if path.starts_with("/admin/") {
            // Every admin route takes `AdminUser`, which refuses anyone else.
            add(operation, 403, "Not an admin (problem+json)");
        }
    }
    let body = takes_body(operation.request_body.as_ref());
    if body {
        add(
            operation,
            400,
            "The body cannot be read: malformed JSON (problem+json)",
        );
        add(
            operation,
            413,
            "The body is over this endpoint's size limit (problem+json)",
        );
        add(
            operation,
            415,
            "The body's Content-Type is not one this endpoint takes (problem+json)",
        );
    }
    if body || has_query(operation) {
        add(
            operation,
            400,
            "The query string cannot be parsed (problem+json)",
        );
        add(
            operation,
            422,
            "A field or parameter is missing, unknown or invalid; `field` names it (problem+json)",
        );
    }
    if path.contains('{') && secured {
        add(
            operation,
            404,
            "Nothing with this id that the caller may see (problem+json)",
        );
    }
    add(
        operation,
        500,
        "Something failed on the server's side; it is logged (problem+json)",
    );
    add(
        operation,
        503,
        "The store is busy; retry shortly (problem+json)",
    );
    for response in operation.responses.responses.values_mut() {
        if let RefOr::T(response) = response
            && let Some(stream) = response.content.get_mut(EVENT_STREAM)
        {
            stream.schema = Some(sse_event());
        }
    }
    // Error statuses declared in an attribute without a body still answer problem+json.
    for (status, response) in operation.responses.responses.iter_mut() {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if let RefOr::T(response) = response
            && is_error
            && response.content.is_empty()
        {
            let described = problem(&response.description);
            response.content = described.content;
        }
    }
}
