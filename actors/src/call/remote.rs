//! Calls across nodes. A call's actor runs on the node that started it (its owner, recorded in
//! Redis until the call is over). A user's action on the call that reaches another node is
//! carried to the owner as a [`RemoteCmd`], run there like a local one, and its answer comes
//! back as a [`RemoteAnswer`]; a socket closing or opening on another node is carried the same
//! way, without an answer. The other nodes learn who is in which call (and so busy) from the
//! owner's broadcasts, so busy marks and the disconnect grace hold whichever node a device is
//! on. When the owner dies, the node that buries it closes its calls (see
//! [`close_orphaned`](super::close_orphaned)).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::oneshot;

use super::{CallCmd, CallError, CallReply};
use crate::session::ConnId;
use crate::store::calls::Call;
use crate::store::StoreError;

/// A [`CallCmd`] as it crosses nodes: the same action, without its answer channel.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum RemoteCmd {
    Ringing {
        user_id: i64,
    },
    Answer {
        user_id: i64,
        conn: Option<ConnId>,
    },
    Decline {
        user_id: i64,
    },
    End {
        user_id: i64,
    },
    Signal {
        user_id: i64,
        conn: Option<ConnId>,
        to: Option<i64>,
        kind: String,
        payload: Value,
    },
    Gone {
        user_id: i64,
        conn: ConnId,
        last: bool,
    },
    Back {
        user_id: i64,
    },
}

impl CallCmd {
    /// Splits the command into what crosses nodes and where its answer goes here (`None`
    /// for the socket notices, which are not answered).
    pub fn into_remote(self) -> (RemoteCmd, Option<CallReply>) {
        match self {
            CallCmd::Ringing { user_id, reply } => (RemoteCmd::Ringing { user_id }, Some(reply)),
            CallCmd::Answer {
                user_id,
                conn,
                reply,
            } => (RemoteCmd::Answer { user_id, conn }, Some(reply)),
            CallCmd::Decline { user_id, reply } => (RemoteCmd::Decline { user_id }, Some(reply)),
            CallCmd::End { user_id, reply } => (RemoteCmd::End { user_id }, Some(reply)),
            CallCmd::Signal {
                user_id,
                conn,
                to,
                kind,
                payload,
                reply,
            } => (
                RemoteCmd::Signal {
                    user_id,
                    conn,
                    to,
                    kind,
                    payload,
                },
                Some(reply),
            ),
            CallCmd::Gone {
                user_id,
                conn,
                last,
            } => (
                RemoteCmd::Gone {
                    user_id,
                    conn,
                    last,
                },
                None,
            ),
            CallCmd::Back { user_id } => (RemoteCmd::Back { user_id }, None),
        }
    }
}

impl RemoteCmd {
    /// The command to run on the owner, and the receiver of its answer (`None` for the
    /// socket notices).
    pub fn into_cmd(self) -> (CallCmd, Option<oneshot::Receiver<Result<Call, CallError>>>) {
        let (reply, answer) = oneshot::channel();
        let cmd = match self {
            RemoteCmd::Ringing { user_id } => CallCmd::Ringing { user_id, reply },
            RemoteCmd::Answer { user_id, conn } => CallCmd::Answer {
                user_id,
                conn,
                reply,
            },
            RemoteCmd::Decline { user_id } => CallCmd::Decline { user_id, reply },
            RemoteCmd::End { user_id } => CallCmd::End { user_id, reply },
            RemoteCmd::Signal {
                user_id,
                conn,
                to,
                kind,
                payload,
            } => CallCmd::Signal {
                user_id,
                conn,
                to,
                kind,
                payload,
                reply,
            },
            RemoteCmd::Gone {
                user_id,
                conn,
                last,
            } => {
                return (
                    CallCmd::Gone {
                        user_id,
                        conn,
                        last,
                    },
                    None,
                )
            }
            RemoteCmd::Back { user_id } => return (CallCmd::Back { user_id }, None),
        };
        (cmd, Some(answer))
    }
}

/// A [`CallError`] as it crosses nodes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum RemoteError {
    NotFound { what: String },
    Forbidden { code: String, message: String },
    Conflict { code: String, message: String },
    Invalid { field: String, message: String },
    NotLive,
    Unavailable { message: String },
    Failed { message: String },
}

/// An answer from the owner node.
pub type RemoteAnswer = Result<Call, RemoteError>;

/// The codes, fields and names a call's refusals use: a refusal from another node is mapped
/// back onto them (its text is kept as sent).
const WORDS: &[&str] = &[
    "call",
    "chat",
    "call_ended",
    "not_in_call",
    "own_call",
    "already_answered",
    "blocked",
    "nobody_to_call",
    "to_user_id",
    "call_type",
];

