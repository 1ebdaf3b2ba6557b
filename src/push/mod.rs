//! Push notifications to devices whose app is asleep: the providers (FCM, APNs, Web Push, a
//! signed webhook) and the dispatcher that drains the outbox (see
//! `courier_actors::store::push` for what queues a push, and when).
//!
//! Each round takes the due pushes, oldest first, and for each one:
//! - a device with a live socket on this node already has it: done;
//! - a push past its expiry (a call that stopped ringing) is dropped;
//! - of several pushes of one chat for one device, only the newest is sent (one notification
//!   per chat, which the provider's collapse key then replaces in place);
//! - the rest go to their provider. A failure is tried again after a doubling wait, up to
//!   `push.max_attempts`; a token the provider calls dead takes its target with it.

mod apns;
mod fcm;
pub mod webhook;
pub mod webpush;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{NaiveDateTime, TimeDelta};
use courier_actors::store::push::{self, Pending, Settle, Settled};
use courier_actors::store::{chats, messages, users};
use courier_actors::Engine;

use crate::config::PushSettings;

/// Pushes one round takes at most.
const ROUND: i64 = 200;

/// What a provider did with a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Failed for now (unreachable, throttled, a server error): try again later.
    Retry(String),
    /// The token is no longer valid: forget the target.
    Dead,
    /// Refused for good (a malformed request): do not try again.
    Drop(String),
}

/// One notification as every provider needs it.
#[derive(Debug, Clone)]
pub struct Note {
    /// `message`, `call`, `missed_call` or `group_added`.
    pub kind: String,
    pub chat_id: i64,
    pub message_id: Option<i64>,
    pub call_id: Option<i64>,
    pub high_priority: bool,
    /// Seconds until it is pointless.
    pub ttl_secs: i64,
    pub expires_at: NaiveDateTime,
    /// Notifications with the same key replace each other: `chat-{id}`, or `call-{id}`.
    pub collapse_key: String,
    /// Shown to the user: the sender and the text with previews on, a neutral line otherwise.
    pub title: String,
    pub body: String,
}

impl Note {
    /// The ids every payload carries, as string values (what FCM's `data` requires).
    pub fn data(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut data = serde_json::Map::new();
        data.insert("type".into(), self.kind.clone().into());
        data.insert("chat_id".into(), self.chat_id.to_string().into());
        if let Some(id) = self.message_id {
            data.insert("message_id".into(), id.to_string().into());
        }
        if let Some(id) = self.call_id {
            data.insert("call_id".into(), id.to_string().into());
        }
        data
    }
}

/// The device a push goes to.
#[derive(Debug, Clone)]
pub struct Device {
    pub token: String,
    pub p256dh: Option<String>,
    pub auth: Option<String>,
}

/// The configured providers.
pub struct Providers {
    fcm: Option<fcm::Fcm>,
    apns: Option<apns::Apns>,
    webpush: Option<webpush::WebPush>,
    webhook: Option<webhook::Webhook>,
}

impl Providers {
    /// Reads the credentials of every configured provider; a missing or unreadable key file
    /// stops the start.
    pub fn from_settings(s: &PushSettings) -> anyhow::Result<Providers> {
        let timeout = Duration::from_millis(s.timeout_ms);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .context("push HTTP client")?;
        Ok(Providers {
            fcm: match s.fcm.credentials_file.as_str() {
                "" => None,
                _ => Some(fcm::Fcm::new(&s.fcm, client.clone())?),
            },
            apns: match s.apns.key_file.as_str() {
                "" => None,
                _ => Some(apns::Apns::new(&s.apns, timeout)?),
            },
            webpush: match s.webpush.vapid_private_key.is_empty() {
                true => None,
                false => Some(webpush::WebPush::new(&s.webpush, client.clone())?),
            },
            webhook: match s.webhook.url.as_str() {
                "" => None,
                _ => Some(webhook::Webhook::new(&s.webhook, client)),
            },
        })
    }

    /// Whether devices may register for `platform` here.
    pub fn supports(&self, platform: &str) -> bool {
        match platform {
            "fcm" => self.fcm.is_some(),
            "apns" => self.apns.is_some(),
            "webpush" => self.webpush.is_some(),
            "webhook" => self.webhook.is_some(),
            _ => false,
        }
    }

