//! The Pusher protocol's HTTP side: channel authorization and the events API.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::sign_fields;

/// `POST /broadcasting/auth`, as JSON or `application/x-www-form-urlencoded`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChannelAuthRequest {
    /// The Pusher socket's id, like `123.456`.
    pub socket_id: String,
    /// `private-user.{id}`, `private-chat.{id}` or `presence-chat.{id}`.
    pub channel_name: String,
}

/// The signature a Pusher client presents to subscribe.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelAuth {
    /// `key:signature`.
    pub auth: String,
    /// Presence channels: the member's `{user_id, user_info}`, as a JSON string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_data: Option<String>,
}

/// What the other members of a presence channel see of a member.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberInfo {
    pub id: i64,
    pub name: String,
    pub avatar_url: Option<String>,
}

sign_fields!(MemberInfo {
    links: [avatar_url],
    parts: []
});

/// A presence channel's `channel_data`: who subscribes, and what others see of them.
#[derive(Debug, Serialize)]
pub struct ChannelData {
    pub user_id: i64,
    pub user_info: MemberInfo,
}

/// An event as Pusher sockets receive it, for channels only Pusher clients use.
#[derive(Debug, Serialize)]
pub struct EventFrame<'a> {
    pub event: &'a str,
    pub channel: &'a str,
    pub data: &'a str,
}

/// An event to publish (`POST /apps/{app_id}/events`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct PublishRequest {
    /// 1–200 characters, not starting with `pusher:`.
    pub name: String,
    /// The event's data, a string (JSON reaches native clients as JSON).
    pub data: String,
    /// One channel (or `channels`).
    pub channel: Option<String>,
    /// 1–100 channels (or `channel`).
    pub channels: Option<Vec<String>>,
    /// A socket not to send it to (the publisher's own).
    pub socket_id: Option<String>,
}

/// `POST /apps/{app_id}/batch_events`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BatchRequest {
    /// 1–10 events.
    pub batch: Vec<PublishRequest>,
}

/// An event published (Pusher answers an empty object).
#[derive(Debug, Serialize, ToSchema)]
pub struct Published {}

/// A batch published.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchPublished {
    /// Empty (no per-event info is asked for).
    #[schema(value_type = Vec<Object>)]
    pub batch: Vec<serde_json::Value>,
}

/// A channel's attributes in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelAttributes {
    /// Presence channels, with `info=user_count`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_count: Option<usize>,
}

/// `GET /apps/{app_id}/channels`: occupied channels by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelList {
    pub channels: BTreeMap<String, ChannelAttributes>,
}

/// `GET /apps/{app_id}/channels/{name}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelInfo {
    pub occupied: bool,
    /// With `info=subscription_count`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_count: Option<usize>,
    /// Presence channels, with `info=user_count`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_count: Option<usize>,
}

/// A presence channel's member.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelUser {
    /// The user id, as a string (Pusher's shape).
    pub id: String,
}

/// `GET /apps/{app_id}/channels/{name}/users`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelUsers {
    pub users: Vec<ChannelUser>,
}
