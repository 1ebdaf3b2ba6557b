//! Every operation's error answers: the statuses and Courier error codes each route can
//! answer (see [`crate::error::ApiError`]; the table is [`super::operations::OPERATIONS`]),
//! added to the document with the error body's schema, and the authentication each route
//! takes. A test checks that the table and the routes in the document name the same
//! operations.

use std::collections::BTreeMap;

use utoipa::openapi::content::Content;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::Response;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{OpenApi, Ref, RefOr};

/// How an operation authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    /// `Authorization: Bearer <access token>`.
    Bearer,
    /// `Authorization: Bearer <refresh token>`.
    Refresh,
    /// Pusher's request signature (query parameters).
    Signed,
}

/// What an operation reads from the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    None,
    Json,
    /// JSON, or a multipart form with a file.
    JsonOrUpload,
    Upload,
}

/// One operation's errors beyond those its [`Auth`] and [`Input`] imply.
pub struct Op {
    pub method: &'static str,
    pub path: &'static str,
    pub auth: Auth,
    pub input: Input,
    pub errors: &'static [(u16, &'static [&'static str])],
}

pub use super::operations::OPERATIONS;

/// What a status means, for the response's description.
fn meaning(status: u16) -> &'static str {
    match status {
        400 => "Bad request",
        401 => "Not authenticated",
        403 => "Forbidden",
        404 => "Not found (or not the caller's to see)",
        408 => "The body came too slowly; the connection is closed",
        409 => "Conflicts with what is stored",
        413 => "Body too large",
        415 => "Unsupported media type",
        416 => "Range not satisfiable",
        422 => "Invalid input",
        429 => "Too many requests (`Retry-After` says when to retry)",
        502 => "The SMS provider failed",
        503 => "Unavailable; try again",
        _ => "Error",
    }
}

/// Every (status → codes) an operation answers.
pub fn statuses(op: &Op) -> BTreeMap<u16, Vec<&'static str>> {
    let mut all: BTreeMap<u16, Vec<&'static str>> = BTreeMap::new();
    let mut add = |status: u16, codes: &[&'static str]| {
        let list = all.entry(status).or_default();
        for c in codes {
            if !list.contains(c) {
                list.push(c);
            }
        }
    };
    match op.auth {
        Auth::None => {}
        Auth::Bearer | Auth::Refresh | Auth::Signed => add(401, &["unauthorized"]),
    }
    if op.path.contains('{') {
        add(404, &["not_found"]);
    }
    match op.input {
        Input::None => {}
        Input::Json => {
            add(400, &["invalid_json", "bad_body"]);
            add(408, &["request_timeout"]);
            add(413, &["payload_too_large"]);
            add(415, &["unsupported_media_type"]);
            add(422, &["validation_failed"]);
        }
        Input::JsonOrUpload | Input::Upload => {
            if op.input == Input::JsonOrUpload {
                add(400, &["invalid_json", "bad_body"]);
            } else {
                add(400, &["bad_body"]);
            }
            add(408, &["request_timeout"]);
            add(413, &["payload_too_large"]);
            add(415, &["unsupported_media_type"]);
            add(422, &["validation_failed"]);
        }
    }
    for (status, codes) in op.errors {
        add(*status, codes);
    }
    add(429, &["too_many_connections"]);
    add(503, &["unavailable"]);
    all
}

fn operation<'a>(doc: &'a mut OpenApi, method: &str, path: &str) -> Option<&'a mut Operation> {
    let item = doc.paths.paths.get_mut(path)?;
    match method {
        "get" => item.get.as_mut(),
        "post" => item.post.as_mut(),
        "put" => item.put.as_mut(),
        "delete" => item.delete.as_mut(),
        _ => None,
    }
}

/// Adds each operation's error answers and security to the document.
pub struct Errors;

impl utoipa::Modify for Errors {
    fn modify(&self, doc: &mut OpenApi) {
        for op in OPERATIONS {
            let Some(operation) = operation(doc, op.method, op.path) else {
                continue;
            };
            // Unique across resources (handlers of several modules share names like `list`).
            let id: String = format!("{}{}", op.method, op.path)
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join("_");
            operation.operation_id = Some(id);
            for (status, response) in operation.responses.responses.iter_mut() {
                if let RefOr::T(r) = response {
                    if r.description.is_empty() {
                        r.description = match status.as_str() {
                            "201" => "Created".into(),
                            _ => "OK".into(),
                        };
                    }
                }
            }
            for (status, codes) in statuses(op) {
                let listed: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
                let description = format!("{}: {}", meaning(status), listed.join(", "));
                let content = Content::new(Some(Ref::from_schema_name("Error")));
                let response = Response::builder()
                    .description(description)
                    .content("application/json", content)
                    .build();
                operation
                    .responses
                    .responses
                    .insert(status.to_string(), RefOr::T(response));
            }
            let scheme = match op.auth {
                Auth::None | Auth::Signed => None,
                Auth::Bearer => Some("bearer"),
                Auth::Refresh => Some("refresh_token"),
            };
            operation.security = Some(match scheme {
                Some(name) => vec![SecurityRequirement::new::<_, [&str; 0], &str>(name, [])],
                None => Vec::new(),
            });
        }
    }
}
