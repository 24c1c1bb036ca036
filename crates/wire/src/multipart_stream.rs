//! `multipart/form-data` decoded as it arrives, for bodies too large to hold (image uploads).
//!
//! [`MultipartStream`] is fed the body piece by piece and gives back the content of every
//! file part (a part with a `filename`, sent as is or `base64`) as [`StreamEvent`]s, holding
//! no more than a few header lines and one piece of the body; every other part is collected
//! and decoded exactly as [`parse_multipart`](crate::parse_multipart) decodes it (up to a
//! limit). The delimiter rules are those of `parse_multipart`, which the property tests check
//! against it for every way of cutting a body into pieces.

use base64::Engine as _;

use crate::header::HeaderValue;
use crate::multipart::{parse_part, parse_part_headers, LENIENT_B64};
use crate::{Multipart, WireError};

/// Part headers longer than this (without a blank line) are refused.
const HEADER_LIMIT: usize = 64 * 1024;

/// A file part's name, file name and media type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileHead {
    /// The form field name.
    pub name: String,
    /// The `filename` parameter as sent.
    pub filename: Option<String>,
    /// The part's media type without parameters, as sent.
    pub content_type: Option<String>,
}

/// What a piece of the body held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// A file part begins.
    FileStart(FileHead),
    /// The next bytes of the current file part (decoded).
    FileData(Vec<u8>),
    /// The current file part is complete.
    FileEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Identity,
    Base64,
}

#[derive(Debug)]
enum State {
    Preamble,
    Headers,
    File { encoding: Encoding, name: String },
    Field { content: Vec<u8> },
    Done,
}

enum Suffix {
    Yes(usize, bool),
    No,
    More,
}

enum Scan {
    /// A delimiter: the content ends at `end`, the next part starts at `next`.
    Found {
        end: usize,
        next: usize,
        close: bool,
    },
    /// No delimiter yet: the first `0` bytes are content for sure.
    Pending(usize),
    /// The body ended without a delimiter.
    Missing,
}

/// A `multipart/form-data` decoder fed piece by piece; see the module documentation.
#[derive(Debug)]
pub struct MultipartStream {
    delim: Vec<u8>,
    nl_delim: Vec<u8>,
    buf: Vec<u8>,
    /// `buf[0]` starts a part's content or a line (a delimiter may sit there).
    line_start: bool,
    state: State,
    index: usize,
    all_whitespace: bool,
    fields: Multipart,
    field_bytes: usize,
    field_limit: usize,
    b64: Vec<u8>,
}

/// What follows a boundary at `q` (as `delimiter_suffix` in `multipart.rs`, knowing whether
/// more bytes may come).
fn suffix(buf: &[u8], q: usize, eof: bool) -> Suffix {
    let rest = buf.get(q..).unwrap_or_default();
    if rest.starts_with(b"--") {
        return Suffix::Yes(q + 2, true);
    }
    if rest == b"-" && !eof {
        return Suffix::More;
    }
    let ws = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let after = rest.get(ws..).unwrap_or_default();
    if after.is_empty() {
        if eof {
            Suffix::Yes(buf.len(), false)
        } else {
            Suffix::More
        }
    } else if after.starts_with(b"\r\n") {
        Suffix::Yes(q + ws + 2, false)
    } else if after == b"\r" && !eof {
        Suffix::More
    } else if after.starts_with(b"\n") {
        Suffix::Yes(q + ws + 1, false)
    } else {
        Suffix::No
    }
}

