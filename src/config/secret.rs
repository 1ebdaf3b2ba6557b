//! A configured secret (a key, a token): read like a string where it is used, never printed.
//! `Debug` shows only whether it is set, so a logged or panicking `Settings` gives nothing away;
//! it serializes as an empty string, so a printed configuration holds none.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize, Serializer};

/// A secret string from the configuration; see the module docs.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Deref for Secret {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_string())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "<unset>"
        } else {
            "<redacted>"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_a_string_but_never_prints() {
        let s = Secret::from("hunter2-hunter2");
        assert_eq!(&*s, "hunter2-hunter2");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Secret::default()), "<unset>");
        let settings = crate::Settings {
            auth: crate::config::AuthSettings {
                jwt_secret: "a-jwt-secret-nobody-may-read-0000".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(!format!("{settings:?}").contains("nobody-may-read"));
        assert_eq!(serde_json::to_string(&s).unwrap(), r#""""#);
    }
}
