//! The UI's pages for what machines are grouped by: availability zones and resource pools
//! (`/MAAS/r/zones`, `/MAAS/r/pools`) and tags (`/MAAS/r/tags`), each listed from the same
//! region operations as the API, with the number of machines in each. Administrators create,
//! edit and delete them through the API's own forms (`ui_forms`); others only read.

use crate::ui::esc;
use crate::ui_forms::{api_form, delete, field, section, segment, table, SCRIPTS};
use crate::App;
use ingot_region::model::{MachineFilter, NamedKind, User};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use std::collections::HashMap;

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// A link to the machine list filtered by `key:value`, saying how many machines it shows.
fn machines_link(key: &str, value: &str, n: usize) -> String {
    format!(
        "<a href=\"/MAAS/r/?q={}\">{n} machine{}</a>",
        enc(&format!("{key}:{value}")),
        if n == 1 { "" } else { "s" }
    )
}

/// How many of the machines `u` sees are in each zone, pool or tag.
async fn counts(app: &App, u: &User) -> Result<[HashMap<String, usize>; 3], crate::ApiError> {
    let mut out: [HashMap<String, usize>; 3] = Default::default();
    for m in app
        .region
        .machine_facts(u, MachineFilter::default())
        .await?
    {
        *out[0].entry(m.zone).or_default() += 1;
        *out[1].entry(m.pool).or_default() += 1;
        for t in m.tags {
            *out[2].entry(t).or_default() += 1;
        }
    }
    Ok(out)
}

/// `/MAAS/r/zones` or `/MAAS/r/pools`.
pub(crate) async fn named(app: &App, u: &User, kind: NamedKind) -> Result<String, crate::ApiError> {
    let (what, key, coll, idx) = match kind {
        NamedKind::Zone => ("zone", "zone", "/MAAS/api/2.0/zones/", 0),
        _ => ("resource pool", "pool", "/MAAS/api/2.0/resourcepools/", 1),
    };
    let n = counts(app, u).await?;
    let rows: Vec<Vec<String>> = app
        .region
        .list_named(kind)
        .await?
        .into_iter()
        .map(|z| {
            let item = match kind {
                NamedKind::Zone => format!("/MAAS/api/2.0/zones/{}/", segment(&z.name)),
                _ => format!("/MAAS/api/2.0/resourcepool/{}/", z.id),
            };
            let mut row = vec![
                esc(&z.name),
                esc(&z.description),
                machines_link(key, &z.name, n[idx].get(&z.name).copied().unwrap_or(0)),
            ];
            if u.is_admin {
                row.push(format!(
                    "<details class=\"edit\"><summary>Edit {}</summary>{}</details>{}",
                    esc(&z.name),
                    api_form(
                        &item,
                        "PUT",
                        "stacked",
                        &(field("Name", "name", &z.name, "text")
                            + &field("Description", "description", &z.description, "text")),
                        "Save"
                    ),
                    delete(&item, &format!("{what} {}", z.name))
                ));
            }
            row
        })
        .collect();
    let mut heads = vec!["Name", "Description", "Machines"];
    if u.is_admin {
        heads.push("Change");
    }
    let mut out = section(
        "list",
        &format!("{}s", capital(what)),
        &table(&heads, &rows, "None."),
    );
    if u.is_admin {
        out.push_str(&section(
            "add",
            &format!("Add a {what}"),
            &api_form(
                coll,
                "POST",
                "stacked",
                &(field("Name", "name", "", "text")
                    + &field("Description", "description", "", "text")),
                &format!("Add {what}"),
            ),
        ));
    }
    Ok(format!("<main class=\"admin\">{out}</main>{SCRIPTS}"))
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// `/MAAS/r/tags`.
pub(crate) async fn tags(app: &App, u: &User) -> Result<String, crate::ApiError> {
    let n = counts(app, u).await?;
    let rows: Vec<Vec<String>> = app
        .region
        .list_tags()
        .await?
        .into_iter()
        .map(|t| {
            let item = format!("/MAAS/api/2.0/tags/{}/", segment(&t.name));
            let mut row = vec![
                esc(&t.name),
                esc(&t.comment),
                if t.definition.is_empty() {
                    "<small>manual</small>".to_string()
                } else {
                    format!("<code>{}</code>", esc(&t.definition))
                },
                esc(&t.kernel_opts),
                machines_link("tag", &t.name, n[2].get(&t.name).copied().unwrap_or(0)),
            ];
            if u.is_admin {
                row.push(format!(
                    "<details class=\"edit\"><summary>Edit {}</summary>{}</details>{}",
                    esc(&t.name),
                    api_form(
                        &item,
                        "PUT",
                        "stacked",
                        &(field("Comment", "comment", &t.comment, "text")
                            + &field("Definition (XPath)", "definition", &t.definition, "text")
                            + &field("Kernel options", "kernel_opts", &t.kernel_opts, "text")),
                        "Save"
                    ),
                    delete(&item, &format!("tag {}", t.name))
                ));
            }
            row
        })
        .collect();
    let mut heads = vec![
        "Name",
        "Comment",
        "Definition",
        "Kernel options",
        "Machines",
    ];
    if u.is_admin {
        heads.push("Change");
    }
    let mut out = section("list", "Tags", &table(&heads, &rows, "No tags."));
    if u.is_admin {
        out.push_str(&section(
            "add",
            "Add a tag",
            &api_form(
                "/MAAS/api/2.0/tags/",
                "POST",
                "stacked",
                &(field("Name", "name", "", "text")
                    + &field("Comment", "comment", "", "text")
                    + &field(
                        "Definition (XPath over the hardware details; empty for a manual tag)",
                        "definition",
                        "",
                        "text",
                    )
                    + &field("Kernel options", "kernel_opts", "", "text")),
                "Add tag",
            ),
        ));
    }
    Ok(format!("<main class=\"admin\">{out}</main>{SCRIPTS}"))
}
