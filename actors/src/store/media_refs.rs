//! Which stored objects rows refer to, for the orphan sweep: message files and thumbnails,
//! user avatars and group photos (every size, through the one key rows keep), photos former
//! members still see, status files. Asked a batch of keys at a time, in a fixed number of
//! indexed queries whatever the batch size.

use std::collections::HashSet;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::{chats, former_members, messages, reports, statuses, users};
use super::{Conn, StoreResult};
use crate::on_conn;
use crate::storage::{avatar_kept_key, stored};

/// The value a row holds for an object key (`store:…`): the key itself, or for any size of an
/// avatar the size rows keep.
pub fn held_as(key: &str) -> String {
    stored(&avatar_kept_key(key).unwrap_or_else(|| key.to_string()))
}

/// Which of `keys` some row refers to (seven queries; reports keep reported files).
pub async fn referenced(conn: &mut Conn<'_>, keys: &[String]) -> StoreResult<HashSet<String>> {
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let mut values: Vec<String> = keys.iter().map(|k| held_as(k)).collect();
    values.sort_unstable();
    values.dedup();
    let mut held: HashSet<String> = HashSet::new();
    let found: Vec<Option<String>> = on_conn!(conn, |c| {
        messages::table
            .filter(messages::media_url.eq_any(&values))
            .select(messages::media_url)
            .load(c)
            .await?
    });
    held.extend(found.into_iter().flatten());
    let found: Vec<Option<String>> = on_conn!(conn, |c| {
        messages::table
            .filter(messages::thumbnail_url.eq_any(&values))
            .select(messages::thumbnail_url)
            .load(c)
            .await?
    });
    held.extend(found.into_iter().flatten());
    let found: Vec<Option<String>> = on_conn!(conn, |c| {
        statuses::table
            .filter(statuses::media_url.eq_any(&values))
            .select(statuses::media_url)
            .load(c)
            .await?
    });
    held.extend(found.into_iter().flatten());
    let found: Vec<Option<String>> = on_conn!(conn, |c| {
        users::table
            .filter(users::avatar_url.eq_any(&values))
            .select(users::avatar_url)
            .load(c)
            .await?
    });
    held.extend(found.into_iter().flatten());
    let found: Vec<Option<String>> = on_conn!(conn, |c| {
        chats::table
            .filter(chats::avatar_url.eq_any(&values))
            .select(chats::avatar_url)
            .load(c)
            .await?
    });
    held.extend(found.into_iter().flatten());
    let found: Vec<Option<String>> = on_conn!(conn, |c| {
        reports::table
            .filter(reports::message_media_url.eq_any(&values))
            .select(reports::message_media_url)
            .load(c)
            .await?
    });
    held.extend(found.into_iter().flatten());
    let found: Vec<Option<String>> = on_conn!(conn, |c| {
        former_members::table
            .filter(former_members::avatar_url.eq_any(&values))
            .select(former_members::avatar_url)
            .load(c)
            .await?
    });
    held.extend(found.into_iter().flatten());
    Ok(keys
        .iter()
        .filter(|k| held.contains(&held_as(k)))
        .cloned()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::held_as;

    #[test]
    fn every_size_of_an_avatar_is_held_as_the_kept_one() {
        for size in [150, 300, 600] {
            assert_eq!(
                held_as(&format!("avatars/users/7/abc_{size}.jpg")),
                "store:avatars/users/7/abc_300.jpg"
            );
            assert_eq!(
                held_as(&format!("avatars/groups/abc_{size}.jpg")),
                "store:avatars/groups/abc_300.jpg"
            );
        }
        assert_eq!(
            held_as("messages/images/2026/01/abc_1.jpg"),
            "store:messages/images/2026/01/abc_1.jpg",
            "only avatars come in sizes"
        );
        assert_eq!(
            held_as("thumbnails/images/abc_thumb.jpg"),
            "store:thumbnails/images/abc_thumb.jpg"
        );
        assert_eq!(
            held_as("avatars/users/7/x_big.jpg"),
            "store:avatars/users/7/x_big.jpg"
        );
    }
}
