//! Keys derived from the cluster `secret`, and the HMAC-SHA256 tags gossip and RPC use.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of a tag.
pub const TAG_LEN: usize = 32;

/// A key derived from the cluster secret for one purpose (gossip or RPC). Never printed.
#[derive(Clone)]
pub struct AuthKey([u8; 32]);

impl std::fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthKey(..)")
    }
}

impl AuthKey {
    /// Derives the key for `label` (`"relaycache gossip v1"`, `"relaycache rpc v1"`) from `secret`:
    /// HMAC-SHA256 keyed by the secret over the label.
    #[must_use]
    pub fn derive(secret: &str, label: &str) -> Self {
        let mut mac =
            HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(label.as_bytes());
        AuthKey(mac.finalize().into_bytes().into())
    }

    /// The tag of the concatenation of `parts`.
    #[must_use]
    pub fn tag(&self, parts: &[&[u8]]) -> [u8; TAG_LEN] {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Checks `tag` against the tag of `parts` in constant time.
    #[must_use]
    pub fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        for part in parts {
            mac.update(part);
        }
        mac.verify_slice(tag).is_ok()
    }
}

/// Label of the gossip key.
pub const GOSSIP_LABEL: &str = "relaycache gossip v1";
/// Label of the RPC key.
pub const RPC_LABEL: &str = "relaycache rpc v1";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_verify_and_differ_by_key_and_label() {
        let a = AuthKey::derive("s3cret", GOSSIP_LABEL);
        let b = AuthKey::derive("s3cret", RPC_LABEL);
        let c = AuthKey::derive("other", GOSSIP_LABEL);
        let tag = a.tag(&[b"hello", b"world"]);
        assert!(a.verify(&[b"helloworld"], &tag), "parts concatenate");
        assert!(!b.verify(&[b"helloworld"], &tag));
        assert!(!c.verify(&[b"helloworld"], &tag));
        assert!(!a.verify(&[b"helloworlD"], &tag));
        assert!(!a.verify(&[b"helloworld"], &tag[..31]));
    }
}
