//! Arbitrary bytes never panic a decoder, and never make it allocate beyond what its input and limits
//! allow.

use bytes::BytesMut;
use proptest::prelude::*;
use relaycache_resp::cmd::COMMANDS;
use relaycache_resp::{Args, Command, FrameDecoder, Limits, ProtocolError, RequestDecoder};

use crate::alloc::peak_during;

fn small_limits() -> Limits {
    Limits {
        max_bulk_len: 1 << 10,
        max_args: 64,
        max_inline_len: 256,
        max_nesting: 8,
        unauthenticated: false,
    }
}

/// Bytes that look like RESP often enough to reach deep states: type bytes, digits, CRLF, noise.
fn resp_ish() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"*".to_vec()),
        Just(b"$".to_vec()),
        Just(b"%".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"-1".to_vec()),
        Just(b"2147483648".to_vec()),
        "[0-9]{1,3}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 1..8),
    ];
    prop::collection::vec(token, 0..200).prop_map(|t| t.concat())
}

/// Runs the request decoder over `input` (parsing each command too); returns the first error, if any.
fn run_requests(input: &[u8], limits: Limits) -> Option<ProtocolError> {
    let mut decoder = RequestDecoder::new(limits);
    let mut at = 0;
    loop {
        match decoder.decode(&input[at..]) {
            Ok(Some(req)) => {
                let _ = Command::parse(req.args);
                at += req.consumed;
            }
            Ok(None) => return None,
            Err(e) => return Some(e),
        }
    }
}

fn run_frames(input: &[u8], limits: Limits) {
    let mut decoder = FrameDecoder::new(limits);
    let mut buf = BytesMut::from(input);
    while let Ok(Some(_)) = decoder.decode(&mut buf) {}
}

/// A known command name followed by arguments that parsers look for: numbers at and past the edges of
/// `i64`, option names, empty and arbitrary bytes.
fn known_command() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let names: Vec<Vec<u8>> = COMMANDS
        .iter()
        .map(|s| s.name.as_bytes().to_vec())
        .collect();
    let options = [
        "bit",
        "byte",
        "idx",
        "len",
        "minmatchlen",
        "withmatchlen",
        "samples",
        "replace",
        "absttl",
        "idletime",
        "freq",
        "encoding",
        "refcount",
        "usage",
        "help",
        "ex",
        "px",
        "exat",
        "pxat",
        "nx",
        "xx",
        "gt",
        "lt",
        "get",
        "keepttl",
        "persist",
        "match",
        "count",
        "type",
        "info",
        "docs",
    ];
    let arg = prop_oneof![
        prop::sample::select(options.to_vec()).prop_map(|o| o.as_bytes().to_vec()),
        "-?[0-9]{1,21}".prop_map(String::into_bytes),
        Just(b"-9223372036854775808".to_vec()),
        Just(b"9223372036854775807".to_vec()),
        Just(b"4294967296".to_vec()),
        Just(Vec::new()),
        prop::collection::vec(any::<u8>(), 0..6),
    ];
    (
        prop::sample::select(names),
        prop::collection::vec(arg, 0..8),
    )
        .prop_map(|(name, mut args)| {
            args.insert(0, name);
            args
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_command_parser_survives_any_arguments(words in known_command()) {
        // Parsing either succeeds or names an error; it never panics.
        let _ = Command::parse(Args::from_owned(&words)).map_err(|e| e.to_string());
    }

    #[test]
    fn request_decoder_survives_anything(input in prop_oneof![resp_ish(), prop::collection::vec(any::<u8>(), 0..2000)]) {
        let (_, peak) = peak_during(|| run_requests(&input, small_limits()));
        // Argument ranges and inline copies are proportional to the input; nothing is reserved ahead.
        prop_assert!(peak <= 32 * input.len() + 4096, "peak {} for {} input bytes", peak, input.len());
    }

    #[test]
    fn frame_decoder_survives_anything(input in prop_oneof![resp_ish(), prop::collection::vec(any::<u8>(), 0..2000)]) {
        let (_, peak) = peak_during(|| run_frames(&input, small_limits()));
        // Each aggregate header (>= 4 bytes) reserves at most 64 item slots, and nesting is bounded.
        prop_assert!(peak <= 1024 * input.len() + 16384, "peak {} for {} input bytes", peak, input.len());
    }
}

#[test]
fn hostile_headers_allocate_nothing_large() {
    for input in [
        &b"*2147483647\r\n"[..],
        b"$2147483647\r\n",
        b"*1\r\n$536870912\r\n",
        b"%1073741823\r\n",
    ] {
        let (_, peak) = peak_during(|| {
            run_requests(input, Limits::default());
            run_frames(input, Limits::default());
        });
        assert!(peak < 64 << 10, "{input:?}: peak {peak}");
    }
}

#[test]
fn deep_nesting_and_many_arguments_are_refused() {
    let deep = b"*1\r\n".repeat(100_000);
    let (_, peak) = peak_during(|| run_frames(&deep, Limits::default()));
    assert!(peak < 1 << 20, "peak {peak}");
    assert_eq!(
        run_requests(&deep, Limits::default()),
        Some(ProtocolError::ExpectedBulk('*'))
    );
    let too_many = format!("*{}\r\n", (1u64 << 20) + 1);
    assert_eq!(
        run_requests(too_many.as_bytes(), Limits::default()),
        Some(ProtocolError::InvalidMultibulkLength)
    );
}
