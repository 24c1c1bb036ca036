//! `network-link`: the carrier of every physical interface. Fails when the boot interface
//! (BOOTIF, else ingot.mac) has no link, or is not there at all; other interfaces without a
//! cable are reported, not failed (unused ports are normal).

use serde_json::json;

use super::{Ctx, Done, Out};

/// `Some(true|false)` from `carrier`; None when the kernel cannot say (interface down).
fn carrier(ctx: &Ctx, name: &str) -> Option<bool> {
    let c =
        std::fs::read_to_string(ctx.roots.sys.join("class/net").join(name).join("carrier")).ok()?;
    match c.trim() {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    }
}

pub fn run(ctx: &Ctx, out: &mut Out) -> Done {
    let nics = crate::inventory::physical_nics(&ctx.roots.sys);
    if nics.is_empty() {
        return Done::skipped("no physical network interface", out);
    }
    let boot = ctx.boot_mac.as_deref();
    let mut list = Vec::new();
    let mut boot_ok = None;
    for n in &nics {
        let c = carrier(ctx, &n.name);
        let is_boot = boot == Some(n.mac.as_str());
        let state = match c {
            Some(true) => "link",
            Some(false) => "no link",
            None => "unknown (interface down)",
        };
        out.line(format!(
            "{} {}: {state}{}",
            n.name,
            n.mac,
            if is_boot { " (boot interface)" } else { "" }
        ));
        if is_boot {
            boot_ok = Some(c == Some(true));
        }
        list.push(json!({"name": n.name, "mac": n.mac, "link_connected": c, "boot": is_boot}));
    }
    let (exit, verdict) = match (boot, boot_ok) {
        (Some(_), Some(true)) => (0, "the boot interface has link".to_string()),
        (Some(b), Some(false)) => {
            out.eline(format!("the boot interface {b} has no link"));
            (1, format!("the boot interface {b} has no link"))
        }
        (Some(b), None) => {
            out.eline(format!(
                "the boot interface {b} is not among this machine's interfaces"
            ));
            (1, format!("the boot interface {b} was not found"))
        }
        (None, _) => (
            0,
            "no boot interface named (no BOOTIF): links reported".to_string(),
        ),
    };
    out.line(&verdict);
    Done::with(exit, json!({"interfaces": list, "verdict": verdict}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::tests::fake_nic;

    fn setup(dir: &std::path::Path) -> Ctx {
        let sys = dir.join("sys");
        fake_nic(&sys, "eth0", "52:54:00:aa:bb:cc", true);
        fake_nic(&sys, "eth1", "52:54:00:00:00:02", true);
        std::fs::write(sys.join("class/net/eth0/carrier"), "1\n").unwrap();
        std::fs::write(sys.join("class/net/eth1/carrier"), "0\n").unwrap();
        super::super::info::tests::ctx(dir)
    }

    #[test]
    fn boot_interface_with_link_passes_others_are_reported() {
        let t = tempfile::tempdir().unwrap();
        let ctx = setup(t.path());
        let mut o = Out::default();
        let d = run(&ctx, &mut o);
        assert_eq!(d.exit, 0, "{}", o.out);
        assert!(o
            .out
            .contains("eth0 52:54:00:aa:bb:cc: link (boot interface)"));
        assert!(o.out.contains("eth1 52:54:00:00:00:02: no link"));
        assert_eq!(d.result.unwrap()["interfaces"][1]["link_connected"], false);
    }

    #[test]
    fn boot_interface_without_link_or_missing_fails() {
        let t = tempfile::tempdir().unwrap();
        let mut ctx = setup(t.path());
        ctx.boot_mac = Some("52:54:00:00:00:02".into());
        assert_eq!(run(&ctx, &mut Out::default()).exit, 1);
        ctx.boot_mac = Some("52:54:00:ff:ff:ff".into());
        assert_eq!(run(&ctx, &mut Out::default()).exit, 1);
        ctx.boot_mac = None;
        assert_eq!(run(&ctx, &mut Out::default()).exit, 0);
        let empty = tempfile::tempdir().unwrap();
        let d = run(
            &super::super::info::tests::ctx(empty.path()),
            &mut Out::default(),
        );
        assert_eq!(d.result.unwrap()["status"], "skipped");
    }
}
