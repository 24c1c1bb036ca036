//! The single error type of this crate.

/// Everything that can go wrong while decoding what a client sent.
///
/// Every variant carries owned, printable data so the HTTP layer can turn it
/// into a `400 Bad Request` (or `401`/`415`) body without further context.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum WireError {
    /// The request body has a `Content-Type` we do not decode.
    #[error("unsupported content type: {0}")]
    UnsupportedContentType(String),
    /// A `multipart/form-data` body is malformed.
    #[error("malformed multipart body: {0}")]
    Multipart(String),
    /// A part of a streamed `multipart/form-data` body is over its limit.
    #[error("{0}")]
    TooLarge(String),
    /// An `application/json` body is malformed or is not a JSON object.
    #[error("malformed JSON body: {0}")]
    Json(String),
    /// A request parameter is present but cannot be interpreted.
    #[error("invalid value for {field}: {message}")]
    InvalidField {
        /// Parameter name.
        field: String,
        /// Human readable reason.
        message: String,
    },
    /// The `Authorization` header is not an OAuth header.
    #[error("authorization header is not an OAuth header")]
    NotOAuth,
    /// A required `oauth_*` parameter is missing from the header.
    #[error("missing OAuth parameter: {0}")]
    MissingOAuthParam(String),
    /// An `oauth_*` parameter is present but invalid.
    #[error("invalid OAuth parameter {param}: {message}")]
    BadOAuthParam {
        /// Parameter name (e.g. `oauth_timestamp`).
        param: String,
        /// Human readable reason.
        message: String,
    },
    /// Only `PLAINTEXT` is supported (as in MAAS).
    #[error("unsupported OAuth signature method: {0}")]
    UnsupportedSignatureMethod(String),
    /// An API key string is not `consumer_key:token_key:token_secret[:consumer_secret]`.
    #[error("malformed API key: {0}")]
    BadApiKey(String),
}
