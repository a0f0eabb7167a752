//! Encode then decode gives back what was encoded, however the bytes are split.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use relaycache_resp::{Frame, FrameDecoder, Limits, Protocol, RequestDecoder, encode};

fn bytes() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from)
}

fn line() -> impl Strategy<Value = Bytes> {
    "[a-zA-Z0-9 _:.-]{0,20}".prop_map(Bytes::from)
}

fn frame() -> impl Strategy<Value = Frame> {
    let leaf = prop_oneof![
        line().prop_map(Frame::Simple),
        line().prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        bytes().prop_map(Frame::Bulk),
        Just(Frame::Null),
        any::<bool>().prop_map(Frame::Boolean),
        (-1e12f64..1e12).prop_map(Frame::Double),
        "-?[1-9][0-9]{0,30}".prop_map(|s| Frame::BigNumber(Bytes::from(s))),
        bytes().prop_map(Frame::BulkError),
        ("[a-z]{3}", bytes()).prop_map(|(f, text)| {
            let f = f.as_bytes();
            Frame::Verbatim {
                format: [f[0], f[1], f[2]],
                text,
            }
        }),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Frame::Array),
            prop::collection::vec(inner.clone(), 0..8).prop_map(Frame::Set),
            prop::collection::vec(inner.clone(), 0..8).prop_map(Frame::Push),
            prop::collection::vec((inner.clone(), inner), 0..4).prop_map(|pairs| Frame::Map(
                pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()
            )),
        ]
    })
}

/// Feeds `input` to a frame decoder in chunks of `chunk` bytes and collects every frame.
fn decode_chunked(input: &[u8], chunk: usize) -> Vec<Frame> {
    let mut decoder = FrameDecoder::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        while let Some(frame) = decoder.decode(&mut buf).expect("valid input") {
            out.push(frame);
        }
    }
    assert!(buf.is_empty(), "bytes left over");
    out
}

proptest! {
    #[test]
    fn resp3_frames_round_trip(frames in prop::collection::vec(frame(), 1..4), chunk in 1usize..64) {
        let mut wire = BytesMut::new();
        for f in &frames {
            encode(f, Protocol::Resp3, &mut wire);
        }
        prop_assert_eq!(decode_chunked(&wire, chunk), frames);
    }

    #[test]
    fn commands_round_trip(
        commands in prop::collection::vec(prop::collection::vec(prop::collection::vec(any::<u8>(), 0..30), 1..6), 1..5),
        chunk in 1usize..50,
    ) {
        let mut wire = BytesMut::new();
        for args in &commands {
            encode(&Frame::command(args), Protocol::Resp2, &mut wire);
        }
        let mut decoder = RequestDecoder::new(Limits::default());
        let mut got = Vec::new();
        let mut received = 0;
        let mut at = 0;
        while received < wire.len() {
            received = (received + chunk).min(wire.len());
            while let Some(req) = decoder.decode(&wire[at..received]).expect("valid input") {
                got.push(req.args.iter().map(<[u8]>::to_vec).collect::<Vec<_>>());
                at += req.consumed;
            }
        }
        prop_assert_eq!(at, wire.len());
        prop_assert_eq!(got, commands);
    }
}

#[test]
fn resp2_downgrade_decodes_to_resp2_kinds() {
    let mut wire = BytesMut::new();
    encode(
        &Frame::Map(vec![Frame::bulk("k"), Frame::Null]),
        Protocol::Resp2,
        &mut wire,
    );
    assert_eq!(
        decode_chunked(&wire, 3),
        vec![Frame::Array(vec![Frame::bulk("k"), Frame::Null])]
    );
}
