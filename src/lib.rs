//! Courier's edge: configuration, the HTTP API (one module per resource under `routes`), the
//! WebSocket endpoint, authentication. The engine lives in the `courier-actors` crate.

pub mod admin;
pub mod api;
pub mod config;
pub mod connections;
pub mod deadline;
pub mod error;
pub mod extract;
pub mod fdlimit;
pub mod listener;
pub mod media;
pub mod memory;
pub mod metrics;
pub mod push;
pub mod pusher;
pub mod request_log;
pub mod routes;
pub mod secrets;
pub mod shutdown;
pub mod sms;
pub mod startup;
pub mod state;
pub mod tls;
pub mod tokens;
pub mod upgrade;
pub mod validate;
pub mod web;
pub mod ws;

pub use config::Settings;
pub use startup::Application;
