//! Error type of the client commands.

use std::path::PathBuf;

/// Everything that can go wrong while running a client command.
///
/// `run` turns each variant into a message on the error stream and exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad command line (wrong number of words, unknown option, ...).
    #[error("{0}")]
    Usage(String),

    /// The server URL given to `login` cannot be used.
    #[error("invalid server URL '{url}': {reason}")]
    InvalidUrl { url: String, reason: String },

    /// The API key is not `consumer_key:token_key:token_secret`.
    #[error(
        "invalid API key: expected 'consumer_key:token_key:token_secret' \
         (or an empty key for anonymous access)"
    )]
    InvalidApiKey,

    /// A profile name that cannot be used for `login`.
    #[error("invalid profile name '{name}': {reason}")]
    InvalidProfileName { name: String, reason: &'static str },

    /// No profile with this name.
    #[error("profile '{name}' not found.{hint}")]
    UnknownProfile { name: String, hint: String },

    /// The profile's API description has no such handler.
    #[error("unknown command '{name}' for profile '{profile}'.{hint}")]
    UnknownHandler {
        profile: String,
        name: String,
        hint: String,
    },

    /// The handler has no such action.
    #[error("unknown action '{name}' for '{handler}'.{hint}")]
    UnknownAction {
        handler: String,
        name: String,
        hint: String,
    },

    /// A positional URI parameter (e.g. `system_id`) was not given.
    #[error("missing required argument '{param}' (usage: {usage})")]
    MissingParam { param: String, usage: String },

    /// A data argument that is not `name=value` / `name@=path`.
    #[error("'{0}' is not a name=value pair")]
    NotKeyValue(String),

    /// A `name@=path` file could not be read.
    #[error("cannot read file '{}' for parameter '{name}': {source}", path.display())]
    ParamFile {
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The server could not be reached.
    #[error("could not connect to {url}: {message}")]
    Connection { url: String, message: String },

    /// The server answered a request with a non-2xx status.
    #[error("HTTP {status} {reason}")]
    Http {
        status: u16,
        reason: String,
        body: Vec<u8>,
    },

    /// The server answered a login-time request unexpectedly.
    #[error("unexpected response from {url}: HTTP {status} {reason}{body}")]
    Unexpected {
        url: String,
        status: u16,
        reason: String,
        body: String,
    },

    /// `users/?op=whoami` answered 401/403.
    #[error("The API key was not accepted by the server at {url}")]
    ApiKeyRejected { url: String },

    /// The describe document (fetched or stored) is not usable.
    #[error("invalid API description from {url}: {reason}")]
    BadDescription { url: String, reason: String },

    /// The description names a handler without a usable URI.
    #[error("the API description gives no URI for handler '{0}'; try 'ingot refresh'")]
    NoHandlerUri(String),

    /// Reading or writing the profile file failed.
    #[error("cannot {action} '{}': {source}", path.display())]
    ConfigIo {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The profile file exists but is not valid.
    #[error("'{}' is not a valid profile file: {source}", path.display())]
    ConfigFormat {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// Reading the API key from standard input failed.
    #[error("cannot read the API key from standard input: {0}")]
    Stdin(String),

    /// `login --cacerts FILE` names a file that gives no usable CA certificate.
    #[error("--cacerts: {0}")]
    CaCerts(String),

    /// The HTTP client could not be created.
    #[error("cannot create the HTTP client: {0}")]
    Client(String),

    /// Writing to the output stream failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),

    /// `refresh` failed for some profiles (each already reported).
    #[error("could not refresh {0} profile(s)")]
    RefreshFailed(usize),
}

/// Result alias used throughout the crate.
pub type Result<T, E = CliError> = std::result::Result<T, E>;
