//! A room that crashes is replaced: its router starts a fresh one on the chat's next command,
//! and a send caught in the crash is answered (with an error), never left hanging.

use std::time::Duration;

use tokio::sync::oneshot;

use super::RoomCmd;
use crate::testing::{engine, text, two_in_a_chat, TempDir};
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
