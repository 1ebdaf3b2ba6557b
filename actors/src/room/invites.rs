//! `group-invite`: tells a user, on their own channel, that they were invited to a group
//! (their `groups` privacy setting did not allow the adder to add them).

use serde_json::Value;

use crate::bus::Delivery;
use crate::engine::Engine;
use crate::event::user_channel;
use crate::store::chats::Chat;
use crate::store::groups::{Change, Invite};
use crate::store::users::User;
use crate::store::views::UserBrief;

/// The group an invite is for.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct InvitedGroup {
    pub id: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    pub avatar_url: Option<String>,
    pub participants_count: i64,
}

/// An invite as its invitee sees it, in the `group-invite` event and in
/// `GET /api/groups/invites`.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[schema(as = GroupInvite)]
pub struct InviteView {
    pub id: i64,
    pub group: InvitedGroup,
    pub invited_by: UserBrief,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl InviteView {
    pub fn new(invite: &Invite, chat: &Chat, participants_count: i64, inviter: &User) -> Self {
        InviteView {
            id: invite.id,
            group: InvitedGroup {
                id: chat.id,
                name: chat.name.clone(),
                description: chat.description.clone(),
                avatar_url: chat.avatar_url.clone(),
                participants_count,
            },
            invited_by: UserBrief::of(inviter),
            created_at: invite.created_at.and_utc(),
            expires_at: invite.expires_at.and_utc(),
        }
    }
}

/// [`InviteView`] as JSON, for the event.
pub fn invite_json(invite: &Invite, chat: &Chat, participants_count: i64, inviter: &User) -> Value {
    serde_json::to_value(InviteView::new(invite, chat, participants_count, inviter))
        .unwrap_or_default()
}

/// Sends `group-invite` to every socket of each user the change invited.
pub fn announce_invites(engine: &Engine, change: &Change) {
    let count = change.current().len() as i64;
    for invited in &change.invited {
        let user = invited.user.id;
        let data = invite_json(&invited.invite, &change.chat, count, &change.actor);
        engine.bus.publish(Delivery {
            users: vec![user],
            event: engine.event("group-invite", user_channel(user), None, data),
            skip: None,
            only: None,
            order: None,
        });
    }
}
