//! Integration tests: a real server on a random port, real HTTP and WebSocket clients.
//! On SQLite by default; on PostgreSQL when `COURIER_TEST_DATABASE_URL` is set.

mod abuse;
mod admin;
mod auth;
mod binary;
mod blocks;
mod calls;
mod chats;
mod cluster;
mod contacts;
mod durability;
mod everyday;
mod former_members;
mod group_consent;
mod groups;
mod helpers;
mod hostile;
mod limits;
mod logs;
mod media;
mod metrics;
mod moderation;
mod openapi;
mod pg_tls;
mod privacy;
mod push;
mod pusher;
mod realtime;
#[path = "../shared/sign_up.rs"]
mod sign_up;
mod status;
mod tls;
mod tokens;
mod users;
mod web;
mod ws;