    /// The VAPID public key browsers subscribe with (base64url), when Web Push is on.
    pub fn vapid_public_key(&self) -> Option<String> {
        self.webpush.as_ref().map(webpush::WebPush::public_key)
    }

    async fn send(&self, platform: &str, device: &Device, note: &Note) -> Outcome {
        let off = || Outcome::Drop(format!("{platform} is not configured"));
        match platform {
            "fcm" => match &self.fcm {
                Some(p) => p.send(device, note).await,
                None => off(),
            },
            "apns" => match &self.apns {
                Some(p) => p.send(device, note).await,
                None => off(),
            },
            "webpush" => match &self.webpush {
                Some(p) => p.send(device, note).await,
                None => off(),
            },
            "webhook" => match &self.webhook {
                Some(p) => p.send(device, note).await,
                None => off(),
            },
            _ => off(),
        }
    }
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub sent: usize,
    pub failed: usize,
    pub dropped: usize,
    /// Already delivered over a live socket, or replaced by a newer push of the same chat.
    pub skipped: usize,
}

/// Drains the push outbox; see the module docs.
#[derive(Clone)]
pub struct Dispatcher {
    engine: Engine,
    providers: Arc<Providers>,
    settings: PushSettings,
}

impl Dispatcher {
    pub fn new(engine: Engine, providers: Arc<Providers>, settings: PushSettings) -> Self {
        Dispatcher {
            engine,
            providers,
            settings,
        }
    }

    /// Runs [`Dispatcher::round`] every `push.poll_ms` (never if that is zero); in a cluster,
    /// on one node at a time, so that no push is sent twice.
    pub fn spawn(self) {
        if self.settings.poll_ms == 0 {
            return;
        }
        let every = Duration::from_millis(self.settings.poll_ms);
        actix_web::rt::spawn(async move {
            loop {
                self.engine.clock.sleep(every).await;
                if !self.engine.runs_job("push-dispatch", every).await {
                    continue;
                }
                if let Err(e) = self.round().await {
                    tracing::warn!(error = %e, "a push round failed");
                }
            }
        });
    }

    /// One pass over the due pushes. The server runs it every `push.poll_ms`; tests call it
    /// directly.
    pub async fn round(&self) -> anyhow::Result<Round> {
        let now = self.engine.clock.now();
        let due = {
            let mut conn = self.engine.db.get().await?;
            push::due(&mut conn.conn(), now, ROUND).await?
        };
        let mut round = Round::default();
        if due.is_empty() {
            return Ok(round);
        }
        let notes = self.notes(&due, now).await?;
        // The newest message push of each (device, chat) stands for the others.
        let mut newest: HashMap<(i64, i64), i64> = HashMap::new();
        for p in due.iter().filter(|p| p.kind == "message") {
            let e = newest.entry((p.target_id(), p.chat_id)).or_insert(p.id);
            *e = (*e).max(p.id);
        }
        let mut outcomes = Vec::with_capacity(due.len());
        for p in &due {
            let platform = p.platform().to_string();
            let superseded =
                p.kind == "message" && newest.get(&(p.target_id(), p.chat_id)) != Some(&p.id);
            let live = self
                .engine
                .sessions
                .has_device(p.user_id(), p.auth_session_id());
            if superseded || live {
                round.skipped += 1;
                outcomes.push((p.id, p.target_id(), Settled::Done));
                continue;
            }
            if p.expires_at <= now {
                round.dropped += 1;
                self.engine.metrics.push(&platform, "dropped");
                outcomes.push((p.id, p.target_id(), Settled::Done));
                continue;
            }
            let device = Device {
                token: p.token().to_string(),
                p256dh: p.target.5.clone(),
                auth: p.target.6.clone(),
            };
            let Some(note) = notes.get(&p.id) else {
                continue;
            };
            let settled = match self.providers.send(&platform, &device, note).await {
                Outcome::Sent => {
                    round.sent += 1;
                    self.engine.metrics.push(&platform, "sent");
                    Settled::Done
                }
                Outcome::Dead => {
                    round.dropped += 1;
                    self.engine.metrics.push(&platform, "dropped");
                    tracing::info!(platform, "push token is dead; target removed");
                    Settled::DeadTarget
                }
                Outcome::Drop(why) => {
                    round.dropped += 1;
                    self.engine.metrics.push(&platform, "dropped");
                    tracing::warn!(platform, why, "push dropped");
                    Settled::Done
                }
                Outcome::Retry(why) if p.attempts + 1 >= self.settings.max_attempts as i32 => {
                    round.dropped += 1;
                    self.engine.metrics.push(&platform, "dropped");
                    tracing::warn!(platform, why, "push dropped after its last attempt");
                    Settled::Done
                }
                Outcome::Retry(why) => {
                    round.failed += 1;
                    self.engine.metrics.push(&platform, "failed");
                    tracing::info!(platform, why, attempt = p.attempts + 1, "push failed");
                    let wait = self.settings.retry_after_secs as i64 * (1i64 << p.attempts.min(16));
                    Settled::RetryAt(now + TimeDelta::seconds(wait))
                }
            };
            outcomes.push((p.id, p.target_id(), settled));
        }
        self.engine.write(Settle { outcomes }).await?;
        Ok(round)
    }

