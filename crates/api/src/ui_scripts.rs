//! The UI's scripts page (`/MAAS/r/scripts`): the commissioning and testing scripts machines
//! run — the built-in ones and those users uploaded — with their type, hardware, tags and
//! timeout; each script's text through the API's `op=download`; administrators upload a script
//! (its text; the metadata header in it supplies what the form leaves empty) and delete the
//! ones users uploaded (built-ins cannot be).

use crate::ui::{esc, options};
use crate::ui_forms::{api_form_with, delete, field, section, segment, table, SCRIPTS};
use crate::App;
use ingot_region::model::User;

pub(crate) async fn page(app: &App, u: &User) -> Result<String, crate::ApiError> {
    let mut scripts = app.region.list_scripts().await?;
    scripts.sort_by(|a, b| {
        (a.meta.script_type.name(), &a.meta.name).cmp(&(b.meta.script_type.name(), &b.meta.name))
    });
    let rows: Vec<Vec<String>> = scripts
        .iter()
        .map(|s| {
            let m = &s.meta;
            let name = segment(&m.name);
            let mut row = vec![
                format!(
                    "<a href=\"/MAAS/api/2.0/scripts/{name}?op=download\">{}</a>",
                    esc(&m.name)
                ),
                esc(m.script_type.name()),
                esc(m.hardware_type.name()),
                esc(&m.title),
                esc(&m.tags.join(", ")),
                if m.timeout == 0 {
                    "none".to_string()
                } else {
                    format!("{} s", m.timeout)
                },
                if s.builtin { "built-in" } else { "uploaded" }.to_string(),
            ];
            if u.is_admin {
                row.push(if s.builtin {
                    String::new()
                } else {
                    delete(
                        &format!("/MAAS/api/2.0/scripts/{name}"),
                        &format!("script {}", m.name),
                    )
                });
            }
            row
        })
        .collect();
    let mut heads = vec![
        "Name", "Type", "Hardware", "Title", "Tags", "Timeout", "Source",
    ];
    if u.is_admin {
        heads.push("Change");
    }
    let mut out = section("list", "Scripts", &table(&heads, &rows, "No scripts."));
    if u.is_admin {
        out.push_str(&section(
            "add",
            "Upload a script",
            // Fields left empty are not sent: the script's metadata header says them.
            &api_form_with(
                "/MAAS/api/2.0/scripts/",
                "POST",
                "stacked",
                " data-omit-empty",
                &(field("Name", "name", "", "text")
                    + &format!(
                        "<label>Type <select name=\"type\">{}</select></label>\
                         <p class=\"error\" data-error-for=\"type\" role=\"alert\" hidden></p>",
                        options(
                            [("commissioning", "commissioning"), ("testing", "testing")],
                            "testing"
                        )
                    )
                    + &field("Title", "title", "", "text")
                    + &field("Tags (comma-separated)", "tags", "", "text")
                    + &field("Timeout (seconds, 0 for none)", "timeout", "", "text")
                    + &field(
                        "Script (with its #! line; a metadata header may say the rest)",
                        "script",
                        "",
                        "textarea",
                    )),
                "Upload script",
            ),
        ));
    }
    Ok(format!("<main class=\"admin\">{out}</main>{SCRIPTS}"))
}
