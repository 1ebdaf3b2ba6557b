//! Integration tests: a real server on a random port, real HTTP and WebSocket clients.
//! On SQLite by default; on PostgreSQL when `COURIER_TEST_DATABASE_URL` is set.

mod auth;
mod binary;
mod calls;
mod chats;
mod contacts;
mod durability;
mod groups;
mod helpers;
mod hostile;
mod media;
mod realtime;
mod status;
mod tokens;
mod users;
mod ws;
