//! [`ProtocolError`]: why input was refused. The texts are Redis's, because clients and people read them.

/// Malformed or over-limit input. The connection cannot be resynchronised after one of these: reply with
/// the error (`-ERR Protocol error: ...`) and close, as Redis does. Nothing was executed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An aggregate header with a bad or too large count.
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// A bulk header with a bad or too large length.
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// An unauthenticated client sent more arguments than it may.
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    /// An unauthenticated client sent a larger bulk than it may.
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
    /// A command argument was not a bulk string.
    #[error("Protocol error: expected '$', got '{0}'")]
    ExpectedBulk(char),
    /// An inline command longer than the limit.
    #[error("Protocol error: too big inline request")]
    TooBigInline,
    /// A header line longer than the limit.
    #[error("Protocol error: too big {0} count string")]
    TooBigCount(&'static str),
    /// An inline command with an unterminated quote.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// Aggregates nested deeper than the limit.
    #[error("Protocol error: nesting deeper than {0}")]
    TooDeep(u32),
    /// A frame type byte that RESP does not define.
    #[error("Protocol error: invalid frame type byte '{0}'")]
    InvalidType(char),
    /// A bulk string not followed by `\r\n`.
    #[error("Protocol error: expected CRLF after bulk data")]
    MissingCrlf,
    /// An integer, double or boolean that does not parse.
    #[error("Protocol error: invalid {0}")]
    InvalidValue(&'static str),
}
