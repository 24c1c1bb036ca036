//! Text inside XML or HTML markup.

/// Text for an XML attribute or element: markup characters escaped, characters XML 1.0 does
/// not allow (control characters other than tab and line ends, U+FFFE, U+FFFF) left out.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_and_forbidden_characters() {
        assert_eq!(
            super::escape("<a href=\"x\">'&'</a>\u{1}\tok"),
            "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;\tok"
        );
    }
}