/// End of the blank line that ends a part's headers in `buf`, if there is one.
fn header_end(buf: &[u8]) -> Option<usize> {
    if buf.starts_with(b"\r\n") {
        return Some(2);
    }
    if buf.starts_with(b"\n") {
        return Some(1);
    }
    let crlf = memchr::memmem::find(buf, b"\n\r\n").map(|i| i + 3);
    let lf = memchr::memmem::find(buf, b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl MultipartStream {
    /// A decoder for `boundary`; the parts that are not streamed files may hold up to
    /// `field_limit` bytes together.
    pub fn new(boundary: &str, field_limit: usize) -> Result<MultipartStream, WireError> {
        if boundary.is_empty() {
            return Err(WireError::Multipart("empty boundary".into()));
        }
        let delim = [b"--".as_slice(), boundary.as_bytes()].concat();
        let nl_delim = [b"\n".as_slice(), &delim].concat();
        Ok(MultipartStream {
            delim,
            nl_delim,
            buf: Vec::new(),
            line_start: true,
            state: State::Preamble,
            index: 0,
            all_whitespace: true,
            fields: Multipart::default(),
            field_bytes: 0,
            field_limit,
            b64: Vec::new(),
        })
    }

    /// The next piece of the body; returns the file content it completed.
    pub fn feed(&mut self, data: &[u8]) -> Result<Vec<StreamEvent>, WireError> {
        let mut out = Vec::new();
        if matches!(self.state, State::Done) {
            return Ok(out);
        }
        if self.all_whitespace {
            self.all_whitespace = data.iter().all(u8::is_ascii_whitespace);
        }
        self.buf.extend_from_slice(data);
        self.step(false, &mut out)?;
        Ok(out)
    }

    /// The body has ended: the last file content, and every other part decoded.
    pub fn finish(mut self) -> Result<(Vec<StreamEvent>, Multipart), WireError> {
        let mut out = Vec::new();
        self.step(true, &mut out)?;
        match self.state {
            State::Done => Ok((out, self.fields)),
            State::Preamble if self.all_whitespace => Ok((out, Multipart::default())),
            State::Preamble => Err(WireError::Multipart("opening boundary not found".into())),
            _ => Err(WireError::Multipart("closing boundary not found".into())),
        }
    }

    fn scan(&self, eof: bool) -> Scan {
        let (buf, d) = (&self.buf, &self.delim);
        if self.line_start {
            let n = buf.len().min(d.len());
            if buf.get(..n) == d.get(..n) {
                if n < d.len() {
                    if !eof {
                        return Scan::Pending(0);
                    }
                } else {
                    match suffix(buf, d.len(), eof) {
                        Suffix::Yes(next, close) => {
                            return Scan::Found {
                                end: 0,
                                next,
                                close,
                            }
                        }
                        Suffix::More => return Scan::Pending(0),
                        Suffix::No => {}
                    }
                }
            }
        }
        let mut from = 0;
        loop {
            let rest = buf.get(from..).unwrap_or_default();
            let Some(i) = memchr::memmem::find(rest, &self.nl_delim) else {
                if eof {
                    return Scan::Missing;
                }
                return Scan::Pending(buf.len().saturating_sub(self.nl_delim.len() + 1));
            };
            let nl = from + i;
            let end = if nl >= 1 && buf.get(nl - 1) == Some(&b'\r') {
                nl - 1
            } else {
                nl
            };
            match suffix(buf, nl + self.nl_delim.len(), eof) {
                Suffix::Yes(next, close) => return Scan::Found { end, next, close },
                Suffix::More => return Scan::Pending(end),
                Suffix::No => from = nl + 1,
            }
        }
    }

    fn drain(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        if n > 0 {
            self.buf.drain(..n);
            self.line_start = false;
        }
    }

    fn step(&mut self, eof: bool, out: &mut Vec<StreamEvent>) -> Result<(), WireError> {
        loop {
            let scan = match self.state {
                State::Done => return Ok(()),
                _ => self.scan(eof),
            };
            match (&self.state, scan) {
                (_, Scan::Missing) | (State::Done, _) => return Ok(()),
                (State::Preamble, Scan::Found { next, close, .. }) => {
                    self.drain(next);
                    self.begin_part(close);
                }
                (State::Preamble, Scan::Pending(safe)) => {
                    self.drain(safe);
                    return Ok(());
                }
                (State::Headers, Scan::Found { end, next, close }) => {
                    let content = self.buf.get(..end).unwrap_or_default().to_vec();
                    self.whole_part(&content, out)?;
                    self.drain(next);
                    self.begin_part(close);
                }
                (State::Headers, Scan::Pending(safe)) => {
                    let head = self.buf.get(..safe).unwrap_or_default();
                    let h = match header_end(head) {
                        Some(h) => h,
                        None if self.buf.len() > HEADER_LIMIT => {
                            // No blank line: the body starts at a line that is not a header.
                            let upto = head.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                            let (_, rest) =
                                parse_part_headers(head.get(..upto).unwrap_or_default());
                            if rest.is_empty() {
                                return Err(WireError::Multipart(format!(
                                    "part {}: headers longer than {HEADER_LIMIT} bytes",
                                    self.index
                                )));
                            }
                            upto
                        }
                        None => return Ok(()),
                    };
                    let block = self.buf.get(..h).unwrap_or_default().to_vec();
                    self.drain(h);
                    self.line_start = true;
                    self.begin_body(block, out)?;
                }
                (State::File { .. } | State::Field { .. }, Scan::Found { end, next, close }) => {
                    self.body_bytes(end, out)?;
                    self.drain(next - end);
                    self.end_body(out)?;
                    self.begin_part(close);
                }
                (State::File { .. } | State::Field { .. }, Scan::Pending(safe)) => {
                    if safe == 0 && self.buf.len() > HEADER_LIMIT {
                        return Err(WireError::Multipart(format!(
                            "part {}: a boundary line longer than {HEADER_LIMIT} bytes",
                            self.index
                        )));
                    }
                    self.body_bytes(safe, out)?;
                    return Ok(());
                }
            }
        }
    }

    fn begin_part(&mut self, close: bool) {
        self.line_start = true;
        self.state = if close { State::Done } else { State::Headers };
    }

    /// Whether a part with these headers is streamed: a file part sent as is or in base64.
    fn streamed(headers: &[(String, String)]) -> Option<(FileHead, Encoding)> {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim())
        };
        let disposition = HeaderValue::parse(header("content-disposition")?);
        let name = disposition.param("name")?;
        let filename = disposition.param("filename")?;
        let encoding = match header("content-transfer-encoding")
            .unwrap_or_default()
            .to_ascii_lowercase()
            .as_str()
        {
            "base64" => Encoding::Base64,
            "quoted-printable" => return None,
            _ => Encoding::Identity,
        };
        let content_type = header("content-type")
            .map(|ct| HeaderValue::parse(ct).value)
            .filter(|ct| !ct.is_empty());
        Some((
            FileHead {
                name,
                filename: Some(filename),
                content_type,
            },
            encoding,
        ))
    }

    /// A part whose content is all in memory (it ended before its headers did).
    fn whole_part(&mut self, content: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), WireError> {
        let (headers, rest) = parse_part_headers(content);
        if let Some((head, encoding)) = Self::streamed(&headers) {
            let name = head.name.clone();
            out.push(StreamEvent::FileStart(head));
            self.state = State::File { encoding, name };
            self.b64.clear();
            self.file_data(rest, out)?;
            self.end_body(out)
        } else {
            self.count_field(content.len())?;
            parse_part(content, self.index, &mut self.fields)?;
            self.index += 1;
            Ok(())
        }
    }

    fn begin_body(&mut self, block: Vec<u8>, out: &mut Vec<StreamEvent>) -> Result<(), WireError> {
        let (headers, rest) = parse_part_headers(&block);
        if let Some((head, encoding)) = Self::streamed(&headers) {
            let name = head.name.clone();
            out.push(StreamEvent::FileStart(head));
            self.state = State::File { encoding, name };
            self.b64.clear();
            let rest = rest.to_vec();
            self.file_data(&rest, out)
        } else {
            self.count_field(block.len())?;
            self.state = State::Field { content: block };
            Ok(())
        }
    }

    fn count_field(&mut self, n: usize) -> Result<(), WireError> {
        self.field_bytes += n;
        if self.field_bytes > self.field_limit {
            return Err(WireError::TooLarge(format!(
                "The form fields are larger than {} MiB.",
                self.field_limit >> 20
            )));
        }
        Ok(())
    }

    /// The first `n` bytes of the buffer are the current part's content.
    fn body_bytes(&mut self, n: usize, out: &mut Vec<StreamEvent>) -> Result<(), WireError> {
        if n == 0 {
            return Ok(());
        }
        let bytes: Vec<u8> = self.buf.get(..n).unwrap_or_default().to_vec();
        self.drain(n);
        if matches!(self.state, State::Field { .. }) {
            self.count_field(n)?;
        }
        match &mut self.state {
            State::Field { content } => {
                content.extend_from_slice(&bytes);
                Ok(())
            }
            _ => self.file_data(&bytes, out),
        }
    }

    fn file_data(&mut self, bytes: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), WireError> {
        let State::File { encoding, name } = &self.state else {
            return Ok(());
        };
        match encoding {
            Encoding::Identity => {
                if !bytes.is_empty() {
                    out.push(StreamEvent::FileData(bytes.to_vec()));
                }
            }
            Encoding::Base64 => {
                self.b64
                    .extend(bytes.iter().copied().filter(|b| !b.is_ascii_whitespace()));
                // Padding ends the data: what follows it is decoded (and refused) at the end,
                // as the whole-body decoder would.
                let pad = self.b64.iter().position(|&b| b == b'=');
                let whole = pad.unwrap_or(self.b64.len()) / 4 * 4;
                if pad.is_some_and(|p| self.b64.len() - p > 64) {
                    return Err(WireError::Multipart(format!(
                        "part {} ({name:?}): invalid base64: data after the padding",
                        self.index
                    )));
                }
                if whole > 0 {
                    let data = LENIENT_B64
                        .decode(self.b64.get(..whole).unwrap_or_default())
                        .map_err(|e| b64_error(self.index, name, e))?;
                    self.b64.drain(..whole);
                    out.push(StreamEvent::FileData(data));
                }
            }
        }
        Ok(())
    }

    fn end_body(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), WireError> {
        match std::mem::replace(&mut self.state, State::Headers) {
            State::File { encoding, name } => {
                if encoding == Encoding::Base64 && !self.b64.is_empty() {
                    let data = LENIENT_B64
                        .decode(&self.b64)
                        .map_err(|e| b64_error(self.index, &name, e))?;
                    self.b64.clear();
                    if !data.is_empty() {
                        out.push(StreamEvent::FileData(data));
                    }
                }
                out.push(StreamEvent::FileEnd);
            }
            State::Field { content } => parse_part(&content, self.index, &mut self.fields)?,
            _ => {}
        }
        self.index += 1;
        Ok(())
    }
}

