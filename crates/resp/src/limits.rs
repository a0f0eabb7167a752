//! [`Limits`]: what a decoder accepts before it refuses the input with a protocol error.

/// Bounds a decoder enforces while reading. Every bound is checked *before* memory is reserved for the
/// thing it bounds, so a hostile header (`$2147483648`, `*1000000000`) costs nothing.
///
/// The defaults follow Redis (`proto-max-bulk-len` 512 MiB, inline requests up to 64 KiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest bulk string, in bytes.
    pub max_bulk_len: u64,
    /// Most items in one aggregate (arguments of a command, elements of an array).
    pub max_args: u64,
    /// Longest line: an inline command, a simple string or error, a length header.
    pub max_inline_len: u64,
    /// Deepest nesting of aggregates (a command is depth 1).
    pub max_nesting: u32,
    /// Apply Redis's wording for limits hit by clients that have not authenticated yet
    /// (`Protocol error: unauthenticated bulk length`).
    pub unauthenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 << 20,
            max_args: 1 << 20,
            max_inline_len: 64 << 10,
            max_nesting: 32,
            unauthenticated: false,
        }
    }
}

impl Limits {
    /// The tight limits of a client that has not authenticated: `max_bulk_len` and `max_args` replaced,
    /// the rest kept.
    #[must_use]
    pub fn unauthenticated(self, max_bulk_len: u64, max_args: u64) -> Limits {
        Limits {
            max_bulk_len: max_bulk_len.min(self.max_bulk_len),
            max_args: max_args.min(self.max_args),
            unauthenticated: true,
            ..self
        }
    }
}
