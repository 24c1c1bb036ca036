//! The machine list of the web UI (`/MAAS/r/`): rendered on the server from the same region
//! operation and JSON as `machines/` (`Region::list_machines`, `render::machine`), grouped
//! by status with counts, `?q=` free text and `key:value` filters (`status:`, `owner:`,
//! `pool:`, `zone:`, `tag:`, `arch:`) and `?sort=`/`?dir=` kept in the URL; one checkbox per
//! machine and the action bar that `assets/app.js` runs against the API. `/MAAS/r/list` is the
//! list alone, which the page fetches again when the live stream says something changed.

use crate::ui::esc;
use crate::{App, Req};
use ingot_region::model::User;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::Value;

/// The columns: (sort key, heading).
const COLUMNS: &[(&str, &str)] = &[
    ("hostname", "Hostname"),
    ("status", "Status"),
    ("power", "Power"),
    ("owner", "Owner"),
    ("arch", "Architecture"),
    ("cores", "Cores"),
    ("memory", "Memory"),
    ("pool", "Pool"),
    ("zone", "Zone"),
    ("tags", "Tags"),
];

/// The machine actions of the action bar: (op, label). `delete` is a DELETE, `set_zone` and
/// `set_pool` an update (PUT), `tag` the tag's `update_nodes`; the rest are
/// `POST machines/{id}/?op=…` as in the API.
pub(crate) const ACTIONS: &[(&str, &str)] = &[
    ("commission", "Commission"),
    ("test", "Test"),
    ("deploy", "Deploy"),
    ("release", "Release"),
    ("abort", "Abort"),
    ("lock", "Lock"),
    ("unlock", "Unlock"),
    ("mark_broken", "Mark broken"),
    ("mark_fixed", "Mark fixed"),
    ("override_failed_testing", "Override failed testing"),
    ("rescue_mode", "Rescue mode"),
    ("exit_rescue_mode", "Exit rescue mode"),
    ("power_on", "Power on"),
    ("power_off", "Power off"),
    ("tag", "Tag"),
    ("set_zone", "Set zone"),
    ("set_pool", "Set pool"),
    ("delete", "Delete"),
];

/// One `key:value` filter of the machine list, or free text (the host name contains it).
fn matches(m: &Value, term: &str) -> bool {
    let text = |v: &Value| v.as_str().unwrap_or("").to_lowercase();
    let term = term.to_lowercase();
    match term.split_once(':') {
        Some(("status", v)) => text(&m["status_name"]).replace(' ', "") == v.replace(' ', ""),
        Some(("owner", v)) => text(&m["owner"]) == v,
        Some(("pool", v)) => text(&m["pool"]["name"]) == v,
        Some(("zone", v)) => text(&m["zone"]["name"]) == v,
        Some(("arch", v)) => text(&m["architecture"]).starts_with(v),
        Some(("tag", v)) => m["tag_names"]
            .as_array()
            .is_some_and(|t| t.iter().any(|x| text(x) == v)),
        _ => text(&m["hostname"]).contains(&term),
    }
}

fn gib(bytes_mib: &Value) -> String {
    match bytes_mib.as_f64() {
        Some(mib) => format!("{:.1} GiB", mib / 1024.0),
        None => String::new(),
    }
}

