//! Setting up over HTTP: the target URL (loopback unless allowed otherwise), sign-ups with a
//! fixed code, private chats, group privacy and groups.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use futures_util::{stream, StreamExt, TryStreamExt};
use reqwest::{StatusCode, Url};
use serde_json::{json, Value};

use crate::progress;

/// The numbers the load generator's users have: `+1 415` and an exchange from 200 on (valid
/// North American numbers, which the server requires), so `number` is 7 digits from 2,000,000.
pub const PHONES: std::ops::Range<u32> = 2_000_000..10_000_000;

/// The phone number of user `number` (in [`PHONES`]).
pub fn phone(number: u32) -> String {
    format!("+1415{number:07}")
}

/// Where the server is: its HTTP base and the matching WebSocket base, and the WebSocket
/// bases sockets are spread over (this node's, then the other nodes' of a cluster).
#[derive(Debug, Clone)]
pub struct Target {
    pub http: String,
    pub ws: String,
    pub sockets: Vec<String>,
}

impl Target {
    /// Parses `--url`; refuses anything but `http://` and a host that is not loopback unless
    /// `allow_remote`.
    pub fn parse(url: &str, allow_remote: bool) -> Result<Target> {
        let parsed = Url::parse(url).with_context(|| format!("--url {url:?} is not a URL"))?;
        if parsed.scheme() != "http" {
            bail!("--url must start with http:// (the WebSocket client has no TLS)");
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| anyhow!("--url {url:?} has no host"))?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = bare.eq_ignore_ascii_case("localhost")
            || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !loopback && !allow_remote {
            bail!("{host} is not a loopback address: pass --allow-remote to load a remote server");
        }
        if parsed.path() != "/" || parsed.query().is_some() {
            bail!("--url must be the server's root, e.g. http://127.0.0.1:8080");
        }
        let http = parsed.as_str().trim_end_matches('/').to_string();
        let ws = format!("ws{}", http.trim_start_matches("http"));
        Ok(Target {
            http,
            sockets: vec![ws.clone()],
            ws,
        })
    }

    /// Adds the other nodes of a cluster (`--node-url`, each checked like `--url`): sockets
    /// are spread over all nodes in turn, so the two ends of a chat sit on different nodes.
    pub fn with_nodes(mut self, urls: &[String], allow_remote: bool) -> Result<Target> {
        for url in urls {
            self.sockets.push(Target::parse(url, allow_remote)?.ws);
        }
        Ok(self)
    }
}

/// A signed-up user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub token: String,
}

/// The REST API of one server.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    otp: String,
}

/// What a refused request says, with a hint when it is a server limit.
fn refusal(what: &str, status: StatusCode, body: &str) -> anyhow::Error {
    let hint = if status == StatusCode::TOO_MANY_REQUESTS {
        "\n  the server's limits are in the way: start it with the load-test overrides (courier-loadgen --help)"
    } else {
        ""
    };
    anyhow!("{what}: HTTP {status}: {body}{hint}")
}

