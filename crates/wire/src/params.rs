//! [`Params`]: the ordered multimap MAAS handlers read request arguments from.

use std::collections::HashSet;

use crate::WireError;

/// An ordered multimap of request parameters (name -> values), as MAAS reads
/// them (Django's `QueryDict`): insertion order and repeated names are kept,
/// values are raw bytes (multipart file parts may be binary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    entries: Vec<(String, Vec<u8>)>,
}

impl Params {
    /// An empty parameter set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append a value for `name` (earlier values for the same name are kept).
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.entries.push((name.into(), value.into()));
    }

    /// First value of `name` as UTF-8; `None` if absent or not valid UTF-8.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_bytes(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// First value of `name`, raw.
    pub fn get_bytes(&self, name: &str) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Every value of `name` that is valid UTF-8, in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.get_all_bytes(name)
            .into_iter()
            .filter_map(|v| std::str::from_utf8(v).ok())
            .collect()
    }

    /// Every value of `name`, raw, in order.
    pub fn get_all_bytes(&self, name: &str) -> Vec<&[u8]> {
        self.entries
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
            .collect()
    }

    /// Whether `name` has at least one value.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == name)
    }

    /// Distinct names, in first-seen order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        let mut seen = HashSet::new();
        self.entries
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(move |k| seen.insert(*k))
    }

    /// Append all of `other`'s entries after ours.
    pub fn merge(&mut self, other: Params) {
        self.entries.extend(other.entries);
    }

    /// All `(name, value)` entries in order, repeats included.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Whether there are no entries at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of entries (repeats counted).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Remove every value of `name`; returns the removed values in order.
    pub fn remove(&mut self, name: &str) -> Vec<Vec<u8>> {
        let mut removed = Vec::new();
        let mut kept = Vec::with_capacity(self.entries.len());
        for (k, v) in self.entries.drain(..) {
            if k == name {
                removed.push(v);
            } else {
                kept.push((k, v));
            }
        }
        self.entries = kept;
        removed
    }

    /// First value of `name` as trimmed text for typed getters.
    ///
    /// Absent, empty or all-whitespace values yield `Ok(None)`: like
    /// formencode validators in MAAS, an empty value means "not given".
    fn get_trimmed(&self, name: &str) -> Result<Option<&str>, WireError> {
        let Some(raw) = self.get_bytes(name) else {
            return Ok(None);
        };
        let text =
            std::str::from_utf8(raw).map_err(|_| invalid(name, "value is not valid UTF-8"))?;
        let text = text.trim();
        Ok(if text.is_empty() { None } else { Some(text) })
    }

    /// MAAS "StringBool" (formencode semantics), case-insensitive:
    /// `true/t/1/yes/y/on` and `false/f/0/no/n/off`.
    ///
    /// Absent (or empty) -> `Ok(None)`; anything else -> `Err(InvalidField)`.
    pub fn get_bool(&self, name: &str) -> Result<Option<bool>, WireError> {
        let Some(text) = self.get_trimmed(name)? else {
            return Ok(None);
        };
        let lower = text.to_ascii_lowercase();
        match lower.as_str() {
            "true" | "t" | "1" | "yes" | "y" | "on" => Ok(Some(true)),
            "false" | "f" | "0" | "no" | "n" | "off" => Ok(Some(false)),
            _ => Err(invalid(name, &format!("{text:?} is not a boolean"))),
        }
    }

    /// Integer parameter (surrounding whitespace allowed).
    ///
    /// Absent (or empty) -> `Ok(None)`; not an `i64` -> `Err(InvalidField)`.
    pub fn get_i64(&self, name: &str) -> Result<Option<i64>, WireError> {
        let Some(text) = self.get_trimmed(name)? else {
            return Ok(None);
        };
        text.parse::<i64>()
            .map(Some)
            .map_err(|_| invalid(name, &format!("{text:?} is not an integer")))
    }

    /// Finite floating point parameter (surrounding whitespace allowed).
    ///
    /// Absent (or empty) -> `Ok(None)`; not a finite number -> `Err(InvalidField)`.
    pub fn get_f64(&self, name: &str) -> Result<Option<f64>, WireError> {
        let Some(text) = self.get_trimmed(name)? else {
            return Ok(None);
        };
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(invalid(name, &format!("{text:?} is not a number"))),
        }
    }
}

