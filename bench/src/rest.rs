//! The few REST calls the Taccuino mode makes (login, care plans, tickets, documents, the
//! count of service records), over plain HTTP to a loopback server only: the base URL goes
//! through [`crate::target::parse_loopback_http`], redirects are never followed and proxies
//! never used, so no request can leave the machine.

use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::target::Target;

/// A client of one server's `/api/v1`.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    /// `http://HOST:PORT/api/v1`.
    base: String,
}

/// An answer: status, ETag and JSON body (`Null` when empty or not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `ETag` header, if any.
    pub etag: Option<String>,
    /// The body.
    pub body: Value,
}

impl Reply {
    /// The body if the status is `want`, else an error showing the answer.
    pub fn expect(self, want: u16, what: &str) -> anyhow::Result<Self> {
        if self.status.as_u16() != want {
            bail!(
                "{what}: expected {want}, got {}: {}",
                self.status,
                self.body
            );
        }
        Ok(self)
    }

    /// A string member of the body.
    pub fn text(&self, member: &str) -> anyhow::Result<&str> {
        self.body[member]
            .as_str()
            .with_context(|| format!("no string `{member}` in {}", self.body))
    }

    /// The ETag, required.
    pub fn etag(&self) -> anyhow::Result<&str> {
        self.etag
            .as_deref()
            .with_context(|| format!("no ETag on the answer {}", self.body))
    }
}

/// An authenticated user.
#[derive(Debug, Clone)]
pub struct Session {
    api: Api,
    token: String,
    /// Who (the email), for error messages.
    pub who: String,
}

impl Api {
    /// A client of the server at `target` (an `http://` loopback base URL).
    pub fn new(target: &Target) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .context("HTTP client")?;
        Ok(Self {
            http,
            base: format!("{}/api/v1", target.url),
        })
    }

    /// `method path` with an optional bearer token, JSON body and `If-Match`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> anyhow::Result<Reply> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(etag) = if_match {
            request = request.header(header::IF_MATCH, etag);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let etag = response
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("{method} {path}: reading the body"))?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Reply { status, etag, body })
    }

    /// Logs in with email and password.
    pub async fn login(&self, email: &str, password: &str) -> anyhow::Result<Session> {
        let reply = self
            .call(
                Method::POST,
                "/auth/login",
                None,
                Some(&json!({"email": email, "password": password})),
                None,
            )
            .await?
            .expect(200, &format!("login as {email}"))?;
        Ok(Session {
            api: self.clone(),
            token: reply.text("access_token")?.to_owned(),
            who: email.to_owned(),
        })
    }
}

impl Session {
    /// GET `path`.
    pub async fn get(&self, path: &str) -> anyhow::Result<Reply> {
        self.api
            .call(Method::GET, path, Some(&self.token), None, None)
            .await
    }

    /// POST `body` to `path`, with `If-Match` when given.
    pub async fn post(
        &self,
        path: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> anyhow::Result<Reply> {
        self.api
            .call(Method::POST, path, Some(&self.token), Some(body), if_match)
            .await
    }

    /// PUT `body` to `path` with `If-Match`.
    pub async fn put(&self, path: &str, body: &Value, if_match: &str) -> anyhow::Result<Reply> {
        self.api
            .call(
                Method::PUT,
                path,
                Some(&self.token),
                Some(body),
                Some(if_match),
            )
            .await
    }

    /// Every item of a paged list (`items`, `total`), 200 at a time.
    pub async fn list_all(&self, path: &str) -> anyhow::Result<Vec<Value>> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        loop {
            let page = self
                .get(&format!("{path}{sep}limit=200&offset={}", items.len()))
                .await?
                .expect(200, &format!("GET {path} as {}", self.who))?;
            let got = page.body["items"]
                .as_array()
                .with_context(|| format!("no `items` in {}", page.body))?;
            let total = page.body["total"].as_u64().unwrap_or(0);
            if got.is_empty() {
                break;
            }
            items.extend(got.iter().cloned());
            if items.len() as u64 >= total {
                break;
            }
        }
        Ok(items)
    }
}
