//! Privacy operations through the real HTTP API and WebSocket, with the manual clock: account
//! deletion and its purge, the purge of messages deleted for everyone, and each member's own
//! chat settings (mute, archive, pin), and data exports.

mod account;
mod chat_settings;
mod deleted_messages;
mod export;

use courier_actors::on_conn;
use courier_actors::store::schema::*;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::helpers::{spawn_app_with, TestApp};

/// A server whose tokens outlive the month the purge tests move the clock by, and that leaves
/// running the purge to the test.
async fn privacy_app() -> TestApp {
    spawn_app_with(|s| {
        s.auth.access_ttl_secs = 90 * 86400;
        s.auth.refresh_ttl_secs = 90 * 86400;
        s.realtime.client_timeout_secs = 90 * 86400;
        // Tests try many codes in a minute; the limit has its own tests.
        s.limits.otp_per_phone_per_minute = 1000;
        // The test runs the purge itself, when it has moved the clock.
        s.privacy.purge_every_secs = 0;
    })
    .await
}

/// Rows of every table that name user `id` (as owner, sender, member, viewer, contact,
/// caller, inviter, reporter or report subject, admin, creator).
async fn rows_naming(app: &TestApp, id: i64) -> Vec<(&'static str, i64)> {
    let mut conn = app.engine.db.get().await.unwrap();
    let counts: Vec<(&'static str, i64)> = on_conn!(&mut conn.conn(), |c| {
        vec![
            (
                "users",
                users::table.find(id).count().get_result(c).await.unwrap(),
            ),
            (
                "auth_sessions",
                auth_sessions::table
                    .filter(auth_sessions::user_id.eq(id))
                    .count()
                    .get_result(c)
                    .await
                    .unwrap(),
            ),
            (
                "chat_participants",
                chat_participants::table
                    .filter(chat_participants::user_id.eq(id))
                    .count()
                    .get_result(c)
                    .await
                    .unwrap(),
            ),
            (
                "messages",
                messages::table
                    .filter(messages::sender_id.eq(id))
                    .count()
                    .get_result(c)
                    .await
                    .unwrap(),
            ),
            (
                "message_hides",
                message_hides::table
                    .filter(message_hides::user_id.eq(id))
                    .count()
                    .get_result(c)
                    .await
                    .unwrap(),
            ),
            (
                "message_reactions",
                message_reactions::table
                    .filter(message_reactions::user_id.eq(id))
                    .count()
                    .get_result(c)
                    .await
                    .unwrap(),
            ),
            (
                "receipt_events",
                receipt_events::table
                    .filter(receipt_events::user_id.eq(id))
                    .count()
                    .get_result(c)
                    .await
                    .unwrap(),
            ),
            (
                "statuses",
                statuses::table
                    .filter(statuses::user_id.eq(id))
                    .count()
                    .get_result(c)
                    .await
                    .unwrap(),
            ),
            (
                "status_views",
                status_views::table
                    .filter(status_views::viewer_id.eq(id))
                    .count()
                    .get_result(c)
                    .await
                    .unwrap(),
            ),
            (
                "contacts",
                contacts::table
                    .filter(
                        contacts::user_id
                            .eq(id)
                            .or(contacts::contact_user_id.eq(id)),
                    )
                    .count()
                    .get_result(c)
                    .await
                    .unwrap(),
            ),
            (
                "calls",
                calls::table
                    .filter(calls::caller_id.eq(id))
                    .count()
                    .get_result(c)
                    .await
                    .unwrap(),
            ),
            (
                "group_invites",
                group_invites::table
                    .filter(
                        group_invites::user_id
                            .eq(id)
                            .or(group_invites::invited_by.eq(id)),
                    )
                    .count()
                    .get_result(c)
                    .await
                    .unwrap(),
            ),
            (
                "reports",
                reports::table
                    .filter(
                        reports::reporter_id
                            .eq(id)
                            .or(reports::reported_user_id.eq(id)),
                    )
                    .count()
                    .get_result(c)
                    .await
                    .unwrap(),
            ),
            (
                "system_admins",
                system_admins::table
                    .find(id)
                    .count()
                    .get_result(c)
                    .await
                    .unwrap(),
            ),
            (
                "former_members",
                former_members::table
                    .filter(former_members::user_id.eq(id))
                    .count()
                    .get_result(c)
                    .await
                    .unwrap(),
            ),
            (
                "chats",
                chats::table
                    .filter(chats::created_by.eq(id))
                    .count()
                    .get_result(c)
                    .await
                    .unwrap(),
            ),
        ]
    });
    counts.into_iter().filter(|(_, n)| *n > 0).collect()
}

/// Rows anywhere whose text holds `marker` (message content and earlier edits, statuses,
/// copies kept by reports, names, phone numbers).
async fn rows_holding(app: &TestApp, marker: &str) -> i64 {
    let like = format!("%{marker}%");
    let mut conn = app.engine.db.get().await.unwrap();
    on_conn!(&mut conn.conn(), |c| {
        let mut n: i64 = messages::table
            .filter(messages::content.like(&like))
            .count()
            .get_result::<i64>(c)
            .await
            .unwrap();
        n += message_edits::table
            .filter(message_edits::content.like(&like))
            .count()
            .get_result::<i64>(c)
            .await
            .unwrap();
        n += statuses::table
            .filter(statuses::content.like(&like))
            .count()
            .get_result::<i64>(c)
            .await
            .unwrap();
        n += reports::table
            .filter(reports::message_content.like(&like))
            .count()
            .get_result::<i64>(c)
            .await
            .unwrap();
        n += users::table
            .filter(users::name.like(&like).or(users::phone_number.like(&like)))
            .count()
            .get_result::<i64>(c)
            .await
            .unwrap();
        n
    })
}
