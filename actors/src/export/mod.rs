//! Data exports: a ZIP of what a user may see of their data, built in the background.
//!
//! The archive holds `profile.json` (their own profile and privacy settings), `contacts.json`,
//! `chats/{id}.json` for every chat they are or were a member of (the chat and every message
//! their history shows, as history shows it: a group they left as it was when they left), and
//! under `media/` the files of their own messages and their profile photo. Other people's files
//! are named, not copied. The archive is written to a temporary file entry by entry (a file
//! streams from the store into it), then streamed into the store under `exports/`, where a
//! signed link serves it until it expires (`EXPORT_TTL`); the janitor then removes it.

mod zip;

use std::collections::HashMap;

use chrono::TimeDelta;
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::engine::Engine;
use crate::store::chats::{self, ArchiveFilter, Chat, Participant};
use crate::store::exports::{Export, FinishExport};
use crate::store::messages::{self, Message};
use crate::store::users::User;
use crate::store::{contacts, views};
use zip::ZipWriter;

/// How long a finished export can be downloaded.
pub const EXPORT_TTL: TimeDelta = TimeDelta::days(7);
/// History read per query.
const PAGE: i64 = 500;

/// Why a build failed (recorded on the export, for the user to see).
type Failure = String;

fn fail(e: impl std::fmt::Display) -> Failure {
    e.to_string()
}

impl Engine {
    /// Builds `export` and records how it ended. Runs in the background (see
    /// [`Engine::spawn_export`]); tests await it.
    pub async fn build_export(&self, export: &Export) {
        let outcome = self.write_export(export).await;
        if let Err(e) = &outcome {
            tracing::warn!(export = export.id, error = %e, "data export failed");
        }
        let done = FinishExport {
            id: export.id,
            outcome,
        };
        if let Err(e) = self.write(done).await {
            tracing::warn!(export = export.id, error = %e, "could not record a data export");
        }
    }

    /// Builds `export` on this node's runtime.
    pub fn spawn_export(&self, export: Export) {
        let engine = self.clone();
        actix::spawn(async move { engine.build_export(&export).await });
    }

    async fn write_export(
        &self,
        export: &Export,
    ) -> Result<(String, i64, chrono::NaiveDateTime), Failure> {
        let name: String = (0..16)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        let tmp = std::env::temp_dir().join(format!("courier-export-{}-{name}.zip", export.id));
        let built = self.write_zip(export.user_id, &tmp).await;
        let stored = match built {
            Ok(_) => {
                let key = format!("exports/{}/{name}.zip", export.user_id);
                self.storage
                    .put_file(&key, &tmp)
                    .await
                    .map(|size| (key, size as i64))
                    .map_err(fail)
            }
            Err(e) => Err(e),
        };
        let _ = tokio::fs::remove_file(&tmp).await;
        let (key, size) = stored?;
        Ok((key, size, self.clock.now() + EXPORT_TTL))
    }

