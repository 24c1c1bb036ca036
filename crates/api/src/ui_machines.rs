//! The machine list of the web UI (`/MAAS/r/`): rendered on the server from the same region
//! operation and JSON as `machines/` (`Region::list_machines`, `render::machine`), grouped
//! by status with counts, `?q=` free text and `key:value` filters (`status:`, `owner:`,
//! `pool:`, `zone:`, `tag:`, `arch:`) and `?sort=`/`?dir=` kept in the URL; one checkbox per
//! machine and the action bar that `assets/app.js` runs against the API. `/MAAS/r/list` is the
//! list alone, which the page fetches again when the live stream says something changed.

use crate::ui::{esc, name_options};
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

/// Columns shown after those, not sortable (they are read from the page's rows only).
const MORE_COLUMNS: &[&str] = &["Storage", "IP / MAC"];

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

/// What the filters and sorting of the list read of a machine.
struct Facts<'a> {
    hostname: &'a str,
    status: &'static str,
    owner: &'a str,
    pool: &'a str,
    zone: &'a str,
    arch: &'a str,
    power: &'a str,
    tags: &'a [String],
    cores: i64,
    memory: i64,
}

impl<'a> Facts<'a> {
    fn of(m: &'a ingot_region::model::MachineFacts) -> Facts<'a> {
        Facts {
            hostname: &m.hostname,
            status: m.status.label(),
            owner: m.owner.as_deref().unwrap_or(""),
            pool: &m.pool,
            zone: &m.zone,
            arch: m.architecture.as_deref().unwrap_or(""),
            power: &m.power_state,
            tags: &m.tags,
            cores: m.cpu_count,
            memory: m.memory,
        }
    }
}

/// One `key:value` filter of the machine list, or free text (the host name contains it).
fn matches(m: &Facts, term: &str) -> bool {
    let low = |s: &str| s.to_lowercase();
    let term = term.to_lowercase();
    match term.split_once(':') {
        Some(("status", v)) => low(m.status).replace(' ', "") == v.replace(' ', ""),
        Some(("owner", v)) => low(m.owner) == v,
        Some(("pool", v)) => low(m.pool) == v,
        Some(("zone", v)) => low(m.zone) == v,
        Some(("arch", v)) => low(m.arch).starts_with(v),
        Some(("tag", v)) => m.tags.iter().any(|t| low(t) == v),
        _ => low(m.hostname).contains(&term),
    }
}

fn gib(bytes_mib: &Value) -> String {
    match bytes_mib.as_f64() {
        Some(mib) => format!("{:.1} GiB", mib / 1024.0),
        None => String::new(),
    }
}

fn sort_key(m: &Facts, key: &str) -> (String, i64) {
    let low = |s: &str| s.to_lowercase();
    match key {
        "status" => (low(m.status), 0),
        "power" => (low(m.power), 0),
        "owner" => (low(m.owner), 0),
        "arch" => (low(m.arch), 0),
        "cores" => (String::new(), m.cores),
        "memory" => (String::new(), m.memory),
        "pool" => (low(m.pool), 0),
        "zone" => (low(m.zone), 0),
        _ => (low(m.hostname), 0),
    }
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// Rows on one page of the list: a fleet of thousands is paged, never sent whole.
pub(crate) const PAGE_ROWS: usize = 200;

/// The list: a section per status (sorted by status name) with the count of all the machines
/// the filters let through in that status, the rows of one page (`?page=`, from 0) sorted as
/// asked, and links to the pages around it. Filters and sorting read the machines as
/// loaded; only the page's rows are rendered as the API renders a machine.
pub(crate) async fn list(app: &App, r: &Req, u: &User) -> Result<String, crate::ApiError> {
    let q = r.query.get("q").unwrap_or_default().to_string();
    let sort = r.query.get("sort").unwrap_or("hostname").to_string();
    let desc = r.query.get("dir") == Some("desc");
    let page: usize = r
        .query
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    // Filters, counts and sorting read a few facts of every machine; only the page's rows
    // are loaded whole (with their tags; the list shows no hardware).
    let ms = app
        .region
        .machine_facts(u, ingot_region::model::MachineFilter::default())
        .await?;
    let mut rows: Vec<(Facts, &ingot_region::model::MachineFacts)> = ms
        .iter()
        .map(|m| (Facts::of(m), m))
        .filter(|(f, _)| q.split_whitespace().all(|t| matches(f, t)))
        .collect();
    rows.sort_by(|(a, _), (b, _)| {
        let by = sort_key(a, &sort).cmp(&sort_key(b, &sort));
        let by = if desc { by.reverse() } else { by };
        a.status.cmp(b.status).then(by)
    });
    let total = rows.len();
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for (f, _) in &rows {
        match counts.last_mut() {
            Some((s, n)) if *s == f.status => *n += 1,
            _ => counts.push((f.status, 1)),
        }
    }
    let pages = total.div_ceil(PAGE_ROWS).max(1);
    let page = page.min(pages - 1);
    let ids: Vec<String> = rows
        .iter()
        .skip(page * PAGE_ROWS)
        .take(PAGE_ROWS)
        .map(|(_, m)| m.system_id.clone())
        .collect();
    let mut loaded = if ids.is_empty() {
        Vec::new()
    } else {
        app.region
            .list_machines(
                u,
                ingot_region::model::MachineFilter {
                    system_ids: ids.clone(),
                    ..Default::default()
                },
            )
            .await?
    };
    // In the page's order; a machine deleted meanwhile is left out.
    let order: std::collections::HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    loaded.sort_by_key(|m| order.get(m.system_id.as_str()).copied());
    let shown = loaded;
    let net = crate::render::Net::for_machines(&app.region, &shown).await?;
    let link = |p: usize, text: &str| {
        format!(
            "<a href=\"/MAAS/r/?q={}&amp;sort={}&amp;dir={}&amp;page={p}\">{text}</a>",
            enc(&q),
            enc(&sort),
            if desc { "desc" } else { "asc" }
        )
    };
    let pager = if pages > 1 {
        format!(
            "<nav class=\"pager\" aria-label=\"pages\">{} Page {} of {pages} {}</nav>",
            if page > 0 {
                link(page - 1, "Previous page")
            } else {
                String::new()
            },
            page + 1,
            if page + 1 < pages {
                link(page + 1, "Next page")
            } else {
                String::new()
            },
        )
    } else {
        String::new()
    };
    let mut out = format!(
        "<p class=\"count\">{total} machine{}</p>{pager}",
        if total == 1 { "" } else { "s" }
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
        .chain(MORE_COLUMNS.iter().map(|h| format!("<th>{h}</th>")))
        .collect();
    let mut i = 0;
    while i < shown.len() {
        let status = shown[i].status.label();
        let n = shown[i..]
            .iter()
            .take_while(|m| m.status.label() == status)
            .count();
        let all = counts
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, n)| *n)
            .unwrap_or(n);
        out.push_str(&format!(
            "<section><h2>{} <span class=\"n\">{all}</span></h2><table><thead><tr><th></th>{heads}</tr></thead><tbody>",
            esc(status)
        ));
        for m in &shown[i..i + n] {
            out.push_str(&row(&crate::render::machine(m, &net)));
        }
        out.push_str("</tbody></table></section>");
        i += n;
    }
    out.push_str(&pager);
    Ok(out)
}

/// The first address the machine holds, else its boot interface's MAC.
fn first_ip_or_mac(m: &Value) -> String {
    m["ip_addresses"]
        .as_array()
        .and_then(|a| a.first())
        .and_then(|v| v.as_str())
        .or_else(|| m["boot_interface"]["mac_address"].as_str())
        .or_else(|| m["interface_set"][0]["mac_address"].as_str())
        .unwrap_or("")
        .to_string()
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
         <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
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
        match m["storage"].as_f64() {
            Some(mb) if mb > 0.0 => format!("{:.1} GB", mb / 1000.0),
            _ => String::new(),
        },
        esc(&first_ip_or_mac(m)),
        sid = s("system_id"),
        host = s("hostname"),
    )
}

