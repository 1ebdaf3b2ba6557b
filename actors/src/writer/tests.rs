//! The writer's ordering and id allocation, driven directly (without rooms).

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use tokio::sync::oneshot;

use super::{SendMessage, Submit};
use crate::store::message_ops::{DeleteForEveryone, EditMessage, Refusal, SendOutcome};
use crate::store::reactions::React;
use crate::store::Db;
use crate::testing::{
    db_path, engine, engine_with_timeout, engine_writing_to, text, two_in_a_chat, TempDir,
};

/// Commands queued together commit in the order they were queued: an edit queued before a
/// send gets the lower sequence number, as the room that queued them publishes them.
#[actix::test]
async fn a_batch_keeps_the_order_of_its_commands() {
    let dir = TempDir::new().unwrap();
    let engine = engine(&dir).await;
    let (ana, bo, chat) = two_in_a_chat(&engine).await;
    let stored = |outcome| match outcome {
        Ok(SendOutcome::Stored(s)) => s.message,
        _ => panic!("not stored"),
    };
    let (reply, first) = oneshot::channel();
    engine.writer.do_send(SendMessage {
        message: text(chat, ana, "first"),
        reply,
    });
    let first = stored(first.await.unwrap());

    // Queued without waiting: whatever batches they fall into, they keep this order.
    let (reply, busy) = oneshot::channel();
    engine.writer.do_send(SendMessage {
        message: text(chat, bo, "keeps the writer busy"),
        reply,
    });
    let (reply, edited) = oneshot::channel();
    engine.writer.do_send(Submit {
        op: EditMessage {
            chat_id: chat,
            message_id: first.id,
            user_id: ana,
            content: "first, edited".into(),
        },
        reply,
    });
    let (reply, second) = oneshot::channel();
    engine.writer.do_send(SendMessage {
        message: text(chat, ana, "second"),
        reply,
    });
    let busy = stored(busy.await.unwrap());
    let edited = edited.await.unwrap().unwrap().unwrap();
    let second = stored(second.await.unwrap());
    assert!(busy.seq < edited.seq, "{} < {}", busy.seq, edited.seq);
    assert!(edited.seq < second.seq, "{} < {}", edited.seq, second.seq);

    // A reaction queued right behind a deletion finds the message deleted; one naming a
    // message of another chat finds nothing.
    let (reply, deleted) = oneshot::channel();
    engine.writer.do_send(Submit {
        op: DeleteForEveryone {
            chat_id: chat,
            message_id: second.id,
            user_id: ana,
        },
        reply,
    });
    let react = |chat_id| React {
        chat_id,
        message_id: second.id,
        user_id: bo,
        emoji: "👍".into(),
        add: true,
    };
    let (reply, reacted) = oneshot::channel();
    engine.writer.do_send(Submit {
        op: react(chat),
        reply,
    });
    assert!(deleted.await.unwrap().unwrap().is_ok());
    assert!(matches!(
        reacted.await.unwrap().unwrap(),
        Err(Refusal::Deleted)
    ));
    let elsewhere = engine.write(react(chat + 1)).await.unwrap();
    assert!(matches!(elsewhere, Err(Refusal::NotFound)));
}

