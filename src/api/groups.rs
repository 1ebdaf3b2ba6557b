//! `/api/groups/*`: groups, their members and roles, invites.

use chrono::{DateTime, Utc};
use courier_actors::room::InviteView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::common::Named;
use crate::sign_fields;

/// A group as its creation and an accepted invite answer it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupSummary {
    pub id: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    pub avatar_url: Option<String>,
    pub created_by: Option<i64>,
    pub participants_count: usize,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

sign_fields!(GroupSummary {
    links: [avatar_url],
    parts: []
});

/// `POST /api/groups` (JSON; a multipart form also takes a photo).
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateGroupRequest {
    /// 1–100 characters.
    pub name: String,
    /// Up to 512 characters; `null` or empty for none.
    #[schema(value_type = Option<String>)]
    pub description: Option<serde_json::Value>,
    /// Users to add (or invite, where their privacy asks for it); not the creator.
    #[serde(default)]
    pub participants: Vec<i64>,
}

/// `POST /api/groups` and `PUT /api/groups/{id}` as multipart forms, with a photo.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct GroupForm {
    pub name: Option<String>,
    pub description: Option<String>,
    /// User ids, as `[1, 2]` or `1,2` (creation only).
    pub participants: Option<String>,
    /// The group's photo.
    #[schema(value_type = Option<String>, format = Binary)]
    pub avatar: Option<Vec<u8>>,
}

/// A group created: the group, who was added and who was invited instead.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupCreated {
    pub group: GroupSummary,
    pub added_members: Vec<Named>,
    pub invited: Vec<Named>,
}

sign_fields!(GroupCreated {
    links: [],
    parts: [group]
});

/// A current member, as `GET /api/groups/{id}` lists them.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupMember {
    pub id: i64,
    pub name: String,
    pub avatar_url: Option<String>,
    pub about: Option<String>,
    /// `admin` or `member`.
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

sign_fields!(GroupMember {
    links: [avatar_url],
    parts: []
});

/// `GET /api/groups/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupDetail {
    pub id: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    pub avatar_url: Option<String>,
    pub created_by: Option<Named>,
    pub participants_count: usize,
    pub participants: Vec<GroupMember>,
    pub is_member: bool,
    pub my_role: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

sign_fields!(GroupDetail {
    links: [avatar_url],
    parts: [participants]
});

/// `PUT /api/groups/{id}` (JSON): name and/or description.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateGroupRequest {
    pub name: Option<String>,
    /// Up to 512 characters; `null` or empty clears it.
    #[schema(value_type = Option<String>)]
    pub description: Option<serde_json::Value>,
}

/// A group's settings after a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpdatedGroup {
    pub id: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    pub avatar_url: Option<String>,
    pub updated_at: DateTime<Utc>,
}

sign_fields!(UpdatedGroup {
    links: [avatar_url],
    parts: []
});

/// `PUT /api/groups/{id}`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupUpdated {
    pub success: bool,
    pub group: UpdatedGroup,
}

sign_fields!(GroupUpdated {
    links: [],
    parts: [group]
});

impl GroupUpdated {
    pub fn of(c: &courier_actors::store::chats::Chat) -> Self {
        GroupUpdated {
            success: true,
            group: UpdatedGroup {
                id: c.id,
                name: c.name.clone(),
                description: c.description.clone(),
                avatar_url: c.avatar_url.clone(),
                updated_at: c.updated_at.and_utc(),
            },
        }
    }
}

/// `POST /api/groups/{id}/members`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AddMembersRequest {
    pub user_ids: Vec<i64>,
}

/// Who was added and who was invited instead.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembersAdded {
    pub success: bool,
    pub added_members: Vec<Named>,
    pub invited: Vec<Named>,
}

/// `PUT /api/groups/{id}/members/{user_id}/role`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleRequest {
    /// `admin` or `member`.
    pub role: String,
}

/// The member's role now.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleSet {
    pub success: bool,
    pub user_id: i64,
    pub role: Option<String>,
}

/// `GET /api/groups/invites`: the caller's pending invites, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteList {
    pub invites: Vec<InviteView>,
}

sign_fields!(InviteList {
    links: [],
    parts: [invites]
});

/// An invite accepted: the group joined.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteAccepted {
    pub success: bool,
    pub group: GroupSummary,
}

sign_fields!(InviteAccepted {
    links: [],
    parts: [group]
});
