//! The gossip packet wrapper (`docs/cluster.md`, "Gossip packet"):
//!
//! ```text
//! magic "RCG" | version 1 | kind u8 | dmap_name (u8 length, bytes) | partition_count u32 | environment u8
//! | flags u8 (bit 0: MAC present) | payload (u16 length, bytes) | HMAC-SHA256 (32 bytes, when flag set)
//! ```
//!
//! Integers are big-endian. The decoder checks every length against what is left, never indexes, and
//! rejects packets over [`MAX_PACKET`] bytes, unknown kinds or flags, and trailing bytes.

use crate::auth::{AuthKey, TAG_LEN};
use crate::config::ClusterTag;

/// The first three bytes of every packet.
pub(crate) const MAGIC: [u8; 3] = *b"RCG";
/// The wrapper version this code speaks.
pub(crate) const VERSION: u8 = 1;
/// Largest packet sent or accepted.
pub(crate) const MAX_PACKET: usize = 1400;
/// Flag bit: a MAC follows the payload.
const FLAG_MAC: u8 = 1;

/// What a packet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// 0: a foca message.
    Foca,
    /// 1: a refusal; the payload is a readable reason.
    Refusal,
    /// 2: a leave notice; the payload is the leaving member's identity.
    Leave,
    /// 3: a wrong-port notice; the payload is the gossip address, as text.
    WrongPort,
}

impl Kind {
    /// The wire code.
    pub(crate) fn code(self) -> u8 {
        match self {
            Kind::Foca => 0,
            Kind::Refusal => 1,
            Kind::Leave => 2,
            Kind::WrongPort => 3,
        }
    }

    fn from_code(code: u8) -> Option<Kind> {
        match code {
            0 => Some(Kind::Foca),
            1 => Some(Kind::Refusal),
            2 => Some(Kind::Leave),
            3 => Some(Kind::WrongPort),
            _ => None,
        }
    }
}

/// Bytes of the wrapper around a payload for a cluster whose `dmap_name` is `name_len` bytes long,
/// counting the MAC.
pub(crate) fn overhead(name_len: usize) -> usize {
    MAGIC.len() + 1 + 1 + 1 + name_len + 4 + 1 + 1 + 2 + TAG_LEN
}

/// Why a packet could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EncodeError {
    /// `dmap_name` is over 255 bytes.
    NameTooLong,
    /// The packet would exceed [`MAX_PACKET`].
    TooLong,
}

/// Builds a packet into `out` (cleared first).
pub(crate) fn encode(
    kind: Kind,
    tag: &ClusterTag,
    payload: &[u8],
    key: Option<&AuthKey>,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let name = tag.dmap_name.as_bytes();
    let name_len = u8::try_from(name.len()).map_err(|_| EncodeError::NameTooLong)?;
    let payload_len = u16::try_from(payload.len()).map_err(|_| EncodeError::TooLong)?;
    let total = overhead(name.len()) - if key.is_some() { 0 } else { TAG_LEN } + payload.len();
    if total > MAX_PACKET {
        return Err(EncodeError::TooLong);
    }
    out.clear();
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(kind.code());
    out.push(name_len);
    out.extend_from_slice(name);
    out.extend_from_slice(&tag.partition_count.to_be_bytes());
    out.push(tag.environment);
    out.push(if key.is_some() { FLAG_MAC } else { 0 });
    out.extend_from_slice(&payload_len.to_be_bytes());
    out.extend_from_slice(payload);
    if let Some(key) = key {
        let mac = key.tag(&[out.as_slice()]);
        out.extend_from_slice(&mac);
    }
    Ok(())
}

/// Why a datagram is not a valid packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// Over [`MAX_PACKET`] bytes.
    TooLong(usize),
    /// Does not start with the magic.
    NotGossip,
    /// Another wrapper version.
    Version(u8),
    /// Ends in the middle of a field.
    Truncated,
    /// An unknown kind.
    UnknownKind(u8),
    /// Unknown flag bits.
    UnknownFlags(u8),
    /// Bytes after the end.
    Trailing(usize),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::TooLong(len) => {
                write!(f, "packet of {len} bytes, over the {MAX_PACKET}-byte limit")
            }
            DecodeError::NotGossip => f.write_str("not a relaycache gossip packet"),
            DecodeError::Version(v) => write!(f, "gossip packet version {v}, expected {VERSION}"),
            DecodeError::Truncated => f.write_str("truncated gossip packet"),
            DecodeError::UnknownKind(k) => write!(f, "gossip packet of unknown kind {k}"),
            DecodeError::UnknownFlags(fl) => {
                write!(f, "gossip packet with unknown flags {fl:#04x}")
            }
            DecodeError::Trailing(n) => write!(f, "gossip packet with {n} trailing bytes"),
        }
    }
}

