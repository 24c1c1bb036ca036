//! The machine page's forms that change its configuration, outside the live sections so that
//! a refresh never drops what is being typed: the storage layout
//! (`op=set_storage_layout`), a subnet linked to an interface (`interfaces/{id}/?op=link_subnet`,
//! the interface chosen in the form fills the path), and, for the machine's owner, its own
//! credentials (shown with `op=get_token`, replaced with `op=regenerate_token`).

use crate::ui::{esc, options};
use crate::ui_forms::{api_form, field};
use crate::App;
use ingot_region::model::{Machine, User};

/// The storage layouts `set_storage_layout` takes: (value, label).
const LAYOUTS: &[(&str, &str)] = &[
    ("flat", "flat: one root partition"),
    ("lvm", "lvm: root on a logical volume"),
    ("bcache", "bcache: the root disk cached on an SSD"),
    ("blank", "blank: nothing, to configure by hand"),
];

fn storage_layout(sid: &str) -> String {
    format!(
        "<details class=\"edit\"><summary>Change the storage layout</summary>{}</details>",
        api_form(
            &format!("/MAAS/api/2.0/machines/{sid}/?op=set_storage_layout"),
            "POST",
            "stacked",
            &format!(
                "<label>Layout <select name=\"storage_layout\">{}</select></label>\
                 <p class=\"error\" data-error-for=\"storage_layout\" role=\"alert\" hidden></p>",
                options(LAYOUTS.iter().copied(), "flat")
            ),
            "Apply the layout",
        )
    )
}

async fn link_subnet(app: &App, m: &Machine) -> Result<String, crate::ApiError> {
    let ifaces: Vec<(String, String)> = m
        .interfaces
        .iter()
        .map(|i| (i.id.to_string(), format!("{} ({})", i.name, i.mac_address)))
        .collect();
    let subnets: Vec<(String, String)> = app
        .region
        .subnets()
        .await?
        .into_iter()
        .map(|s| (s.id.to_string(), s.cidr))
        .collect();
    if ifaces.is_empty() || subnets.is_empty() {
        return Ok(String::new());
    }
    Ok(format!(
        "<details class=\"edit\"><summary>Link a subnet</summary>{}</details>",
        api_form(
            &format!(
                "/MAAS/api/2.0/nodes/{}/interfaces/{{interface}}/?op=link_subnet",
                m.system_id
            ),
            "POST",
            "stacked",
            &format!(
                "<label>Interface <select name=\"interface\">{}</select></label>\
                 <label>Subnet <select name=\"subnet\">{}</select></label>\
                 <p class=\"error\" data-error-for=\"subnet\" role=\"alert\" hidden></p>\
                 <label>Mode <select name=\"mode\">{}</select></label>\
                 <p class=\"error\" data-error-for=\"mode\" role=\"alert\" hidden></p>{}",
                options(ifaces.iter().map(|(a, b)| (a.as_str(), b.as_str())), ""),
                options(subnets.iter().map(|(a, b)| (a.as_str(), b.as_str())), ""),
                options(
                    [
                        ("AUTO", "AUTO: an address from the subnet at deployment"),
                        ("STATIC", "STATIC: the address given below"),
                        ("DHCP", "DHCP"),
                        ("LINK_UP", "LINK_UP: up, no address"),
                    ],
                    "AUTO"
                ),
                field("IP address (STATIC only)", "ip_address", "", "text"),
            ),
            "Link the subnet",
        )
    ))
}

/// The machine's own credentials: only its owner sees the buttons.
fn credentials(m: &Machine, u: &User) -> String {
    if m.owner.as_deref() != Some(u.username.as_str()) {
        return String::new();
    }
    let sid = esc(&m.system_id);
    format!(
        "<details class=\"edit\" id=\"credentials\" data-machine=\"{sid}\"><summary>Machine credentials</summary>\
         <p>They let this machine, and nothing else, read its metadata and report its results.</p>\
         <button type=\"button\" data-token=\"get\">Show the credentials</button> \
         <button type=\"button\" data-token=\"regenerate\">Regenerate the credentials</button>\
         <pre id=\"token\" aria-live=\"polite\"></pre></details>"
    )
}

/// Every change form of the page.
pub(crate) async fn forms(app: &App, u: &User, m: &Machine) -> Result<String, crate::ApiError> {
    Ok(format!(
        "{}{}{}",
        storage_layout(&esc(&m.system_id)),
        link_subnet(app, m).await?,
        credentials(m, u)
    ))
}