    /// The notification of each push: neutral lines, or with previews on the sender's name
    /// (and the group's) and the message's text, read now.
    async fn notes(
        &self,
        due: &[Pending],
        now: NaiveDateTime,
    ) -> anyhow::Result<HashMap<i64, Note>> {
        let previews = self.settings.previews;
        let mut texts: HashMap<i64, (String, String)> = HashMap::new();
        let mut group_names: HashMap<i64, String> = HashMap::new();
        if previews {
            let mut conn = self.engine.db.get().await?;
            let mut conn = conn.conn();
            let ids: Vec<i64> = due.iter().filter_map(|p| p.message_id).collect();
            let found = messages::by_ids(&mut conn, &ids).await?;
            let senders: Vec<i64> = found
                .iter()
                .map(|m| m.sender_id)
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            let names: HashMap<i64, String> = users::find_many(&mut conn, &senders)
                .await?
                .into_iter()
                .map(|u| (u.id, u.name))
                .collect();
            for m in found.iter().filter(|m| m.deleted_at.is_none()) {
                let name = names.get(&m.sender_id).cloned().unwrap_or_default();
                texts.insert(m.id, (name, push::preview(m)));
            }
            let chat_ids: Vec<i64> = due.iter().map(|p| p.chat_id).collect();
            for c in chats::by_ids(&mut conn, &chat_ids).await? {
                if let (true, Some(name)) = (c.is_group(), c.name) {
                    group_names.insert(c.id, name);
                }
            }
        }
        Ok(due
            .iter()
            .map(|p| {
                let (mut title, mut body) = match p.kind.as_str() {
                    "call" => ("Incoming call", "Someone is calling you"),
                    "missed_call" => ("Missed call", "You missed a call"),
                    "group_added" => ("New group", "You were added to a group"),
                    _ => ("New message", "You have a new message"),
                };
                let shown = p.message_id.and_then(|id| texts.get(&id));
                let (t, b);
                if let Some((name, text)) = shown {
                    t = match group_names.get(&p.chat_id) {
                        Some(group) => format!("{name} @ {group}"),
                        None => name.clone(),
                    };
                    b = text.clone();
                    title = &t;
                    body = &b;
                }
                let note = Note {
                    kind: p.kind.clone(),
                    chat_id: p.chat_id,
                    message_id: p.message_id,
                    call_id: p.call_id,
                    high_priority: p.priority == "high",
                    ttl_secs: (p.expires_at - now).num_seconds().max(0),
                    expires_at: p.expires_at,
                    // A call's notifications replace each other; a chat's messages too.
                    collapse_key: match p.call_id {
                        Some(call) => format!("call-{call}"),
                        None => format!("chat-{}", p.chat_id),
                    },
                    title: title.to_string(),
                    body: body.to_string(),
                };
                (p.id, note)
            })
            .collect())
    }
}
