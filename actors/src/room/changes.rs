//! Changes a room makes besides new messages: receipt cursors, edits, deletions, reactions
//! and group changes. Each is submitted to the writer in order and announced after commit.

use actix::prelude::*;
use serde_json::{json, Value};

use super::invites::announce_invites;
use super::{view_of, ChatRoom, GroupCmd, MemberName, Reply, RoomError};
use crate::event::chat_channel;
use crate::store::disappearing::SetTimer;
use crate::store::groups::{AcceptInvite, AddMembers, Change, RemoveMember, SetRole, UpdateGroup};
use crate::store::message_ops::{DeleteForEveryone, EditMessage, Refusal};
use crate::store::messages::Message;
use crate::store::reactions::React;
use crate::store::receipts::{Kind, MoveCursor};
use crate::store::views::UserBrief;

fn refusal(r: Refusal) -> RoomError {
    match r {
        Refusal::NotFound => RoomError::NotFound("message"),
        Refusal::NotSender => RoomError::Forbidden("not_sender", "only the sender can do this"),
        Refusal::Deleted => RoomError::Forbidden("message_deleted", "the message was deleted"),
        Refusal::NotText => {
            RoomError::Forbidden("not_editable", "only text messages can be edited")
        }
        Refusal::System => {
            RoomError::Forbidden("system_message", "system messages cannot be changed")
        }
    }
}

fn brief(name: &str, id: i64) -> Value {
    json!({ "id": id, "name": name })
}

impl ChatRoom {
    /// Answers `reply` with an error unless `user_id` is a current member.
    fn require_member<T>(&self, user_id: i64, reply: Reply<T>) -> Option<Reply<T>> {
        match self.member(user_id) {
            Ok(_) => Some(reply),
            Err(e) => {
                let _ = reply.send(Err(e));
                None
            }
        }
    }

    /// Answers `reply` with an error unless `user_id` is a current member who may act towards
    /// the other side (no block between them in a private chat).
    fn require_unblocked<T>(&self, user_id: i64, reply: Reply<T>) -> Option<Reply<T>> {
        let reply = self.require_member(user_id, reply)?;
        match self.across_block(user_id) {
            None => Some(reply),
            Some(e) => {
                let _ = reply.send(Err(e));
                None
            }
        }
    }

    /// Moves a cursor. Across a block it still moves (the reader's unread count and other
    /// devices follow it) but only the reader's own devices are told.
    pub(super) fn receipt(
        &mut self,
        user_id: i64,
        kind: Kind,
        up_to: i64,
        reply: Reply<Option<chrono::NaiveDateTime>>,
        ctx: &mut Context<Self>,
    ) {
        let Some(reply) = self.require_member(user_id, reply) else {
            return;
        };
        let op = MoveCursor {
            chat_id: self.chat_id,
            user_id,
            kind,
            up_to,
        };
        self.submit_then(ctx, op, reply, move |act, out| {
            let out = out.ok_or(RoomError::NotFound("message"))?;
            let chat_id = act.chat_id;
            let Some((participant, user)) = act.members.get_mut(&user_id) else {
                return Ok(out.at);
            };
            let by = brief(&user.name, user.id);
            let mut events = Vec::new();
            for m in &out.moved {
                let (who, when) = match m.kind {
                    Kind::Delivered => {
                        participant.last_delivered_message_id = m.to;
                        ("delivered_to", "delivered_at")
                    }
                    Kind::Read => {
                        participant.last_read_message_id = m.to;
                        ("read_by", "read_at")
                    }
                };
                let data = json!({
                    "chat_id": chat_id,
                    "message_id": m.to,
                    "up_to_message_id": m.to,
                    "status": m.kind.as_str(),
                    when: m.at.and_utc(),
                    who: by,
                });
                events.push((m.seq, data));
            }
            let blocked = act.across_block(user_id).is_some();
            for (seq, data) in events {
                if blocked {
                    let event = act.engine.event(
                        "message-status-updated",
                        chat_channel(chat_id),
                        Some(seq),
                        data,
                    );
                    act.publish(vec![user_id], event, None);
                } else {
                    act.publish_to_chat("message-status-updated", Some(seq), data, None);
                }
            }
            Ok(out.at)
        });
    }