/// A decoded packet, borrowing the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Packet<'a> {
    /// What it carries.
    pub(crate) kind: Kind,
    /// The sender's `dmap_name` (not necessarily UTF-8).
    pub(crate) dmap_name: &'a [u8],
    /// The sender's `partition_count`.
    pub(crate) partition_count: u32,
    /// The sender's environment code.
    pub(crate) environment: u8,
    /// The payload.
    pub(crate) payload: &'a [u8],
    /// The MAC, when the flag is set.
    pub(crate) mac: Option<&'a [u8]>,
    /// The bytes the MAC covers.
    covered: &'a [u8],
}

impl Packet<'_> {
    /// True when the packet carries a MAC and it is `key`'s.
    pub(crate) fn verify(&self, key: &AuthKey) -> bool {
        self.mac.is_some_and(|mac| key.verify(&[self.covered], mac))
    }

    /// The sender's cluster settings (a non-UTF-8 name converted lossily).
    pub(crate) fn cluster_tag(&self) -> ClusterTag {
        ClusterTag {
            dmap_name: String::from_utf8_lossy(self.dmap_name).into_owned(),
            partition_count: self.partition_count,
            environment: self.environment,
        }
    }

    /// True when the sender's settings are `tag`'s.
    pub(crate) fn same_cluster(&self, tag: &ClusterTag) -> bool {
        self.dmap_name == tag.dmap_name.as_bytes()
            && self.partition_count == tag.partition_count
            && self.environment == tag.environment
    }
}

/// The kind byte of a datagram that starts with the magic, if it has one (known or not).
pub(crate) fn peek_kind(bytes: &[u8]) -> Option<u8> {
    if bytes.get(..MAGIC.len()) == Some(MAGIC.as_slice()) {
        bytes.get(4).copied()
    } else {
        None
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let out = self
            .bytes
            .get(self.pos..end)
            .ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        self.take(1)?.first().copied().ok_or(DecodeError::Truncated)
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        let arr: [u8; 2] = b.try_into().map_err(|_| DecodeError::Truncated)?;
        Ok(u16::from_be_bytes(arr))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        let arr: [u8; 4] = b.try_into().map_err(|_| DecodeError::Truncated)?;
        Ok(u32::from_be_bytes(arr))
    }
}

