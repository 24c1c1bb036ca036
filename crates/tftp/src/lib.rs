//! `ingot-tftp`: a read-only TFTP server for PXE / iPXE first-stage loaders.
//!
//! RFC 1350 plus the option extension (RFC 2347) with blksize (RFC 2348), timeout and tsize
//! (RFC 2349) and windowsize (RFC 7440, capped, backing off on duplicate ACKs). Write requests
//! are refused with error 2. Paths can never escape the served root (see [`DirSource`]).
//!
//! * [`packet`] and [`options`] are pure (no IO, no panics on any input);
//! * [`FileSource`] resolves a requested path to content ([`DirSource`] serves a directory;
//!   the region can plug in generated per-machine files);
//! * [`TftpServer`] listens, and runs one task per transfer on its own ephemeral socket;
//!   [`TftpEvent`]s report refused / started / finished / failed transfers.

pub mod options;
pub mod packet;
mod server;
mod source;
mod transfer;

pub use options::{negotiate, Limits, Negotiated};
pub use packet::{ErrorCode, Mode, Packet, ParseError, Request};
pub use server::{EventHook, TftpConfig, TftpEvent, TftpEventKind, TftpServer};
pub use source::{sanitize_path, Body, DirSource, FileSource, TftpError, TftpFile};
