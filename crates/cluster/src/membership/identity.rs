//! [`MemberId`], foca's identity of a member, and [`IdCodec`], the compact binary codec foca uses to put
//! headers and member updates on the wire.
//!
//! The codec never panics: every read checks what is left first, and every write checks the room first
//! (foca requires a failed write to leave the buffer untouched).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use bytes::{Buf, BufMut};
use foca::{Header, Member, Message, State};

/// Identity of a member: its advertised gossip address and a generation (its start time in milliseconds,
/// plus one for every renewal). Two identities with the same address are incarnations of one node; the
/// higher generation wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberId {
    /// The gossip address other nodes reach this member at.
    pub addr: SocketAddr,
    /// Start time in milliseconds since the Unix epoch, incremented on every renewal.
    pub generation: u64,
}

impl MemberId {
    /// An identity on `addr` (IPv6 flow information dropped, so encoding round-trips exactly).
    #[must_use]
    pub fn new(addr: SocketAddr, generation: u64) -> Self {
        MemberId {
            addr: normalize(addr),
            generation,
        }
    }

    /// The member's RPC address: its gossip port minus 2 (saturating).
    #[must_use]
    pub fn rpc_addr(&self) -> SocketAddr {
        SocketAddr::new(self.addr.ip(), self.addr.port().saturating_sub(2))
    }
}

impl std::fmt::Display for MemberId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (generation {})", self.addr, self.generation)
    }
}

impl foca::Identity for MemberId {
    type Addr = SocketAddr;

    fn renew(&self) -> Option<Self> {
        self.generation.checked_add(1).map(|generation| MemberId {
            addr: self.addr,
            generation,
        })
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.generation > adversary.generation
    }
}

/// Drops what the wire does not carry (IPv6 flow information).
pub(crate) fn normalize(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(_) => addr,
        SocketAddr::V6(v6) => {
            SocketAddr::V6(SocketAddrV6::new(*v6.ip(), v6.port(), 0, v6.scope_id()))
        }
    }
}

/// Why a foca header or member could not be encoded or decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodecError {
    /// The buffer has no room for the item.
    NoRoom,
    /// The input ended in the middle of an item.
    Truncated,
    /// An unknown address family, message or state tag.
    BadTag(u8),
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodecError::NoRoom => f.write_str("no room left in the packet"),
            CodecError::Truncated => f.write_str("truncated item"),
            CodecError::BadTag(tag) => write!(f, "unknown tag {tag}"),
        }
    }
}

impl std::error::Error for CodecError {}

const FAMILY_V4: u8 = 4;
const FAMILY_V6: u8 = 6;

/// Encoded length of an identity.
fn id_len(id: &MemberId) -> usize {
    match id.addr {
        // family, ip, port, generation
        SocketAddr::V4(_) => 1 + 4 + 2 + 8,
        // family, ip, port, scope id, generation
        SocketAddr::V6(_) => 1 + 16 + 2 + 4 + 8,
    }
}

fn put_id(id: &MemberId, buf: &mut impl BufMut) {
    match id.addr {
        SocketAddr::V4(v4) => {
            buf.put_u8(FAMILY_V4);
            buf.put_slice(&v4.ip().octets());
            buf.put_u16(v4.port());
        }
        SocketAddr::V6(v6) => {
            buf.put_u8(FAMILY_V6);
            buf.put_slice(&v6.ip().octets());
            buf.put_u16(v6.port());
            buf.put_u32(v6.scope_id());
        }
    }
    buf.put_u64(id.generation);
}

fn get_u8(buf: &mut impl Buf) -> Result<u8, CodecError> {
    buf.try_get_u8().map_err(|_| CodecError::Truncated)
}

fn get_u16(buf: &mut impl Buf) -> Result<u16, CodecError> {
    buf.try_get_u16().map_err(|_| CodecError::Truncated)
}

fn get_u32(buf: &mut impl Buf) -> Result<u32, CodecError> {
    buf.try_get_u32().map_err(|_| CodecError::Truncated)
}

fn get_u64(buf: &mut impl Buf) -> Result<u64, CodecError> {
    buf.try_get_u64().map_err(|_| CodecError::Truncated)
}

fn get_array<const N: usize>(buf: &mut impl Buf) -> Result<[u8; N], CodecError> {
    let mut out = [0u8; N];
    buf.try_copy_to_slice(&mut out)
        .map_err(|_| CodecError::Truncated)?;
    Ok(out)
}

fn get_id(buf: &mut impl Buf) -> Result<MemberId, CodecError> {
    let addr = match get_u8(buf)? {
        FAMILY_V4 => {
            let ip = Ipv4Addr::from(get_array::<4>(buf)?);
            let port = get_u16(buf)?;
            SocketAddr::new(IpAddr::V4(ip), port)
        }
        FAMILY_V6 => {
            let ip = Ipv6Addr::from(get_array::<16>(buf)?);
            let port = get_u16(buf)?;
            let scope = get_u32(buf)?;
            SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope))
        }
        other => return Err(CodecError::BadTag(other)),
    };
    let generation = get_u64(buf)?;
    Ok(MemberId { addr, generation })
}

