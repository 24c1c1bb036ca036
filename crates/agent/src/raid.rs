//! RAID at deployment: `mdadm --create` for each `StorageStep::Raid` (metadata 1.2, the
//! array's name and the machine's host name in its superblock, so the installed system
//! assembles it as `/dev/md/NAME`), the `ARRAY` lines for the installed system's
//! `/etc/mdadm/mdadm.conf`, and `mdadm --stop` before the reboot. The ephemeral environment
//! has no udev: arrays are created on the first free `/dev/mdN`.

use std::path::{Path, PathBuf};

use ingot_core::deploy::RaidLevel;

use crate::deploy::{ensure_node, tool, Env};

/// An array made for the installed system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Array {
    pub node: PathBuf,
    pub name: String,
    /// `mdadm --detail --brief` of the array, naming it `/dev/md/NAME`.
    pub conf_line: String,
}

/// The first `mdN` the kernel does not have.
fn free_md(env: &Env) -> String {
    (0..)
        .map(|n| format!("md{n}"))
        .find(|n| !env.sys.join("class/block").join(n).exists() && !env.dev.join(n).exists())
        .unwrap_or_else(|| "md127".into())
}

/// The `mdadm --create` arguments.
pub fn create_args(
    node: &Path,
    name: &str,
    homehost: &str,
    level: RaidLevel,
    devices: &[String],
    spares: &[String],
) -> Vec<String> {
    let mut a = vec![
        "--create".to_string(),
        node.display().to_string(),
        "--run".into(),
        "--metadata=1.2".into(),
        format!("--level={}", level.mdadm()),
        format!("--raid-devices={}", devices.len()),
        format!("--name={name}"),
        format!("--homehost={homehost}"),
    ];
    if !spares.is_empty() {
        a.push(format!("--spare-devices={}", spares.len()));
    }
    a.extend(devices.iter().cloned());
    a.extend(spares.iter().cloned());
    a
}

/// `mdadm --detail --brief`'s `ARRAY /dev/mdN …` line, naming the array as the installed
/// system will (`/dev/md/NAME`).
pub fn conf_line(brief: &str, name: &str) -> Option<String> {
    let line = brief.lines().find(|l| l.starts_with("ARRAY "))?;
    let mut words: Vec<String> = line.split_whitespace().map(String::from).collect();
    if words.len() < 2 {
        return None;
    }
    words[1] = format!("/dev/md/{name}");
    Some(words.join(" "))
}

/// The installed system's `mdadm.conf`: what the image had, without `ARRAY` lines for these
/// arrays' names, then one line per array.
pub fn mdadm_conf(existing: &str, arrays: &[Array]) -> String {
    let mut out: String = existing
        .lines()
        .filter(|l| {
            !arrays
                .iter()
                .any(|a| l.starts_with(&format!("ARRAY /dev/md/{} ", a.name)))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    out.push_str("# RAID arrays made at deployment (Ingot)\n");
    for a in arrays {
        out.push_str(&a.conf_line);
        out.push('\n');
    }
    out
}

/// Creates one array over `devices` (active) and `spares` (device paths).
pub fn create(
    env: &Env,
    name: &str,
    homehost: &str,
    level: RaidLevel,
    devices: &[String],
    spares: &[String],
) -> Result<Array, String> {
    // Old superblocks (an earlier deployment's arrays) would make mdadm ask; none is fine.
    for d in devices.iter().chain(spares) {
        let _ = tool("mdadm", &["--zero-superblock", "--force", d]);
    }
    let md = free_md(env);
    let node = env.dev.join(&md);
    let args = create_args(&node, name, homehost, level, devices, spares);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tool("mdadm", &args).map_err(|e| format!("RAID {name}: {e}"))?;
    let node = ensure_node(env, &md).map_err(|e| format!("RAID {name}: {e}"))?;
    let brief = tool(
        "mdadm",
        &["--detail", "--brief", &node.display().to_string()],
    )
    .map_err(|e| format!("RAID {name}: {e}"))?;
    let conf_line = conf_line(&brief, name)
        .ok_or_else(|| format!("RAID {name}: mdadm --detail --brief said {brief:?}"))?;
    Ok(Array {
        node,
        name: name.to_string(),
        conf_line,
    })
}

/// Whether the installed system has mdadm to assemble its arrays.
pub fn target_has_mdadm(target: &Path) -> bool {
    ["usr/sbin/mdadm", "sbin/mdadm"]
        .iter()
        .any(|p| target.join(p).exists())
}

/// Stops an array (before the reboot).
pub fn stop(a: &Array) -> Result<(), String> {
    tool("mdadm", &["--stop", &a.node.display().to_string()]).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_args_name_level_members_and_spares() {
        let a = create_args(
            Path::new("/dev/md0"),
            "mirror",
            "web1",
            RaidLevel::Raid1,
            &["/dev/vdb".into(), "/dev/vdc".into()],
            &["/dev/vdd".into()],
        );
        assert_eq!(
            a.join(" "),
            "--create /dev/md0 --run --metadata=1.2 --level=1 --raid-devices=2 --name=mirror --homehost=web1 --spare-devices=1 /dev/vdb /dev/vdc /dev/vdd"
        );
        let a = create_args(
            Path::new("/dev/md1"),
            "r10",
            "h",
            RaidLevel::Raid10,
            &["a".into(), "b".into(), "c".into()],
            &[],
        );
        assert!(a.contains(&"--level=10".to_string()));
        assert!(!a.iter().any(|x| x.starts_with("--spare-devices")));
    }

    #[test]
    fn conf_lines_name_the_array_as_installed() {
        let brief = "ARRAY /dev/md0 metadata=1.2 name=web1:mirror UUID=3aaa0122:29827cfa:5331ad66:ca767371\n";
        assert_eq!(
            conf_line(brief, "mirror").unwrap(),
            "ARRAY /dev/md/mirror metadata=1.2 name=web1:mirror UUID=3aaa0122:29827cfa:5331ad66:ca767371"
        );
        assert_eq!(conf_line("mdadm: nothing\n", "x"), None);
        let arrays = vec![Array {
            node: "/dev/md0".into(),
            name: "mirror".into(),
            conf_line: conf_line(brief, "mirror").unwrap(),
        }];
        let image = "HOMEHOST <system>\nMAILADDR root\nARRAY /dev/md/mirror UUID=old\n";
        let conf = mdadm_conf(image, &arrays);
        assert_eq!(
            conf,
            "HOMEHOST <system>\nMAILADDR root\n\n# RAID arrays made at deployment (Ingot)\nARRAY /dev/md/mirror metadata=1.2 name=web1:mirror UUID=3aaa0122:29827cfa:5331ad66:ca767371\n"
        );
        assert!(mdadm_conf("", &arrays).starts_with("# RAID arrays"));
    }
}