fn word(s: &str, otherwise: &'static str) -> &'static str {
    WORDS
        .iter()
        .find(|w| **w == s)
        .copied()
        .unwrap_or(otherwise)
}

impl From<CallError> for RemoteError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::NotFound(what) => RemoteError::NotFound { what: what.into() },
            CallError::Forbidden(code, message) => RemoteError::Forbidden {
                code: code.into(),
                message: message.into_owned(),
            },
            CallError::Conflict(code, message) => RemoteError::Conflict {
                code: code.into(),
                message: message.into_owned(),
            },
            CallError::Invalid(field, message) => RemoteError::Invalid {
                field: field.into(),
                message,
            },
            CallError::NotLive => RemoteError::NotLive,
            CallError::Store(e) if e.is_unavailable() => RemoteError::Unavailable {
                message: e.to_string(),
            },
            CallError::Store(e) => RemoteError::Failed {
                message: e.to_string(),
            },
        }
    }
}

impl From<RemoteError> for CallError {
    fn from(e: RemoteError) -> Self {
        match e {
            RemoteError::NotFound { what } => CallError::NotFound(word(&what, "call")),
            RemoteError::Forbidden { code, message } => {
                CallError::Forbidden(word(&code, "forbidden"), Cow::Owned(message))
            }
            RemoteError::Conflict { code, message } => {
                CallError::Conflict(word(&code, "conflict"), Cow::Owned(message))
            }
            RemoteError::Invalid { field, message } => {
                CallError::Invalid(word(&field, "call"), message)
            }
            RemoteError::NotLive => CallError::NotLive,
            RemoteError::Unavailable { message } => {
                CallError::Store(StoreError::Unavailable(message))
            }
            RemoteError::Failed { message } => CallError::Store(StoreError::Pool(message)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(e: CallError) -> CallError {
        let bytes = serde_json::to_vec(&RemoteError::from(e)).unwrap();
        serde_json::from_slice::<RemoteError>(&bytes)
            .unwrap()
            .into()
    }

    #[test]
    fn a_refusal_keeps_its_code_and_text_across_nodes() {
        let back = round_trip(CallError::Conflict(
            "already_answered",
            "answered on another device".into(),
        ));
        let CallError::Conflict(code, message) = back else {
            panic!("not a conflict: {back:?}");
        };
        assert_eq!(
            (code, message.as_ref()),
            ("already_answered", "answered on another device")
        );

        let back = round_trip(CallError::Invalid(
            "to_user_id",
            "is not in this call".into(),
        ));
        assert!(matches!(back, CallError::Invalid("to_user_id", m) if m == "is not in this call"));
        assert!(matches!(
            round_trip(CallError::NotFound("call")),
            CallError::NotFound("call")
        ));
        assert!(matches!(round_trip(CallError::NotLive), CallError::NotLive));
        let back = round_trip(CallError::Store(StoreError::Unavailable("slow".into())));
        assert!(matches!(back, CallError::Store(e) if e.is_unavailable()));
    }

    #[test]
    fn a_command_crosses_nodes_whole_and_its_answer_comes_back_here() {
        let (reply, mut here) = oneshot::channel();
        let cmd = CallCmd::Signal {
            user_id: 4,
            conn: Some(ConnId(9)),
            to: Some(5),
            kind: "offer".into(),
            payload: serde_json::json!({"sdp": "x"}),
            reply,
        };
        let (remote, kept) = cmd.into_remote();
        assert!(kept.is_some());
        let bytes = serde_json::to_vec(&remote).unwrap();
        let (cmd, answer) = serde_json::from_slice::<RemoteCmd>(&bytes)
            .unwrap()
            .into_cmd();
        let CallCmd::Signal {
            user_id,
            conn,
            to,
            kind,
            payload,
            ..
        } = cmd
        else {
            panic!("not a signal");
        };
        assert_eq!(
            (user_id, conn, to, kind.as_str()),
            (4, Some(ConnId(9)), Some(5), "offer")
        );
        assert_eq!(payload["sdp"], "x");
        assert!(answer.is_some());
        assert!(here.try_recv().is_err(), "nothing answered yet");

        let (remote, kept) = CallCmd::Gone {
            user_id: 4,
            conn: ConnId(9),
            last: true,
        }
        .into_remote();
        assert!(kept.is_none());
        let (_, answer) = remote.into_cmd();
        assert!(answer.is_none(), "socket notices are not answered");
    }
}
