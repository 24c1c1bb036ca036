//! Pure TFTP packet codec (RFC 1350, option extension RFC 2347).
//!
//! No IO, no allocation on the hot path (ACK / DATA parsing borrows from the input) and no
//! panicking operation on input bytes: every access goes through `get`/`split_first`-style
//! helpers, so any byte string yields either a packet or a [`ParseError`].

use std::borrow::Cow;
use std::fmt;

pub const OP_RRQ: u16 = 1;
pub const OP_WRQ: u16 = 2;
pub const OP_DATA: u16 = 3;
pub const OP_ACK: u16 = 4;
pub const OP_ERROR: u16 = 5;
pub const OP_OACK: u16 = 6;

/// Smallest and largest block sizes allowed by RFC 2348.
pub const MIN_BLKSIZE: u16 = 8;
pub const MAX_BLKSIZE: u16 = 65464;
/// Block size without the blksize option (RFC 1350).
pub const DEFAULT_BLKSIZE: u16 = 512;

/// TFTP error codes (RFC 1350 + RFC 2347's 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    NotDefined,
    FileNotFound,
    AccessViolation,
    DiskFull,
    IllegalOperation,
    UnknownTid,
    FileExists,
    NoSuchUser,
    OptionNegotiation,
    /// A code outside 0..=8 received from a peer.
    Other(u16),
}

impl ErrorCode {
    pub fn as_u16(self) -> u16 {
        match self {
            ErrorCode::NotDefined => 0,
            ErrorCode::FileNotFound => 1,
            ErrorCode::AccessViolation => 2,
            ErrorCode::DiskFull => 3,
            ErrorCode::IllegalOperation => 4,
            ErrorCode::UnknownTid => 5,
            ErrorCode::FileExists => 6,
            ErrorCode::NoSuchUser => 7,
            ErrorCode::OptionNegotiation => 8,
            ErrorCode::Other(c) => c,
        }
    }

    pub fn from_u16(c: u16) -> Self {
        match c {
            0 => ErrorCode::NotDefined,
            1 => ErrorCode::FileNotFound,
            2 => ErrorCode::AccessViolation,
            3 => ErrorCode::DiskFull,
            4 => ErrorCode::IllegalOperation,
            5 => ErrorCode::UnknownTid,
            6 => ErrorCode::FileExists,
            7 => ErrorCode::NoSuchUser,
            8 => ErrorCode::OptionNegotiation,
            c => ErrorCode::Other(c),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_u16())
    }
}

/// Transfer mode of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Octet,
    Netascii,
    Mail,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Octet => "octet",
            Mode::Netascii => "netascii",
            Mode::Mail => "mail",
        }
    }
}

/// An RRQ or WRQ. Option names are kept as sent; compare them case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub filename: &'a str,
    pub mode: Mode,
    pub options: Vec<(&'a str, &'a str)>,
}

/// A parsed TFTP packet, borrowing from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    Rrq(Request<'a>),
    Wrq(Request<'a>),
    Data {
        block: u16,
        data: &'a [u8],
    },
    Ack {
        block: u16,
    },
    Error {
        code: ErrorCode,
        message: Cow<'a, str>,
    },
    Oack {
        options: Vec<(&'a str, &'a str)>,
    },
}

/// Why a datagram is not a valid TFTP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("packet too short ({0} bytes)")]
    TooShort(usize),
    #[error("unknown opcode {0}")]
    UnknownOpcode(u16),
    #[error("{0} is not NUL-terminated")]
    Unterminated(&'static str),
    #[error("{0} is not valid UTF-8")]
    NotUtf8(&'static str),
    #[error("empty filename")]
    EmptyFilename,
    #[error("unknown transfer mode {0:?}")]
    UnknownMode(String),
}

fn be16(buf: &[u8]) -> Option<u16> {
    match buf {
        [a, b, ..] => Some(u16::from_be_bytes([*a, *b])),
        _ => None,
    }
}

/// Split off one NUL-terminated string: `(string, rest after the NUL)`.
fn cstr(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let nul = buf.iter().position(|&b| b == 0)?;
    let (s, rest) = buf.split_at(nul);
    Some((s, rest.get(1..).unwrap_or(&[])))
}

/// Parse `name\0value\0...` pairs. Lenient, as PXE ROMs are: an unterminated tail, a name
/// without a value, empty names and non-UTF-8 pairs are skipped rather than rejected.
pub fn parse_options(mut buf: &[u8]) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    while let Some((name, rest)) = cstr(buf) {
        let Some((value, rest2)) = cstr(rest) else {
            break;
        };
        buf = rest2;
        if name.is_empty() {
            continue;
        }
        if let (Ok(n), Ok(v)) = (std::str::from_utf8(name), std::str::from_utf8(value)) {
            if out.len() < 32 {
                out.push((n, v));
            }
        }
    }
    out
}

