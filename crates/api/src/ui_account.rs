//! The UI's account page (`/MAAS/r/account`: your API keys — create, copy, delete — and your
//! SSH keys) and, for administrators, the users page (`/MAAS/r/users`: list, create, delete).
//! Read from the same region operations as the API; changed through the API's own forms.

use crate::ui::esc;
use crate::ui_forms::{api_form, check, delete, field, section, segment, table, SCRIPTS};
use crate::App;
use ingot_region::model::User;

/// `/MAAS/r/account`.
pub(crate) async fn account(app: &App, u: &User) -> Result<String, crate::ApiError> {
    let keys: Vec<Vec<String>> = app
        .region
        .user_tokens(u)
        .await?
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let key = format!("{}:{}:{}", t.consumer_key, t.token_key, t.token_secret);
            vec![
                esc(&t.name),
                format!(
                    "<code id=\"key-{i}\">{}</code> <button type=\"button\" data-copy=\"key-{i}\" aria-label=\"Copy the key {}\">Copy</button>",
                    esc(&key),
                    esc(&t.name)
                ),
                api_form(
                    "/MAAS/api/2.0/account/?op=delete_authorisation_token",
                    "POST",
                    "inline",
                    &format!(
                        "<input type=\"hidden\" name=\"token_key\" value=\"{}\">",
                        esc(&t.token_key)
                    ),
                    &format!("Delete the key {}", t.name),
                ),
            ]
        })
        .collect();
    let ssh: Vec<Vec<String>> = app
        .region
        .sshkeys(u)
        .await?
        .into_iter()
        .map(|(id, key)| {
            let short: String = key.split_whitespace().skip(2).collect::<Vec<_>>().join(" ");
            vec![
                format!("<code class=\"key\">{}</code>", esc(&key)),
                delete(
                    &format!("/MAAS/api/2.0/account/prefs/sshkeys/{id}/"),
                    &format!(
                        "SSH key {}",
                        if short.is_empty() {
                            id.to_string()
                        } else {
                            short
                        }
                    ),
                ),
            ]
        })
        .collect();
    let out = section(
        "keys",
        "API keys",
        &(table(&["Name", "Key", ""], &keys, "No API keys.")
            + &api_form(
                "/MAAS/api/2.0/account/?op=create_authorisation_token",
                "POST",
                "stacked",
                &field("Name of the new key", "name", "", "text"),
                "Create API key",
            )),
    ) + &section(
        "ssh",
        "SSH keys",
        &(table(
            &["Key", ""],
            &ssh,
            "No SSH keys: deployed machines get none of yours.",
        ) + &api_form(
            "/MAAS/api/2.0/account/prefs/sshkeys/",
            "POST",
            "stacked",
            &field(
                "Public key (ssh-ed25519 …, ssh-rsa …)",
                "key",
                "",
                "textarea",
            ),
            "Add SSH key",
        )),
    );
    Ok(format!("<main class=\"admin\">{out}</main>{SCRIPTS}"))
}

/// `/MAAS/r/users` (administrators; others are told the page is not theirs).
pub(crate) async fn users(app: &App, u: &User) -> Result<String, crate::ApiError> {
    if !u.is_admin {
        return Ok(
            "<main class=\"admin\"><p role=\"alert\">Only administrators manage users.</p></main>"
                .to_string(),
        );
    }
    let rows: Vec<Vec<String>> = app
        .region
        .list_users()
        .await?
        .into_iter()
        .filter(|x| !x.is_system)
        .map(|x| {
            let item = format!("/MAAS/api/2.0/users/{}/", segment(&x.username));
            vec![
                esc(&x.username),
                esc(&x.email),
                if x.is_admin { "Administrator" } else { "User" }.to_string(),
                if x.id == u.id {
                    "<small>you</small>".to_string()
                } else {
                    api_form(
                        &item,
                        "PUT",
                        "inline",
                        &format!(
                            "<input type=\"hidden\" name=\"is_superuser\" value=\"{}\">",
                            !x.is_admin
                        ),
                        &if x.is_admin {
                            format!("Make {} a user", x.username)
                        } else {
                            format!("Make {} an administrator", x.username)
                        },
                    ) + &delete(&item, &format!("user {}", x.username))
                },
            ]
        })
        .collect();
    let out = section(
        "list",
        "Users",
        &table(&["Username", "Email", "Role", ""], &rows, "No users."),
    ) + &section(
        "add",
        "Add a user",
        &api_form(
            "/MAAS/api/2.0/users/",
            "POST",
            "stacked",
            &(field("Username", "username", "", "text")
                + &field("Email", "email", "", "email")
                + &field("Password", "password", "", "password")
                + &check("Administrator", "is_superuser", false)),
            "Add user",
        ),
    );
    Ok(format!("<main class=\"admin\">{out}</main>{SCRIPTS}"))
}
