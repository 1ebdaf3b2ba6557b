//! `courier stats`: what the database holds (users, chats, messages). Open sockets are a
//! figure of the running server, not of the database: they are not counted here.

use courier_actors::store::accounts;

use super::{Admin, AdminResult};

/// The lines `courier stats` prints.
pub async fn run(admin: &Admin) -> AdminResult<String> {
    let counts = {
        let mut conn = admin.db.get().await?;
        accounts::counts(&mut conn.conn()).await?
    };
    Ok(format!(
        "users: {} ({} suspended)\nchats: {}\nmessages: {}\n",
        counts.users, counts.suspended, counts.chats, counts.messages
    ))
}
