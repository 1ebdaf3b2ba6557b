//! What a room holds about its chat (the chat, its members, the blocks between them), loaded
//! for many chats in three queries: a router starts every room waiting on it at once, and a
//! room reloads its own the same way.

use std::collections::{HashMap, HashSet};

use crate::store::chats::{self, Chat, Participant};
use crate::store::contacts::blocks_among;
use crate::store::users::User;
use crate::store::{Conn, StoreResult};

/// What a room needs of a member's user row: who they are and the name its events show.
/// (Reading whole rows, four timestamps and nine strings each, took half of the start of a
/// thousand-member group's room.)
#[derive(Debug, Clone)]
pub struct MemberName {
    pub id: i64,
    pub name: String,
}

impl MemberName {
    pub fn of(user: &User) -> MemberName {
        MemberName {
            id: user.id,
            name: user.name.clone(),
        }
    }
}

/// A room's view of its chat.
#[derive(Default)]
pub struct RoomState {
    /// `None`: the chat does not exist (or was deleted).
    pub chat: Option<Chat>,
    /// Every participant, former ones included, with their names.
    pub members: HashMap<i64, (Participant, MemberName)>,
    /// (blocker, blocked) pairs among the members of a private chat.
    pub blocks: HashSet<(i64, i64)>,
}

/// The state of every chat of `chat_ids` (each appears in the answer), in three queries
/// whatever their number.
pub async fn load(conn: &mut Conn<'_>, chat_ids: &[i64]) -> StoreResult<HashMap<i64, RoomState>> {
    let mut states: HashMap<i64, RoomState> = chat_ids
        .iter()
        .map(|id| (*id, RoomState::default()))
        .collect();
    let live: Vec<Chat> = chats::by_ids(conn, chat_ids)
        .await?
        .into_iter()
        .filter(|c| c.deleted_at.is_none())
        .collect();
    if live.is_empty() {
        return Ok(states);
    }
    let ids: Vec<i64> = live.iter().map(|c| c.id).collect();
    for (p, (id, name)) in chats::participants_named(conn, &ids).await? {
        if let Some(state) = states.get_mut(&p.chat_id) {
            state
                .members
                .insert(p.user_id, (p, MemberName { id, name }));
        }
    }
    // Blocks matter only between the two sides of a private chat.
    let private: Vec<i64> = live
        .iter()
        .filter(|c| !c.is_group())
        .flat_map(|c| states[&c.id].members.keys().copied())
        .collect();
    let blocks = match private.is_empty() {
        true => HashSet::new(),
        false => blocks_among(conn, &private).await?,
    };
    for chat in live {
        let Some(state) = states.get_mut(&chat.id) else {
            continue;
        };
        if !chat.is_group() {
            state.blocks = blocks
                .iter()
                .filter(|(a, b)| state.members.contains_key(a) && state.members.contains_key(b))
                .copied()
                .collect();
        }
        state.chat = Some(chat);
    }
    Ok(states)
}