fn b64_error(index: usize, name: &str, e: base64::DecodeError) -> WireError {
    WireError::Multipart(format!("part {index} ({name:?}): invalid base64: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{encode_multipart, parse_multipart, FilePart};

    /// Feed `body` in pieces of `piece` bytes; the files as `parse_multipart` gives them.
    pub(crate) fn streamed(
        boundary: &str,
        body: &[u8],
        piece: usize,
    ) -> Result<(Vec<FilePart>, Multipart), WireError> {
        let mut s = MultipartStream::new(boundary, usize::MAX)?;
        let mut events = Vec::new();
        for c in body.chunks(piece.max(1)) {
            events.extend(s.feed(c)?);
        }
        let (last, fields) = s.finish()?;
        events.extend(last);
        let mut files = Vec::new();
        for e in events {
            match e {
                StreamEvent::FileStart(h) => files.push(FilePart {
                    name: h.name,
                    filename: h.filename,
                    content_type: h.content_type,
                    data: Vec::new(),
                }),
                StreamEvent::FileData(d) => {
                    if let Some(f) = files.last_mut() {
                        f.data.extend_from_slice(&d)
                    }
                }
                StreamEvent::FileEnd => {}
            }
        }
        Ok((files, fields))
    }

    fn same(boundary: &str, body: &[u8]) {
        let whole = parse_multipart(boundary, body);
        for piece in [1, 2, 3, 7, 64, body.len().max(1)] {
            let got = streamed(boundary, body, piece);
            match (&whole, got) {
                (Ok(w), Ok((files, fields))) => {
                    assert_eq!(files, w.files, "piece {piece}");
                    // Streamed files are not among the fields.
                    let names: Vec<&str> = w.files.iter().map(|f| f.name.as_str()).collect();
                    let rest: Vec<(String, Vec<u8>)> = w
                        .params
                        .iter()
                        .filter(|(k, _)| !names.contains(k))
                        .map(|(k, v)| (k.to_string(), v.to_vec()))
                        .collect();
                    let got: Vec<(String, Vec<u8>)> = fields
                        .params
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_vec()))
                        .collect();
                    assert_eq!(got, rest, "piece {piece}");
                }
                (Err(_), Err(_)) => {}
                (w, g) => panic!("piece {piece}: whole {w:?}, streamed {g:?}"),
            }
        }
    }

    #[test]
    fn libmaas_and_curl_bodies() {
        let (ct, body) = encode_multipart(&[("name", b"custom/x"), ("content", &[0, 1, 255])]);
        let b = crate::multipart_boundary(&ct).unwrap_or_default();
        same(&b, &body);
        let curl = b"--X\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nimg\r\n--X\r\n\
Content-Disposition: form-data; name=\"content\"; filename=\"a.tgz\"\r\n\
Content-Type: application/octet-stream\r\n\r\n\r\n--X-not\r\n\n--X\t\r\n--X--\r\n";
        same("X", curl);
        let (files, fields) = streamed("X", curl, 5).unwrap();
        assert_eq!(files[0].data, b"\r\n--X-not\r\n");
        assert_eq!(fields.params.get("name"), Some("img"));
        let b64 = b"--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\naGVs\r\nbG8=\r\n--B--";
        same("B", b64);
        assert_eq!(streamed("B", b64, 3).unwrap().0[0].data, b"hello");
    }

    #[test]
    fn edge_bodies_agree() {
        for body in [
            &b""[..],
            b"  \r\n",
            b"--B--",
            b"--B\r\n\r\n--B--",
            b"--B\r\n--B--",
            b"--B",
            b"--B\r\n",
            b"pre\r\n--B\r\nContent-Disposition: form-data; name=a\r\n\r\nv\n--B--\r\nepi",
            b"--B\nContent-Disposition: form-data; name=a; filename=f\n\n--B--",
            b"--B\r\nContent-Disposition: form-data; name=a; filename=f\r\n\r\nx\r\n--B",
            b"--B\r\nContent-Disposition: form-data; name=a; filename=f\r\nContent-Transfer-Encoding: base64\r\n\r\n!!\r\n--B--",
            b"--B\r\nContent-Disposition: form-data; name=a\r\nnot a header\r\n--B--",
            b"--Bx\r\n--B\r\nContent-Disposition: form-data; name=a; filename=f\r\n\r\n--B \r\n--B--",
        ] {
            same("B", body);
        }
    }

    #[test]
    fn fields_over_the_limit_are_refused() {
        let (ct, body) = encode_multipart(&[("a", &[b'x'; 5000][..])]);
        let b = crate::multipart_boundary(&ct).unwrap_or_default();
        let mut s = MultipartStream::new(&b, 1000).unwrap();
        let e = s.feed(&body).map(|_| ());
        let e = match e {
            Ok(()) => s.finish().map(|_| ()),
            Err(e) => Err(e),
        };
        assert!(matches!(e, Err(WireError::TooLarge(_))), "{e:?}");
    }
}