    pub(super) fn edit(
        &mut self,
        user_id: i64,
        message_id: i64,
        content: String,
        reply: Reply<Message>,
        ctx: &mut Context<Self>,
    ) {
        let Some(reply) = self.require_unblocked(user_id, reply) else {
            return;
        };
        let op = EditMessage {
            chat_id: self.chat_id,
            message_id,
            user_id,
            content,
        };
        self.submit_then(ctx, op, reply, move |act, out| {
            let m = out.map_err(refusal)?;
            let data = json!({
                "chat_id": act.chat_id,
                "message_id": m.id,
                "content": m.content,
                "edited_at": m.edited_at.map(|t| t.and_utc()),
            });
            act.publish_to_chat("message-updated", Some(m.seq), data, None);
            Ok(m)
        });
    }

    pub(super) fn delete(
        &mut self,
        user_id: i64,
        message_id: i64,
        reply: Reply<Vec<String>>,
        ctx: &mut Context<Self>,
    ) {
        // Allowed across a block: taking one's own words back adds nothing the other side
        // would have to accept.
        let Some(reply) = self.require_member(user_id, reply) else {
            return;
        };
        let op = DeleteForEveryone {
            chat_id: self.chat_id,
            message_id,
            user_id,
        };
        self.submit_then(ctx, op, reply, move |act, out| {
            let (m, files) = out.map_err(refusal)?;
            let data = json!({
                "chat_id": act.chat_id,
                "message_id": m.id,
                "for_everyone": true,
                "deleted_at": m.deleted_at.map(|t| t.and_utc()),
            });
            act.publish_to_chat("message-deleted", Some(m.seq), data, None);
            Ok(files)
        });
    }

    pub(super) fn react(
        &mut self,
        user_id: i64,
        message_id: i64,
        emoji: String,
        add: bool,
        reply: Reply<i64>,
        ctx: &mut Context<Self>,
    ) {
        let Some(reply) = self.require_unblocked(user_id, reply) else {
            return;
        };
        let name = self
            .member(user_id)
            .map(|(_, u)| u.name.clone())
            .unwrap_or_default();
        let op = React {
            chat_id: self.chat_id,
            message_id,
            user_id,
            emoji: emoji.clone(),
            add,
        };
        self.submit_then(ctx, op, reply, move |act, out| {
            let out = out.map_err(refusal)?;
            if out.changed {
                let data = json!({
                    "chat_id": act.chat_id,
                    "message_id": message_id,
                    "emoji": emoji,
                    "count": out.count,
                    "action": if add { "added" } else { "removed" },
                    "user": brief(&name, user_id),
                });
                act.publish_to_chat("reaction-updated", Some(out.seq), data, None);
            }
            Ok(out.count)
        });
    }

    pub(super) fn group(
        &mut self,
        actor: i64,
        cmd: GroupCmd,
        reply: Reply<Change>,
        ctx: &mut Context<Self>,
    ) {
        let (chat_id, max) = (self.chat_id, self.engine.realtime.max_group_size);
        // The writer checks rights against the database: the authority, whatever is cached.
        let answer = match cmd.clone() {
            GroupCmd::Update {
                name,
                description,
                avatar_url,
            } => self.engine.submit(UpdateGroup {
                actor,
                chat_id,
                name,
                description,
                avatar_url,
            }),
            GroupCmd::Add {
                user_ids,
                invite_ttl,
            } => self.engine.submit(AddMembers {
                actor,
                chat_id,
                user_ids,
                max_size: max,
                invite_ttl,
            }),
            GroupCmd::AcceptInvite { invite_id } => self.engine.submit(AcceptInvite {
                user_id: actor,
                chat_id,
                invite_id,
                max_size: max,
            }),
            GroupCmd::Remove { target } => self.engine.submit(RemoveMember {
                actor,
                chat_id,
                target,
            }),
            GroupCmd::SetRole { target, role } => self.engine.submit(SetRole {
                actor,
                chat_id,
                target,
                role,
            }),
            GroupCmd::SetTimer { secs } => self.engine.submit(SetTimer {
                actor,
                chat_id,
                secs,
            }),
        };
        self.in_order(ctx, answer, move |act, res, _| {
            let answer = match res {
                Ok(Ok(change)) => {
                    act.apply_change(&change, &cmd);
                    Ok(change)
                }
                Ok(Err(refused)) => Err(RoomError::Group(refused)),
                Err(e) => Err(RoomError::Store(e)),
            };
            if answer.is_err() {
                let _ = reply.send(answer);
                return;
            }
            // Answered once the chat's rooms on the other nodes of a cluster have the change
            // queued: a send after the answer, through any node, sees the new members.
            let elsewhere = act.engine.reload_elsewhere(act.chat_id);
            actix::spawn(async move {
                elsewhere.await;
                let _ = reply.send(answer);
            });
        });
    }