/// What some actions take, as the API names it: deploy's image and user data, release's
/// erase options, the tag, zone or pool to set.
pub(crate) async fn action_params(
    app: &App,
    zones: &[String],
    pools: &[String],
) -> Result<String, crate::ApiError> {
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
        name_options(&images, ""),
        name_options(zones, ""),
        name_options(pools, ""),
    ))
}

/// The page around the list: who is signed in, sign-out, the filter form, the action bar
/// with what the chosen action takes, the results of the last action, and the script.
pub(crate) async fn shell(app: &App, r: &Req, list: &str) -> Result<String, crate::ApiError> {
    let q = r.query.get("q").unwrap_or_default();
    let actions: String = ACTIONS
        .iter()
        .map(|(op, label)| format!("<option value=\"{op}\">{label}</option>"))
        .collect();
    let (zones, pools) = crate::ui::zones_and_pools(app).await?;
    let params = action_params(app, &zones, &pools).await?;
    Ok(format!(
        "<form method=\"get\" action=\"/MAAS/r/\" class=\"search\">\
         <input name=\"q\" aria-label=\"Filter machines\" value=\"{}\" placeholder=\"hostname, status:ready owner:… pool:… zone:… tag:… arch:…\">\
         <button type=\"submit\">Filter</button></form>\
         <form class=\"actions\" id=\"act\"><label>Action <select id=\"action\">{actions}</select></label>{params}\
         <button type=\"button\" id=\"run\">Run on selected</button> <span id=\"picked\"></span></form>\
         <ul id=\"results\" aria-live=\"polite\"></ul>\
         <div id=\"machines\">{list}</div><script src=\"/MAAS/r/common.js\" defer></script><script src=\"/MAAS/r/app.js\" defer></script>",
        esc(q),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(tags: &'a [String]) -> Facts<'a> {
        Facts {
            hostname: "web-01",
            status: "Failed commissioning",
            owner: "Alice",
            pool: "prod",
            zone: "z1",
            arch: "amd64/generic",
            power: "on",
            tags,
            cores: 8,
            memory: 2048,
        }
    }

    #[test]
    fn filters_of_the_machine_list() {
        let tags = vec!["ssd".to_string(), "gpu".to_string()];
        let m = facts(&tags);
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
        let tags = vec![];
        let m = facts(&tags);
        assert_eq!(sort_key(&m, "hostname"), ("web-01".into(), 0));
        assert_eq!(sort_key(&m, "cores"), (String::new(), 8));
        assert_eq!(enc("status:ready web"), "status%3Aready%20web");
    }
}
