//! Presence channel members in a cluster: the node's side of `cluster::members`. The hub
//! counts a user's sockets per channel on this node; when a user's first socket here joins a
//! channel, or their last one here leaves it, one task records it in Redis, in the order it
//! happened, and announces `member_added` / `member_removed` on every node only when Redis
//! says the user was a member on no node before (or is one on no node now): a user with
//! sockets on two nodes is one member.
//!
//! With Redis away, the change is announced on this node alone, as when there is one node,
//! and every member of this node is recorded again once Redis answers.

use std::collections::HashSet;
use std::sync::{Arc, Weak};

use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use super::codec;
use super::hub::{Hub, Member};
use crate::cluster::{member_removed, Cluster};

/// A change of this node's members, waiting to be recorded.
pub(super) enum Change {
    /// `member`'s first socket here, `socket`, subscribed to `channel`.
    Joined {
        channel: String,
        member: Member,
        socket: Arc<str>,
    },
    /// `user_id`'s last socket here left `channel`.
    Left { channel: String, user_id: i64 },
    /// Redis may have lost this node's members: record them all again.
    All,
    /// Answers once every change queued before it has been recorded (or has failed).
    Recorded(oneshot::Sender<()>),
}

/// Where the hub queues its members' changes for the task of [`start`].
pub(super) type Changes = mpsc::UnboundedSender<Change>;

/// Starts the task that records `hub`'s member changes in `cluster`, on the current actix
/// system; answers where the changes go.
pub(super) fn start(hub: Weak<Hub>, cluster: Arc<Cluster>) -> Changes {
    let (tx, mut rx) = mpsc::unbounded_channel();
    actix::spawn(async move {
        // A change Redis missed leaves it out of date: everything is to be recorded again.
        let mut lost = false;
        while let Some(change) = rx.recv().await {
            let Some(hub) = hub.upgrade() else { return };
            if let Change::Recorded(done) = change {
                let _ = done.send(());
                continue;
            }
            // With Redis away, changes are announced here alone, without waiting on Redis
            // for each of them; they are recorded again once it is back.
            let (channel, text, except, recorded) = match change {
                Change::All | Change::Recorded(_) => {
                    lost = true;
                    record_again_if_lost(&cluster, &hub, &mut lost).await;
                    continue;
                }
                Change::Joined {
                    channel,
                    member,
                    socket,
                } => {
                    let text = member_added(&channel, &member);
                    let first = match cluster.is_up() {
                        true => {
                            let info = member.info.to_string();
                            let joined = cluster.member_joined(&channel, member.user_id, &info);
                            joined.await.map_err(Some)
                        }
                        false => Err(None),
                    };
                    (channel, text, Some(socket), first)
                }
                Change::Left { channel, user_id } => {
                    let last = match cluster.is_up() {
                        true => cluster.member_left(&channel, user_id).await.map_err(Some),
                        false => Err(None),
                    };
                    let text = member_removed(&channel, user_id);
                    (channel, text, None, last)
                }
            };
            match recorded {
                Ok(true) => {
                    hub.broadcast(&channel, text, except.as_deref());
                }
                Ok(false) => {}
                Err(e) => {
                    // `None`: not sent, Redis is away.
                    if let Some(e) = e {
                        tracing::warn!(error = %e, "a channel member change not recorded in Redis");
                    }
                    lost = true;
                    hub.send_here(&channel, text, except.as_deref());
                }
            }
            // What Redis missed is written again after the change, which was announced as
            // Redis saw it (a member it had lost is announced to the other nodes again).
            record_again_if_lost(&cluster, &hub, &mut lost).await;
        }
    });
    tx
}

/// Records every member of this node again if Redis missed a change (`lost`) and is up.
async fn record_again_if_lost(cluster: &Cluster, hub: &Hub, lost: &mut bool) {
    if *lost && cluster.is_up() {
        *lost = cluster
            .record_members_again(&hub.listed_members())
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "channel members not recorded again yet"))
            .is_err();
    }
}

/// `pusher_internal:member_added` for `member` on `channel`.
pub(super) fn member_added(channel: &str, member: &Member) -> String {
    codec::frame(
        "pusher_internal:member_added",
        Some(channel),
        &json!({ "user_id": member.user_id, "user_info": member.info }),
    )
}

/// The presence part of `subscription_succeeded`: `members` (user id, info), each once.
pub(super) fn presence_data(members: &[(i64, Value)]) -> Value {
    let ids: Vec<String> = members.iter().map(|(id, _)| id.to_string()).collect();
    let hash: serde_json::Map<String, Value> = members
        .iter()
        .map(|(id, info)| (id.to_string(), info.clone()))
        .collect();
    json!({ "presence": { "ids": ids, "hash": hash, "count": ids.len() } })
}

/// Adds the members `elsewhere` (user id, info as JSON) to those of this node, `here`, each
/// user once (this node's description wins).
pub(super) fn merge(
    mut here: Vec<(i64, Value)>,
    elsewhere: Vec<(i64, String)>,
) -> Vec<(i64, Value)> {
    let mut seen: HashSet<i64> = here.iter().map(|(id, _)| *id).collect();
    for (id, info) in elsewhere {
        if !seen.insert(id) {
            continue;
        }
        if let Ok(info) = serde_json::from_str(&info) {
            here.push((id, info));
        }
    }
    here
}
