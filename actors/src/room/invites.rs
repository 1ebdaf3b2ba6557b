//! `group-invite`: tells a user, on their own channel, that they were invited to a group
//! (their `groups` privacy setting did not allow the adder to add them).

use serde_json::{json, Value};

use crate::bus::Delivery;
use crate::engine::Engine;
use crate::event::user_channel;
use crate::store::chats::Chat;
use crate::store::groups::{Change, Invite};
use crate::store::users::User;
use crate::store::views::UserBrief;

/// An invite as its invitee sees it, in the `group-invite` event and in
/// `GET /api/groups/invites`.
pub fn invite_json(invite: &Invite, chat: &Chat, participants_count: i64, inviter: &User) -> Value {
    json!({
        "id": invite.id,
        "group": {
            "id": chat.id,
            "name": chat.name,
            "description": chat.description,
            "avatar_url": chat.avatar_url,
            "participants_count": participants_count,
        },
        "invited_by": UserBrief::of(inviter),
        "created_at": invite.created_at.and_utc(),
        "expires_at": invite.expires_at.and_utc(),
    })
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
        });
    }
}
