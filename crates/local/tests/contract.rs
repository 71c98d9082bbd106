//! The served OpenAPI document is a true contract: every error status an operation can answer
//! with is declared with the problem+json schema, operation ids are unique, and the security
//! schemes the routes name exist. (scripts/test.d/45-api-contract.sh checks the same document
//! against the running server with schemathesis.)

use std::collections::HashSet;

use serde_json::Value;

fn document() -> Value {
    serde_json::to_value(ragenie_local::openapi()).unwrap()
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.clone(), path.clone(), op.clone()));
        }
    }
    out
}

#[test]
fn every_error_response_is_a_problem() {
    let doc = document();
    let problem = &doc["components"]["schemas"]["Problem"];
    let required: Vec<&str> = problem["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, ["type", "title", "status", "detail"]);
    assert!(problem["properties"]["instance"].is_object());
    for (method, path, op) in operations(&doc) {
        if path.ends_with("/health") {
            continue;
        }
        for (status, response) in op["responses"].as_object().unwrap() {
            if status.starts_with('4') || status.starts_with('5') {
                let schema = &response["content"]["application/problem+json"]["schema"]["$ref"];
                assert_eq!(
                    schema, "#/components/schemas/Problem",
                    "{method} {path} {status} is not declared as a problem"
                );
            }
        }
        assert!(
            op["responses"]["500"].is_object(),
            "{method} {path} lacks 500"
        );
    }
}

#[test]
fn authenticated_routes_declare_401_and_bodies_declare_the_extractor_statuses() {
    let doc = document();
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["api_key"]["name"], "x-api-key");
    assert_eq!(
        schemes["oauth2"]["flows"]["password"]["tokenUrl"],
        "/auth/token"
    );
    let mut secured = 0;
    for (method, path, op) in operations(&doc) {
        let responses = &op["responses"];
        if let Some(security) = op["security"].as_array() {
            for requirement in security {
                for name in requirement.as_object().unwrap().keys() {
                    assert!(schemes.contains_key(name), "{method} {path}: {name}");
                }
            }
            assert!(responses["401"].is_object(), "{method} {path} lacks 401");
            secured += 1;
        }
        if op["requestBody"].is_object() {
            for status in ["400", "413", "415", "422"] {
                assert!(
                    responses[status].is_object(),
                    "{method} {path} lacks {status}"
                );
            }
        }
        if path.contains('{') && op["security"].is_array() {
            assert!(responses["404"].is_object(), "{method} {path} lacks 404");
        }
    }
    assert!(secured >= 35, "only {secured} authenticated operations");
    // Register, login, token, refresh, logout and the two steps of a password reset (asking for
    // a link; using the mailed token) are the only anonymous API operations.
    let anonymous: Vec<String> = operations(&doc)
        .into_iter()
        .filter(|(_, path, op)| !path.ends_with("/health") && op["security"].is_null())
        .map(|(_, path, _)| path)
        .collect();
    assert_eq!(
        anonymous.len(),
        7,
        "anonymous operations: {anonymous:?} (each must be deliberate)"
    );
}

#[test]
fn operation_ids_are_unique() {
    let doc = document();
    let mut seen = HashSet::new();
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap().to_owned();
        assert!(seen.insert(id.clone()), "{method} {path}: {id} repeats");
    }
    assert!(seen.contains("get_documents_id_content"));
}

#[test]
fn parameters_carry_the_ranges_and_enums_the_handlers_enforce() {
    let doc = document();
    let param = |path: &str, method: &str, name: &str| -> Value {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{method} {path} has no {name}"))["schema"]
            .clone()
    };
    let range = |s: &Value| (s["minimum"].as_u64(), s["maximum"].as_u64());
    assert_eq!(
        range(&param("/profiles", "get", "limit")),
        (Some(1), Some(100))
    );
    assert_eq!(
        range(&param("/auth/api-keys", "get", "limit")),
        (Some(1), Some(100))
    );
    assert_eq!(
        range(&param("/conversations", "get", "limit")),
        (Some(1), Some(100))
    );
    assert_eq!(
        range(&param("/documents", "get", "limit")),
        (Some(1), Some(200))
    );
    assert_eq!(range(&param("/search", "get", "k")), (Some(1), Some(50)));
    let kinds = &doc["components"]["schemas"]["DocumentKind"]["enum"];
    assert_eq!(kinds, &serde_json::json!(["instructions", "dataset"]));
    assert_eq!(
        param("/documents", "get", "kind")["$ref"],
        "#/components/schemas/DocumentKind"
    );
    let events: Vec<&str> = doc["components"]["schemas"]["ChatEvent"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["properties"]["event"]["enum"][0].as_str().unwrap())
        .collect();
    assert_eq!(events, ["meta", "delta", "error", "usage", "done"]);
    // A stream is described event by event, as clients (and schemathesis) read it.
    let stream = &doc["paths"]["/conversations/{id}/messages"]["post"]["responses"]["200"]["content"]
        ["text/event-stream"]["schema"];
    assert_eq!(stream["required"], serde_json::json!(["data"]));
    assert_eq!(stream["properties"]["event"]["type"], "string");
    // Fields a PATCH refuses as null are not nullable.
    let patch = &doc["components"]["schemas"]["ProfilePatch"]["properties"];
    assert_eq!(patch["name"]["type"], "string");
    assert_eq!(
        patch["default_model"]["type"],
        serde_json::json!(["string", "null"])
    );
}