/// Decodes a datagram. Never panics.
pub(crate) fn decode(bytes: &[u8]) -> Result<Packet<'_>, DecodeError> {
    if bytes.len() > MAX_PACKET {
        return Err(DecodeError::TooLong(bytes.len()));
    }
    let mut r = Reader { bytes, pos: 0 };
    if r.take(MAGIC.len()).map_err(|_| DecodeError::NotGossip)? != MAGIC.as_slice() {
        return Err(DecodeError::NotGossip);
    }
    let version = r.u8()?;
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    let code = r.u8()?;
    let kind = Kind::from_code(code).ok_or(DecodeError::UnknownKind(code))?;
    let name_len = r.u8()?;
    let dmap_name = r.take(usize::from(name_len))?;
    let partition_count = r.u32()?;
    let environment = r.u8()?;
    let flags = r.u8()?;
    if flags & !FLAG_MAC != 0 {
        return Err(DecodeError::UnknownFlags(flags));
    }
    let payload_len = r.u16()?;
    let payload = r.take(usize::from(payload_len))?;
    let covered = bytes.get(..r.pos).ok_or(DecodeError::Truncated)?;
    let mac = if flags & FLAG_MAC != 0 {
        Some(r.take(TAG_LEN)?)
    } else {
        None
    };
    let rest = bytes.len().saturating_sub(r.pos);
    if rest != 0 {
        return Err(DecodeError::Trailing(rest));
    }
    Ok(Packet {
        kind,
        dmap_name,
        partition_count,
        environment,
        payload,
        mac,
        covered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::GOSSIP_LABEL;
    use proptest::prelude::*;

    fn tag() -> ClusterTag {
        ClusterTag {
            dmap_name: "cc-relay".to_owned(),
            partition_count: 271,
            environment: 0,
        }
    }

    #[test]
    fn round_trip_without_key() {
        let mut out = Vec::new();
        encode(Kind::Foca, &tag(), b"hello", None, &mut out).expect("encodes");
        assert_eq!(out.len(), overhead(8) - TAG_LEN + 5);
        let p = decode(&out).expect("decodes");
        assert_eq!(p.kind, Kind::Foca);
        assert_eq!(p.cluster_tag(), tag());
        assert!(p.same_cluster(&tag()));
        assert_eq!(p.payload, b"hello");
        assert_eq!(p.mac, None);
        let key = AuthKey::derive("s", GOSSIP_LABEL);
        assert!(!p.verify(&key), "no MAC never verifies");
        assert_eq!(peek_kind(&out), Some(0));
    }

    #[test]
    fn round_trip_with_key_and_tampering() {
        let key = AuthKey::derive("s3cret", GOSSIP_LABEL);
        let other = AuthKey::derive("other", GOSSIP_LABEL);
        let mut out = Vec::new();
        encode(Kind::Leave, &tag(), b"payload", Some(&key), &mut out).expect("encodes");
        assert_eq!(out.len(), overhead(8) + 7);
        let p = decode(&out).expect("decodes");
        assert_eq!(p.kind, Kind::Leave);
        assert_eq!(p.payload, b"payload");
        assert!(p.verify(&key));
        assert!(!p.verify(&other));
        for i in 0..out.len() {
            let mut bad = out.clone();
            if let Some(b) = bad.get_mut(i) {
                *b ^= 0x01;
            }
            if let Ok(p) = decode(&bad) {
                assert!(!p.verify(&key), "flipping byte {i} must fail verification");
            }
        }
        for cut in 0..out.len() {
            assert!(decode(out.get(..cut).unwrap_or(&[])).is_err());
        }
        let mut long = out.clone();
        long.push(0);
        assert_eq!(decode(&long), Err(DecodeError::Trailing(1)));
    }

    #[test]
    fn limits() {
        let mut out = Vec::new();
        let big = vec![0u8; MAX_PACKET];
        assert_eq!(
            encode(Kind::Foca, &tag(), &big, None, &mut out),
            Err(EncodeError::TooLong)
        );
        let room = MAX_PACKET - overhead(8);
        let key = AuthKey::derive("k", GOSSIP_LABEL);
        encode(Kind::Foca, &tag(), &big[..room], Some(&key), &mut out).expect("fits exactly");
        assert_eq!(out.len(), MAX_PACKET);
        assert!(decode(&out).is_ok());
        let name = ClusterTag {
            dmap_name: "x".repeat(256),
            ..tag()
        };
        assert_eq!(
            encode(Kind::Foca, &name, b"", None, &mut out),
            Err(EncodeError::NameTooLong)
        );
        assert_eq!(
            decode(&vec![0u8; MAX_PACKET + 1]),
            Err(DecodeError::TooLong(MAX_PACKET + 1))
        );
        assert_eq!(decode(b"XYZ"), Err(DecodeError::NotGossip));
        assert_eq!(decode(b"RC"), Err(DecodeError::NotGossip));
        assert_eq!(decode(b"RCG\x02\x00"), Err(DecodeError::Version(2)));
        assert_eq!(decode(b"RCG\x01\x09"), Err(DecodeError::UnknownKind(9)));
        assert_eq!(peek_kind(b"RCG\x01"), None);
        assert_eq!(peek_kind(b"RCG\x01\x03"), Some(3));
        let mut flags = Vec::new();
        encode(Kind::Foca, &tag(), b"", None, &mut flags).expect("encodes");
        let at = 3 + 1 + 1 + 1 + 8 + 4 + 1;
        if let Some(b) = flags.get_mut(at) {
            *b = 0x82;
        }
        assert_eq!(decode(&flags), Err(DecodeError::UnknownFlags(0x82)));
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1600)) {
            let key = AuthKey::derive("k", GOSSIP_LABEL);
            if let Ok(p) = decode(&bytes) {
                let _ = p.verify(&key);
                let _ = p.cluster_tag();
            }
            let _ = peek_kind(&bytes);
        }

        #[test]
        fn decoding_mutated_packets_never_panics(
            payload in proptest::collection::vec(any::<u8>(), 0..300),
            at in any::<usize>(),
            byte in any::<u8>(),
        ) {
            let key = AuthKey::derive("k", GOSSIP_LABEL);
            let mut out = Vec::new();
            encode(Kind::Foca, &tag(), &payload, Some(&key), &mut out).expect("encodes");
            let i = at % out.len();
            let original = out.get(i).copied();
            if let Some(b) = out.get_mut(i) {
                *b = byte;
            }
            if let Ok(p) = decode(&out) {
                if original != Some(byte) {
                    prop_assert!(!p.verify(&key));
                }
            }
        }

        #[test]
        fn round_trips(
            name in "[a-z0-9-]{0,40}",
            partition_count in any::<u32>(),
            environment in any::<u8>(),
            payload in proptest::collection::vec(any::<u8>(), 0..1000),
            keyed in any::<bool>(),
        ) {
            let tag = ClusterTag { dmap_name: name, partition_count, environment };
            let key = AuthKey::derive("k", GOSSIP_LABEL);
            let key = keyed.then_some(&key);
            let mut out = Vec::new();
            encode(Kind::Refusal, &tag, &payload, key, &mut out).expect("encodes");
            let p = decode(&out).expect("decodes");
            prop_assert_eq!(p.kind, Kind::Refusal);
            prop_assert_eq!(p.cluster_tag(), tag);
            prop_assert_eq!(p.payload, payload.as_slice());
            prop_assert_eq!(p.mac.is_some(), keyed);
            if let Some(key) = key {
                prop_assert!(p.verify(key));
            }
        }
    }
}