    async fn write_zip(&self, user_id: i64, path: &std::path::Path) -> Result<u64, Failure> {
        let file = tokio::fs::File::create(path).await.map_err(fail)?;
        let mut zip = ZipWriter::new(tokio::io::BufWriter::new(file));
        let mut pooled = self.db.get().await.map_err(fail)?;
        let mut conn = pooled.conn();
        let me = crate::store::users::find(&mut conn, user_id)
            .await
            .map_err(fail)?
            .ok_or("the account is gone")?;
        let avatar = me.avatar_url.as_deref().and_then(crate::storage::key_of);
        zip.file("profile.json", &pretty(&profile(&me, avatar.is_some())))
            .await
            .map_err(fail)?;
        let list: Vec<Value> = contacts::list(&mut conn, user_id)
            .await
            .map_err(fail)?
            .iter()
            .map(|(c, u)| {
                json!({
                    "user_id": u.id,
                    "name": c.contact_name,
                    "phone_number": u.phone_number,
                    "is_contact": c.is_contact,
                    "is_blocked": c.is_blocked,
                    "added_at": c.added_at.and_utc(),
                })
            })
            .collect();
        zip.file("contacts.json", &pretty(&Value::Array(list)))
            .await
            .map_err(fail)?;

        let page = chats::list_for_user(&mut conn, user_id, ArchiveFilter::All, i64::MAX, 0)
            .await
            .map_err(fail)?;
        let mut own_files: Vec<(String, String)> = Vec::new();
        for (chat, mine) in &page.chats {
            let members: Vec<_> = page
                .members
                .iter()
                .filter(|(p, _)| p.chat_id == chat.id)
                .cloned()
                .collect();
            let history = self
                .history(&mut conn, chat, mine, &members)
                .await
                .map_err(fail)?;
            let mut shown = Vec::with_capacity(history.len());
            for (m, mut v) in history {
                let file = m.media_url.as_deref().and_then(crate::storage::key_of);
                match file {
                    Some(key) if m.sender_id == user_id => {
                        let ext = key.rsplit('.').next().unwrap_or("bin");
                        let inside = format!("media/{}.{ext}", m.id);
                        own_files.push((key.to_string(), inside.clone()));
                        v["media_url"] = inside.into();
                    }
                    _ => {
                        if let Some(o) = v.as_object_mut() {
                            o.remove("media_url");
                        }
                    }
                }
                if let Some(o) = v.as_object_mut() {
                    o.remove("thumbnail_url");
                }
                shown.push(v);
            }
            let doc = json!({
                "id": chat.id,
                "type": chat.chat_type,
                "name": chat.name,
                "members": members
                    .iter()
                    .filter(|(p, _)| p.is_current())
                    .map(|(_, u)| json!({ "id": u.id, "name": u.name }))
                    .collect::<Vec<_>>(),
                "is_member": mine.is_current(),
                "messages": shown,
            });
            zip.file(&format!("chats/{}.json", chat.id), &pretty(&doc))
                .await
                .map_err(fail)?;
        }
        // The files stream from the store: the connection goes back to the pool first.
        drop(pooled);
        if let Some(key) = avatar {
            own_files.push((key.to_string(), "media/profile-photo.jpg".into()));
        }
        for (key, inside) in own_files {
            let Some((_, mut bytes)) = self.storage.get(&key).await.map_err(fail)? else {
                continue;
            };
            zip.start(&inside).await.map_err(fail)?;
            while let Some(chunk) = bytes.next().await {
                zip.write(&chunk.map_err(fail)?).await.map_err(fail)?;
            }
        }
        zip.finish().await.map_err(fail)
    }

    /// Every message of `chat` that `mine`'s history shows, oldest first, with its view.
    async fn history(
        &self,
        conn: &mut crate::store::Conn<'_>,
        chat: &Chat,
        mine: &Participant,
        members: &[(Participant, User)],
    ) -> crate::store::StoreResult<Vec<(Message, Value)>> {
        let until = mine
            .last_visible_message_id
            .filter(|_| mine.left_at.is_some());
        let mut all: Vec<Message> = Vec::new();
        let mut before = None;
        loop {
            let page = messages::page(conn, chat.id, mine.user_id, before, until, PAGE, 0).await?;
            let full = page.len() as i64 == PAGE;
            before = page.last().map(|m| m.id);
            all.extend(page);
            if !full {
                break;
            }
        }
        all.reverse();
        let mut out = Vec::with_capacity(all.len());
        for part in all.chunks(PAGE as usize) {
            let built = views::build_for(conn, mine.user_id, members, part).await?;
            let by_id: HashMap<i64, Value> = built
                .into_iter()
                .map(|v| (v.id, serde_json::to_value(v).unwrap_or(Value::Null)))
                .collect();
            for m in part {
                let v = by_id.get(&m.id).cloned().unwrap_or(Value::Null);
                out.push((m.clone(), v));
            }
        }
        Ok(out)
    }
}

/// The user's own profile as the export shows it.
fn profile(me: &User, has_photo: bool) -> Value {
    json!({
        "id": me.id,
        "phone_number": me.phone_number,
        "name": me.name,
        "about": me.about,
        "profile_photo": has_photo.then_some("media/profile-photo.jpg"),
        "privacy": {
            "last_seen": me.privacy_last_seen,
            "profile_photo": me.privacy_profile_photo,
            "about": me.privacy_about,
            "groups": me.privacy_groups,
        },
        "created_at": me.created_at.and_utc(),
    })
}

fn pretty(v: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).unwrap_or_default()
}
