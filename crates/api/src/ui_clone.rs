//! The web UI's clone page (`/MAAS/r/clone`): choose the source (a system id or host name,
//! checked to exist), what to clone (storage, interfaces or both) and a filter; the page lists
//! the matching machines with the verdict of the same checks `op=clone` makes
//! (`Region::clone_candidates`): those that cannot receive the configuration are shown with
//! why and cannot be chosen. `assets/clone.js` lists the chosen machines as they are ticked,
//! asks for confirmation naming them, sends `POST machines/?op=clone` and shows what changed
//! and, for each destination that did not, `<hostname> (<system id>): <cause>`.

use crate::ui::esc;
use crate::{App, Req};
use ingot_region::model::User;
use ingot_region::RegionError;

/// Destinations listed at most; a filter narrows a larger fleet.
const SHOWN: usize = 100;

fn checked(on: bool) -> &'static str {
    if on {
        " checked"
    } else {
        ""
    }
}

/// The form that chooses source, what to clone and the filter (a GET: the view is a URL).
fn find_form(source: &str, storage: bool, interfaces: bool, q: &str, error: &str) -> String {
    format!(
        "<form method=\"get\" action=\"/MAAS/r/clone\" class=\"clone-find\">\
         <label>Source machine <input name=\"source\" value=\"{}\" required placeholder=\"system id or host name\" aria-describedby=\"err-source\"></label>\
         <p id=\"err-source\" class=\"error\" role=\"alert\"{}>{}</p>\
         <fieldset><legend>What to clone</legend>\
         <label class=\"check\"><input type=\"checkbox\" name=\"storage\" value=\"true\"{}> Storage</label>\
         <label class=\"check\"><input type=\"checkbox\" name=\"interfaces\" value=\"true\"{}> Interfaces</label></fieldset>\
         <label>Filter destinations <input name=\"q\" value=\"{}\" placeholder=\"host name or system id contains\"></label>\
         <button type=\"submit\">Show destinations</button></form>",
        esc(source),
        if error.is_empty() { " hidden" } else { "" },
        esc(error),
        checked(storage),
        checked(interfaces),
        esc(q),
    )
}

pub(crate) async fn page(app: &App, r: &Req, u: &User) -> Result<String, crate::ApiError> {
    let source = r.query.get("source").unwrap_or_default().trim().to_string();
    let q = r.query.get("q").unwrap_or_default().to_string();
    // A fresh form clones both; once sent, the boxes say what was chosen.
    let fresh = source.is_empty();
    let flag = |k: &str| fresh || r.query.get(k) == Some("true");
    let (storage, interfaces) = (flag("storage"), flag("interfaces"));
    if source.is_empty() {
        return Ok(format!(
            "<main class=\"clone\">{}</main>",
            find_form("", storage, interfaces, &q, "")
        ));
    }
    let found = match app
        .region
        .clone_candidates(u, &source, &q, storage, interfaces, SHOWN)
        .await
    {
        Ok(c) => c,
        Err(e @ RegionError::Fields(_)) => {
            let msg = crate::ui::refusal(&e);
            return Ok(format!(
                "<main class=\"clone\">{}</main>",
                find_form(&source, storage, interfaces, &q, &msg)
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let src = &found.source;
    let what = match (storage, interfaces) {
        (true, true) => "storage and interfaces",
        (true, false) => "storage",
        (false, true) => "interfaces",
        (false, false) => "nothing (choose storage, interfaces or both)",
    };
    let rows: String = found
        .candidates
        .iter()
        .map(|c| {
            let host = esc(&c.hostname);
            let sid = esc(&c.system_id);
            match &c.refusal {
                None => format!(
                    "<tr><td><input type=\"checkbox\" class=\"dest\" value=\"{sid}\" data-hostname=\"{host}\" aria-label=\"clone onto {host}\"></td>\
                     <td><a href=\"/MAAS/r/machine/{sid}\">{host}</a> <small>{sid}</small></td><td>{}</td><td class=\"ok\">Can be cloned onto</td></tr>",
                    esc(c.status.label())
                ),
                Some(why) => format!(
                    "<tr class=\"refused\"><td><input type=\"checkbox\" disabled aria-label=\"{host} cannot be cloned onto\"></td>\
                     <td><a href=\"/MAAS/r/machine/{sid}\">{host}</a> <small>{sid}</small></td><td>{}</td><td>Not eligible: {}</td></tr>",
                    esc(c.status.label()),
                    esc(why)
                ),
            }
        })
        .collect();
    let more = if found.matched > found.candidates.len() {
        format!(
            "<p>Showing the first {} of {} matching machines: narrow the filter to see the others.</p>",
            found.candidates.len(),
            found.matched
        )
    } else {
        String::new()
    };
    Ok(format!(
        "<main class=\"clone\">{}\
         <form id=\"clone\" data-source=\"{sid}\" data-source-name=\"{host}\" data-storage=\"{storage}\" data-interfaces=\"{interfaces}\">\
         <p>Clone the {what} of <a href=\"/MAAS/r/machine/{sid}\">{host}</a> ({sid}, {}) onto the machines you choose.</p>{more}\
         <table><caption>Destinations: {} matching</caption><thead><tr><th>Choose</th><th>Machine</th><th>Status</th><th>Eligible</th></tr></thead>\
         <tbody>{}</tbody></table>\
         <section aria-labelledby=\"h-changing\"><h2 id=\"h-changing\">Machines that will change</h2>\
         <ul id=\"changing\" aria-live=\"polite\"><li>None chosen.</li></ul></section>\
         <button type=\"button\" id=\"clone-go\" disabled>Clone onto the chosen machines</button>\
         <div id=\"confirm\" role=\"alertdialog\" aria-labelledby=\"confirm-text\" hidden>\
         <p id=\"confirm-text\"></p><button type=\"button\" id=\"clone-yes\">Confirm clone</button> \
         <button type=\"button\" id=\"clone-no\">Cancel</button></div></form>\
         <section id=\"clone-result\" aria-live=\"polite\" tabindex=\"-1\" hidden><h2>Result</h2>\
         <h3>Cloned</h3><ul id=\"cloned\"></ul><h3>Not cloned</h3><ul id=\"not-cloned\"></ul>\
         <button type=\"button\" id=\"clone-clear\">Clear the result</button></section></main>\
         <script src=\"/MAAS/r/common.js\" defer></script><script src=\"/MAAS/r/clone.js\" defer></script>",
        find_form(&src.system_id, storage, interfaces, &q, ""),
        esc(src.status.label()),
        found.matched,
        if rows.is_empty() {
            "<tr><td colspan=\"4\">No other machine matches.</td></tr>".to_string()
        } else {
            rows
        },
        sid = esc(&src.system_id),
        host = esc(&src.hostname),
    ))
}
