//! Presigned S3 GET links (AWS Signature Version 4, query-string form), so clients fetch
//! media straight from an S3-compatible store.

use chrono::NaiveDateTime;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// What signing needs to know about the store.
#[derive(Debug, Clone)]
pub struct S3Signer {
    /// `http(s)://host[:port]` of the store (AWS: `https://s3.<region>.amazonaws.com`).
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `endpoint/bucket/key` rather than `bucket.endpoint/key`.
    pub path_style: bool,
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // unwrap: HMAC accepts keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 3986 encoding as SigV4 wants it (`/` kept in paths when `keep_slash`).
fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl S3Signer {
    /// A link to GET `key`, signed at `at`, valid for `expires_secs`.
    pub fn presign(&self, key: &str, at: NaiveDateTime, expires_secs: u64) -> String {
        let (scheme, host) = self
            .endpoint
            .split_once("://")
            .unwrap_or(("https", self.endpoint.as_str()));
        let host = host.trim_end_matches('/');
        let (host, path) = if self.path_style {
            (
                host.to_string(),
                format!("/{}/{}", self.bucket, encode(key, true)),
            )
        } else {
            (
                format!("{}.{host}", self.bucket),
                format!("/{}", encode(key, true)),
            )
        };
        let amz_date = at.format("%Y%m%dT%H%M%SZ").to_string();
        let date = at.format("%Y%m%d").to_string();
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let query = format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}&X-Amz-Date={amz_date}&X-Amz-Expires={expires_secs}&X-Amz-SignedHeaders=host",
            encode(&format!("{}/{scope}", self.access_key_id), false)
        );
        let canonical = format!("GET\n{path}\n{query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD");
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let key = hmac(
            &hmac(
                &hmac(
                    &hmac(format!("AWS4{}", self.secret_access_key).as_bytes(), &date),
                    &self.region,
                ),
                "s3",
            ),
            "aws4_request",
        );
        let signature = hex(&hmac(&key, &to_sign));
        format!("{scheme}://{host}{path}?{query}&X-Amz-Signature={signature}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of AWS's documentation for query-string authentication.
    #[test]
    fn matches_the_aws_documentation_example() {
        let signer = S3Signer {
            endpoint: "https://s3.amazonaws.com".into(),
            bucket: "examplebucket".into(),
            region: "us-east-1".into(),
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            path_style: false,
        };
        let at = chrono::NaiveDate::from_ymd_opt(2013, 5, 24)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let url = signer.presign("test.txt", at, 86400);
        assert_eq!(
            url,
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }
}
