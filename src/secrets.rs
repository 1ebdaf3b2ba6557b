//! Server secrets: the token key and the phone-hash key, from configuration or generated once
//! and kept in the data folder so a restart does not log everyone out.

use std::fs;
use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::ConfigError;

/// Keys the server signs and hashes with.
pub struct Secrets {
    pub jwt: Vec<u8>,
    phone_hash_key: Vec<u8>,
}

impl Secrets {
    /// Uses the configured values; an empty one is read from (or generated into) `data_dir`.
    pub fn load(data_dir: &Path, jwt: &str, phone_hash_key: &str) -> Result<Secrets, ConfigError> {
        Ok(Secrets {
            jwt: configured_or_file(data_dir, "jwt_secret", jwt)?,
            phone_hash_key: configured_or_file(data_dir, "phone_hash_key", phone_hash_key)?,
        })
    }

    /// The key media links are signed with, derived from the token key (so nodes that share
    /// the token key accept each other's links).
    pub fn media_key(&self) -> Vec<u8> {
        hmac_hex(&self.jwt, &[b"media-links"]).into_bytes()
    }

    /// The keyed hash phone numbers are looked up by (the PRD's "hashed for indexing").
    pub fn phone_hash(&self, e164: &str) -> String {
        hmac_hex(&self.phone_hash_key, &[b"phone:", e164.as_bytes()])
    }

    /// How a one-time code is stored: bound to the phone it was sent to.
    pub fn otp_hash(&self, phone_hash: &str, code: &str) -> String {
        hmac_hex(
            &self.phone_hash_key,
            &[b"otp:", phone_hash.as_bytes(), b":", code.as_bytes()],
        )
    }
}

fn hmac_hex(key: &[u8], parts: &[&[u8]]) -> String {
    // unwrap: HMAC accepts keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        mac.update(p);
    }
    hex::encode(mac.finalize().into_bytes())
}

pub(crate) fn configured_or_file(
    dir: &Path,
    name: &str,
    configured: &str,
) -> Result<Vec<u8>, ConfigError> {
    if !configured.is_empty() {
        return Ok(configured.as_bytes().to_vec());
    }
    let path = dir.join(name);
    match fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 32 => return Ok(s.trim().as_bytes().to_vec()),
        Ok(_) => {
            return Err(ConfigError(format!(
                "{} is too short; delete it to regenerate",
                path.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(ConfigError(format!("cannot read {}: {e}", path.display()))),
    }
    fs::create_dir_all(dir)
        .map_err(|e| ConfigError(format!("cannot create {}: {e}", dir.display())))?;
    let bytes: [u8; 32] = rand::random();
    let secret = hex::encode(bytes);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .map_err(|e| ConfigError(format!("cannot write {}: {e}", path.display())))?;
    file.write_all(secret.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| ConfigError(format!("cannot write {}: {e}", path.display())))?;
    tracing::info!(path = %path.display(), "generated a new {name}");
    Ok(secret.into_bytes())
}
