//! `/api/calls/*`: starting, answering, ending calls, the history, ICE servers.

use chrono::{DateTime, Utc};
use courier_actors::store::views::UserBrief;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::common::Pagination;
use crate::sign_fields;

/// `POST /api/calls`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StartCallRequest {
    pub chat_id: i64,
    /// `audio` or `video`.
    pub call_type: String,
}

/// A call just started.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewCall {
    pub id: i64,
    pub chat_id: i64,
    pub call_type: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// `POST /api/calls`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallStarted {
    pub call: NewCall,
}

/// A call's state after an answer, a decline or its end.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallState {
    pub id: i64,
    pub status: String,
    /// Answer: when the call started.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub started_at: Option<Option<DateTime<Utc>>>,
    /// End: when it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub ended_at: Option<Option<DateTime<Utc>>>,
    /// End: seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i32>)]
    pub duration: Option<Option<i32>>,
}

/// The call after an action.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallAction {
    pub success: bool,
    pub call: CallState,
}

/// The chat of a call in the history: a group's name, or the other person.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallChat {
    pub id: i64,
    /// `private` or `group`.
    #[serde(rename = "type")]
    pub chat_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<UserBrief>)]
    pub participant: Option<Option<UserBrief>>,
}

impl crate::api::links::SignLinks for CallChat {
    fn sign_links(&mut self, storage: &courier_actors::storage::Storage) {
        if let Some(p) = &mut self.participant {
            p.sign_links(storage);
        }
    }
}

/// A call in the history.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallItem {
    pub id: i64,
    pub chat: CallChat,
    pub caller: Option<UserBrief>,
    /// `outgoing` or `incoming`.
    pub direction: String,
    pub call_type: String,
    pub status: String,
    pub duration: Option<i32>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

sign_fields!(CallItem {
    links: [],
    parts: [chat, caller]
});

/// `GET /api/calls`: newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallHistory {
    pub calls: Vec<CallItem>,
    pub pagination: Pagination,
}

sign_fields!(CallHistory {
    links: [],
    parts: [calls]
});

/// A STUN or TURN server (TURN with time-limited credentials).
#[derive(Debug, Serialize, ToSchema)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_type: Option<String>,
}

/// `GET /api/calls/ice-servers`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IceServers {
    pub ice_servers: Vec<IceServer>,
    /// Seconds the TURN credentials work.
    pub ttl: u64,
}
