//! The Pusher protocol at `/app/{key}` and `/broadcasting/auth`: connection, authorization,
//! deliveries, presence, client events and bad input; and the real npm clients (`node`).

mod bad_input;
pub mod client;
mod delivery;
mod http_api;
mod limits;
mod node;
