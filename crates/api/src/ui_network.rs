//! The UI's network pages: `/MAAS/r/network` (fabrics, VLANs with DHCP on or off, subnets, IP
//! ranges — listed from the region, created, changed and deleted through the API's own forms)
//! and `/MAAS/r/subnet/{id}` (the subnet, the addresses in use — static, dynamic, reserved —
//! with what holds them, and the netboot timeline of any MAC typed in).

use crate::ui::{esc, options};
use crate::ui_forms::{api_form, delete, field, section, table, SCRIPTS};
use crate::{App, Req};
use ingot_region::model::network::{Subnet, Vlan};
use ingot_region::model::User;

/// A VLAN as a person names it.
fn vlan_name(v: &Vlan) -> String {
    if v.vid == 0 {
        format!("{} untagged", v.fabric)
    } else {
        format!("{} VLAN {}", v.fabric, v.vid)
    }
}

/// A select of the VLANs by id (the API's `vlan`).
fn vlan_select(vlans: &[Vlan]) -> String {
    let names: Vec<(String, String)> = vlans
        .iter()
        .map(|v| (v.id.to_string(), vlan_name(v)))
        .collect();
    format!(
        "<label>VLAN <select name=\"vlan\">{}</select></label><p class=\"error\" data-error-for=\"vlan\" role=\"alert\" hidden></p>",
        options(names.iter().map(|(a, b)| (a.as_str(), b.as_str())), "")
    )
}

fn subnet_link(s: &Subnet) -> String {
    format!("<a href=\"/MAAS/r/subnet/{}\">{}</a>", s.id, esc(&s.cidr))
}

/// The DHCP cell of a VLAN: its state and, for administrators, the switch.
fn dhcp_cell(v: &Vlan, admin: bool) -> String {
    let state = if v.dhcp_on { "on" } else { "off" };
    if !admin {
        return state.to_string();
    }
    let to = !v.dhcp_on;
    format!(
        "{state} {}",
        api_form(
            &format!("/MAAS/api/2.0/fabrics/{}/vlans/{}/", v.fabric_id, v.vid),
            "PUT",
            "inline",
            &format!("<input type=\"hidden\" name=\"dhcp_on\" value=\"{to}\">"),
            &format!(
                "Turn DHCP {} on {}",
                if to { "on" } else { "off" },
                vlan_name(v)
            ),
        )
    )
}