/// Parse the body of an RRQ/WRQ (everything after the opcode).
pub fn parse_request(body: &[u8]) -> Result<Request<'_>, ParseError> {
    let (fname, rest) = cstr(body).ok_or(ParseError::Unterminated("filename"))?;
    let (mode, rest) = cstr(rest).ok_or(ParseError::Unterminated("mode"))?;
    let filename = std::str::from_utf8(fname).map_err(|_| ParseError::NotUtf8("filename"))?;
    if filename.is_empty() {
        return Err(ParseError::EmptyFilename);
    }
    let mode_s = std::str::from_utf8(mode).map_err(|_| ParseError::NotUtf8("mode"))?;
    let mode = if mode_s.eq_ignore_ascii_case("octet") {
        Mode::Octet
    } else if mode_s.eq_ignore_ascii_case("netascii") {
        Mode::Netascii
    } else if mode_s.eq_ignore_ascii_case("mail") {
        Mode::Mail
    } else {
        // By characters: `String::truncate` panics inside a multi-byte character (found by
        // the fuzz target tftp_packet).
        return Err(ParseError::UnknownMode(mode_s.chars().take(32).collect()));
    };
    Ok(Request {
        filename,
        mode,
        options: parse_options(rest),
    })
}

/// Parse an ERROR body (after the opcode). A missing terminating NUL is tolerated.
pub fn parse_error(body: &[u8]) -> Result<(ErrorCode, Cow<'_, str>), ParseError> {
    let code = be16(body).ok_or(ParseError::TooShort(body.len() + 2))?;
    let msg = body.get(2..).unwrap_or(&[]);
    let msg = match cstr(msg) {
        Some((m, _)) => m,
        None => msg,
    };
    Ok((ErrorCode::from_u16(code), String::from_utf8_lossy(msg)))
}

/// Parse any TFTP packet.
pub fn parse_packet(buf: &[u8]) -> Result<Packet<'_>, ParseError> {
    let op = be16(buf).ok_or(ParseError::TooShort(buf.len()))?;
    let body = buf.get(2..).unwrap_or(&[]);
    match op {
        OP_RRQ => parse_request(body).map(Packet::Rrq),
        OP_WRQ => parse_request(body).map(Packet::Wrq),
        OP_DATA => {
            let block = be16(body).ok_or(ParseError::TooShort(buf.len()))?;
            Ok(Packet::Data {
                block,
                data: body.get(2..).unwrap_or(&[]),
            })
        }
        // Trailing bytes after an ACK are ignored: some PXE stacks pad short frames.
        OP_ACK => {
            let block = be16(body).ok_or(ParseError::TooShort(buf.len()))?;
            Ok(Packet::Ack { block })
        }
        OP_ERROR => {
            let (code, message) = parse_error(body)?;
            Ok(Packet::Error { code, message })
        }
        OP_OACK => Ok(Packet::Oack {
            options: parse_options(body),
        }),
        other => Err(ParseError::UnknownOpcode(other)),
    }
}

/// Fast path for the transfer loop: the block number if `buf` is an ACK.
pub fn parse_ack(buf: &[u8]) -> Option<u16> {
    match buf {
        [0, 4, a, b, ..] => Some(u16::from_be_bytes([*a, *b])),
        _ => None,
    }
}

/// Write a DATA header into `out` (cleared first); the caller appends the payload.
pub fn encode_data_header(out: &mut Vec<u8>, block: u16) {
    out.clear();
    out.extend_from_slice(&OP_DATA.to_be_bytes());
    out.extend_from_slice(&block.to_be_bytes());
}

pub fn encode_data(block: u16, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + data.len());
    encode_data_header(&mut v, block);
    v.extend_from_slice(data);
    v
}