fn invalid(field: &str, message: &str) -> WireError {
    WireError::InvalidField {
        field: field.to_owned(),
        message: message.to_owned(),
    }
}

impl<K: Into<String>, V: Into<Vec<u8>>> FromIterator<(K, V)> for Params {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut p = Params::new();
        p.extend(iter);
        p
    }
}

impl<K: Into<String>, V: Into<Vec<u8>>> Extend<(K, V)> for Params {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.push(k, v);
        }
    }
}

impl IntoIterator for Params {
    type Item = (String, Vec<u8>);
    type IntoIter = std::vec::IntoIter<(String, Vec<u8>)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Params {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn order_and_repeats() {
        let mut ps = p(&[("tags", "a"), ("name", "n"), ("tags", "b")]);
        assert_eq!(ps.get("tags"), Some("a"));
        assert_eq!(ps.get_all("tags"), vec!["a", "b"]);
        assert_eq!(ps.names().collect::<Vec<_>>(), vec!["tags", "name"]);
        assert!(ps.contains("name"));
        assert!(!ps.contains("nope"));
        assert_eq!(ps.get("nope"), None);
        assert_eq!(ps.len(), 3);
        ps.merge(p(&[("tags", "c"), ("zone", "z")]));
        assert_eq!(ps.get_all("tags"), vec!["a", "b", "c"]);
        assert_eq!(
            ps.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            vec!["tags", "name", "tags", "tags", "zone"]
        );
        assert_eq!(ps.remove("tags").len(), 3);
        assert!(!ps.contains("tags"));
        assert!(!ps.is_empty());
        assert!(Params::new().is_empty());
    }

    #[test]
    fn non_utf8_values() {
        let mut ps = Params::new();
        ps.push("bin", vec![0xff, 0x00]);
        ps.push("bin", "ok");
        assert_eq!(ps.get("bin"), None);
        assert_eq!(ps.get_bytes("bin"), Some(&[0xff, 0x00][..]));
        assert_eq!(ps.get_all("bin"), vec!["ok"]);
        assert_eq!(ps.get_all_bytes("bin").len(), 2);
        assert!(matches!(
            ps.get_i64("bin"),
            Err(WireError::InvalidField { .. })
        ));
    }

    #[test]
    fn bools() {
        for t in ["true", "TRUE", "1", "yes", "On", " y ", "t"] {
            assert_eq!(p(&[("b", t)]).get_bool("b"), Ok(Some(true)), "{t}");
        }
        for f in ["false", "False", "0", "no", "OFF", "n", "f"] {
            assert_eq!(p(&[("b", f)]).get_bool("b"), Ok(Some(false)), "{f}");
        }
        assert_eq!(p(&[]).get_bool("b"), Ok(None));
        assert_eq!(p(&[("b", "")]).get_bool("b"), Ok(None));
        let err = p(&[("b", "maybe")]).get_bool("b").unwrap_err();
        assert!(matches!(err, WireError::InvalidField { ref field, .. } if field == "b"));
    }

    #[test]
    fn numbers() {
        assert_eq!(p(&[("n", "42")]).get_i64("n"), Ok(Some(42)));
        assert_eq!(p(&[("n", " -7 ")]).get_i64("n"), Ok(Some(-7)));
        assert_eq!(p(&[]).get_i64("n"), Ok(None));
        assert_eq!(p(&[("n", "  ")]).get_i64("n"), Ok(None));
        assert!(p(&[("n", "4.5")]).get_i64("n").is_err());
        assert!(p(&[("n", "99999999999999999999")]).get_i64("n").is_err());
        assert_eq!(p(&[("f", "1.5")]).get_f64("f"), Ok(Some(1.5)));
        assert_eq!(p(&[("f", "3")]).get_f64("f"), Ok(Some(3.0)));
        assert_eq!(p(&[]).get_f64("f"), Ok(None));
        assert!(p(&[("f", "abc")]).get_f64("f").is_err());
        assert!(p(&[("f", "NaN")]).get_f64("f").is_err());
        assert!(p(&[("f", "inf")]).get_f64("f").is_err());
    }
}
