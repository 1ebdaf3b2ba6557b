//! What nodes tell each other through Redis, one JSON object per pub/sub message. Every
//! message names the node that sent it, so a node skips its own broadcasts (it acted on them
//! locally before publishing).

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bus::{Delivery, Order};
use crate::call::remote::{RemoteAnswer, RemoteCmd};
use crate::event::Event;
use crate::session::ConnId;

/// One message between nodes.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope<'a> {
    /// The node that sent it.
    pub from: Cow<'a, str>,
    pub body: Body<'a>,
}

/// What the message asks of the nodes that receive it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body<'a> {
    /// Hand an event to these users' sessions on this node (see [`Delivery`]).
    Deliver {
        users: Cow<'a, [i64]>,
        name: Cow<'a, str>,
        channel: Cow<'a, str>,
        seq: Option<i64>,
        data: Cow<'a, Value>,
        skip: Option<ConnId>,
        only: Option<ConnId>,
        #[serde(default)]
        order: Option<Order>,
    },
    /// A device session ended: close its sockets.
    EndSession { user_id: i64, auth_session: i64 },
    /// A chat's members or blocks changed: a running room loads them again. With `request`,
    /// the sender waits for a `Reloaded` once the reload is queued.
    Reload {
        chat_id: i64,
        #[serde(default)]
        request: Option<u64>,
    },
    /// The reload numbered `request` is queued on the sending node.
    Reloaded { request: u64 },
    /// A Pusher frame for a channel's subscribers on every node but the socket `except`
    /// (client events, events published on channels that are not Courier's).
    ChannelFrame {
        channel: Cow<'a, str>,
        text: Cow<'a, str>,
        except: Option<Cow<'a, str>>,
    },
    /// A user came online or went offline (recorded at `at` by the sending node).
    Presence {
        user_id: i64,
        online: bool,
        at: chrono::NaiveDateTime,
    },
    /// An action on a call whose actor runs on the receiving node (sent to it alone);
    /// `request` numbers the answer the sender waits for (none for socket notices).
    CallCmd {
        call_id: i64,
        request: Option<u64>,
        cmd: RemoteCmd,
    },
    /// The answer to the sender's `CallCmd` numbered `request` (sent to that node alone).
    CallAnswer { request: u64, answer: RemoteAnswer },
    /// A user is in a call that the sending node runs: as its caller, or (`busy`) having
    /// answered it, so that new calls reach them marked busy.
    InCall {
        user_id: i64,
        call_id: i64,
        busy: bool,
    },
    /// A user left a call that goes on.
    LeftCall { user_id: i64, call_id: i64 },
    /// A call is over: nobody is in it any more.
    CallOver { call_id: i64 },
}

impl<'a> Body<'a> {
    /// A delivery as it crosses nodes, borrowing from the one published locally.
    pub fn deliver(d: &'a Delivery) -> Body<'a> {
        Body::Deliver {
            users: Cow::Borrowed(&d.users),
            name: Cow::Borrowed(&d.event.name),
            channel: Cow::Borrowed(&d.event.channel),
            seq: d.event.seq,
            data: Cow::Borrowed(&d.event.data),
            skip: d.skip,
            only: d.only,
            order: d.order,
        }
    }
}

impl Body<'_> {
    /// Rebuilds the delivery another node published (its event is encoded again here, once);
    /// `None` if this is not a delivery.
    pub fn into_delivery(self) -> Option<Delivery> {
        let Body::Deliver {
            users,
            name,
            channel,
            seq,
            data,
            skip,
            only,
            order,
        } = self
        else {
            return None;
        };
        let event: Arc<Event> = Event::named(
            Cow::Owned(name.into_owned()),
            channel.into_owned(),
            seq,
            data.into_owned(),
        );
        Some(Delivery {
            users: users.into_owned(),
            event,
            skip,
            only,
            order,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_survives_the_trip() {
        let d = Delivery {
            users: vec![1, 2],
            event: Event::new(
                "new-message",
                "private-chat.7".into(),
                Some(9),
                serde_json::json!({"id": 3}),
            ),
            skip: Some(ConnId(5)),
            only: None,
            order: Some(Order {
                chat_id: 7,
                id: 3,
                after: Some(2),
            }),
        };
        let bytes = serde_json::to_vec(&Envelope {
            from: "a".into(),
            body: Body::deliver(&d),
        })
        .unwrap();
        let back: Envelope = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back.from, "a");
        let d2 = back.body.into_delivery().expect("a delivery");
        assert_eq!(d2.users, vec![1, 2]);
        assert_eq!(d2.order, d.order);
        assert_eq!(d2.event.native(), d.event.native());
        assert_eq!(d2.skip, Some(ConnId(5)));
    }
}
