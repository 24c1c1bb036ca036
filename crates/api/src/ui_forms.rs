//! The pieces the UI's administration pages build their forms from. Each form is sent by
//! `assets/common.js` to the API path it names (`data-api`, `data-method`), with the session's
//! CSRF token; the API's field errors land in the slot of their field (`data-error-for`) and
//! anything else in the form's result line. So a page shows exactly the API's messages.

use crate::ui::esc;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

/// What cannot stand in a path segment. The API reads segments as they come (names of zones,
/// tags and users are words, dots and dashes), so only these are encoded.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// A name as one segment of an API path.
pub(crate) fn segment(name: &str) -> String {
    utf8_percent_encode(name, SEGMENT).to_string()
}

/// A labelled input (`kind`: an `<input>` type, or `textarea`) with its error slot.
pub(crate) fn field(label: &str, name: &str, value: &str, kind: &str) -> String {
    let input = if kind == "textarea" {
        format!(
            "<textarea name=\"{name}\" rows=\"3\">{}</textarea>",
            esc(value)
        )
    } else {
        format!(
            "<input name=\"{name}\" type=\"{kind}\" value=\"{}\">",
            esc(value)
        )
    };
    format!(
        "<label>{label} {input}</label><p class=\"error\" data-error-for=\"{name}\" role=\"alert\" hidden></p>"
    )
}

/// A labelled checkbox sending `true` when ticked (and its error slot).
pub(crate) fn check(label: &str, name: &str, on: bool) -> String {
    format!(
        "<label class=\"check\"><input type=\"checkbox\" name=\"{name}\" value=\"true\"{}> {label}</label>\
         <p class=\"error\" data-error-for=\"{name}\" role=\"alert\" hidden></p>",
        if on { " checked" } else { "" }
    )
}

/// A form sent to the API: its fields, the button, the result line.
pub(crate) fn api_form(api: &str, method: &str, class: &str, fields: &str, button: &str) -> String {
    api_form_with(api, method, class, "", fields, button)
}

/// [`api_form`] with more attributes on the form (`data-omit-empty`: fields left empty are
/// not sent).
pub(crate) fn api_form_with(
    api: &str,
    method: &str,
    class: &str,
    attrs: &str,
    fields: &str,
    button: &str,
) -> String {
    format!(
        "<form class=\"{class}\" data-api=\"{}\" data-method=\"{method}\"{attrs}>{fields}\
         <p class=\"error\" data-error-for=\"__all__\" role=\"alert\" hidden></p>\
         <button type=\"submit\">{}</button> <span class=\"form-result\" role=\"status\"></span></form>",
        esc(api),
        esc(button)
    )
}

/// Delete, behind a disclosure so that one click does not delete: "Delete…" opens the button
/// that does, named for what it deletes.
pub(crate) fn delete(api: &str, what: &str) -> String {
    format!(
        "<details class=\"danger\"><summary>Delete…</summary>{}</details>",
        api_form(api, "DELETE", "inline", "", &format!("Delete {what}"))
    )
}

/// A section with a heading (its id labels it).
pub(crate) fn section(id: &str, title: &str, body: &str) -> String {
    format!(
        "<section aria-labelledby=\"h-{id}\"><h2 id=\"h-{id}\">{}</h2>{body}</section>",
        esc(title)
    )
}

/// A table: the headings, then rows of already-rendered cells; `empty` when there are none.
pub(crate) fn table(heads: &[&str], rows: &[Vec<String>], empty: &str) -> String {
    let th: String = heads
        .iter()
        .map(|h| format!("<th>{}</th>", esc(h)))
        .collect();
    let body: String = if rows.is_empty() {
        format!(
            "<tr><td colspan=\"{}\">{}</td></tr>",
            heads.len(),
            esc(empty)
        )
    } else {
        rows.iter()
            .map(|r| {
                let tds: String = r.iter().map(|c| format!("<td>{c}</td>")).collect();
                format!("<tr>{tds}</tr>")
            })
            .collect()
    };
    format!("<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>")
}

/// The script every administration page needs (forms to the API).
pub(crate) const SCRIPTS: &str = "<script src=\"/MAAS/r/common.js\" defer></script>";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_names_are_text() {
        let f = field("Name", "name", "<b>x</b>\"", "text");
        assert!(f.contains("value=\"&lt;b&gt;x&lt;/b&gt;&quot;\""), "{f}");
        let t = table(&["A"], &[], "<none>");
        assert!(t.contains("&lt;none&gt;"), "{t}");
        let d = delete("/MAAS/api/2.0/zones/a%20b/", "zone <z>");
        assert!(
            d.contains("Delete zone &lt;z&gt;") && d.contains("data-method=\"DELETE\""),
            "{d}"
        );
    }
}
