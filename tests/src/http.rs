//! The typed HTTP client of the tests: requests ([`Call`]), answers ([`Reply`]) and logged-in
//! users ([`Session`]).

use std::fmt;

use reqwest::{Method, header::HeaderMap};
use serde_json::Value;

/// The media type of JSON merge patches (RFC 7396), which every PATCH uses.
pub const MERGE_PATCH: &str = "application/merge-patch+json";

/// A request being built.
#[derive(Debug)]
pub struct Call {
    request: reqwest::RequestBuilder,
    method: Method,
    path: String,
}

impl Call {
    pub(crate) fn new(request: reqwest::RequestBuilder, method: Method, path: &str) -> Self {
        Self {
            request,
            method,
            path: path.to_owned(),
        }
    }

    /// Presents a bearer token.
    pub fn bearer(mut self, token: &str) -> Self {
        self.request = self.request.bearer_auth(token);
        self
    }

    /// A JSON body (`application/json`).
    pub fn json(mut self, body: &Value) -> Self {
        self.request = self.request.json(body);
        self
    }

    /// A JSON body sent as a merge patch.
    pub fn merge_patch(self, body: &Value) -> Self {
        let bytes = serde_json::to_vec(body).expect("JSON serializes");
        self.raw(MERGE_PATCH, bytes)
    }

    /// Any body with any content type.
    pub fn raw(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.request = self
            .request
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        self
    }

    /// `If-Match: <etag>`.
    pub fn if_match(self, etag: &str) -> Self {
        self.header("If-Match", etag)
    }

    /// Any header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.request = self.request.header(name, value);
        self
    }

    /// Sends the request; panics only if the server cannot be reached at all.
    pub async fn send(self) -> Reply {
        let response = self.request.send().await.unwrap_or_else(|e| {
            panic!(
                "{} {} failed to reach the server: {e}",
                self.method, self.path
            )
        });
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()))
        };
        Reply {
            method: self.method.to_string(),
            path: self.path,
            status,
            headers,
            body,
        }
    }
}

/// An answer of the server, with the request it answers (for readable failures).
#[derive(Debug, Clone)]
pub struct Reply {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub headers: HeaderMap,
    /// The body as JSON; a string when it was not JSON, `null` when empty.
    pub body: Value,
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = self.body.to_string();
        let body = if body.len() > 600 {
            format!("{}...", &body[..body.floor_char_boundary(600)])
        } else {
            body
        };
        write!(f, "{} {} -> {} {body}", self.method, self.path, self.status)
    }
}

impl Reply {
    /// Panics, showing the request and the answer, unless the status is `status`.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "expected {status}, got: {self}");
        self
    }

    /// Panics unless the status is 2xx.
    #[track_caller]
    pub fn expect_success(self) -> Self {
        assert!(
            (200..300).contains(&self.status),
            "expected 2xx, got: {self}"
        );
        self
    }

    /// Panics unless this is an RFC 9457 problem with this status and code
    /// (`urn:taccuino:problem:<code>`).
    #[track_caller]
    pub fn expect_problem(self, status: u16, code: &str) -> Self {
        let this = self.expect(status);
        assert!(
            this.content_type().starts_with("application/problem+json"),
            "expected application/problem+json, got {:?}: {this}",
            this.content_type()
        );
        assert_eq!(
            this.problem_code(),
            Some(code),
            "expected problem {code}: {this}"
        );
        assert_eq!(this.body["status"], status, "problem status member: {this}");
        assert!(this.body["title"].is_string(), "problem title: {this}");
        this
    }

    /// Panics unless this is a 422 naming `field` among its invalid fields.
    #[track_caller]
    pub fn expect_invalid(self, field: &str) -> Self {
        let this = self.expect_problem(422, "validation-failed");
        assert!(
            this.problem_fields().iter().any(|f| f == field),
            "expected the field {field:?} to be named, got {:?}: {this}",
            this.problem_fields()
        );
        this
    }

    /// A header's value, if present and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Content-Type`, or `""`.
    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    /// The `ETag`; panics when missing.
    #[track_caller]
    pub fn etag(&self) -> String {
        self.header("etag")
            .unwrap_or_else(|| panic!("no ETag: {self}"))
            .to_owned()
    }

    /// The `Location`; panics when missing.
    #[track_caller]
    pub fn location(&self) -> String {
        self.header("location")
            .unwrap_or_else(|| panic!("no Location: {self}"))
            .to_owned()
    }

    /// A string member of the body; panics when missing.
    #[track_caller]
    pub fn str(&self, member: &str) -> String {
        self.body[member]
            .as_str()
            .unwrap_or_else(|| panic!("no string {member:?} in: {self}"))
            .to_owned()
    }

    /// The `id` of the resource in the body.
    #[track_caller]
    pub fn id(&self) -> String {
        self.str("id")
    }

    /// The items of a list envelope; panics when the body is not one.
    #[track_caller]
    pub fn items(&self) -> &Vec<Value> {
        self.body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("not a list envelope: {self}"))
    }

    /// The `<code>` of a problem's `urn:taccuino:problem:<code>` type.
    pub fn problem_code(&self) -> Option<&str> {
        self.body["type"]
            .as_str()
            .and_then(|t| t.strip_prefix("urn:taccuino:problem:"))
    }

    /// The fields named by a validation problem.
    pub fn problem_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A caller with a bearer token: a demo user, an API client, or any token at all.
#[derive(Debug, Clone)]
pub struct Session {
    /// The access token presented on every request.
    pub token: String,
    /// The refresh token, for users who logged in.
    pub refresh_token: Option<String>,
    /// Who this is, for messages.
    pub who: String,
    client: reqwest::Client,
    api: String,
}

impl Session {
    pub(crate) fn new(client: reqwest::Client, api: String, token: String) -> Self {
        Self {
            token,
            refresh_token: None,
            who: "a token".to_owned(),
            client,
            api,
        }
    }

    /// An authenticated request to `path` (relative to `/api/v1`).
    pub fn call(&self, method: Method, path: &str) -> Call {
        let url = format!("{}{path}", self.api);
        Call::new(self.client.request(method.clone(), url), method, path).bearer(&self.token)
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path).send().await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path).json(&body).send().await
    }

    /// A POST that needs the resource's version: the lifecycle steps (activate, validate...).
    pub async fn post_if_match(&self, path: &str, body: Value, etag: &str) -> Reply {
        self.call(Method::POST, path)
            .json(&body)
            .if_match(etag)
            .send()
            .await
    }

    /// A merge patch with `If-Match`.
    pub async fn patch(&self, path: &str, body: Value, etag: &str) -> Reply {
        self.call(Method::PATCH, path)
            .merge_patch(&body)
            .if_match(etag)
            .send()
            .await
    }

    /// A PUT of a JSON body with `If-Match`.
    pub async fn put(&self, path: &str, body: Value, etag: &str) -> Reply {
        self.call(Method::PUT, path)
            .json(&body)
            .if_match(etag)
            .send()
            .await
    }

    /// Every item of a list, following `offset` until `total` is reached.
    pub async fn list_all(&self, path: &str) -> Vec<Value> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        loop {
            let page = self
                .get(&format!(
                    "{path}{separator}limit=200&offset={}",
                    items.len()
                ))
                .await
                .expect(200);
            let batch = page.items().clone();
            let total = page.body["total"].as_u64().unwrap_or(0) as usize;
            let done = batch.is_empty() || items.len() + batch.len() >= total;
            items.extend(batch);
            if done {
                return items;
            }
        }
    }
}
