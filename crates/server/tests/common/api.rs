//! A REST API client with a fresh token, answering `(status, JSON body)`; a body that is not JSON comes
//! back as a JSON string so assertions can show it.
#![allow(clippy::unwrap_used)] // test support: a panic is a failed test with its message
#![allow(dead_code)]

use reqwest::{Method, StatusCode};
use serde_json::Value;
use windowdesk_server::api::admin::create_api_token;

use super::TestApp;

pub struct Api<'a> {
    pub app: &'a TestApp,
    pub token: String,
    pub token_id: i64,
}

impl<'a> Api<'a> {
    pub async fn new(app: &'a TestApp) -> Api<'a> {
        let created = create_api_token(app.store().as_ref(), "tests").await.unwrap();
        Api { app, token: created.token, token_id: created.row.id }
    }

    /// How the token appears as an actor or author.
    pub fn actor(&self) -> String {
        format!("api:{}", self.token_id)
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.app.client.request(method, self.app.url(path)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> StatusCode {
        self.call(Method::DELETE, path, None).await.0
    }
}

/// Asserts a 422 `invalid` error naming `field`, in the message too.
pub fn assert_invalid(status: StatusCode, body: &Value, field: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid", "{body}");
    assert_eq!(body["error"]["details"]["field"], field, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains(field), "{body}");
}
