//! A room that crashes is replaced: the registry starts a fresh one on the chat's next command,
//! and a send caught in the crash is answered (with an error), never left hanging.

use std::time::Duration;

use chrono::TimeDelta;
use tokio::sync::oneshot;

use super::RoomCmd;
use crate::storage::{Backend, Storage};
use crate::store::auth::{CreateOtp, VerifyOtp, VerifyOutcome};
use crate::store::chats::GetOrCreatePrivate;
use crate::store::messages::NewMessage;
use crate::store::{migrate, Db};
use crate::{Clock, Engine, Realtime};

/// A folder of its own under the system's temporary folder, removed on drop.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn engine(dir: &TempDir) -> Engine {
    let url = format!("sqlite://{}", dir.0.join("rooms.db").display());
    migrate(&url).await.unwrap();
    let storage = Storage::open(
        &Backend::Local {
            dir: dir.0.join("media"),
        },
        b"room-test-key".to_vec(),
        String::new(),
        Duration::from_secs(3600),
        Clock::system(),
    )
    .unwrap();
    Engine::start(
        Db::connect(&url, 2).await.unwrap(),
        Db::connect(&url, 1).await.unwrap(),
        Clock::system(),
        Realtime::default(),
        storage,
    )
}

async fn user(engine: &Engine, n: u32) -> i64 {
    let phone_hash = format!("room-test-{n}");
    let far = engine.clock.now() + TimeDelta::days(1);
    engine
        .write(CreateOtp {
            phone_hash: phone_hash.clone(),
            country_code: "+1".into(),
            code_hash: "h".into(),
            expires_at: far,
        })
        .await
        .unwrap();
    let verified = engine
        .write(VerifyOtp {
            phone_hash,
            phone_number: format!("+1555000000{n}"),
            code_hash: "h".into(),
            max_attempts: 5,
            name: Some(format!("user {n}")),
            refresh_jti: format!("jti-{n}"),
            session_expires_at: far,
            user_agent: None,
        })
        .await
        .unwrap();
    match verified {
        VerifyOutcome::Verified { user, .. } => user.id,
        other => panic!("{other:?}"),
    }
}

fn send(engine: &Engine, chat: i64, sender: i64, text: &str) -> oneshot::Receiver<RoomReply> {
    let (reply, answer) = oneshot::channel();
    let message = NewMessage {
        chat_id: chat,
        sender_id: sender,
        client_msg_id: Some(text.into()),
        reply_to_message_id: None,
        message_type: "text".into(),
        content: Some(text.into()),
        latitude: None,
        longitude: None,
        location_name: None,
        contact_data: None,
        media: None,
    };
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
    let dir = TempDir(std::env::temp_dir().join(format!(
        "courier-room-test-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )));
    let engine = engine(&dir).await;
    let (ana, bo) = (user(&engine, 1).await, user(&engine, 2).await);
    let (chat, _) = engine
        .write(GetOrCreatePrivate {
            user_id: ana,
            other_id: bo,
        })
        .await
        .unwrap();
    let first = send(&engine, chat.id, ana, "before").await.unwrap();
    assert!(first.is_ok());

    // A send queued right behind the crash is answered either way: by its channel closing
    // with the room, or (if the registry already saw the room gone) by a fresh room.
    engine.room(chat.id, RoomCmd::Crash);
    let caught = send(&engine, chat.id, ana, "caught");
    let caught = tokio::time::timeout(Duration::from_secs(30), caught)
        .await
        .expect("a send caught in a crash is answered, not left hanging");
    // The client resends it with the same client_msg_id: stored exactly once either way.
    let resent = send(&engine, chat.id, ana, "caught")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resent.duplicate, matches!(caught, Ok(Ok(_))));

    // The next command starts a fresh room, which works and knows the chat.
    let after = send(&engine, chat.id, ana, "after").await.unwrap().unwrap();
    assert_eq!(after.message.content.as_deref(), Some("after"));
    assert!(after.message.id > first.unwrap().message.id);
}
