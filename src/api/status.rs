//! `/api/status/*`: 24-hour statuses.

use chrono::{DateTime, Utc};
use courier_actors::store::statuses::Status;
use courier_actors::store::views::UserBrief;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::sign_fields;

/// A status.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusItem {
    pub id: i64,
    pub user_id: i64,
    /// `text`, `image` or `video`.
    pub content_type: String,
    pub content: Option<String>,
    pub media_url: Option<String>,
    pub background_color: Option<String>,
    pub font_style: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// In the feed: whether the caller has seen it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_viewed: Option<bool>,
}

sign_fields!(StatusItem {
    links: [media_url],
    parts: []
});

impl StatusItem {
    pub fn of(s: &Status) -> Self {
        StatusItem {
            id: s.id,
            user_id: s.user_id,
            content_type: s.content_type.clone(),
            content: s.content.clone(),
            media_url: s.media_url.clone(),
            background_color: s.background_color.clone(),
            font_style: s.font_style.clone(),
            expires_at: s.expires_at.and_utc(),
            created_at: s.created_at.and_utc(),
            is_viewed: None,
        }
    }
}

/// `POST /api/status` (JSON): a text status.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TextStatusRequest {
    /// `text` (images and videos are multipart uploads).
    pub content_type: String,
    /// 1–700 characters.
    pub content: Option<String>,
    /// Like `#25D366`.
    pub background_color: Option<String>,
    /// Up to 50 letters, digits, `-` or `_`.
    pub font_style: Option<String>,
}

/// `POST /api/status` as a multipart form: an image or video status.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MediaStatusForm {
    /// `image` or `video`.
    pub content_type: String,
    #[schema(value_type = String, format = Binary)]
    pub media: Vec<u8>,
    /// A caption.
    pub content: Option<String>,
}

/// A status posted.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusCreated {
    pub status: StatusItem,
}

sign_fields!(StatusCreated {
    links: [],
    parts: [status]
});

/// One person's statuses in the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusGroup {
    pub user: Option<UserBrief>,
    pub is_mine: bool,
    pub latest_status_at: Option<DateTime<Utc>>,
    pub all_viewed: bool,
    pub statuses: Vec<StatusItem>,
}

sign_fields!(StatusGroup {
    links: [],
    parts: [user, statuses]
});

/// `GET /api/status`: by person, the most recent first; the caller's own included.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusFeed {
    pub statuses: Vec<StatusGroup>,
}

sign_fields!(StatusFeed {
    links: [],
    parts: [statuses]
});

/// A status seen.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusViewed {
    pub success: bool,
    pub viewed_at: DateTime<Utc>,
}

/// Someone who saw a status.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusViewer {
    pub viewer: UserBrief,
    pub viewed_at: DateTime<Utc>,
}

sign_fields!(StatusViewer {
    links: [],
    parts: [viewer]
});

/// `GET /api/status/{id}/views` (the owner only).
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusViews {
    pub total_views: usize,
    pub views: Vec<StatusViewer>,
}

sign_fields!(StatusViews {
    links: [],
    parts: [views]
});
