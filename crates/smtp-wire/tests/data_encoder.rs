//! DotStuffer: line-end normalisation, dot stuffing, final CRLF and
//! terminator (RFC 5321 §2.3.8, §4.5.2), and BDAT's crlf_only mode (RFC 3030).

use smtp_wire::data::DotStuffer;

/// Encodes `input` split at `cuts`, then finishes.
fn encode_split(mut stuffer: DotStuffer, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut start = 0;
    for end in cuts.iter().copied().chain([input.len()]) {
        stuffer.encode(&input[start..end], &mut out);
        start = end;
    }
    stuffer.finish(&mut out);
    out
}

fn data(input: &[u8]) -> Vec<u8> {
    encode_split(DotStuffer::new(), input, &[])
}

fn bdat(input: &[u8]) -> Vec<u8> {
    encode_split(DotStuffer::crlf_only(), input, &[])
}

#[test]
fn empty_body_is_just_the_dot_line() {
    assert_eq!(data(b""), b".\r\n");
    assert_eq!(bdat(b""), b"");
}

#[test]
fn final_crlf_is_added_only_when_missing() {
    assert_eq!(data(b"a"), b"a\r\n.\r\n");
    assert_eq!(data(b"a\r\n"), b"a\r\n.\r\n");
    assert_eq!(data(b"a\n"), b"a\r\n.\r\n");
    assert_eq!(data(b"a\r"), b"a\r\n.\r\n");
    assert_eq!(bdat(b"a"), b"a\r\n");
    assert_eq!(bdat(b"a\r\n"), b"a\r\n");
}

#[test]
fn bare_cr_and_bare_lf_become_crlf() {
    assert_eq!(data(b"a\rb\nc\r\nd"), b"a\r\nb\r\nc\r\nd\r\n.\r\n");
    // CR CR LF is a bare CR then a CRLF: two line ends.
    assert_eq!(data(b"a\r\r\nb"), b"a\r\n\r\nb\r\n.\r\n");
    // LF CR is a bare LF then a bare CR.
    assert_eq!(data(b"a\n\rb"), b"a\r\n\r\nb\r\n.\r\n");
    assert_eq!(bdat(b"\n\r\r\n"), b"\r\n\r\n\r\n");
}

#[test]
fn every_line_starting_with_a_dot_is_doubled() {
    assert_eq!(data(b"."), b"..\r\n.\r\n");
    assert_eq!(
        data(b".\r\n..\r\na.b\r\n.x"),
        b"..\r\n...\r\na.b\r\n..x\r\n.\r\n"
    );
    // A dot after a normalised bare CR or bare LF starts a line too.
    assert_eq!(data(b"a\n.\nb\r.\r"), b"a\r\n..\r\nb\r\n..\r\n.\r\n");
    // crlf_only leaves dots alone.
    assert_eq!(bdat(b".\n.\r\n"), b".\r\n.\r\n");
}

#[test]
fn cr_at_the_end_of_a_chunk_and_lf_at_the_start_of_the_next_are_one_crlf() {
    let out = encode_split(DotStuffer::new(), b"a\r\n.b", &[2]);
    assert_eq!(out, b"a\r\n..b\r\n.\r\n");
    // An empty chunk in between does not break the pair.
    let mut stuffer = DotStuffer::new();
    let mut out = Vec::new();
    stuffer.encode(b"a\r", &mut out);
    stuffer.encode(b"", &mut out);
    stuffer.encode(b"\n", &mut out);
    stuffer.encode(b"\n", &mut out);
    stuffer.finish(&mut out);
    assert_eq!(out, b"a\r\n\r\n.\r\n");
}

const INPUTS: &[&[u8]] = &[
    b"",
    b".",
    b"\r",
    b"\n",
    b"..\r\r\n.\n\n.\r.",
    b"line\r\n.\r\nMAIL FROM:<x@y>\r\n",
    b"\r\n.\r\n",
    b"a\n.\r\nb\r.\nc\r\r\n.\r\r\n",
];

#[test]
fn output_is_identical_for_every_pair_of_split_points() {
    for mode in [DotStuffer::new(), DotStuffer::crlf_only()] {
        for input in INPUTS {
            let whole = encode_split(mode.clone(), input, &[]);
            for first in 0..=input.len() {
                for second in first..=input.len() {
                    let split = encode_split(mode.clone(), input, &[first, second]);
                    assert_eq!(split, whole, "{input:?} cut at {first} and {second}");
                }
            }
        }
    }
}

#[test]
fn encoded_data_never_contains_the_terminator_before_the_end() {
    for input in INPUTS {
        let mut wire = b"\r\n".to_vec(); // the CRLF that ended the DATA command
        wire.extend(data(input));
        let first = wire.windows(5).position(|w| w == b"\r\n.\r\n");
        assert_eq!(first, Some(wire.len() - 5), "{input:?}");
    }
}

#[test]
fn finish_makes_the_stuffer_ready_for_the_next_message() {
    let mut stuffer = DotStuffer::new();
    let mut out = Vec::new();
    stuffer.encode(b"one\r", &mut out);
    stuffer.finish(&mut out);
    stuffer.encode(b"\n.two", &mut out);
    stuffer.finish(&mut out);
    // The LF of the second message is not taken as the partner of the first's CR.
    assert_eq!(out, b"one\r\n.\r\n\r\n..two\r\n.\r\n");
}
