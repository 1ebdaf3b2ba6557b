//! `POST /api/reports`: a report of a message, a user or a group, as its reporter and the
//! system admins see it.

use chrono::{DateTime, Utc};
use courier_actors::store::reports::Report;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::sign_fields;

/// `POST /api/reports`: exactly one of `message_id`, `user_id`, `group_id`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReportRequest {
    pub message_id: Option<i64>,
    pub user_id: Option<i64>,
    pub group_id: Option<i64>,
    /// `spam`, `harassment`, `hate_speech`, `violence`, `sexual_content`, `impersonation`,
    /// `scam` or `other`.
    pub reason: String,
    /// At most 1000 characters.
    pub note: Option<String>,
    /// Also block the reported user (a user, or a message of a private chat).
    #[serde(default)]
    pub block: bool,
}

/// What a report or an audit entry is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct Target {
    /// `message`, `user` or `group`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: i64,
}

/// The copy of a reported message kept with the report, as it was when reported.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportedMessage {
    pub id: Option<i64>,
    pub message_type: String,
    pub content: Option<String>,
    pub media_url: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}

sign_fields!(ReportedMessage {
    links: [media_url],
    parts: []
});

/// How an admin closed a report.
#[derive(Debug, Serialize, ToSchema)]
pub struct Resolution {
    /// The admin who closed it.
    pub by: Option<i64>,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

/// A report.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Report)]
pub struct ReportView {
    pub id: i64,
    /// `open`, `resolved` or `dismissed`.
    pub status: String,
    pub reason: String,
    pub note: Option<String>,
    pub target: Target,
    /// `null`: filed by the system (the content filter).
    pub reporter_id: Option<i64>,
    pub reported_user_id: Option<i64>,
    pub chat_id: Option<i64>,
    /// A message report's copy of the message.
    pub message: Option<ReportedMessage>,
    /// `null` while the report is open.
    pub resolution: Option<Resolution>,
    pub created_at: DateTime<Utc>,
}

sign_fields!(ReportView {
    links: [],
    parts: [message]
});

impl ReportView {
    /// The report as stored (its media key still a key: sign the answer it goes in).
    pub fn of(r: &Report) -> Self {
        ReportView {
            id: r.id,
            status: r.status.clone(),
            reason: r.reason.clone(),
            note: r.note.clone(),
            target: Target {
                kind: r.target_type.clone(),
                id: r.target_id,
            },
            reporter_id: r.reporter_id,
            reported_user_id: r.reported_user_id,
            chat_id: r.chat_id,
            message: r.message_type.as_ref().map(|t| ReportedMessage {
                id: r.message_id,
                message_type: t.clone(),
                content: r.message_content.clone(),
                media_url: r.message_media_url.clone(),
                sent_at: r.message_sent_at.map(|t| t.and_utc()),
            }),
            resolution: r.resolved_at.map(|at| Resolution {
                by: r.resolved_by,
                note: r.resolution_note.clone(),
                at: at.and_utc(),
            }),
            created_at: r.created_at.and_utc(),
        }
    }
}

/// 201 when filed, 200 (`duplicate: true`) when the caller had reported this target already:
/// `report` is then that first report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportFiled {
    pub success: bool,
    pub report: ReportView,
    pub duplicate: bool,
    /// The reported user is now blocked by the caller.
    pub blocked: bool,
}

sign_fields!(ReportFiled {
    links: [],
    parts: [report]
});
