//! The UI's settings page (`/MAAS/r/settings`): every setting the API's `get_config` and
//! `set_config` know (the core's table, in its order: the common ones — node timeout, default
//! OS, unknown machines, concurrent deployments, erasing on release, storage layout — first),
//! each with its value in effect and, for administrators, a form that sends
//! `maas/?op=set_config` so that a refusal reads as the API's.

use crate::ui::{esc, options};
use crate::ui_forms::{api_form, section, table, SCRIPTS};
use crate::App;
use ingot_core::settings::{Kind, Value};
use ingot_region::model::User;

/// How many of the table's first settings are the common ones.
const COMMON: usize = 9;

/// A setting's value as a person reads it.
fn shown(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Int(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Text(s) => s.clone(),
        Value::List(a) => a.join(" "),
    }
}

/// The input for a setting's new value: a choice where the setting has choices.
fn input(name: &str, kind: Kind, value: &str) -> String {
    let select = |opts: String| format!("<select name=\"value\">{opts}</select>");
    let control = match kind {
        Kind::Bool(_) => select(options([("true", "true"), ("false", "false")], value)),
        Kind::IntChoice(choices, _) => {
            let texts: Vec<String> = choices.iter().map(|c| c.to_string()).collect();
            select(options(
                texts.iter().map(|t| (t.as_str(), t.as_str())),
                value,
            ))
        }
        Kind::OneOf(choices, _, _) => select(options(
            choices
                .iter()
                .map(|c| (*c, if c.is_empty() { "(none)" } else { c })),
            value,
        )),
        _ => format!("<input name=\"value\" value=\"{}\">", esc(value)),
    };
    format!("<label><span class=\"vh\">New value of {name}</span>{control}</label>")
}

pub(crate) async fn page(app: &App, u: &User) -> Result<String, crate::ApiError> {
    let mut rows = Vec::new();
    for (s, value) in app.region.all_configs().await? {
        let value = shown(&value);
        let mut row = vec![format!("<code>{}</code>", s.name), esc(&value)];
        if u.is_admin {
            row.push(api_form(
                "/MAAS/api/2.0/maas/?op=set_config",
                "POST",
                "inline",
                &format!(
                    "<input type=\"hidden\" name=\"name\" value=\"{}\">{}\
                     <p class=\"error\" data-error-for=\"value\" role=\"alert\" hidden></p>\
                     <p class=\"error\" data-error-for=\"name\" role=\"alert\" hidden></p>",
                    s.name,
                    input(s.name, s.kind, &value)
                ),
                &format!("Set {}", s.name),
            ));
        }
        rows.push(row);
    }
    let heads: &[&str] = if u.is_admin {
        &["Setting", "Value", "Change"]
    } else {
        &["Setting", "Value"]
    };
    let rest = rows.split_off(COMMON.min(rows.len()));
    let out = section("common", "Common settings", &table(heads, &rows, ""))
        + &section("all", "Every other setting", &table(heads, &rest, ""));
    Ok(format!(
        "<main class=\"admin settings\">{out}</main>{SCRIPTS}"
    ))
}
