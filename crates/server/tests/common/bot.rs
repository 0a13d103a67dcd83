//! A bot as a library sees it: a token and a base URL, calling the Bot API over HTTP.

use serde_json::{json, Value};

use super::{InProcess, Person};

pub struct Bot {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
    pub id: i64,
}

impl Bot {
    /// A new bot owned by `owner`, made through the SDK's `bots.create`.
    pub async fn create(server: &InProcess, owner: &Person, username: &str) -> Bot {
        let created = owner.client.create_bot("Test Bot", username).await.expect("bots.create");
        Bot { http: reqwest::Client::new(), base: format!("http://{}", server.addr()), id: created.bot.id, token: created.token }
    }

    pub fn url(&self, method: &str) -> String {
        format!("{}/bot{}/{method}", self.base, self.token)
    }

    /// The whole answer to a JSON call: `(HTTP status, body)`.
    pub async fn raw(&self, method: &str, params: Value) -> (u16, Value) {
        let r = self.http.post(self.url(method)).json(&params).send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.expect("JSON answer"))
    }

    /// `result` of a call that must succeed.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        let (status, body) = self.raw(method, params.clone()).await;
        assert_eq!((status, &body["ok"]), (200, &json!(true)), "{method} {params} → {body}");
        body["result"].clone()
    }

    /// `(error_code, description)` of a call that must fail; the HTTP status is the code.
    pub async fn fail(&self, method: &str, params: Value) -> (i64, String) {
        let (status, body) = self.raw(method, params.clone()).await;
        assert_eq!(body["ok"], json!(false), "{method} {params} should fail: {body}");
        assert_eq!(body["error_code"].as_i64(), Some(status as i64), "status and error_code agree");
        (status as i64, body["description"].as_str().unwrap_or_default().to_string())
    }
}