pub fn encode_ack(block: u16) -> [u8; 4] {
    let b = block.to_be_bytes();
    [0, OP_ACK as u8, b[0], b[1]]
}

/// ERROR packet; NULs in `message` are dropped so the packet stays well-formed.
pub fn encode_error(code: ErrorCode, message: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(5 + message.len());
    v.extend_from_slice(&OP_ERROR.to_be_bytes());
    v.extend_from_slice(&code.as_u16().to_be_bytes());
    v.extend(message.bytes().filter(|&b| b != 0));
    v.push(0);
    v
}

fn push_options(v: &mut Vec<u8>, options: &[(&str, &str)]) {
    for (n, val) in options {
        v.extend(n.bytes().filter(|&b| b != 0));
        v.push(0);
        v.extend(val.bytes().filter(|&b| b != 0));
        v.push(0);
    }
}

pub fn encode_oack(options: &[(&str, &str)]) -> Vec<u8> {
    let mut v = OP_OACK.to_be_bytes().to_vec();
    push_options(&mut v, options);
    v
}

/// RRQ/WRQ (used by test clients).
pub fn encode_request(
    opcode: u16,
    filename: &str,
    mode: &str,
    options: &[(&str, &str)],
) -> Vec<u8> {
    let mut v = opcode.to_be_bytes().to_vec();
    v.extend(filename.bytes().filter(|&b| b != 0));
    v.push(0);
    v.extend(mode.bytes().filter(|&b| b != 0));
    v.push(0);
    push_options(&mut v, options);
    v
}

impl Packet<'_> {
    /// Serialise (round-trips with [`parse_packet`] for well-formed values).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Packet::Rrq(r) => encode_request(OP_RRQ, r.filename, r.mode.as_str(), &r.options),
            Packet::Wrq(r) => encode_request(OP_WRQ, r.filename, r.mode.as_str(), &r.options),
            Packet::Data { block, data } => encode_data(*block, data),
            Packet::Ack { block } => encode_ack(*block).to_vec(),
            Packet::Error { code, message } => encode_error(*code, message),
            Packet::Oack { options } => encode_oack(options),
        }
    }
}

