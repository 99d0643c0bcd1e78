//! The OpenAPI 3.1 document: paths and schemas collected by utoipa from the handlers, then the
//! conventions of the Italian interoperability guidelines (ModI) applied in one pass, so that no
//! handler can forget them: problem responses for every error, rate-limit, request-id and cache
//! headers on every response, servers, contact and security schemes.

use actix_web::App;
use serde_json::{Map, Value, json};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

use crate::{
    error::{FieldError, Problem},
    http,
};

/// The public production base URL documented in `servers` (a deployment serves its own).
pub const PRODUCTION_URL: &str = "https://taccuino.example.it/api/v1";
const API_PREFIX: &str = "/api/v1";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Taccuino API",
        description = "REST API of Taccuino, the offline-first field notebook for municipal social care: organizations, users, beneficiaries, care plans (PAI), service records (prestazioni) and their review. Vendors' systems authenticate with OAuth2 client credentials; people with a login and short-lived JWT access tokens.",
        license(name = "EUPL-1.2", identifier = "EUPL-1.2"),
    ),
    components(schemas(Problem, FieldError))
)]
struct ApiDoc;

/// The complete document as JSON, identical to the committed `openapi/openapi.json`.
pub fn document() -> Value {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(utoipa_actix_web::scope(API_PREFIX).configure(http::routes))
        .split_for_parts();
    let mut doc = serde_json::to_value(api).unwrap_or_else(|_| json!({}));
    apply_conventions(&mut doc);
    doc
}

fn apply_conventions(doc: &mut Value) {
    doc["openapi"] = json!("3.1.0");
    doc["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
    doc["info"]["x-summary"] = json!(
        "Field notebook for municipal social care: care plans, service records and their review."
    );
    doc["info"]["x-api-id"] = json!("3f0d7c2e-6b1a-4f59-9a47-7c1e2b8d5a10");
    doc["info"]["termsOfService"] = json!("https://taccuino.example.it/terms");
    doc["info"]["contact"] = json!({
        "name": "Taccuino",
        "email": "api@taccuino.example.it",
        "url": "https://taccuino.example.it"
    });
    doc["servers"] = json!([
        {"url": PRODUCTION_URL, "description": "Production"},
        {"url": "http://127.0.0.1:8080/api/v1", "description": "Local sandbox (taccuino serve --demo)", "x-sandbox": true}
    ]);
    doc["tags"] = json!([
        {"name": "status", "description": "Service health."},
        {"name": "auth", "description": "Login, tokens and the current caller."},
        {"name": "organizations", "description": "Municipalities and providers."},
        {"name": "users", "description": "People and their roles."},
        {"name": "api-clients", "description": "Vendors' systems (OAuth2 client credentials)."},
        {"name": "beneficiaries", "description": "People taken in charge, and their sensitive notes."},
        {"name": "service-types", "description": "The municipality's catalogue of services and tariffs."},
        {"name": "care-plans", "description": "Individual plans (PAI): period, planned services, authorized operators."},
        {"name": "service-records", "description": "Delivered services (prestazioni), their findings, history and review."},
        {"name": "reviews", "description": "The social worker's review queue and bulk validation."},
        {"name": "rule-settings", "description": "Each municipality's configuration of the automatic checks (docs/rules.md)."},
        {"name": "sync", "description": "Offline sync: connection tickets, the automerge-repo WebSocket, the caller's documents."},
        {"name": "devices", "description": "Phones and browsers that sync, and their revocation."},
        {"name": "statements", "description": "Monthly statements (rendicontazione): validated quantities x tariff, approval, month lock, exports."},
        {"name": "audit-events", "description": "The append-only audit log."}
    ]);
    let components = doc["components"]
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    doc["components"] = Value::Object(components);
    add_components(&mut doc["components"]);
    describe_rules(&mut doc["components"]);
    if let Some(paths) = doc["paths"].as_object_mut().map(std::mem::take) {
        let rewritten: Map<String, Value> = paths
            .into_iter()
            .map(|(path, mut item)| {
                if let Some(ops) = item.as_object_mut() {
                    for (method, op) in ops.iter_mut() {
                        complete_operation(op, method, path.contains('{'));
                    }
                }
                (
                    path.strip_prefix(API_PREFIX).unwrap_or(&path).to_owned(),
                    item,
                )
            })
            .collect();
        doc["paths"] = Value::Object(rewritten);
    }
}

fn header_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/headers/{name}")})
}

