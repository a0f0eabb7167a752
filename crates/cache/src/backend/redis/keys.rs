//! Key namespacing: the configured prefix in front of every key, glob patterns for `SCAN MATCH`, and the
//! scan cursor that walks every master of a cluster.

use bytes::Bytes;

/// Bits of a cluster scan cursor that hold the position inside one node; the bits above hold the node's
/// index. Redis cursors are bucket indexes of the node's hash table, far below 2^48.
const NODE_CURSOR_BITS: u32 = 48;
const NODE_CURSOR_MASK: u64 = (1 << NODE_CURSOR_BITS) - 1;

/// The prefix (namespace) this cache writes under, and the translations between caller keys and server
/// keys.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: Bytes,
}

impl Keys {
    /// Keys are written as `prefix + key`.
    pub(crate) fn new(prefix: impl Into<Bytes>) -> Self {
        Keys {
            prefix: prefix.into(),
        }
    }

    /// The prefix, as configured.
    pub(crate) fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// The server key for a caller key.
    pub(crate) fn full(&self, key: &[u8]) -> Vec<u8> {
        let mut full = Vec::with_capacity(self.prefix.len() + key.len());
        full.extend_from_slice(&self.prefix);
        full.extend_from_slice(key);
        full
    }

    /// The caller key of a server key, or `None` for a key outside our namespace.
    pub(crate) fn strip<'a>(&self, full: &'a [u8]) -> Option<&'a [u8]> {
        full.strip_prefix(self.prefix.as_ref())
    }

    /// The `SCAN MATCH` pattern selecting every server key whose caller key starts with `prefix`: our
    /// namespace and `prefix`, both with glob metacharacters escaped, then `*`.
    pub(crate) fn pattern(&self, prefix: &[u8]) -> Vec<u8> {
        let mut pattern = Vec::with_capacity(2 * (self.prefix.len() + prefix.len()) + 1);
        escape_glob(&self.prefix, &mut pattern);
        escape_glob(prefix, &mut pattern);
        pattern.push(b'*');
        pattern
    }
}

/// Appends `literal` to `out` so that Redis' glob matcher (`stringmatchlen`) matches it byte for byte.
fn escape_glob(literal: &[u8], out: &mut Vec<u8>) {
    for &b in literal {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
}

/// A position in a scan over several nodes: which node, and the node's own cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NodeCursor {
    /// Index of the node in the sorted list of masters.
    pub(crate) node: usize,
    /// The cursor `SCAN` returned on that node (0: start there).
    pub(crate) cursor: u64,
}

impl NodeCursor {
    /// Decodes a cursor given to [`Cache::scan`](crate::Cache::scan).
    pub(crate) fn decode(cursor: u64) -> Self {
        NodeCursor {
            // The shift leaves at most 16 bits.
            node: usize::from((cursor >> NODE_CURSOR_BITS) as u16),
            cursor: cursor & NODE_CURSOR_MASK,
        }
    }

    /// Encodes the cursor returned to the caller, or `None` when it does not fit (a node with more than
    /// 2^48 hash buckets, or more than 65,535 masters).
    pub(crate) fn encode(self) -> Option<u64> {
        let node = u64::try_from(self.node).ok()?;
        if self.cursor > NODE_CURSOR_MASK || node > u64::from(u16::MAX) {
            return None;
        }
        Some((node << NODE_CURSOR_BITS) | self.cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_strip_round_trip_binary_keys() {
        let keys = Keys::new(&b"cc-relay:"[..]);
        for key in [&b""[..], b"\0", b"\xff\xfe", b"a:b"] {
            let full = keys.full(key);
            assert!(full.starts_with(b"cc-relay:"));
            assert_eq!(keys.strip(&full), Some(key));
        }
        assert_eq!(keys.strip(b"other:key"), None);
        let none = Keys::new(Bytes::new());
        assert_eq!(none.full(b"k"), b"k");
        assert_eq!(none.strip(b"k"), Some(&b"k"[..]));
    }

    #[test]
    fn pattern_escapes_every_glob_metacharacter() {
        let keys = Keys::new(&b"a*b?"[..]);
        assert_eq!(keys.pattern(b"[x]\\"), b"a\\*b\\?\\[x\\]\\\\*".to_vec());
        assert_eq!(Keys::new(Bytes::new()).pattern(b""), b"*".to_vec());
        assert_eq!(keys.prefix(), b"a*b?");
    }

    #[test]
    fn node_cursor_round_trips() {
        for (node, cursor) in [(0, 0), (0, 17), (2, 0), (3, NODE_CURSOR_MASK), (65_535, 1)] {
            let c = NodeCursor { node, cursor };
            let encoded = c.encode().expect("fits");
            assert_eq!(NodeCursor::decode(encoded), c);
        }
        assert_eq!(NodeCursor::decode(0), NodeCursor { node: 0, cursor: 0 });
        assert!(
            NodeCursor {
                node: 0,
                cursor: 1 << 48
            }
            .encode()
            .is_none()
        );
        assert!(
            NodeCursor {
                node: 65_536,
                cursor: 0
            }
            .encode()
            .is_none()
        );
    }
}
