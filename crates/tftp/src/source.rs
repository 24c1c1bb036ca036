//! Where served files come from: the [`FileSource`] trait, the directory implementation
//! [`DirSource`] and the pure path sanitiser.

use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::AsyncRead;

use crate::packet::ErrorCode;

/// Why a file cannot be served. The client only ever sees [`TftpError::client_message`];
/// the `Display` form (with details) is for logs.
#[derive(Debug, thiserror::Error)]
pub enum TftpError {
    #[error("file not found")]
    NotFound,
    /// Refused for safety: the path escapes the root, names a non-world-readable file, ...
    #[error("access violation: {0}")]
    AccessDenied(String),
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl TftpError {
    pub fn error_code(&self) -> ErrorCode {
        match self {
            TftpError::NotFound => ErrorCode::FileNotFound,
            TftpError::AccessDenied(_) => ErrorCode::AccessViolation,
            TftpError::Io(_) => ErrorCode::NotDefined,
        }
    }

    /// Message sent in the ERROR packet (no server-side details).
    pub fn client_message(&self) -> &'static str {
        match self {
            TftpError::NotFound => "File not found",
            TftpError::AccessDenied(_) => "Access violation",
            TftpError::Io(_) => "Read error",
        }
    }
}

/// Content of a served file.
pub enum Body {
    /// Generated or cached content.
    Memory(Bytes),
    /// A regular file, read in large chunks off the async worker threads.
    File(Arc<File>),
    /// Any byte stream (e.g. rendered on the fly); retransmission data is buffered.
    Stream(Box<dyn AsyncRead + Send + Unpin>),
}

/// An opened file: its body and, when known, its size (needed to answer tsize).
pub struct TftpFile {
    pub body: Body,
    pub size: Option<u64>,
}

impl TftpFile {
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let b: Bytes = bytes.into();
        TftpFile {
            size: Some(b.len() as u64),
            body: Body::Memory(b),
        }
    }

    /// A regular file; the size comes from its metadata.
    pub fn from_std_file(file: File) -> io::Result<Self> {
        let size = file.metadata()?.len();
        Ok(TftpFile {
            body: Body::File(Arc::new(file)),
            size: Some(size),
        })
    }

    pub fn from_reader(reader: impl AsyncRead + Send + Unpin + 'static, size: Option<u64>) -> Self {
        TftpFile {
            body: Body::Stream(Box::new(reader)),
            size,
        }
    }
}

impl std::fmt::Debug for TftpFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.body {
            Body::Memory(_) => "memory",
            Body::File(_) => "file",
            Body::Stream(_) => "stream",
        };
        f.debug_struct("TftpFile")
            .field("body", &kind)
            .field("size", &self.size)
            .finish()
    }
}

/// Resolves a requested path to content. Implement it to serve generated per-machine files;
/// `client` is the requester's address (the region maps it to a machine).
#[async_trait]
pub trait FileSource: Send + Sync + 'static {
    async fn open(&self, path: &str, client: SocketAddr) -> Result<TftpFile, TftpError>;
}

/// Pure: turn a requested TFTP path into a relative path with only normal components.
///
/// `\` counts as a separator (PXE clients built for Windows servers send it), a leading `/`
/// is dropped (absolute paths are resolved inside the root), empty and `.` components are
/// skipped. Refused: empty paths, NUL or other control bytes, any `..` component.
pub fn sanitize_path(requested: &str) -> Result<PathBuf, TftpError> {
    if requested.bytes().any(|b| b == 0) {
        return Err(TftpError::AccessDenied("path contains a NUL byte".into()));
    }
    if requested.chars().any(|c| c.is_control()) {
        return Err(TftpError::AccessDenied(
            "path contains control characters".into(),
        ));
    }
    let mut out = PathBuf::new();
    for comp in requested.split(['/', '\\']) {
        match comp {
            "" | "." => {}
            ".." => {
                return Err(TftpError::AccessDenied(
                    "path contains a '..' component".into(),
                ))
            }
            c => out.push(c),
        }
    }
    // Belt and braces: only plain components may survive.
    if out.as_os_str().is_empty() {
        return Err(TftpError::AccessDenied(
            "empty path or the root directory itself".into(),
        ));
    }
    if !out.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(TftpError::AccessDenied(
            "path is not a plain relative path".into(),
        ));
    }
    Ok(out)
}