const RATE_HEADERS: [&str; 3] = [
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
];

fn common_headers(with_cache: bool) -> Map<String, Value> {
    let mut headers = Map::new();
    for name in RATE_HEADERS {
        headers.insert(name.to_owned(), header_ref(name));
    }
    headers.insert("Request-ID".to_owned(), header_ref("Request-ID"));
    if with_cache {
        headers.insert("Cache-Control".to_owned(), header_ref("Cache-Control"));
    }
    headers
}

fn add_components(components: &mut Value) {
    let int = |description: &str| json!({"description": description, "schema": {"type": "integer", "format": "int32", "minimum": 0}});
    components["headers"] = json!({
        "X-RateLimit-Limit": int("Requests the client IP may send in a burst."),
        "X-RateLimit-Remaining": int("Requests left in the current burst."),
        "X-RateLimit-Reset": int("Seconds until the burst is fully available again."),
        "Retry-After": int("Seconds to wait before retrying."),
        "Request-ID": {"description": "Identifier of this request in the server's logs; a caller may send its own (up to 64 letters, digits, - and _).", "schema": {"type": "string", "maxLength": 64}},
        "Cache-Control": {"description": "no-store: answers carry personal data and must not be cached.", "schema": {"type": "string", "maxLength": 64}},
        "ETag": {"description": "Version of the resource; send it back in If-Match to update it.", "schema": {"type": "string", "maxLength": 16}},
        "Location": {"description": "URL of the created resource.", "schema": {"type": "string", "format": "uri-reference", "maxLength": 200}}
    });
    let problem = |description: &str, extra: &[&str]| {
        let mut headers = common_headers(false);
        for name in extra {
            headers.insert((*name).to_owned(), header_ref(name));
        }
        json!({
            "description": description,
            "headers": headers,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        })
    };
    let mut too_many = problem(
        "Too many requests: wait Retry-After seconds.",
        &["Retry-After"],
    );
    too_many["headers"]
        .as_object_mut()
        .map(|h| h.remove("Request-ID"));
    let unavailable = json!({
        "description": "The database is unreachable: retry after Retry-After seconds.",
        "headers": {"Retry-After": header_ref("Retry-After"), "Request-ID": header_ref("Request-ID")},
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    });
    components["responses"] = json!({
        "BadRequest": problem("The body is not valid JSON or not a valid form.", &[]),
        "Unauthorized": problem("Missing, invalid or expired credentials.", &[]),
        "Forbidden": problem("The caller's role may never use this operation.", &[]),
        "NotFound": problem("Unknown, or outside the caller's scope (the two are not distinguished).", &[]),
        "Conflict": problem("The request conflicts with the resource's state (duplicate, illegal transition).", &[]),
        "PreconditionFailed": problem("If-Match names a version that is no longer current.", &[]),
        "PayloadTooLarge": problem("The body is larger than the configured maximum.", &[]),
        "UnsupportedMediaType": problem("The body's media type is not the one the operation takes.", &[]),
        "UnprocessableContent": problem("Invalid fields; `errors` names each one.", &[]),
        "PreconditionRequired": problem("If-Match is required on updates.", &[]),
        "TooManyRequests": too_many,
        "ServiceUnavailable": unavailable,
        "InternalError": problem("Unexpected error; logged on the server, no details given.", &[])
    });
    components["securitySchemes"] = json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Access token from POST /auth/login (people) or POST /auth/token (API clients): HS256, typ at+jwt, with iss, aud, exp checked on every request (RFC 8725). Lifetime 15 minutes by default."
        },
        "oauth2": {
            "type": "oauth2",
            "description": "Client credentials for vendors' systems (RFC 6749 §4.4). The token is used as a bearer token.",
            "flows": {"clientCredentials": {"tokenUrl": format!("{PRODUCTION_URL}/auth/token"), "scopes": {}}}
        }
    });
}

