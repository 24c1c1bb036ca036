//! The web UI's machine page (`/MAAS/r/machine/{system_id}`): summary, hardware, storage,
//! network, power configuration (parameters for administrators only), commissioning and
//! testing results with each script's status, runtime and output, the event log (paged), the
//! netboot timeline of each MAC with its failing hops marked (`boot::hop_failed`), and the
//! actions of the action bar — those not allowed in the machine's status disabled with the
//! reason the core gives (`region::machine_actions`, the API's own check). Everything comes
//! from the region operations and JSON the API uses; `…/part` is the page without its
//! header, which the page fetches again when the live stream says the machine changed.

use crate::ui::{esc, name_options};
use crate::{App, Req};
use ingot_core::scripts::ResultStatus;
use ingot_region::model::User;
use serde_json::Value;

const EVENTS_PER_PAGE: i64 = 50;

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => esc(s),
        other => esc(&other.to_string()),
    }
}

fn row(k: &str, v: String) -> String {
    format!("<tr><th scope=\"row\">{}</th><td>{v}</td></tr>", esc(k))
}

fn summary(m: &Value) -> String {
    let hw = &m["hardware_info"];
    let ann = m["workload_annotations"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| format!("{}={}", esc(k), text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let tags: Vec<String> = m["tag_names"]
        .as_array()
        .map(|t| t.iter().map(text).collect())
        .unwrap_or_default();
    let rows = [
        row(
            "Status",
            format!("{} {}", text(&m["status_name"]), text(&m["status_message"])),
        ),
        row("Owner", text(&m["owner"])),
        row(
            "Power",
            format!("{} ({})", text(&m["power_state"]), text(&m["power_type"])),
        ),
        row("Hardware UUID", text(&m["hardware_uuid"])),
        row(
            "Vendor / product / serial",
            format!(
                "{} / {} / {}",
                text(&hw["system_vendor"]),
                text(&hw["system_product"]),
                text(&hw["system_serial"])
            ),
        ),
        row("Architecture", text(&m["architecture"])),
        row(
            "OS",
            format!("{} {}", text(&m["osystem"]), text(&m["distro_series"])),
        ),
        row("Role", text(&m["node_type_name"])),
        row(
            "Locked",
            if m["locked"].as_bool() == Some(true) {
                "yes".into()
            } else {
                "no".into()
            },
        ),
        row("Zone", text(&m["zone"]["name"])),
        row("Pool", text(&m["pool"]["name"])),
        row("Tags", tags.join(", ")),
        row("Description", text(&m["description"])),
        row("Workload annotations", ann),
    ];
    format!(
        "<section aria-labelledby=\"h-summary\"><h2 id=\"h-summary\">Summary</h2><table class=\"kv\">{}</table></section>",
        rows.concat()
    )
}

fn hardware(m: &Value) -> String {
    let numa: Vec<String> = m["numanode_set"]
        .as_array()
        .map(|n| {
            n.iter()
                .map(|x| {
                    format!(
                        "node {}: cores {}, {} MiB",
                        text(&x["index"]),
                        text(&x["cores"]),
                        text(&x["memory"])
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "<section aria-labelledby=\"h-hw\"><h2 id=\"h-hw\">CPU and memory</h2><table class=\"kv\">{}{}{}</table></section>",
        row(
            "CPUs",
            format!("{} at {} MHz", text(&m["cpu_count"]), text(&m["cpu_speed"]))
        ),
        row("Memory", format!("{} MiB", text(&m["memory"]))),
        row("NUMA", numa.join("; ")),
    )
}

fn storage(m: &Value) -> String {
    let mut rows = String::new();
    for d in m["blockdevice_set"].as_array().into_iter().flatten() {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            text(&d["name"]),
            text(&d["type"]),
            text(&d["size"]),
            text(&d["filesystem"]["mount_point"]),
            text(&d["used_for"])
        ));
        for p in d["partitions"].as_array().into_iter().flatten() {
            rows.push_str(&format!(
                "<tr class=\"sub\"><td>{}</td><td>partition</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                text(&p["name"]),
                text(&p["size"]),
                text(&p["filesystem"]["mount_point"]),
                text(&p["used_for"])
            ));
        }
    }
    let groups: Vec<String> = ["volume_groups", "bcaches", "raids"]
        .iter()
        .flat_map(|k| m[*k].as_array().cloned().unwrap_or_default())
        .map(|g| format!("{} ({})", text(&g["name"]), text(&g["human_size"])))
        .collect();
    format!(
        "<section aria-labelledby=\"h-storage\"><h2 id=\"h-storage\">Storage</h2><table><thead><tr><th>Name</th><th>Type</th><th>Size (bytes)</th><th>Mounted at</th><th>Used for</th></tr></thead><tbody>{rows}</tbody></table><p>Volume groups, bcaches and RAIDs: {}</p></section>",
        if groups.is_empty() { "none".to_string() } else { groups.join(", ") }
    )
}

fn network(m: &Value) -> String {
    let mut rows = String::new();
    for i in m["interface_set"].as_array().into_iter().flatten() {
        let links: Vec<String> = i["links"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| {
                format!(
                    "{} {} {}",
                    text(&l["mode"]),
                    text(&l["ip_address"]),
                    text(&l["subnet"]["cidr"])
                )
            })
            .collect();
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            text(&i["name"]),
            text(&i["type"]),
            text(&i["mac_address"]),
            text(&i["vlan"]["name"]),
            links.join("; ")
        ));
    }
    format!(
        "<section aria-labelledby=\"h-net\"><h2 id=\"h-net\">Network</h2><table><thead><tr><th>Name</th><th>Type</th><th>MAC</th><th>VLAN</th><th>Links</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )
}

async fn power(app: &App, u: &User, m: &Value, sid: &str) -> String {
    let body = if u.is_admin {
        match app.region.power_parameters(u, sid).await {
            Ok(p) => p.iter().map(|(k, v)| row(k, text(v))).collect::<String>(),
            Err(e) => row("Parameters", esc(&e.to_string())),
        }
    } else {
        row("Parameters", "shown to administrators only".into())
    };
    format!(
        "<section aria-labelledby=\"h-power\"><h2 id=\"h-power\">Power configuration</h2><table class=\"kv\">{}{body}</table></section>",
        row("Type", text(&m["power_type"]))
    )
}

async fn results(app: &App, u: &User, sid: &str) -> Result<String, crate::ApiError> {
    let (_, all) = app.region.machine_results(u, sid).await?;
    let mut out = String::from(
        "<section aria-labelledby=\"h-results\"><h2 id=\"h-results\">Commissioning and testing</h2>",
    );
    for set in ["commissioning", "testing"] {
        let mine: Vec<_> = all.iter().filter(|r| r.result_set == set).collect();
        out.push_str(&format!("<h3>{set}</h3>"));
        if mine.is_empty() {
            out.push_str("<p>No results.</p>");
            continue;
        }
        out.push_str("<table><thead><tr><th>Script</th><th>Status</th><th>Runtime</th><th>Exit</th><th>Output</th></tr></thead><tbody>");
        for r in mine {
            let status = ResultStatus::from_number(r.status)
                .map(|s| s.label())
                .unwrap_or("Unknown");
            let output = r
                .output
                .as_deref()
                .or(r.stdout.as_deref())
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            let failed = matches!(
                ResultStatus::from_number(r.status),
                Some(
                    ResultStatus::Failed | ResultStatus::Timedout | ResultStatus::FailedInstalling
                )
            );
            out.push_str(&format!(
                "<tr class=\"{}\" data-script=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                if failed { "failed" } else { "" },
                esc(&r.name),
                esc(&r.name),
                esc(status),
                esc(&crate::scripts::runtime(r)),
                r.exit_status.map(|x| x.to_string()).unwrap_or_default(),
                if output.is_empty() {
                    String::new()
                } else {
                    format!(
                        "<details><summary>output of {}</summary><pre>{}</pre></details>",
                        esc(&r.name),
                        esc(&output)
                    )
                }
            ));
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
    Ok(out)
}

async fn events(app: &App, r: &Req, sid: &str) -> Result<String, crate::ApiError> {
    let before = r.query.get("before").and_then(|b| b.parse::<i64>().ok());
    let evs = app
        .region
        .events(&[sid.to_string()], &[], before, None, EVENTS_PER_PAGE + 1)
        .await?;
    let more = evs.len() as i64 > EVENTS_PER_PAGE;
    let rows: String = evs
        .iter()
        .take(EVENTS_PER_PAGE as usize)
        .map(|e| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&crate::render::event_time(e.created)),
                esc(&e.level),
                esc(&e.kind),
                esc(&e.description)
            )
        })
        .collect();
    let older = match evs.get(EVENTS_PER_PAGE as usize - 1) {
        Some(last) if more => format!(
            "<p><a href=\"/MAAS/r/machine/{}?before={}\">Older events</a></p>",
            esc(sid),
            last.id
        ),
        _ => String::new(),
    };
    Ok(format!(
        "<section aria-labelledby=\"h-events\"><h2 id=\"h-events\">Events</h2><table><thead><tr><th>Time</th><th>Level</th><th>Type</th><th>Description</th></tr></thead><tbody>{rows}</tbody></table>{older}</section>"
    ))
}

async fn netboot(app: &App, u: &User, m: &Value) -> String {
    let mut out = String::from(
        "<section aria-labelledby=\"h-netboot\"><h2 id=\"h-netboot\">Netboot timeline</h2>",
    );
    let macs: Vec<String> = m["interface_set"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["type"] == "physical")
        .filter_map(|i| i["mac_address"].as_str().map(String::from))
        .collect();
    for mac in macs {
        out.push_str(&format!("<h3>{}</h3>", esc(&mac)));
        out.push_str(&timeline(app, u, &mac).await);
    }
    out.push_str("</section>");
    out
}

/// The last 50 hops of a MAC's network boots, oldest first, the failing ones marked.
pub(crate) async fn timeline(app: &App, u: &User, mac: &str) -> String {
    match app.region.netboot_timeline(u, Some(mac), Some(50)).await {
        Ok(hops) if hops.is_empty() => "<p>No netboot seen.</p>".to_string(),
        Ok(hops) => {
            let mut out = String::from("<ol class=\"timeline\">");
            for h in hops {
                let failed = ingot_core::boot::hop_failed(&h.kind, &h.detail);
                out.push_str(&format!(
                    "<li class=\"{}\">{}{} <b>{}</b> {}</li>",
                    if failed { "failed" } else { "" },
                    if failed { "✗ failed: " } else { "" },
                    esc(&crate::render::event_time(h.created)),
                    esc(&h.kind),
                    esc(&h.detail)
                ));
            }
            out.push_str("</ol>");
            out
        }
        Err(e) => format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            esc(&crate::ui::refusal(&e))
        ),
    }
}

/// The page's sections (what the live page fetches again).
pub(crate) async fn part(
    app: &App,
    r: &Req,
    u: &User,
    sid: &str,
) -> Result<String, crate::ApiError> {
    let mach = app.region.machine_for(u, sid).await?;
    sections(app, r, u, &mach).await
}

/// The sections of a machine already read.
async fn sections(
    app: &App,
    r: &Req,
    u: &User,
    mach: &ingot_region::model::Machine,
) -> Result<String, crate::ApiError> {
    let sid = mach.system_id.as_str();
    let net = crate::render::Net::for_machines(&app.region, std::slice::from_ref(mach)).await?;
    let m = crate::render::machine(mach, &net);
    Ok(format!(
        "{}{}{}{}{}{}{}{}",
        summary(&m),
        hardware(&m),
        storage(&m),
        network(&m),
        power(app, u, &m, sid).await,
        results(app, u, sid).await?,
        events(app, r, sid).await?,
        netboot(app, u, &m).await,
    ))
}

/// Description, zone and pool, changed as `PUT machines/{id}/` changes them (`data-api`: the
/// page's script sends the form to the API and shows its answer).
fn edit_form(m: &ingot_region::model::Machine, zones: &[String], pools: &[String]) -> String {
    format!(
        "<details class=\"edit\"><summary>Edit description, zone and pool</summary>\
         <form data-api=\"/MAAS/api/2.0/machines/{sid}/\" data-method=\"PUT\">\
         <label>Description <textarea name=\"description\" rows=\"2\">{desc}</textarea></label>\
         <p class=\"error\" data-error-for=\"description\" hidden></p>\
         <label>Zone <select name=\"zone\">{zones}</select></label><p class=\"error\" data-error-for=\"zone\" hidden></p>\
         <label>Pool <select name=\"pool\">{pools}</select></label><p class=\"error\" data-error-for=\"pool\" hidden></p>\
         <button type=\"submit\">Save</button> <span class=\"form-result\" role=\"status\"></span></form></details>",
        sid = esc(&m.system_id),
        desc = esc(&m.description),
        zones = name_options(zones, &m.zone),
        pools = name_options(pools, &m.pool),
    )
}

/// The whole page: header, action bar (allowed actions; the others disabled with why), the
/// sections.
pub(crate) async fn page(
    app: &App,
    r: &Req,
    u: &User,
    sid: &str,
) -> Result<(String, String), crate::ApiError> {
    let mach = app.region.machine_for(u, sid).await?;
    let sections = sections(app, r, u, &mach).await?;
    let label = |op: &'static str| -> &'static str {
        crate::ui_machines::ACTIONS
            .iter()
            .find(|(o, _)| *o == op)
            .map(|(_, l)| *l)
            .unwrap_or(op)
    };
    let mut options = String::new();
    for (a, why) in ingot_region::machine_actions(u, &mach) {
        let op = a.op();
        match why {
            None => options.push_str(&format!("<option value=\"{op}\">{}</option>", label(op))),
            Some(w) => options.push_str(&format!(
                "<option value=\"{op}\" disabled>{} (not now: {})</option>",
                label(op),
                esc(&w)
            )),
        }
    }
    for op in ["tag", "set_zone", "set_pool"] {
        options.push_str(&format!("<option value=\"{op}\">{}</option>", label(op)));
    }
    let (zones, pools) = crate::ui::zones_and_pools(app).await?;
    let params = crate::ui_machines::action_params(app, &zones, &pools).await?;
    let edit =
        edit_form(&mach, &zones, &pools) + &crate::ui_machine_change::forms(app, u, &mach).await?;
    let body = format!(
        "<form class=\"actions\" id=\"act\"><input type=\"checkbox\" class=\"pick\" value=\"{sid}\" data-hostname=\"{host}\" checked hidden>\
         <label>Action <select id=\"action\">{options}</select></label>{params}\
         <button type=\"button\" id=\"run\">Run</button> <span id=\"picked\"></span></form>\
         <ul id=\"results\" aria-live=\"polite\"></ul>\
         <p><a href=\"/MAAS/r/clone?source={sid}\">Clone onto other machines</a></p>{edit}\
         <div id=\"machines\" data-refresh=\"/MAAS/r/machine/{sid}/part\" data-machine=\"{sid}\">{sections}</div>\
         <script src=\"/MAAS/r/common.js\" defer></script><script src=\"/MAAS/r/app.js\" defer></script>",
        host = esc(&mach.hostname),
        sid = esc(sid),
    );
    Ok((mach.hostname, body))
}
