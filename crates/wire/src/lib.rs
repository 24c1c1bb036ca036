//! # ingot-wire
//!
//! The wire formats MAAS clients send, as pure functions over complete
//! in-memory inputs (no IO, no async): request parameters ([`Params`]) from
//! query strings, `application/x-www-form-urlencoded`, `multipart/form-data`
//! and JSON bodies ([`decode_body`]); OAuth 1.0a `PLAINTEXT` `Authorization`
//! headers ([`parse_oauth_header`], [`plaintext_signature_matches`]); and MAAS
//! API keys ([`parse_api_key`]). Encoders ([`encode_multipart`],
//! [`encode_urlencoded`], [`build_oauth_header`]) produce what python-libmaas
//! sends, for our CLI and tests.
//!
//! Everything here parses untrusted network input: no function panics on any
//! input, and failures are reported as [`WireError`].
//!
//! The multipart parser is hand-written rather than built on `multer` (or a
//! similar crate) because no well-kept crate decodes
//! `Content-Transfer-Encoding: base64` parts — which python-libmaas (Python
//! `email.mime`) always sends — or accepts `email.mime`'s zero-part body
//! `--B\r\n\r\n--B--`. MAAS request bodies are handled whole, except image
//! uploads, which [`MultipartStream`] decodes piece by piece (still without
//! IO: the caller feeds it). It is small and property-tested
//! (round-trips and no-panic on arbitrary input).

#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]
#![warn(missing_docs)]

mod body;
mod error;
mod form_data;
mod header;
mod multipart;
mod multipart_stream;
mod oauth;
mod params;
mod urlencoded;

pub use body::{decode_body, decode_body_full};
pub use error::WireError;
pub use form_data::{boundary_in_parts, encode_form_data, form_data_content_type, FormPart};
pub use multipart::{encode_multipart, multipart_boundary, parse_multipart, FilePart, Multipart};
pub use multipart_stream::{FileHead, MultipartStream, StreamEvent};
pub use oauth::{
    build_oauth_header, parse_api_key, parse_oauth_header, plaintext_signature_matches, ApiKey,
    OAuthCredentials,
};
pub use params::Params;
pub use urlencoded::{encode_urlencoded, parse_urlencoded};