/// Convert octets to netascii (RFC 764): LF -> CR LF, CR -> CR NUL.
pub fn to_netascii(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 16);
    for &b in input {
        match b {
            b'\n' => out.extend_from_slice(b"\r\n"),
            b'\r' => out.extend_from_slice(b"\r\0"),
            b => out.push(b),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_mode_with_multibyte_characters_is_an_error_not_a_panic() {
        // 31 ASCII bytes then a 2-byte character straddling byte 32.
        let mut p = b"\x00\x01f\x00".to_vec();
        p.extend_from_slice(&[b'x'; 31]);
        p.extend_from_slice("ݼݼ".as_bytes());
        p.push(0);
        assert!(matches!(
            parse_packet(&p),
            Err(ParseError::UnknownMode(m)) if m.chars().count() == 32
        ));
    }

    #[test]
    fn parses_rrq_with_options() {
        let pkt = b"\x00\x01pxelinux.0\x00octet\x00blksize\x001468\x00tsize\x000\x00";
        let p = parse_packet(pkt).unwrap();
        assert_eq!(
            p,
            Packet::Rrq(Request {
                filename: "pxelinux.0",
                mode: Mode::Octet,
                options: vec![("blksize", "1468"), ("tsize", "0")],
            })
        );
        assert_eq!(p.encode(), pkt.to_vec());
    }

    #[test]
    fn mode_is_case_insensitive() {
        let p = parse_packet(b"\x00\x01f\x00NetASCII\x00").unwrap();
        assert!(matches!(
            p,
            Packet::Rrq(Request {
                mode: Mode::Netascii,
                ..
            })
        ));
    }

    #[test]
    fn rejects_truncated_requests() {
        assert_eq!(parse_packet(b""), Err(ParseError::TooShort(0)));
        assert_eq!(parse_packet(b"\x00"), Err(ParseError::TooShort(1)));
        assert_eq!(
            parse_packet(b"\x00\x01"),
            Err(ParseError::Unterminated("filename"))
        );
        assert_eq!(
            parse_packet(b"\x00\x01file"),
            Err(ParseError::Unterminated("filename"))
        );
        assert_eq!(
            parse_packet(b"\x00\x01file\x00oct"),
            Err(ParseError::Unterminated("mode"))
        );
        assert_eq!(
            parse_packet(b"\x00\x01\x00octet\x00"),
            Err(ParseError::EmptyFilename)
        );
        assert_eq!(
            parse_packet(b"\x00\x01f\x00binary\x00"),
            Err(ParseError::UnknownMode("binary".into()))
        );
        assert_eq!(
            parse_packet(b"\x00\x01\xff\xfe\x00octet\x00"),
            Err(ParseError::NotUtf8("filename"))
        );
    }

    #[test]
    fn lenient_option_tail() {
        // name without value, unterminated garbage, empty name: all skipped
        let p = parse_packet(b"\x00\x01f\x00octet\x00\x00\x00tsize\x000\x00blksize\x00").unwrap();
        let Packet::Rrq(r) = p else { panic!("not rrq") };
        assert_eq!(r.options, vec![("tsize", "0")]);
        let p = parse_packet(b"\x00\x01f\x00octet\x00tsize\x000\x00junk").unwrap();
        let Packet::Rrq(r) = p else { panic!("not rrq") };
        assert_eq!(r.options, vec![("tsize", "0")]);
    }

    #[test]
    fn wrq_is_parsed() {
        assert!(matches!(
            parse_packet(b"\x00\x02upload\x00octet\x00"),
            Ok(Packet::Wrq(Request {
                filename: "upload",
                ..
            }))
        ));
    }

    #[test]
    fn data_ack_error_oack() {
        assert_eq!(
            parse_packet(b"\x00\x03\x12\x34abc"),
            Ok(Packet::Data {
                block: 0x1234,
                data: b"abc"
            })
        );
        assert_eq!(
            parse_packet(b"\x00\x03\x00\x01"),
            Ok(Packet::Data {
                block: 1,
                data: b""
            })
        );
        assert_eq!(parse_packet(b"\x00\x03\x00"), Err(ParseError::TooShort(3)));
        assert_eq!(
            parse_packet(b"\x00\x04\xff\xff"),
            Ok(Packet::Ack { block: 65535 })
        );
        assert_eq!(
            parse_packet(b"\x00\x04\x00\x07pad"),
            Ok(Packet::Ack { block: 7 })
        );
        assert_eq!(parse_packet(b"\x00\x04\x00"), Err(ParseError::TooShort(3)));
        assert_eq!(parse_ack(b"\x00\x04\x00\x07"), Some(7));
        assert_eq!(parse_ack(b"\x00\x03\x00\x07"), None);
        assert_eq!(parse_ack(b"\x00\x04\x00"), None);
        assert_eq!(
            parse_packet(b"\x00\x05\x00\x01nope\x00"),
            Ok(Packet::Error {
                code: ErrorCode::FileNotFound,
                message: "nope".into()
            })
        );
        assert_eq!(
            parse_packet(b"\x00\x05\x00\x63unterminated"),
            Ok(Packet::Error {
                code: ErrorCode::Other(99),
                message: "unterminated".into()
            })
        );
        assert_eq!(parse_packet(b"\x00\x05\x00"), Err(ParseError::TooShort(3)));
        assert_eq!(
            parse_packet(b"\x00\x06blksize\x001468\x00"),
            Ok(Packet::Oack {
                options: vec![("blksize", "1468")]
            })
        );
        assert_eq!(parse_packet(b"\x00\x07"), Err(ParseError::UnknownOpcode(7)));
        assert_eq!(
            parse_packet(b"\xff\xff\x00"),
            Err(ParseError::UnknownOpcode(0xffff))
        );
    }

    #[test]
    fn encoders() {
        assert_eq!(encode_ack(0x0102), [0, 4, 1, 2]);
        assert_eq!(
            encode_error(ErrorCode::AccessViolation, "no\0pe"),
            b"\x00\x05\x00\x02nope\x00"
        );
        assert_eq!(encode_oack(&[("tsize", "10")]), b"\x00\x06tsize\x0010\x00");
        assert_eq!(encode_data(65535, b"x"), b"\x00\x03\xff\xffx");
    }

    #[test]
    fn netascii() {
        assert_eq!(to_netascii(b"a\nb\rc"), b"a\r\nb\r\0c");
    }
}
