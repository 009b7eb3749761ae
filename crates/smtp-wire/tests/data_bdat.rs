//! BdatReader: exactly N octets, no dot handling (RFC 3030 §2).

use smtp_wire::data::BdatReader;

#[test]
fn takes_exactly_the_announced_octets_and_leaves_the_rest() {
    let input = b"\r\n.\r\nbody.\r\nBDAT 0 LAST\r\n";
    let mut reader = BdatReader::new(12);
    let mut out = Vec::new();
    assert_eq!(reader.read(input, &mut out), 12);
    assert!(reader.is_done());
    assert_eq!(
        out, b"\r\n.\r\nbody.\r\n",
        "dots and CRLF.CRLF are plain data in BDAT"
    );
    assert_eq!(&input[12..], b"BDAT 0 LAST\r\n");
    assert_eq!(
        reader.read(&input[12..], &mut out),
        0,
        "a finished chunk takes nothing"
    );
}

#[test]
fn chunked_input_gives_the_same_bytes() {
    let body: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    for size in [1, 2, 3, 17, 4096, 20_000] {
        let mut reader = BdatReader::new(body.len() as u64);
        let mut out = Vec::new();
        for chunk in body.chunks(size) {
            assert!(!reader.is_done());
            assert_eq!(reader.read(chunk, &mut out), chunk.len());
        }
        assert!(reader.is_done());
        assert_eq!(reader.remaining(), 0);
        assert_eq!(out, body);
    }
}

#[test]
fn zero_size_chunk_is_done_at_once_and_huge_sizes_do_not_overflow() {
    let mut out = Vec::new();
    let mut empty = BdatReader::new(0);
    assert!(empty.is_done());
    assert_eq!(empty.read(b"QUIT\r\n", &mut out), 0);
    let mut huge = BdatReader::new(u64::MAX);
    assert_eq!(huge.read(b"abc", &mut out), 3);
    assert_eq!(huge.remaining(), u64::MAX - 3);
    assert_eq!(out, b"abc");
}
