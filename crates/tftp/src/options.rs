//! Pure option negotiation: blksize (RFC 2348), timeout and tsize (RFC 2349), windowsize
//! (RFC 7440). Unknown, malformed or out-of-range options are ignored (left out of the OACK),
//! as RFC 2347 allows; the first occurrence of a repeated option wins.

use crate::packet::{DEFAULT_BLKSIZE, MAX_BLKSIZE, MIN_BLKSIZE};

/// Server-side caps applied to what clients ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest blksize granted (clamped into 8..=65464).
    pub max_blksize: u16,
    /// Largest windowsize granted (at least 1).
    pub max_windowsize: u16,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_blksize: 1468,
            max_windowsize: 16,
        }
    }
}

/// Outcome of negotiation for one read request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub blksize: u16,
    pub windowsize: u16,
    /// Retransmission timeout in seconds, if the client set one.
    pub timeout_secs: Option<u8>,
    /// Options to acknowledge, in the order the client sent them. Empty = no OACK.
    pub oack: Vec<(&'static str, String)>,
}

/// Negotiate `options` (as sent in an RRQ) for a file of `file_size` bytes (None = unknown,
/// in which case tsize is not acknowledged).
pub fn negotiate(options: &[(&str, &str)], limits: Limits, file_size: Option<u64>) -> Negotiated {
    let max_blk = limits.max_blksize.clamp(MIN_BLKSIZE, MAX_BLKSIZE);
    let max_win = limits.max_windowsize.max(1);
    let mut n = Negotiated {
        blksize: DEFAULT_BLKSIZE,
        windowsize: 1,
        timeout_secs: None,
        oack: Vec::new(),
    };
    let mut seen = [false; 4];
    for (name, value) in options {
        let value = value.trim();
        let idx = ["blksize", "tsize", "timeout", "windowsize"]
            .iter()
            .position(|k| name.eq_ignore_ascii_case(k));
        let Some(idx) = idx else { continue };
        if seen.get(idx).copied().unwrap_or(true) {
            continue;
        }
        if let Some(s) = seen.get_mut(idx) {
            *s = true;
        }
        match idx {
            0 => {
                if let Ok(v) = value.parse::<u32>() {
                    if (u32::from(MIN_BLKSIZE)..=u32::from(MAX_BLKSIZE)).contains(&v) {
                        let granted = (v as u16).min(max_blk);
                        n.blksize = granted;
                        n.oack.push(("blksize", granted.to_string()));
                    }
                }
            }
            1 => {
                if let (Ok(_), Some(size)) = (value.parse::<u64>(), file_size) {
                    n.oack.push(("tsize", size.to_string()));
                }
            }
            2 => {
                if let Ok(v) = value.parse::<u8>() {
                    if v >= 1 {
                        n.timeout_secs = Some(v);
                        n.oack.push(("timeout", v.to_string()));
                    }
                }
            }
            _ => {
                if let Ok(v) = value.parse::<u16>() {
                    if v >= 1 {
                        let granted = v.min(max_win);
                        n.windowsize = granted;
                        n.oack.push(("windowsize", granted.to_string()));
                    }
                }
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oack(n: &Negotiated) -> Vec<(&str, &str)> {
        n.oack.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    #[test]
    fn no_options_means_defaults_and_no_oack() {
        let n = negotiate(&[], Limits::default(), Some(10));
        assert_eq!((n.blksize, n.windowsize, n.timeout_secs), (512, 1, None));
        assert!(n.oack.is_empty());
    }

    #[test]
    fn caps_and_reports() {
        let n = negotiate(
            &[
                ("BLKSIZE", "65464"),
                ("tsize", "0"),
                ("windowsize", "64"),
                ("timeout", "3"),
            ],
            Limits::default(),
            Some(123456),
        );
        assert_eq!(
            (n.blksize, n.windowsize, n.timeout_secs),
            (1468, 16, Some(3))
        );
        assert_eq!(
            oack(&n),
            vec![
                ("blksize", "1468"),
                ("tsize", "123456"),
                ("windowsize", "16"),
                ("timeout", "3")
            ]
        );
    }

    #[test]
    fn small_values_granted_as_asked() {
        let n = negotiate(
            &[("blksize", "8"), ("windowsize", "1")],
            Limits::default(),
            None,
        );
        assert_eq!((n.blksize, n.windowsize), (8, 1));
    }

    #[test]
    fn invalid_values_ignored() {
        let n = negotiate(
            &[
                ("blksize", "7"),
                ("windowsize", "0"),
                ("timeout", "0"),
                ("timeout", "x"),
                ("tsize", "abc"),
                ("frobnicate", "1"),
            ],
            Limits::default(),
            Some(5),
        );
        assert_eq!((n.blksize, n.windowsize, n.timeout_secs), (512, 1, None));
        assert!(n.oack.is_empty());
        let n = negotiate(&[("blksize", "65465")], Limits::default(), None);
        assert!(n.oack.is_empty());
        let n = negotiate(
            &[("blksize", "99999999999999999999")],
            Limits::default(),
            None,
        );
        assert!(n.oack.is_empty());
    }

    #[test]
    fn tsize_unknown_size_not_acknowledged() {
        let n = negotiate(&[("tsize", "0")], Limits::default(), None);
        assert!(n.oack.is_empty());
    }

    #[test]
    fn first_duplicate_wins_and_caps_are_sane() {
        let n = negotiate(
            &[("blksize", "1024"), ("blksize", "512")],
            Limits {
                max_blksize: 0,
                max_windowsize: 0,
            },
            None,
        );
        // a cap of 0 is clamped to the legal minimum of 8
        assert_eq!(n.blksize, 8);
        assert_eq!(oack(&n), vec![("blksize", "8")]);
    }
}