    /// Takes a committed group change into the cache and tells the members (and whoever was
    /// removed) what happened.
    fn apply_change(&mut self, change: &Change, cmd: &GroupCmd) {
        if let Some(removed) = &change.removed {
            self.forget_typist(removed.id);
        }
        self.chat = Some(change.chat.clone());
        self.members = change
            .members
            .iter()
            .map(|(p, u)| (p.user_id, (p.clone(), MemberName::of(u))))
            .collect();
        let mut audience = self.current_members();
        if let Some(removed) = &change.removed {
            audience.push(removed.id);
        }
        let by = brief(&change.actor.name, change.actor.id);
        let event = |name: &'static str, seq: Option<i64>, data: Value| {
            self.engine
                .event(name, chat_channel(change.chat.id), seq, data)
        };
        if let Some(system) = &change.system {
            let view = view_of(system);
            let data = json!({ "chat_id": self.chat_id, "message": view });
            self.publish(
                audience.clone(),
                event("new-message", Some(view.seq), data),
                None,
            );
        }
        if !change.added.is_empty() {
            let added: Vec<Value> = change
                .added
                .iter()
                .map(|u| json!({ "user": UserBrief::of(u), "role": "member" }))
                .collect();
            let data = json!({ "chat_id": self.chat_id, "members": added, "by": by });
            self.publish(
                self.current_members(),
                event("member-added", None, data),
                None,
            );
        }
        if let Some(removed) = &change.removed {
            let data = json!({
                "chat_id": self.chat_id,
                "user_id": removed.id,
                "left": removed.id == change.actor.id,
                "by": by,
            });
            self.publish(audience.clone(), event("member-removed", None, data), None);
        }
        for (user_id, role) in &change.roles {
            let data =
                json!({ "chat_id": self.chat_id, "user_id": user_id, "role": role, "by": by });
            self.publish(
                self.current_members(),
                event("role-changed", None, data),
                None,
            );
        }
        if matches!(cmd, GroupCmd::Update { .. }) && change.system.is_some() {
            let c = &change.chat;
            let data = json!({
                "chat_id": c.id,
                "name": c.name,
                "description": c.description,
                "avatar_url": c.avatar_url,
                "by": by,
            });
            self.publish(
                self.current_members(),
                event("chat-updated", None, data),
                None,
            );
        }
        announce_invites(&self.engine, change);
    }
}

/// Announces a group that was just created (it has no room yet): the system message and the
/// members, to every member.
pub fn announce_new_group(engine: &crate::engine::Engine, change: &Change) {
    let members = change.current();
    let chat = change.chat.id;
    // A room started for this id before the group existed knows it as missing: it reloads.
    engine.membership_changed(chat);
    let publish = |name: &'static str, seq: Option<i64>, data: Value| {
        let event = engine.event(name, chat_channel(chat), seq, data);
        engine.bus.publish(crate::bus::Delivery {
            users: members.clone(),
            event,
            skip: None,
            only: None,
            order: None,
        });
    };
    if let Some(system) = &change.system {
        let view = view_of(system);
        publish(
            "new-message",
            Some(view.seq),
            json!({ "chat_id": chat, "message": view }),
        );
    }
    let all: Vec<Value> = change
        .members
        .iter()
        .map(|(p, u)| json!({ "user": UserBrief::of(u), "role": p.role }))
        .collect();
    let by = brief(&change.actor.name, change.actor.id);
    publish(
        "member-added",
        None,
        json!({ "chat_id": chat, "members": all, "by": by }),
    );
    announce_invites(engine, change);
}