fn sort_key(m: &Value, key: &str) -> (String, f64) {
    let s = |v: &Value| v.as_str().unwrap_or("").to_lowercase();
    match key {
        "status" => (s(&m["status_name"]), 0.0),
        "power" => (s(&m["power_state"]), 0.0),
        "owner" => (s(&m["owner"]), 0.0),
        "arch" => (s(&m["architecture"]), 0.0),
        "cores" => (String::new(), m["cpu_count"].as_f64().unwrap_or(0.0)),
        "memory" => (String::new(), m["memory"].as_f64().unwrap_or(0.0)),
        "pool" => (s(&m["pool"]["name"]), 0.0),
        "zone" => (s(&m["zone"]["name"]), 0.0),
        _ => (s(&m["hostname"]), 0.0),
    }
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// The list: a section per status (sorted by status name), rows sorted as asked.
pub(crate) async fn list(app: &App, r: &Req, u: &User) -> Result<String, crate::ApiError> {
    let q = r.query.get("q").unwrap_or_default().to_string();
    let sort = r.query.get("sort").unwrap_or("hostname").to_string();
    let desc = r.query.get("dir") == Some("desc");
    let ms = app
        .region
        .list_machines(u, ingot_region::model::MachineFilter::default())
        .await?;
    let net = crate::render::Net::for_machines(&app.region, &ms).await?;
    let mut rows: Vec<Value> = ms
        .iter()
        .map(|m| crate::render::machine(m, &net))
        .filter(|m| q.split_whitespace().all(|t| matches(m, t)))
        .collect();
    rows.sort_by(|a, b| {
        let by = sort_key(a, &sort)
            .partial_cmp(&sort_key(b, &sort))
            .unwrap_or(std::cmp::Ordering::Equal);
        let by = if desc { by.reverse() } else { by };
        a["status_name"]
            .as_str()
            .cmp(&b["status_name"].as_str())
            .then(by)
    });
    let mut out = format!(
        "<p class=\"count\">{} machine{}</p>",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    );
    let heads: String = COLUMNS
        .iter()
        .map(|(k, h)| {
            let dir = if *k == sort && !desc { "desc" } else { "asc" };
            format!(
                "<th><a href=\"/MAAS/r/?q={}&amp;sort={k}&amp;dir={dir}\">{h}</a></th>",
                enc(&q)
            )
        })
        .collect();
    let mut i = 0;
    while i < rows.len() {
        let status = rows[i]["status_name"].as_str().unwrap_or("").to_string();
        let n = rows[i..]
            .iter()
            .take_while(|m| m["status_name"].as_str() == Some(status.as_str()))
            .count();
        out.push_str(&format!(
            "<section><h2>{} <span class=\"n\">{n}</span></h2><table><thead><tr><th></th>{heads}</tr></thead><tbody>",
            esc(&status)
        ));
        for m in &rows[i..i + n] {
            out.push_str(&row(m));
        }
        out.push_str("</tbody></table></section>");
        i += n;
    }
    Ok(out)
}

fn row(m: &Value) -> String {
    let s = |k: &str| esc(m[k].as_str().unwrap_or(""));
    let tags: Vec<String> = m["tag_names"]
        .as_array()
        .map(|t| t.iter().filter_map(|x| x.as_str()).map(esc).collect())
        .unwrap_or_default();
    let lock = if m["locked"].as_bool() == Some(true) {
        " <small>locked</small>"
    } else {
        ""
    };
    format!(
        "<tr data-id=\"{sid}\" data-hostname=\"{host}\"><td><input type=\"checkbox\" class=\"pick\" value=\"{sid}\" data-hostname=\"{host}\" aria-label=\"select {host}\"></td>\
         <td><a href=\"/MAAS/r/machine/{sid}\">{host}</a></td><td class=\"status\">{}{lock}<br><small>{}</small></td><td class=\"power\">{}</td><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        s("status_name"),
        s("status_message"),
        s("power_state"),
        s("owner"),
        s("architecture"),
        m["cpu_count"],
        gib(&m["memory"]),
        esc(m["pool"]["name"].as_str().unwrap_or("")),
        esc(m["zone"]["name"].as_str().unwrap_or("")),
        tags.join(", "),
        sid = s("system_id"),
        host = s("hostname"),
    )
}

/// What some actions take, as the API names it: deploy's image and user data, release's
/// erase options, the tag, zone or pool to set.
pub(crate) async fn action_params(app: &App) -> Result<String, crate::ApiError> {
    let opts = |v: Vec<String>| -> String {
        v.iter()
            .map(|n| format!("<option value=\"{0}\">{0}</option>", esc(n)))
            .collect()
    };
    let mut images: Vec<String> = app
        .region
        .boot_resources()
        .await?
        .into_iter()
        .filter(|b| b.complete)
        .map(|b| b.name)
        .collect();
    images.sort();
    images.dedup();
    let names = |k| async move {
        Ok::<_, crate::ApiError>(
            app.region
                .list_named(k)
                .await?
                .into_iter()
                .map(|n| n.name)
                .collect::<Vec<_>>(),
        )
    };
    let zones = names(ingot_region::model::NamedKind::Zone).await?;
    let pools = names(ingot_region::model::NamedKind::Pool).await?;
    Ok(format!(
        "<div class=\"params\" data-for=\"deploy\" hidden><label>Image <select name=\"distro_series\">\
         <option value=\"\">(the default)</option>{}</select></label>\
         <label>User data <textarea name=\"user_data\" rows=\"3\" placeholder=\"#cloud-config or a script\"></textarea></label></div>\
         <div class=\"params\" data-for=\"release\" hidden>\
         <label class=\"check\"><input type=\"checkbox\" name=\"erase\"> Erase disks</label>\
         <label class=\"check\"><input type=\"checkbox\" name=\"secure_erase\"> Secure erase</label>\
         <label class=\"check\"><input type=\"checkbox\" name=\"quick_erase\"> Quick erase</label></div>\
         <div class=\"params\" data-for=\"tag\" hidden><label>Tag <input name=\"tag\"></label></div>\
         <div class=\"params\" data-for=\"set_zone\" hidden><label>Zone <select name=\"zone\">{}</select></label></div>\
         <div class=\"params\" data-for=\"set_pool\" hidden><label>Pool <select name=\"pool\">{}</select></label></div>",
        opts(images),
        opts(zones),
        opts(pools),
    ))
}

/// The page around the list: who is signed in, sign-out, the filter form, the action bar
/// with what the chosen action takes, the results of the last action, and the script.
pub(crate) async fn shell(
    app: &App,
    r: &Req,
    u: &User,
    csrf: &str,
    list: &str,
) -> Result<String, crate::ApiError> {
    let q = r.query.get("q").unwrap_or_default();
    let actions: String = ACTIONS
        .iter()
        .map(|(op, label)| format!("<option value=\"{op}\">{label}</option>"))
        .collect();
    let params = action_params(app).await?;
    Ok(format!(
        "<header><h1>Machines</h1><p>Signed in as {}</p><p id=\"live\" class=\"live\">static</p>\
         <a href=\"/MAAS/r/add\">Add machine</a>\
         <form method=\"post\" action=\"/MAAS/accounts/logout/\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">Sign out</button></form>\
         </header><form method=\"get\" action=\"/MAAS/r/\" class=\"search\">\
         <input name=\"q\" value=\"{}\" placeholder=\"hostname, status:ready owner:… pool:… zone:… tag:… arch:…\">\
         <button type=\"submit\">Filter</button></form>\
         <form class=\"actions\" id=\"act\"><label>Action <select id=\"action\">{actions}</select></label>{params}\
         <button type=\"button\" id=\"run\">Run on selected</button> <span id=\"picked\"></span></form>\
         <ul id=\"results\" aria-live=\"polite\"></ul>\
         <div id=\"machines\">{list}</div><script src=\"/MAAS/r/app.js\" defer></script>",
        esc(&u.username),
        esc(csrf),
        esc(q),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_of_the_machine_list() {
        let m = serde_json::json!({
            "hostname": "web-01", "status_name": "Failed commissioning", "owner": "Alice",
            "pool": {"name": "prod"}, "zone": {"name": "z1"}, "architecture": "amd64/generic",
            "tag_names": ["ssd", "gpu"],
        });
        for (term, want) in [
            ("web", true),
            ("db", false),
            ("status:failedcommissioning", true),
            ("status:ready", false),
            ("owner:alice", true),
            ("pool:prod", true),
            ("zone:z2", false),
            ("arch:amd64", true),
            ("tag:gpu", true),
            ("tag:nvme", false),
        ] {
            assert_eq!(matches(&m, term), want, "{term}");
        }
    }

    #[test]
    fn sorting_keys() {
        let m = serde_json::json!({"hostname": "B", "cpu_count": 8, "memory": 2048});
        assert_eq!(sort_key(&m, "hostname"), ("b".into(), 0.0));
        assert_eq!(sort_key(&m, "cores"), (String::new(), 8.0));
        assert_eq!(enc("status:ready web"), "status%3Aready%20web");
    }
}
