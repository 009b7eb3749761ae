//! The receiver side of BDAT: exactly N octets, nothing interpreted.

/// Reads the body of one `BDAT <size>` chunk (RFC 3030 §2): exactly `size`
/// octets follow the command line, taken as they are, with no dot handling
/// and no end-of-data marker. Bytes after the chunk are left for the command
/// reader.
///
/// ```
/// use smtp_wire::data::BdatReader;
///
/// let mut reader = BdatReader::new(5);
/// let mut body = Vec::new();
/// assert_eq!(reader.read(b"\r\n.\r", &mut body), 4);
/// assert_eq!(reader.remaining(), 1);
/// assert_eq!(reader.read(b"\nBDAT 0 LAST\r\n", &mut body), 1);
/// assert!(reader.is_done());
/// assert_eq!(body, b"\r\n.\r\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BdatReader {
    remaining: u64,
}

impl BdatReader {
    /// A reader for a chunk of `size` octets (`BDAT 0` is a valid, empty chunk).
    pub fn new(size: u64) -> Self {
        BdatReader { remaining: size }
    }

    /// Appends up to [`remaining`](Self::remaining) octets of `input` to `out`
    /// and returns how many it took.
    pub fn read(&mut self, input: &[u8], out: &mut Vec<u8>) -> usize {
        // min() in u64 first: `remaining` may exceed usize on 32-bit targets.
        let take = usize::try_from(self.remaining.min(input.len() as u64)).unwrap_or(input.len());
        out.extend_from_slice(&input[..take]);
        self.remaining -= take as u64;
        take
    }

    /// Octets of the chunk still to come.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// True once the whole chunk has been read.
    pub fn is_done(&self) -> bool {
        self.remaining == 0
    }
}