fn response_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/responses/{name}")})
}

fn complete_operation(op: &mut Value, method: &str, has_path_id: bool) {
    let secured = op.get("security").is_some();
    let has_body = op.get("requestBody").is_some();
    let has_params = op
        .get("parameters")
        .is_some_and(|p| p.as_array().is_some_and(|a| !a.is_empty()));
    let conditional = op["parameters"]
        .as_array()
        .is_some_and(|params| params.iter().any(|p| p["name"] == "If-Match"));
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for param in params.iter_mut().filter(|p| p["name"] == "If-Match") {
            param["schema"] =
                json!({"type": "string", "maxLength": 16, "pattern": "^(W/)?\"[0-9]+\"$"});
            param["example"] = json!("\"3\"");
        }
    }
    if method == "patch" {
        op["requestBody"]["required"] = json!(true);
    }
    if op.get("description").is_none() {
        op["description"] = op.get("summary").cloned().unwrap_or_else(|| json!(""));
    }
    let Some(responses) = op["responses"].as_object_mut() else {
        return;
    };
    for (status, response) in responses.iter_mut() {
        if status.starts_with('2') {
            let headers = response
                .as_object_mut()
                .map(|r| r.entry("headers").or_insert_with(|| json!({})));
            if let Some(Value::Object(headers)) = headers {
                for (name, value) in common_headers(true) {
                    headers.entry(name).or_insert(value);
                }
                // Single resources carry their version; created ones their address too.
                if status == "201" || (status == "200" && has_path_id) {
                    headers.insert("ETag".to_owned(), header_ref("ETag"));
                }
                if status == "201" {
                    headers.insert("Location".to_owned(), header_ref("Location"));
                }
            }
        }
    }
    let mut add = |status: &str, name: &str| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| response_ref(name));
    };
    if has_body {
        add("400", "BadRequest");
        add("413", "PayloadTooLarge");
        add("415", "UnsupportedMediaType");
    }
    if secured {
        add("401", "Unauthorized");
        add("403", "Forbidden");
    }
    if has_path_id {
        add("404", "NotFound");
    }
    if conditional {
        add("412", "PreconditionFailed");
        add("428", "PreconditionRequired");
    }
    if has_body || has_params {
        add("422", "UnprocessableContent");
    }
    if secured && matches!(method, "post" | "put" | "patch") {
        add("409", "Conflict");
    }
    add("429", "TooManyRequests");
    add("503", "ServiceUnavailable");
    add("default", "InternalError");
}

/// The rule catalogue in the `RuleCode` schema, from the code itself (docs/rules.md has it too).
fn describe_rules(components: &mut Value) {
    use crate::domain::rules::RuleCode;
    let rows: Vec<String> = RuleCode::ALL
        .iter()
        .map(|c| {
            format!(
                "| `{}` | {} | {} |",
                c.as_str(),
                c.meaning(),
                c.default_severity().as_str()
            )
        })
        .collect();
    if let Some(schema) = components
        .get_mut("schemas")
        .and_then(|s| s.get_mut("RuleCode"))
    {
        schema["description"] = json!(format!(
            "The stable code of an automatic check (docs/rules.md). Each municipality may turn a rule off, change its severity and set its thresholds (`Thresholds`).\n\n| code | finds | default severity |\n|---|---|---|\n{}",
            rows.join("\n")
        ));
    }
}