/// Encodes an identity alone (the payload of a leave notice).
pub(crate) fn encode_id(id: &MemberId) -> Vec<u8> {
    let mut out = Vec::with_capacity(id_len(id));
    put_id(id, &mut out);
    out
}

/// Decodes an identity that must fill `bytes` exactly.
pub(crate) fn decode_id(mut bytes: &[u8]) -> Result<MemberId, CodecError> {
    let id = get_id(&mut bytes)?;
    if bytes.is_empty() {
        Ok(id)
    } else {
        Err(CodecError::Truncated)
    }
}

// Message tags.
const MSG_PING: u8 = 0;
const MSG_ACK: u8 = 1;
const MSG_PING_REQ: u8 = 2;
const MSG_INDIRECT_PING: u8 = 3;
const MSG_INDIRECT_ACK: u8 = 4;
const MSG_FORWARDED_ACK: u8 = 5;
const MSG_ANNOUNCE: u8 = 6;
const MSG_FEED: u8 = 7;
const MSG_GOSSIP: u8 = 8;
const MSG_BROADCAST: u8 = 9;
const MSG_TURN_UNDEAD: u8 = 10;

// State tags.
const STATE_ALIVE: u8 = 0;
const STATE_SUSPECT: u8 = 1;
const STATE_DOWN: u8 = 2;

/// The codec foca encodes headers and member updates with: fixed-width big-endian fields, no allocation.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IdCodec;

impl foca::Codec<MemberId> for IdCodec {
    type Error = CodecError;

    fn encode_header(
        &mut self,
        header: &Header<MemberId>,
        mut buf: impl BufMut,
    ) -> Result<(), Self::Error> {
        // Tag, then the probe number and the identity of the messages that carry them.
        let (tag, extra): (u8, Option<(u8, Option<&MemberId>)>) = match &header.message {
            Message::Ping(n) => (MSG_PING, Some((*n, None))),
            Message::Ack(n) => (MSG_ACK, Some((*n, None))),
            Message::PingReq {
                target,
                probe_number,
            } => (MSG_PING_REQ, Some((*probe_number, Some(target)))),
            Message::IndirectPing {
                origin,
                probe_number,
            } => (MSG_INDIRECT_PING, Some((*probe_number, Some(origin)))),
            Message::IndirectAck {
                target,
                probe_number,
            } => (MSG_INDIRECT_ACK, Some((*probe_number, Some(target)))),
            Message::ForwardedAck {
                origin,
                probe_number,
            } => (MSG_FORWARDED_ACK, Some((*probe_number, Some(origin)))),
            Message::Announce => (MSG_ANNOUNCE, None),
            Message::Feed => (MSG_FEED, None),
            Message::Gossip => (MSG_GOSSIP, None),
            Message::Broadcast => (MSG_BROADCAST, None),
            Message::TurnUndead => (MSG_TURN_UNDEAD, None),
        };
        let extra_len = match extra {
            Some((_, Some(id))) => 1 + id_len(id),
            Some((_, None)) => 1,
            None => 0,
        };
        let len = id_len(&header.src) + 2 + id_len(&header.dst) + 1 + extra_len;
        if buf.remaining_mut() < len {
            return Err(CodecError::NoRoom);
        }
        put_id(&header.src, &mut buf);
        buf.put_u16(header.src_incarnation);
        put_id(&header.dst, &mut buf);
        buf.put_u8(tag);
        if let Some((probe_number, id)) = extra {
            buf.put_u8(probe_number);
            if let Some(id) = id {
                put_id(id, &mut buf);
            }
        }
        Ok(())
    }

    fn decode_header(&mut self, mut buf: impl Buf) -> Result<Header<MemberId>, Self::Error> {
        let src = get_id(&mut buf)?;
        let src_incarnation = get_u16(&mut buf)?;
        let dst = get_id(&mut buf)?;
        let message = match get_u8(&mut buf)? {
            MSG_PING => Message::Ping(get_u8(&mut buf)?),
            MSG_ACK => Message::Ack(get_u8(&mut buf)?),
            MSG_PING_REQ => {
                let probe_number = get_u8(&mut buf)?;
                let target = get_id(&mut buf)?;
                Message::PingReq {
                    target,
                    probe_number,
                }
            }
            MSG_INDIRECT_PING => {
                let probe_number = get_u8(&mut buf)?;
                let origin = get_id(&mut buf)?;
                Message::IndirectPing {
                    origin,
                    probe_number,
                }
            }
            MSG_INDIRECT_ACK => {
                let probe_number = get_u8(&mut buf)?;
                let target = get_id(&mut buf)?;
                Message::IndirectAck {
                    target,
                    probe_number,
                }
            }
            MSG_FORWARDED_ACK => {
                let probe_number = get_u8(&mut buf)?;
                let origin = get_id(&mut buf)?;
                Message::ForwardedAck {
                    origin,
                    probe_number,
                }
            }
            MSG_ANNOUNCE => Message::Announce,
            MSG_FEED => Message::Feed,
            MSG_GOSSIP => Message::Gossip,
            MSG_BROADCAST => Message::Broadcast,
            MSG_TURN_UNDEAD => Message::TurnUndead,
            other => return Err(CodecError::BadTag(other)),
        };
        Ok(Header {
            src,
            src_incarnation,
            dst,
            message,
        })
    }