/// `/MAAS/r/network`.
pub(crate) async fn page(app: &App, u: &User) -> Result<String, crate::ApiError> {
    let admin = u.is_admin;
    let fabrics = app.region.fabrics().await?;
    let vlans = app.region.vlans(None).await?;
    let subnets = app.region.subnets().await?;
    let ranges = app.region.ipranges().await?;
    let with_change = |mut heads: Vec<&'static str>| {
        if admin {
            heads.push("Change");
        }
        heads
    };

    let fabric_rows: Vec<Vec<String>> = fabrics
        .iter()
        .map(|f| {
            let mut row = vec![
                esc(&f.name),
                vlans
                    .iter()
                    .filter(|v| v.fabric_id == f.id)
                    .count()
                    .to_string(),
            ];
            if admin {
                row.push(delete(
                    &format!("/MAAS/api/2.0/fabrics/{}/", f.id),
                    &format!("fabric {}", f.name),
                ));
            }
            row
        })
        .collect();
    let mut out = section(
        "fabrics",
        "Fabrics",
        &table(
            &with_change(vec!["Name", "VLANs"]),
            &fabric_rows,
            "No fabrics.",
        ),
    );

    let vlan_rows: Vec<Vec<String>> = vlans
        .iter()
        .map(|v| {
            let on: Vec<String> = subnets
                .iter()
                .filter(|s| s.vlan_id == v.id)
                .map(subnet_link)
                .collect();
            vec![
                esc(&v.fabric),
                v.vid.to_string(),
                esc(&v.name),
                v.mtu.to_string(),
                on.join(", "),
                dhcp_cell(v, admin),
            ]
        })
        .collect();
    out.push_str(&section(
        "vlans",
        "VLANs",
        &table(
            &["Fabric", "VID", "Name", "MTU", "Subnets", "DHCP"],
            &vlan_rows,
            "No VLANs.",
        ),
    ));

    let subnet_rows: Vec<Vec<String>> = subnets
        .iter()
        .map(|s| {
            let vlan = vlans
                .iter()
                .find(|v| v.id == s.vlan_id)
                .map(vlan_name)
                .unwrap_or_default();
            let mut row = vec![
                subnet_link(s),
                esc(&s.name),
                esc(&vlan),
                esc(s.gateway_ip.as_deref().unwrap_or("")),
                esc(&s.dns_servers.join(" ")),
                if s.managed { "managed" } else { "unmanaged" }.to_string(),
            ];
            if admin {
                row.push(delete(
                    &format!("/MAAS/api/2.0/subnets/{}/", s.id),
                    &format!("subnet {}", s.cidr),
                ));
            }
            row
        })
        .collect();
    out.push_str(&section(
        "subnets",
        "Subnets",
        &table(
            &with_change(vec![
                "CIDR",
                "Name",
                "VLAN",
                "Gateway",
                "DNS servers",
                "Addresses",
            ]),
            &subnet_rows,
            "No subnets.",
        ),
    ));

    let range_rows: Vec<Vec<String>> = ranges
        .iter()
        .map(|r| {
            let cidr = subnets
                .iter()
                .find(|s| s.id == r.subnet_id)
                .map(|s| s.cidr.as_str())
                .unwrap_or("");
            let mut row = vec![
                esc(cidr),
                esc(&r.kind),
                esc(&r.start_ip),
                esc(&r.end_ip),
                esc(&r.comment),
            ];
            if admin {
                row.push(delete(
                    &format!("/MAAS/api/2.0/ipranges/{}/", r.id),
                    &format!("range {}-{}", r.start_ip, r.end_ip),
                ));
            }
            row
        })
        .collect();
    out.push_str(&section(
        "ranges",
        "IP ranges",
        &table(
            &with_change(vec!["Subnet", "Type", "Start", "End", "Comment"]),
            &range_rows,
            "No IP ranges.",
        ),
    ));

    if admin {
        out.push_str(&section(
            "add-fabric",
            "Add a fabric",
            &api_form(
                "/MAAS/api/2.0/fabrics/",
                "POST",
                "stacked",
                &field("Name", "name", "", "text"),
                "Add fabric",
            ),
        ));
        out.push_str(&section(
            "add-subnet",
            "Add a subnet",
            &api_form(
                "/MAAS/api/2.0/subnets/",
                "POST",
                "stacked",
                &(field("CIDR", "cidr", "", "text")
                    + &field("Name", "name", "", "text")
                    + &vlan_select(&vlans)
                    + &field("Gateway", "gateway_ip", "", "text")
                    + &field("DNS servers (space-separated)", "dns_servers", "", "text")),
                "Add subnet",
            ),
        ));
        let subnet_opts: Vec<(String, String)> = subnets
            .iter()
            .map(|s| (s.id.to_string(), s.cidr.clone()))
            .collect();
        out.push_str(&section(
            "add-range",
            "Add an IP range",
            &api_form(
                "/MAAS/api/2.0/ipranges/",
                "POST",
                "stacked",
                &format!(
                    "<label>Type <select name=\"type\">{}</select></label>\
                     <label>Subnet <select name=\"subnet\">{}</select></label>\
                     <p class=\"error\" data-error-for=\"subnet\" role=\"alert\" hidden></p>{}{}{}",
                    options(
                        [
                            ("dynamic", "dynamic (DHCP hands these out)"),
                            ("reserved", "reserved (never handed out)")
                        ],
                        "dynamic"
                    ),
                    options(
                        subnet_opts.iter().map(|(a, b)| (a.as_str(), b.as_str())),
                        ""
                    ),
                    field("Start address", "start_ip", "", "text"),
                    field("End address", "end_ip", "", "text"),
                    field("Comment", "comment", "", "text"),
                ),
                "Add IP range",
            ),
        ));
    }
    Ok(format!("<main class=\"admin\">{out}</main>{SCRIPTS}"))
}

