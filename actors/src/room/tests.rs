//! A room that crashes is replaced: its router starts a fresh one on the chat's next command,
//! and a send caught in the crash is answered (with an error), never left hanging. Rooms that
//! start together still check each chat's users and blocks as one room alone would.

use std::time::Duration;

use tokio::sync::oneshot;

use super::{RoomCmd, RoomError};
use crate::store::chats::GetOrCreatePrivate;
use crate::store::contacts::ToggleBlock;
use crate::testing::{engine, engine_at, text, two_in_a_chat, user, ScratchDb, TempDir};
use crate::Engine;

fn send(engine: &Engine, chat: i64, sender: i64, content: &str) -> oneshot::Receiver<RoomReply> {
    let (reply, answer) = oneshot::channel();
    let message = text(chat, sender, content);
    engine.room(
        chat,
        RoomCmd::Send {
            message,
            conn: None,
            reply,
        },
    );
    answer
}

type RoomReply = Result<super::SendReply, super::RoomError>;

#[actix::test]
async fn a_crashed_room_is_replaced_and_nothing_hangs() {
    let dir = TempDir::new().unwrap();
    let engine = engine(&dir).await;
    let (ana, _, chat) = two_in_a_chat(&engine).await;
    let first = send(&engine, chat, ana, "before").await.unwrap();
    assert!(first.is_ok());

    // A send queued right behind the crash is answered either way: by its channel closing
    // with the room, or (if the router already saw the room gone) by a fresh room.
    engine.room(chat, RoomCmd::Crash);
    let caught = send(&engine, chat, ana, "caught");
    let caught = tokio::time::timeout(Duration::from_secs(30), caught)
        .await
        .expect("a send caught in a crash is answered, not left hanging");
    // The client resends it with the same client_msg_id: stored exactly once either way.
    let resent = send(&engine, chat, ana, "caught").await.unwrap().unwrap();
    assert_eq!(resent.duplicate, matches!(caught, Ok(Ok(_))));

    // The next command starts a fresh room, which works and knows the chat.
    let after = send(&engine, chat, ana, "after").await.unwrap().unwrap();
    assert_eq!(after.message.content.as_deref(), Some("after"));
    assert!(after.message.id > first.unwrap().message.id);
}

/// Four private chats whose first commands arrive together, before any of their rooms runs
/// (so that a router checks and loads them in one batch), next to a chat that does not
/// exist: each answer is the one a room started alone would give. Runs on PostgreSQL with
/// `COURIER_TEST_DATABASE_URL`.
#[actix::test]
async fn rooms_started_together_judge_each_chat_on_its_own() {
    let db = ScratchDb::create("COURIER_TEST_DATABASE_URL").await;
    let engine = engine_at(&db.url, &db.dir, crate::store::DEFAULT_TIMEOUT).await;
    let mut users = Vec::new();
    for n in 1..=8 {
        users.push(user(&engine, n).await);
    }
    let mut chats = Vec::new();
    for pair in users.chunks(2) {
        let (chat, _) = engine
            .write(GetOrCreatePrivate {
                user_id: pair[0],
                other_id: pair[1],
            })
            .await
            .unwrap();
        chats.push(chat.id);
    }
    // The fourth chat's first user blocked the other.
    let blocked = engine
        .write(ToggleBlock {
            owner: users[6],
            other: users[7],
            other_name: "user 8".into(),
        })
        .await
        .unwrap();
    assert!(blocked);

    let answers = [
        // An outsider first: refused, and the member right behind still gets the room.
        send(&engine, chats[0], users[2], "outsider"),
        send(&engine, chats[0], users[0], "member behind an outsider"),
        send(&engine, chats[1], users[3], "second chat"),
        send(&engine, chats[2], users[4], "third chat"),
        send(&engine, chats[3], users[7], "to the one who blocked"),
        send(&engine, chats[3], users[6], "from the one who blocked"),
        send(&engine, chats[3] + 1000, users[0], "to no chat"),
    ];
    let mut outcomes = Vec::new();
    for answer in answers {
        let answered = tokio::time::timeout(Duration::from_secs(30), answer).await;
        outcomes.push(
            match answered.expect("every command is answered").unwrap() {
                Ok(reply) => reply.message.content.unwrap_or_default(),
                Err(RoomError::NotFound(what)) => format!("not found: {what}"),
                Err(RoomError::Forbidden(code, _)) => format!("forbidden: {code}"),
                Err(other) => format!("{other:?}"),
            },
        );
    }
    assert_eq!(
        outcomes,
        [
            "not found: chat",
            "member behind an outsider",
            "second chat",
            "third chat",
            "forbidden: blocked",
            "forbidden: you_blocked",
            "not found: chat",
        ],
        "on {}",
        db.label()
    );
}

/// More chats waiting at once than one batch takes: every room starts, the rest in the
/// batches after (each engine thread's router takes [`MAX_BATCH_CHATS`] at a time, and chats
/// spread over the threads, so twice as many per thread as that are sent).
#[actix::test]
async fn more_chats_than_a_batch_takes_all_start_their_rooms() {
    use crate::registry::MAX_BATCH_CHATS;
    use futures_util::future::join_all;

    let dir = TempDir::new().unwrap();
    let engine = engine(&dir).await;
    let chats_wanted = 2
        * MAX_BATCH_CHATS
        * std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .max(2);
    let users = join_all((1..=2 * chats_wanted as u32).map(|n| user(&engine, n))).await;
    let chats = join_all(users.chunks(2).map(|pair| {
        engine.write(GetOrCreatePrivate {
            user_id: pair[0],
            other_id: pair[1],
        })
    }))
    .await;
    let answers: Vec<_> = chats
        .iter()
        .zip(users.chunks(2))
        .map(|(chat, pair)| send(&engine, chat.as_ref().unwrap().0.id, pair[0], "first"))
        .collect();
    let mut stored = 0;
    for answer in answers {
        let answered = tokio::time::timeout(Duration::from_secs(60), answer).await;
        if matches!(answered.expect("every send is answered"), Ok(Ok(_))) {
            stored += 1;
        }
    }
    assert_eq!(stored, chats_wanted);
}