    fn encode_member(
        &mut self,
        member: &Member<MemberId>,
        mut buf: impl BufMut,
    ) -> Result<(), Self::Error> {
        if buf.remaining_mut() < id_len(member.id()) + 2 + 1 {
            return Err(CodecError::NoRoom);
        }
        put_id(member.id(), &mut buf);
        buf.put_u16(member.incarnation());
        buf.put_u8(match member.state() {
            State::Alive => STATE_ALIVE,
            State::Suspect => STATE_SUSPECT,
            State::Down => STATE_DOWN,
        });
        Ok(())
    }

    fn decode_member(&mut self, mut buf: impl Buf) -> Result<Member<MemberId>, Self::Error> {
        let id = get_id(&mut buf)?;
        let incarnation = get_u16(&mut buf)?;
        let state = match get_u8(&mut buf)? {
            STATE_ALIVE => State::Alive,
            STATE_SUSPECT => State::Suspect,
            STATE_DOWN => State::Down,
            other => return Err(CodecError::BadTag(other)),
        };
        Ok(Member::new(id, incarnation, state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use foca::{Codec, Identity};
    use proptest::prelude::*;

    fn v4(port: u16, generation: u64) -> MemberId {
        MemberId::new(SocketAddr::from(([127, 0, 0, 1], port)), generation)
    }

    fn v6(port: u16, generation: u64) -> MemberId {
        MemberId::new(
            SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, port, 7, 3)),
            generation,
        )
    }

    #[test]
    fn identity_rules() {
        let a = v4(3322, 10);
        let renewed = a.renew().expect("renews");
        assert_eq!(renewed.addr, a.addr);
        assert_eq!(renewed.generation, 11);
        assert!(renewed.win_addr_conflict(&a));
        assert!(!a.win_addr_conflict(&renewed));
        assert_eq!(v4(3322, u64::MAX).renew(), None);
        assert_eq!(a.rpc_addr(), SocketAddr::from(([127, 0, 0, 1], 3320)));
        assert_eq!(v4(1, 0).rpc_addr().port(), 0);
        assert_eq!(decode_id(&encode_id(&a)), Ok(a));
        let b = v6(9, 5);
        assert_eq!(decode_id(&encode_id(&b)), Ok(b));
        assert!(decode_id(&encode_id(&b)[1..]).is_err());
        let mut long = encode_id(&b);
        long.push(0);
        assert!(decode_id(&long).is_err());
    }

    #[test]
    fn headers_and_members_round_trip() {
        let (a, b, c) = (v4(1, 1), v6(2, 2), v4(3, 3));
        let messages = [
            Message::Ping(1),
            Message::Ack(2),
            Message::PingReq {
                target: c,
                probe_number: 3,
            },
            Message::IndirectPing {
                origin: c,
                probe_number: 4,
            },
            Message::IndirectAck {
                target: c,
                probe_number: 5,
            },
            Message::ForwardedAck {
                origin: c,
                probe_number: 6,
            },
            Message::Announce,
            Message::Feed,
            Message::Gossip,
            Message::Broadcast,
            Message::TurnUndead,
        ];
        for message in messages {
            let header = Header {
                src: a,
                src_incarnation: 77,
                dst: b,
                message,
            };
            let mut out = Vec::new();
            IdCodec.encode_header(&header, &mut out).expect("encodes");
            let mut input = out.as_slice();
            assert_eq!(IdCodec.decode_header(&mut input), Ok(header.clone()));
            assert!(input.is_empty(), "consumed exactly");
            // A buffer one byte too short is left untouched.
            let mut small = vec![0u8; out.len() - 1];
            let mut slot = small.as_mut_slice();
            assert_eq!(
                IdCodec.encode_header(&header, &mut slot),
                Err(CodecError::NoRoom)
            );
            assert!(small.iter().all(|&b| b == 0));
            for cut in 0..out.len() {
                assert!(
                    IdCodec
                        .decode_header(out.get(..cut).unwrap_or(&[]))
                        .is_err()
                );
            }
        }
        for state in [State::Alive, State::Suspect, State::Down] {
            let member = Member::new(b, 9, state);
            let mut out = Vec::new();
            IdCodec.encode_member(&member, &mut out).expect("encodes");
            let mut input = out.as_slice();
            assert_eq!(IdCodec.decode_member(&mut input), Ok(member));
            assert!(input.is_empty());
        }
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = IdCodec.decode_header(bytes.as_slice());
            let _ = IdCodec.decode_member(bytes.as_slice());
            let _ = decode_id(&bytes);
        }
    }
}