/// A message resent before its first copy was stored is stored once, and takes one id.
#[actix::test]
async fn copies_in_one_batch_take_one_id() {
    let dir = TempDir::new().unwrap();
    let engine = engine(&dir).await;
    let (ana, _, chat) = two_in_a_chat(&engine).await;
    let mut answers = Vec::new();
    for content in ["keeps the writer busy", "again", "again", "after"] {
        let (reply, answer) = oneshot::channel();
        engine.writer.do_send(SendMessage {
            message: text(chat, ana, content),
            reply,
        });
        answers.push(answer);
    }
    let mut outcomes = Vec::new();
    for a in answers {
        outcomes.push(a.await.unwrap().unwrap());
    }
    let (first, copy, after) = match &outcomes[1..] {
        [SendOutcome::Stored(f), SendOutcome::Duplicate(c), SendOutcome::Stored(a)] => {
            (&f.message, &c.message, &a.message)
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(copy.id, first.id);
    assert_eq!(after.id, first.id + 1);
    // Ids are allocated per batch: a wasted one would show as a gap before the next batch.
    let (reply, next) = oneshot::channel();
    engine.writer.do_send(SendMessage {
        message: text(chat, ana, "next batch"),
        reply,
    });
    let next = match next.await.unwrap().unwrap() {
        SendOutcome::Stored(s) => s.message,
        other => panic!("{other:?}"),
    };
    assert_eq!(next.id, after.id + 1, "no id was spent on the copy");
}

/// A database locked by someone else: the batch waiting for it fails as a whole once its
/// deadline passes (not once per command), commands queued behind it are refused rather than
/// made to wait again, and the writer carries on once the lock is gone.
#[actix::test]
async fn a_locked_database_fails_a_batch_at_once_and_the_writer_carries_on() {
    // Long enough for an ordinary commit on a busy machine (the last send below must make it).
    let deadline = Duration::from_millis(1000);
    let dir = TempDir::new().unwrap();
    let engine = engine_with_timeout(&dir, deadline).await;
    let (ana, _, chat) = two_in_a_chat(&engine).await;
    let mut lock = SqliteConnection::establish(db_path(&dir).to_str().unwrap()).unwrap();
    lock.batch_execute("BEGIN EXCLUSIVE;").unwrap();

    let started = Instant::now();
    let mut answers = Vec::new();
    for i in 0..6 {
        let (reply, answer) = oneshot::channel();
        engine.writer.do_send(SendMessage {
            message: text(chat, ana, &format!("locked out {i}")),
            reply,
        });
        answers.push(answer);
    }
    for a in answers {
        match a.await.unwrap() {
            Err(e) => assert!(e.is_unavailable(), "{e}"),
            Ok(other) => panic!("stored while locked: {other:?}"),
        }
    }
    let took = started.elapsed();
    // Retried one by one, six commands would have waited six times the deadline.
    assert!(took < deadline * 3, "{took:?}");
    let probe = engine.check_writer().await;
    assert!(probe.is_err_and(|e| e.is_unavailable()));

    lock.batch_execute("ROLLBACK;").unwrap();
    engine.check_writer().await.unwrap();
    let (reply, answer) = oneshot::channel();
    engine.writer.do_send(SendMessage {
        message: text(chat, ana, "after the lock"),
        reply,
    });
    match answer.await.unwrap() {
        Ok(SendOutcome::Stored(_)) => {}
        other => panic!("not stored once the lock was gone: {other:?}"),
    }
}

/// Every stored message names the chat's newest message before it (`after`), the chain the
/// nodes of a cluster deliver a chat's messages in: within a batch, across batches, and per
/// chat when a batch holds several chats.
#[actix::test]
async fn each_message_names_the_one_before_it_in_its_chat() {
    let dir = TempDir::new().unwrap();
    let engine = engine(&dir).await;
    let (ana, bo, chat) = two_in_a_chat(&engine).await;
    let cy = crate::testing::user(&engine, 3).await;
    let (other, _) = engine
        .write(crate::store::chats::GetOrCreatePrivate {
            user_id: ana,
            other_id: cy,
        })
        .await
        .unwrap();
    // Queued without waiting: the first one commits alone, the others together.
    let mut answers = Vec::new();
    let sends = [
        (chat, ana),
        (chat, bo),
        (other.id, cy),
        (chat, ana),
        (other.id, ana),
    ];
    for (i, (chat_id, from)) in sends.into_iter().enumerate() {
        let (reply, answer) = oneshot::channel();
        engine.writer.do_send(SendMessage {
            message: text(chat_id, from, &format!("hi {i}")),
            reply,
        });
        answers.push(answer);
    }
    let mut stored = Vec::new();
    for answer in answers {
        match answer.await.unwrap() {
            Ok(SendOutcome::Stored(s)) => stored.push((s.message.id, s.after)),
            other => panic!("not stored: {other:?}"),
        }
    }
    let ids: Vec<i64> = stored.iter().map(|(id, _)| *id).collect();
    let afters: Vec<Option<i64>> = stored.iter().map(|(_, after)| *after).collect();
    assert_eq!(
        afters,
        vec![None, Some(ids[0]), None, Some(ids[1]), Some(ids[2])]
    );
}

/// Waits (at most 10 s) until `done` holds.
async fn until(what: &str, done: impl Fn() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < give_up, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// On SQLite the next batch commits while the one before waits for its WAL sync; neither is
/// answered before its sync, and they answer in order.
#[actix::test]
async fn the_next_batch_commits_while_the_one_before_is_synced() {
    let dir = TempDir::new().unwrap();
    let url = format!("sqlite://{}", db_path(&dir).display());
    crate::store::migrate(&url).await.unwrap();
    let write_db = Db::open_for_writer(&url, 1, crate::store::DEFAULT_TIMEOUT)
        .await
        .unwrap();
    let wal = write_db.wal().expect("SQLite syncs its own WAL").clone();
    let engine = engine_writing_to(&url, &dir, write_db).await;
    let (ana, bo, chat) = two_in_a_chat(&engine).await;

    let held = wal.hold().await;
    let before = wal.commits();
    let (reply, mut first) = oneshot::channel();
    engine.writer.do_send(SendMessage {
        message: text(chat, ana, "first"),
        reply,
    });
    until("the first commit", || wal.commits() == before + 1).await;
    let (reply, mut second) = oneshot::channel();
    engine.writer.do_send(SendMessage {
        message: text(chat, bo, "second"),
        reply,
    });
    until("the second commit, during the first sync", || {
        wal.commits() == before + 2
    })
    .await;
    assert!(first.try_recv().is_err(), "answered before its sync");
    assert!(second.try_recv().is_err(), "answered before its sync");

    drop(held);
    let second = match second.await.unwrap() {
        Ok(SendOutcome::Stored(s)) => s.message,
        _ => panic!("second not stored"),
    };
    let first = match first.try_recv() {
        Ok(Ok(SendOutcome::Stored(s))) => s.message,
        _ => panic!("the first batch answers before the second"),
    };
    assert!(first.id < second.id && first.seq < second.seq);
}

/// The writer's connections never checkpoint, so its own checkpoints must copy the WAL into
/// the database file while it runs: otherwise the WAL would grow for good.
#[actix::test]
async fn the_wal_is_checkpointed_into_the_database_file() {
    let dir = TempDir::new().unwrap();
    let engine = engine(&dir).await;
    let (ana, bo, chat) = two_in_a_chat(&engine).await;
    let file = db_path(&dir);
    let size = || std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let before = size();
    let long = "x".repeat(4000);
    for i in 0..100 {
        let (reply, stored) = oneshot::channel();
        let from = if i % 2 == 0 { ana } else { bo };
        engine.writer.do_send(SendMessage {
            message: text(chat, from, &format!("{i} {long}")),
            reply,
        });
        assert!(matches!(stored.await.unwrap(), Ok(SendOutcome::Stored(_))));
    }
    // 100 messages of 4 KB: at least 400 KB more in the database file once checkpointed.
    until("a checkpoint", || size() >= before + 400_000).await;
}

/// A send to a chat that does not exist, or from a user who does not, is refused on its own
/// and stores nothing, even in a batch with good sends (on PostgreSQL no foreign key checks
/// these: the batch does). Runs on PostgreSQL with `COURIER_TEST_DATABASE_URL`.
#[actix::test]
async fn a_send_naming_no_chat_or_no_sender_fails_alone_and_stores_nothing() {
    use diesel_async::RunQueryDsl;

    let db = crate::testing::ScratchDb::create("COURIER_TEST_DATABASE_URL").await;
    let engine = crate::testing::engine_at(&db.url, &db.dir, crate::store::DEFAULT_TIMEOUT).await;
    let (ana, _bo, chat) = two_in_a_chat(&engine).await;
    // Queued together, so that they share a batch once the first one is under way.
    let sends = [
        text(chat, ana, "before"),
        text(chat + 1000, ana, "to no chat"),
        text(chat, ana + 1000, "from no one"),
        text(chat, ana, "after"),
    ];
    let answers: Vec<_> = sends
        .into_iter()
        .map(|message| {
            let (reply, answer) = oneshot::channel();
            engine.writer.do_send(SendMessage { message, reply });
            answer
        })
        .collect();
    let mut stored = Vec::new();
    for answer in answers {
        stored.push(matches!(answer.await.unwrap(), Ok(SendOutcome::Stored(_))));
    }
    assert_eq!(stored, [true, false, false, true]);

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut pooled = engine.db.get().await.unwrap();
    let mut conn = pooled.conn();
    let count: Count = crate::on_conn!(&mut conn, |c| {
        diesel::sql_query("SELECT COUNT(*) AS n FROM messages")
            .get_result(c)
            .await
            .unwrap()
    });
    assert_eq!(
        count.n,
        2,
        "only the two good sends are stored ({})",
        db.label()
    );
}

/// Presence changes queued together (a crowd of sockets connecting) are recorded together,
/// around the other writes queued between them: each is answered with the time recorded, and
/// of one user's changes the last one counts. Runs on PostgreSQL with
/// `COURIER_TEST_DATABASE_URL`.
#[actix::test]
async fn presence_changes_queued_together_leave_each_user_in_their_last_state() {
    let db = crate::testing::ScratchDb::create("COURIER_TEST_DATABASE_URL").await;
    let engine = crate::testing::engine_at(&db.url, &db.dir, crate::store::DEFAULT_TIMEOUT).await;
    let (ana, bo, chat) = two_in_a_chat(&engine).await;
    let before = engine.clock.now();
    let set = |user_id, online| {
        let (reply, answer) = oneshot::channel();
        engine.writer.do_send(super::SetPresence {
            user_id,
            online,
            reply,
        });
        answer
    };
    // Queued without waiting: ana comes and goes, bo goes and comes back, a send between.
    let first = [set(ana, true), set(bo, false), set(ana, false)];
    let (reply, sent) = oneshot::channel();
    engine.writer.do_send(SendMessage {
        message: text(chat, ana, "between"),
        reply,
    });
    let last = [set(bo, true)];
    for answer in first.into_iter().chain(last) {
        let at = answer.await.unwrap().expect("recorded");
        assert!(at >= before);
    }
    assert!(matches!(sent.await.unwrap(), Ok(SendOutcome::Stored(_))));

    let states = || async {
        let mut pooled = engine.db.get().await.unwrap();
        let mut conn = pooled.conn();
        let mut states = Vec::new();
        for id in [ana, bo] {
            let u = crate::store::users::find(&mut conn, id).await.unwrap();
            let u = u.expect("the user");
            states.push((u.is_online, u.last_seen_at.is_some()));
        }
        states
    };
    assert_eq!(
        states().await,
        [(false, true), (true, true)],
        "on {}",
        db.label()
    );

    // However the changes above fell into batches: one run holding several changes of a user
    // leaves the last one.
    struct Run(Vec<(i64, bool)>);
    impl crate::store::tx::WriteOp for Run {
        type Output = chrono::NaiveDateTime;
        async fn apply(
            &mut self,
            tx: &mut crate::store::tx::Tx<'_>,
        ) -> crate::store::StoreResult<Self::Output> {
            crate::store::users::set_presence(tx, &self.0).await
        }
    }
    let run = vec![
        (ana, true),
        (bo, false),
        (ana, false),
        (bo, true),
        (ana, true),
    ];
    engine.write(Run(run)).await.unwrap();
    assert_eq!(
        states().await,
        [(true, true), (true, true)],
        "on {}",
        db.label()
    );
}