/// MAAS's names of the kinds of address (IPADDRESS_TYPE).
fn alloc_name(t: i64) -> &'static str {
    match t {
        0 => "automatic",
        1 => "sticky (static)",
        4 => "reserved by a user",
        5 => "DHCP lease",
        6 => "discovered",
        _ => "other",
    }
}

/// `/MAAS/r/subnet/{id}`: (title, body).
pub(crate) async fn subnet_page(
    app: &App,
    r: &Req,
    u: &User,
    id: &str,
) -> Result<(String, String), crate::ApiError> {
    let s = app.region.subnet(id).await?;
    let spans = app.region.subnet_reserved_ranges(&s).await?;
    let holders = app.region.subnet_addresses(&s).await?;
    let summary = table(
        &[
            "Name",
            "CIDR",
            "Gateway",
            "DNS servers",
            "Managed",
            "Description",
        ],
        &[vec![
            esc(&s.name),
            esc(&s.cidr),
            esc(s.gateway_ip.as_deref().unwrap_or("")),
            esc(&s.dns_servers.join(" ")),
            if s.managed { "yes" } else { "no" }.to_string(),
            esc(&s.description),
        ]],
        "",
    );
    let edit = if u.is_admin {
        format!(
            "<details class=\"edit\"><summary>Edit subnet {}</summary>{}</details>",
            esc(&s.cidr),
            api_form(
                &format!("/MAAS/api/2.0/subnets/{}/", s.id),
                "PUT",
                "stacked",
                &(field("Name", "name", &s.name, "text")
                    + &field(
                        "Gateway",
                        "gateway_ip",
                        s.gateway_ip.as_deref().unwrap_or(""),
                        "text"
                    )
                    + &field(
                        "DNS servers (space-separated)",
                        "dns_servers",
                        &s.dns_servers.join(" "),
                        "text"
                    )
                    + &field("Description", "description", &s.description, "text")),
                "Save"
            )
        )
    } else {
        String::new()
    };
    let span_rows: Vec<Vec<String>> = spans
        .iter()
        .map(|sp| {
            vec![
                esc(&sp.start.to_string()),
                esc(&sp.end.to_string()),
                sp.num_addresses.to_string(),
                esc(&sp.purpose.join(", ")),
            ]
        })
        .collect();
    let holder_rows: Vec<Vec<String>> = holders
        .iter()
        .map(|h| {
            vec![
                esc(&h.ip),
                alloc_name(h.alloc_type).to_string(),
                h.node
                    .as_ref()
                    .map(|n| {
                        format!(
                            "<a href=\"/MAAS/r/machine/{0}\">{1}</a> <small>{0}</small>",
                            esc(&n.system_id),
                            esc(&n.hostname)
                        )
                    })
                    .unwrap_or_default(),
                esc(h.username.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    let mac = r.query.get("mac").unwrap_or_default().trim().to_string();
    let timeline = if mac.is_empty() {
        String::new()
    } else {
        format!(
            "<h3>{}</h3>{}",
            esc(&mac),
            crate::ui_machine::timeline(app, u, &mac).await
        )
    };
    let body = format!(
        "<main class=\"admin\">{}{}{}{}</main>{SCRIPTS}",
        section("subnet", "Subnet", &(summary + &edit)),
        section(
            "in-use",
            "Addresses in use",
            &table(
                &["From", "To", "Addresses", "Held for"],
                &span_rows,
                "No address of this subnet is in use."
            )
        ),
        section(
            "assigned",
            "Assigned addresses",
            &table(
                &["Address", "Kind", "Machine", "User"],
                &holder_rows,
                "No address of this subnet is assigned."
            )
        ),
        section(
            "netboot",
            "Netboot timeline of a MAC",
            &format!(
                "<form method=\"get\" action=\"/MAAS/r/subnet/{}\" class=\"search\">\
                 <label>MAC address <input name=\"mac\" value=\"{}\" placeholder=\"52:54:00:…\"></label>\
                 <button type=\"submit\">Show timeline</button></form>{timeline}",
                s.id,
                esc(&mac)
            )
        ),
    );
    Ok((format!("Subnet {}", s.cidr), body))
}
