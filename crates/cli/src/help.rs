//! Help texts, shaped like the `maas` CLI's argparse output.

use crate::describe::{first_line, Action, Command, Description};
use crate::request::action_usage;

/// Remove the common indentation of the non-blank lines, and leading and
/// trailing blank lines (Python docstrings are indented).
pub fn dedent(doc: &str) -> String {
    let lines: Vec<&str> = doc.lines().map(str::trim_end).collect();
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let body: Vec<&str> = lines
        .iter()
        .map(|l| l.get(indent..).unwrap_or_else(|| l.trim_start()))
        .collect();
    let start = body
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(body.len());
    let end = body
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |i| i + 1);
    body.get(start..end).unwrap_or(&[]).join("\n")
}

fn table(rows: &[(String, String)]) -> String {
    let width = rows
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(0)
        + 2;
    let width = width.max(20);
    let mut out = String::new();
    for (name, text) in rows {
        if text.is_empty() {
            out.push_str(&format!("    {name}\n"));
        } else {
            out.push_str(&format!("    {name:<width$}{text}\n"));
        }
    }
    out
}

/// `ingot --help`.
pub fn top_usage(profiles: &[String]) -> String {
    let mut s = String::from(
        "usage: ingot [-h] COMMAND ...\n\n\
         Client commands:\n  \
           login PROFILE URL [APIKEY]   Log in to a remote API, and remember its description and credentials.\n  \
           logout PROFILE               Log out of a remote API, purging any stored credentials.\n  \
           list                         List remote APIs that have been logged-in to.\n  \
           refresh                      Refresh the API descriptions of all profiles.\n  \
           PROFILE COMMAND ACTION ...   Call the API of a logged-in profile (try 'ingot PROFILE --help').\n",
    );
    if profiles.is_empty() {
        s.push_str("\nNo profiles yet: log in with 'ingot login PROFILE URL [APIKEY]'.\n");
    } else {
        s.push_str(&format!("\nProfiles: {}\n", profiles.join(", ")));
    }
    s
}

/// `ingot login --help`.
pub fn login_usage() -> String {
    "usage: ingot login [-h] [--cacerts CACERTS] [-k] PROFILE URL [APIKEY]\n\n\
     Log in to a remote API, and remember its description and credentials.\n\n\
     positional arguments:\n  \
       PROFILE   The name with which you will later refer to this remote server and credentials\n            \
                 within this tool.\n  \
       URL       The URL of the remote API, e.g. http://example.com:5240/MAAS/ or\n            \
                 http://example.com:5240/MAAS/api/2.0/ if you wish to specify the API version.\n  \
       APIKEY    The credentials, also known as the API key, for the remote server, in the form\n            \
                 consumer_key:token_key:token_secret. These can be found in the user preferences\n            \
                 page in the web UI. Pass an empty string for anonymous access, or '-' (or omit it)\n            \
                 to read the key from standard input.\n\n\
     options:\n  \
       --cacerts CACERTS  Certificate CA file in PEM format: the server's certificate must be\n                     \
                          signed by one of its CAs (a copy is kept with the profile).\n  \
       -k, --insecure     Disable SSL certificate check.\n"
        .to_string()
}

/// `ingot logout --help`.
pub fn logout_usage() -> String {
    "usage: ingot logout [-h] PROFILE\n\nLog out of a remote API, purging any stored credentials.\n"
        .to_string()
}

/// `ingot list --help`.
pub fn list_usage() -> String {
    "usage: ingot list [-h]\n\nList remote APIs that have been logged-in to.\n".to_string()
}

/// `ingot refresh --help`.
pub fn refresh_usage() -> String {
    "usage: ingot refresh [-h]\n\nRefresh the API descriptions of all profiles.\n\n\
     This retrieves the latest version of the help information for each profile. Use it to\n\
     update the command-line interface with the latest commands the server supports.\n"
        .to_string()
}

/// `ingot PROFILE --help`.
pub fn profile_help(
    profile: &str,
    url: &str,
    description: &Description,
    commands: &[Command],
) -> String {
    let mut s = format!(
        "usage: ingot {profile} [-h] COMMAND ...\n\nIssue commands to the Ingot server at {url}.\n"
    );
    let doc = first_line(description.doc.as_deref());
    if !doc.is_empty() {
        s.push_str(&format!("\n{doc}\n"));
    }
    s.push_str("\ndrill down:\n  COMMAND\n");
    let rows: Vec<(String, String)> = commands
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                first_line(c.handler.doc.as_deref()).to_string(),
            )
        })
        .collect();
    s.push_str(&table(&rows));
    if commands.is_empty() {
        s.push_str("    (none: the server's description lists no commands for this profile)\n");
    }
    s
}

/// `ingot PROFILE HANDLER --help`.
pub fn handler_help(profile: &str, command: &Command) -> String {
    let mut s = format!("usage: ingot {profile} {} [-h] COMMAND ...\n", command.name);
    let doc = dedent(command.handler.doc.as_deref().unwrap_or(""));
    if !doc.is_empty() {
        s.push_str(&format!("\n{doc}\n"));
    }
    s.push_str("\ndrill down:\n  COMMAND\n");
    let mut rows: Vec<(String, String)> = command
        .handler
        .actions
        .iter()
        .map(|a| (a.command_name(), first_line(a.doc.as_deref()).to_string()))
        .collect();
    rows.sort();
    s.push_str(&table(&rows));
    s
}

/// `ingot PROFILE HANDLER ACTION --help`.
pub fn action_help(profile: &str, command: &Command, action: &Action) -> String {
    let mut s = format!("usage: {}\n", action_usage(profile, command, action));
    let doc = dedent(action.doc.as_deref().unwrap_or(""));
    if !doc.is_empty() {
        s.push_str(&format!("\n{doc}\n"));
    }
    if !command.handler.params.is_empty() {
        s.push_str("\nPositional arguments:\n");
        for p in &command.handler.params {
            s.push_str(&format!("  {p}\n"));
        }
    }
    let path = command
        .handler
        .path
        .as_deref()
        .or(command.handler.uri.as_deref())
        .unwrap_or("");
    let op = action
        .op
        .as_deref()
        .map(|op| format!("?op={op}"))
        .unwrap_or_default();
    s.push_str(&format!(
        "\nHTTP: {} {path}{op}\n",
        action.method.to_ascii_uppercase()
    ));
    s.push_str(
        "\nThis method accepts keyword arguments. Pass each argument as a key-value pair with an\n\
         equals sign between the key and the value: key1=value1 key2=value2. Use key@=path to\n\
         send the contents of a file. Keyword arguments must come after any positional arguments.\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedent_docstrings() {
        assert_eq!(
            dedent("\n    Deploy a machine.\n\n      Indented.\n    End.\n  "),
            "Deploy a machine.\n\n  Indented.\nEnd."
        );
        assert_eq!(dedent("One line."), "One line.");
        assert_eq!(dedent(""), "");
        assert_eq!(dedent("  \n \n"), "");
    }
}