impl Api {
    pub fn new(target: &Target, otp: &str, timeout: Duration) -> Result<Api> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(2))
            .build()
            .context("building the HTTP client")?;
        Ok(Api {
            http,
            base: target.http.clone(),
            otp: otp.to_string(),
        })
    }

    /// POST/PUT `path` with a JSON body; the answer's JSON, or an error naming `what`.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
        what: &str,
    ) -> Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req
            .send()
            .await
            .with_context(|| format!("{what}: request"))?;
        let status = res.status();
        let text = res.text().await.with_context(|| format!("{what}: body"))?;
        if !status.is_success() {
            return Err(refusal(what, status, &text));
        }
        serde_json::from_str(&text).with_context(|| format!("{what}: answer is not JSON: {text}"))
    }

    /// The server answers `/api/health`.
    pub async fn health(&self) -> Result<Value> {
        let url = format!("{}/api/health", self.base);
        let res = self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("no server answers at {url}"))?;
        let status = res.status();
        let text = res.text().await.context("health: body")?;
        if !status.is_success() {
            return Err(refusal("health", status, &text));
        }
        serde_json::from_str(&text).context("health: answer is not JSON")
    }

    /// Signs up (or in) the user with phone number [`phone`]`(number)`.
    pub async fn sign_up(&self, number: u32) -> Result<User> {
        let phone = phone(number);
        let what = format!("sign-up of {phone}");
        let post = reqwest::Method::POST;
        self.call(
            post.clone(),
            "/api/auth/send-otp",
            None,
            &json!({"phone_number": phone, "country_code": "+1"}),
            &what,
        )
        .await?;
        let body = json!({"phone_number": phone, "otp": self.otp, "name": format!("lg{number}")});
        let v = self
            .call(post, "/api/auth/verify-otp", None, &body, &what)
            .await?;
        let id = v["user"]["id"]
            .as_i64()
            .ok_or_else(|| anyhow!("{what}: no user.id in {v}"))?;
        let token = v["tokens"]["access_token"]
            .as_str()
            .ok_or_else(|| anyhow!("{what}: no tokens.access_token in {v}"))?
            .to_string();
        Ok(User { id, token })
    }

    /// Signs up `count` users from phone number `base` on, `concurrency` at a time, in order.
    pub async fn sign_up_many(
        &self,
        base: u32,
        count: u32,
        concurrency: usize,
    ) -> Result<Vec<User>> {
        let end = base
            .checked_add(count)
            .filter(|e| *e <= PHONES.end && PHONES.contains(&base))
            .ok_or_else(|| {
                anyhow!(
                    "--phone-base {base} + {count} users leaves {}..{}",
                    phone(PHONES.start),
                    phone(PHONES.end - 1)
                )
            })?;
        let started = Instant::now();
        let (done, _ticker) = progress::steps("signed up", u64::from(count), "users");
        let users = stream::iter(base..end)
            .map(|n| {
                let done = done.clone();
                async move {
                    let u = self.sign_up(n).await;
                    done.add(1);
                    u
                }
            })
            .buffered(concurrency.max(1))
            .try_collect()
            .await?;
        progress::line(format!(
            "[setup] signed up {count} users in {:.1} s",
            started.elapsed().as_secs_f64()
        ));
        Ok(users)
    }

    /// The private chat between `a` and user `b`: its id.
    pub async fn private_chat(&self, a: &User, b: i64) -> Result<i64> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/api/chats/private",
                Some(&a.token),
                &json!({"contact_id": b}),
                "private chat",
            )
            .await?;
        v["id"]
            .as_i64()
            .ok_or_else(|| anyhow!("private chat: no id in {v}"))
    }

    /// Lets anyone add `u` to groups (else an add becomes an invite).
    pub async fn allow_groups(&self, u: &User) -> Result<()> {
        self.call(
            reqwest::Method::PUT,
            "/api/user/privacy",
            Some(&u.token),
            &json!({"groups": "everyone"}),
            "privacy",
        )
        .await
        .map(drop)
    }

    /// Creates a group of `creator` and `members`: its chat id and how many were added.
    pub async fn create_group(
        &self,
        creator: &User,
        name: &str,
        members: &[i64],
    ) -> Result<(i64, usize)> {
        let body = json!({"name": name, "participants": members});
        let v = self
            .call(
                reqwest::Method::POST,
                "/api/groups",
                Some(&creator.token),
                &body,
                "group creation",
            )
            .await?;
        let id = v["group"]["id"]
            .as_i64()
            .ok_or_else(|| anyhow!("group creation: no group.id in {v}"))?;
        let added = v["added_members"].as_array().map_or(0, Vec::len);
        let invited = v["invited"].as_array().map_or(0, Vec::len);
        if invited > 0 {
            bail!("group creation: {invited} members were invited instead of added");
        }
        Ok((id, added))
    }

    /// Sends a text message over REST: when the server answered.
    pub async fn send_rest(&self, u: &User, chat: i64, cmid: &str, content: &str) -> Result<()> {
        let body = json!({"message_type": "text", "content": content, "client_msg_id": cmid});
        let path = format!("/api/chats/{chat}/messages");
        let v = self
            .call(
                reqwest::Method::POST,
                &path,
                Some(&u.token),
                &body,
                "REST send",
            )
            .await?;
        if v["duplicate"].as_bool() != Some(false) {
            bail!("REST send: not stored as new: {v}");
        }
        Ok(())
    }
}

impl Api {
    /// Sends a media message over REST (a multipart form with the file `data`, sent as it is
    /// read, never copied); the stored message.
    pub async fn send_file(
        &self,
        u: &User,
        chat: i64,
        kind: &str,
        data: bytes::Bytes,
        timeout: Duration,
    ) -> Result<Value> {
        let len = data.len() as u64;
        let file = reqwest::multipart::Part::stream_with_length(data, len).file_name("load.bin");
        let form = reqwest::multipart::Form::new()
            .text("message_type", kind.to_string())
            .part("file", file);
        let res = self
            .http
            .post(format!("{}/api/chats/{chat}/messages", self.base))
            .bearer_auth(&u.token)
            .multipart(form)
            .timeout(timeout)
            .send()
            .await
            .context("upload: request")?;
        let status = res.status();
        let text = res.text().await.context("upload: body")?;
        if !status.is_success() {
            return Err(refusal("upload", status, &text));
        }
        let v: Value = serde_json::from_str(&text).context("upload: answer is not JSON")?;
        Ok(v["message"].clone())
    }
}

/// Runs `f` over `items`, `concurrency` at a time, keeping their order.
pub async fn bounded<T, R, F, Fut>(items: Vec<T>, concurrency: usize, f: F) -> Result<Vec<R>>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<R>>,
{
    stream::iter(items)
        .map(f)
        .buffered(concurrency.max(1))
        .try_collect()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only_unless_allowed() {
        let t = Target::parse("http://127.0.0.1:8080", false).unwrap();
        assert_eq!(t.http, "http://127.0.0.1:8080");
        assert_eq!(t.ws, "ws://127.0.0.1:8080");
        assert!(Target::parse("http://localhost:1/", false).is_ok());
        assert!(Target::parse("http://[::1]:1", false).is_ok());
        assert!(Target::parse("http://10.0.0.1:8080", false).is_err());
        assert!(Target::parse("http://example.org", false).is_err());
        assert!(Target::parse("http://example.org", true).is_ok());
        assert!(Target::parse("https://127.0.0.1", false).is_err());
        assert!(Target::parse("http://127.0.0.1/api", false).is_err());
    }
}