/// Serves regular files below a root directory.
///
/// After [`sanitize_path`], the path is canonicalised (resolving symlinks) and must still lie
/// under the canonical root, so a symlink pointing outside is refused; the final open uses
/// `O_NOFOLLOW`. By default, like tftpd-hpa without `-p`, only world-readable files are served.
#[derive(Debug, Clone)]
pub struct DirSource {
    root: PathBuf,
    require_world_readable: bool,
}

impl DirSource {
    /// `root` must exist; it is canonicalised once here.
    pub fn new(root: impl AsRef<Path>) -> io::Result<Self> {
        let root = std::fs::canonicalize(root.as_ref())?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "TFTP root is not a directory",
            ));
        }
        Ok(DirSource {
            root,
            require_world_readable: true,
        })
    }

    /// Serve files regardless of their "other" read permission bit.
    pub fn allow_private_files(mut self) -> Self {
        self.require_world_readable = false;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Blocking resolution + open (run on the blocking pool by `open`).
    pub fn open_blocking(&self, requested: &str) -> Result<TftpFile, TftpError> {
        let rel = sanitize_path(requested)?;
        let joined = self.root.join(&rel);
        let canon = match std::fs::canonicalize(&joined) {
            Ok(p) => p,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(TftpError::NotFound),
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Err(TftpError::NotFound),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                return Err(TftpError::AccessDenied(format!("cannot resolve: {e}")))
            }
            Err(e) => return Err(TftpError::Io(e)),
        };
        if !canon.starts_with(&self.root) {
            return Err(TftpError::AccessDenied(format!(
                "resolves outside the root (to {})",
                canon.display()
            )));
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&canon)
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => TftpError::NotFound,
                io::ErrorKind::PermissionDenied => {
                    TftpError::AccessDenied(format!("cannot open: {e}"))
                }
                _ if e.raw_os_error() == Some(libc::ELOOP) => {
                    TftpError::AccessDenied("final component became a symlink".into())
                }
                _ => TftpError::Io(e),
            })?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(TftpError::NotFound);
        }
        if self.require_world_readable && meta.mode() & 0o004 == 0 {
            return Err(TftpError::AccessDenied("file is not world-readable".into()));
        }
        Ok(TftpFile {
            size: Some(meta.len()),
            body: Body::File(Arc::new(file)),
        })
    }
}

#[async_trait]
impl FileSource for DirSource {
    async fn open(&self, path: &str, _client: SocketAddr) -> Result<TftpFile, TftpError> {
        let this = self.clone();
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || this.open_blocking(&path))
            .await
            .map_err(|e| TftpError::Io(io::Error::other(e)))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(p: &str) -> String {
        sanitize_path(p).unwrap().to_string_lossy().into_owned()
    }
    fn denied(p: &str) -> bool {
        matches!(sanitize_path(p), Err(TftpError::AccessDenied(_)))
    }

    #[test]
    fn sanitize_accepts_normal_paths() {
        assert_eq!(ok("undionly.kpxe"), "undionly.kpxe");
        assert_eq!(ok("/undionly.kpxe"), "undionly.kpxe");
        assert_eq!(ok("//a/./b//c"), "a/b/c");
        assert_eq!(ok("pxelinux.cfg\\default"), "pxelinux.cfg/default");
        assert_eq!(ok("a..b/..c/d.."), "a..b/..c/d..");
    }

    #[test]
    fn sanitize_refuses_escapes() {
        assert!(denied("../../etc/passwd"));
        assert!(denied("a/../b"));
        assert!(denied("..\\..\\etc\\passwd"));
        assert!(denied("/.."));
        assert!(denied(".."));
        assert!(denied("a/b/.."));
        assert!(denied("a\0b"));
        assert!(denied("a\nb"));
        assert!(denied(""));
        assert!(denied("/"));
        assert!(denied("./."));
    }
}
