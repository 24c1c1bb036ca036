//! Command names derived from handler and action names, as the `maas` CLI does.

/// Command name of a handler, like maas's `handler_command_name`:
/// drop a trailing `Handler`, put a dash between a lower-case ASCII letter and
/// a following upper-case one, lower-case everything.
///
/// `MachinesHandler` → `machines`, `ResourcePoolsHandler` → `resource-pools`,
/// `SSHKeysHandler` → `sshkeys`, `DNSResourceRecordsHandler` → `dnsresource-records`.
pub fn handler_command_name(name: &str) -> String {
    let base = name.strip_suffix("Handler").unwrap_or(name);
    let mut out = String::with_capacity(base.len() + 4);
    let mut prev_lower = false;
    for c in base.chars() {
        if prev_lower && c.is_ascii_uppercase() {
            out.push('-');
        }
        prev_lower = c.is_ascii_lowercase();
        out.extend(c.to_lowercase());
    }
    out
}

/// Command name of an action: maas shows `_` as `-` (`query-power-state`).
pub fn action_command_name(name: &str) -> String {
    name.replace('_', "-")
}

/// Key used for forgiving matches: lower case, without `-` and `_`.
/// `resource-pools`, `resource_pools` and `resourcepools` share one key.
pub fn loose_key(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Find `wanted` among `candidates`: an exact match first, then a unique
/// match that ignores case, `-` and `_`. Returns the index.
pub fn find_name<S: AsRef<str>>(candidates: &[S], wanted: &str) -> Option<usize> {
    if let Some(i) = candidates.iter().position(|c| c.as_ref() == wanted) {
        return Some(i);
    }
    let key = loose_key(wanted);
    let mut found = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| loose_key(c.as_ref()) == key);
    match (found.next(), found.next()) {
        (Some((i, _)), None) => Some(i),
        _ => None,
    }
}

/// Edit distance between two strings (by chars), counting an adjacent
/// transposition as one edit (optimal string alignment).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// A " Did you mean ...?" sentence for close candidates, or "".
pub fn did_you_mean<S: AsRef<str>>(candidates: &[S], wanted: &str) -> String {
    let key = loose_key(wanted);
    let limit = if key.chars().count() <= 4 { 1 } else { 2 };
    let mut close: Vec<(usize, &str)> = candidates
        .iter()
        .map(|c| c.as_ref())
        .filter_map(|c| {
            let ck = loose_key(c);
            let d = distance(&ck, &key);
            let prefix = key.len() >= 3 && ck.starts_with(&key);
            (d <= limit || prefix).then_some((d, c))
        })
        .collect();
    close.sort();
    close.dedup_by(|a, b| a.1 == b.1);
    let names: Vec<String> = close
        .iter()
        .take(3)
        .map(|(_, c)| format!("'{c}'"))
        .collect();
    if names.is_empty() {
        String::new()
    } else {
        format!(" Did you mean {}?", names.join(" or "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_names_like_maas() {
        let cases = [
            ("MachinesHandler", "machines"),
            ("MachineHandler", "machine"),
            ("ResourcePoolsHandler", "resource-pools"),
            ("NodeScriptResultsHandler", "node-script-results"),
            ("SSHKeysHandler", "sshkeys"),
            ("SSHKeyHandler", "sshkey"),
            ("DNSResourceRecordsHandler", "dnsresource-records"),
            ("IPAddressesHandler", "ipaddresses"),
            ("VlanHandler", "vlan"),
            ("AnonMachinesHandler", "anon-machines"),
            ("Account", "account"),
            ("BootSourceSelectionsHandler", "boot-source-selections"),
        ];
        for (input, want) in cases {
            assert_eq!(handler_command_name(input), want, "{input}");
        }
    }

    #[test]
    fn action_names_use_dashes() {
        assert_eq!(
            action_command_name("query_power_state"),
            "query-power-state"
        );
        assert_eq!(action_command_name("read"), "read");
    }

    #[test]
    fn find_accepts_aliases() {
        let names = ["machines", "machine", "resource-pools", "sshkeys"];
        assert_eq!(find_name(&names, "machine"), Some(1));
        assert_eq!(find_name(&names, "resource-pools"), Some(2));
        assert_eq!(find_name(&names, "resource_pools"), Some(2));
        assert_eq!(find_name(&names, "resourcepools"), Some(2));
        assert_eq!(find_name(&names, "ssh-keys"), Some(3));
        assert_eq!(find_name(&names, "nodes"), None);
        let actions = ["query-power-state", "deploy"];
        assert_eq!(find_name(&actions, "query_power_state"), Some(0));
    }

    #[test]
    fn ambiguous_loose_match_is_rejected() {
        let names = ["a-b", "ab"];
        assert_eq!(find_name(&names, "ab"), Some(1));
        assert_eq!(find_name(&names, "a_b"), None);
    }

    #[test]
    fn edit_distance() {
        assert_eq!(distance("read", "read"), 0);
        assert_eq!(distance("raed", "read"), 1);
        assert_eq!(distance("machnes", "machines"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions() {
        let names = ["machines", "machine", "devices", "zones"];
        assert!(did_you_mean(&names, "machnes").contains("'machines'"));
        assert_eq!(did_you_mean(&names, "xyzzy"), "");
        assert!(did_you_mean(&names, "zone").contains("'zones'"));
    }
}
