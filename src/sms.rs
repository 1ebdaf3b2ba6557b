//! Sending one-time codes by SMS: `console` (the code is written to the log) or `twilio`
//! (Twilio's Messages REST API).

use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use crate::config::{SmsProvider, SmsSettings};

/// Why an SMS could not be sent.
#[derive(Debug, thiserror::Error)]
#[error("sms: {0}")]
pub struct SmsError(pub String);

/// Something that delivers a text message to a phone number.
pub trait SmsSender: Send + Sync {
    fn send<'a>(&'a self, to: &'a str, body: &'a str) -> BoxFuture<'a, Result<(), SmsError>>;

    /// How codes reach people, as `send-otp` tells clients: `sms`, or `console` when they
    /// are written to the server's log (so a web page can say where to look).
    fn delivery(&self) -> &'static str {
        "sms"
    }
}

/// Builds the provider the configuration names.
pub fn from_settings(s: &SmsSettings) -> Result<Box<dyn SmsSender>, SmsError> {
    match s.provider {
        SmsProvider::Twilio => Ok(Box::new(Twilio::new(s)?)),
        SmsProvider::Console => Ok(Box::new(Console)),
    }
}

/// Writes each message to the log (target `courier::sms`): for development and demos.
pub struct Console;

impl SmsSender for Console {
    fn send<'a>(&'a self, to: &'a str, body: &'a str) -> BoxFuture<'a, Result<(), SmsError>> {
        tracing::info!(target: "courier::sms", to, "SMS: {body}");
        async { Ok(()) }.boxed()
    }

    fn delivery(&self) -> &'static str {
        "console"
    }
}

/// Twilio's REST API: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json` with HTTP basic
/// auth and a form body (`To`, `From` or `MessagingServiceSid`, `Body`).
pub struct Twilio {
    client: reqwest::Client,
    url: String,
    sid: String,
    token: String,
    from: String,
}

impl Twilio {
    pub fn new(s: &SmsSettings) -> Result<Twilio, SmsError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(s.timeout_secs.max(1)))
            .build()
            .map_err(|e| SmsError(e.to_string()))?;
        Ok(Twilio {
            client,
            url: format!(
                "{}/2010-04-01/Accounts/{}/Messages.json",
                s.twilio_api_base.trim_end_matches('/'),
                s.twilio_account_sid
            ),
            sid: s.twilio_account_sid.clone(),
            token: s.twilio_auth_token.to_string(),
            from: s.twilio_from.clone(),
        })
    }
}

impl SmsSender for Twilio {
    fn send<'a>(&'a self, to: &'a str, body: &'a str) -> BoxFuture<'a, Result<(), SmsError>> {
        async move {
            // A messaging service SID starts with "MG"; anything else is a sender number.
            let from_key = if self.from.starts_with("MG") {
                "MessagingServiceSid"
            } else {
                "From"
            };
            let form = [("To", to), (from_key, self.from.as_str()), ("Body", body)];
            let res = self
                .client
                .post(&self.url)
                .basic_auth(&self.sid, Some(&self.token))
                .form(&form)
                .send()
                .await
                .map_err(|e| SmsError(format!("twilio unreachable: {e}")))?;
            let status = res.status();
            if status.is_success() {
                return Ok(());
            }
            let text = res.text().await.unwrap_or_default();
            // Twilio answers errors as {"code": ..., "message": ...}.
            let detail = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| {
                    v.get("message")
                        .and_then(|m| m.as_str())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| text.chars().take(200).collect());
            Err(SmsError(format!("twilio answered {status}: {detail}")))
        }
        .boxed()
    }
}
