//! What a chat room is asked to do, and how it answers.

use actix::prelude::*;
use chrono::NaiveDateTime;
use tokio::sync::oneshot;

use crate::session::ConnId;
use crate::store::groups::{Change, Refusal as GroupRefusal};
use crate::store::messages::{Message as StoredMessage, NewMessage};
use crate::store::receipts::Kind;
use crate::store::views::MessageView;
use crate::store::StoreError;

/// Why a room refused a command.
#[derive(Debug)]
pub enum RoomError {
    /// The chat (or message) does not exist for this user.
    NotFound(&'static str),
    /// The user may see it but not do this (`code`, message).
    Forbidden(&'static str, &'static str),
    /// A field breaks a rule.
    Invalid(&'static str, String),
    /// The request conflicts with what is stored (`code`, message).
    Conflict(&'static str, &'static str),
    /// Refused by a moderation rule (`code`, message): 422.
    Refused(&'static str, &'static str),
    /// A group change was refused.
    Group(GroupRefusal),
    /// Storage failed.
    Store(StoreError),
}

impl From<StoreError> for RoomError {
    fn from(e: StoreError) -> Self {
        RoomError::Store(e)
    }
}

/// Where a room sends its answer.
pub type Reply<T> = oneshot::Sender<Result<T, RoomError>>;

/// A message stored (or found stored) for a sender.
#[derive(Debug, Clone)]
pub struct SendReply {
    pub message: MessageView,
    /// The `client_msg_id` had been sent before: this is the original.
    pub duplicate: bool,
}

/// A change to a group's settings or members, or to a chat's disappearing timer, by `actor`.
#[derive(Debug, Clone)]
pub enum GroupCmd {
    /// New name and/or description (`Some(None)` clears the description).
    Update {
        name: Option<String>,
        description: Option<Option<String>>,
        /// A new photo (stored key).
        avatar_url: Option<String>,
    },
    /// Adds members; users whose `groups` setting does not allow the actor are invited, for
    /// `invite_ttl`.
    Add {
        user_ids: Vec<i64>,
        invite_ttl: chrono::TimeDelta,
    },
    /// The actor accepts their invite to this group and joins it.
    AcceptInvite {
        invite_id: i64,
    },
    /// Removes a member; removing oneself is leaving.
    Remove {
        target: i64,
    },
    SetRole {
        target: i64,
        role: &'static str,
    },
    /// The disappearing-messages timer, in seconds (0: off); any member of a private chat,
    /// an admin of a group.
    SetTimer {
        secs: i64,
    },
}

/// Commands a room runs. Each answers on its `reply` channel.
pub enum RoomCmd {
    /// Panics inside the room: how tests crash one.
    #[cfg(test)]
    Crash,
    /// A new message; `conn` is the sending device, which gets the answer instead of the event.
    Send {
        message: NewMessage,
        conn: Option<ConnId>,
        reply: Reply<SendReply>,
    },
    Typing {
        user_id: i64,
        is_typing: bool,
        reply: Reply<()>,
    },
    /// Moves the user's delivered or read cursor to `up_to`; answers when that cursor got
    /// where it is.
    Receipt {
        user_id: i64,
        kind: Kind,
        up_to: i64,
        reply: Reply<Option<NaiveDateTime>>,
    },
    Edit {
        user_id: i64,
        message_id: i64,
        content: String,
        reply: Reply<StoredMessage>,
    },
    /// Deletes for everyone (the sender only). Answers the stored keys of the message's files,
    /// which the caller removes from the store.
    Delete {
        user_id: i64,
        message_id: i64,
        reply: Reply<Vec<String>>,
    },
    React {
        user_id: i64,
        message_id: i64,
        emoji: String,
        add: bool,
        reply: Reply<i64>,
    },
    Group {
        actor: i64,
        cmd: GroupCmd,
        reply: Reply<Change>,
    },
    /// Membership or blocks changed in the database: load them again.
    Reload,
}

impl Message for RoomCmd {
    type Result = ();
}

/// What must hold for a room to be started for a command: a room runs only for its members,
/// and for someone joining with an invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// The user is a current member of the chat.
    Member(i64),
    /// The user holds this pending invite to the chat.
    Invited { user_id: i64, invite_id: i64 },
}

impl RoomCmd {
    /// What lets this command start its room (`None`: housekeeping, only for a running room).
    pub fn gate(&self) -> Option<Gate> {
        match self {
            #[cfg(test)]
            RoomCmd::Crash => None,
            RoomCmd::Reload => None,
            RoomCmd::Send { message, .. } => Some(Gate::Member(message.sender_id)),
            RoomCmd::Typing { user_id, .. }
            | RoomCmd::Receipt { user_id, .. }
            | RoomCmd::Edit { user_id, .. }
            | RoomCmd::Delete { user_id, .. }
            | RoomCmd::React { user_id, .. } => Some(Gate::Member(*user_id)),
            RoomCmd::Group {
                actor,
                cmd: GroupCmd::AcceptInvite { invite_id },
                ..
            } => Some(Gate::Invited {
                user_id: *actor,
                invite_id: *invite_id,
            }),
            RoomCmd::Group { actor, .. } => Some(Gate::Member(*actor)),
        }
    }

    /// Answers the command with `e` without running it.
    pub fn refuse(self, e: RoomError) {
        match self {
            #[cfg(test)]
            RoomCmd::Crash => {}
            RoomCmd::Reload => {}
            RoomCmd::Send { reply, .. } => drop(reply.send(Err(e))),
            RoomCmd::Typing { reply, .. } => drop(reply.send(Err(e))),
            RoomCmd::Receipt { reply, .. } => drop(reply.send(Err(e))),
            RoomCmd::Edit { reply, .. } => drop(reply.send(Err(e))),
            RoomCmd::Delete { reply, .. } => drop(reply.send(Err(e))),
            RoomCmd::React { reply, .. } => drop(reply.send(Err(e))),
            RoomCmd::Group { reply, .. } => drop(reply.send(Err(e))),
        }
    }
}

/// Sent by the room's router on each heartbeat: an idle room stops.
#[derive(Message)]
#[rtype(result = "()")]
pub struct IdleCheck;
