//! Any datagram into the DHCP engine (both modes, with a reservation and a boot config): it
//! must never panic, and whatever it answers must parse back as DHCP.
#![no_main]
use ingot_dhcp::{Action, Config, Engine, LeaseDb};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn config(known_only: bool) -> Config {
    let doc = format!(
        r#"{{"server_ip": "10.66.0.1",
            "subnets": [{{"cidr": "10.66.0.0/24", "ranges": [{{"start": "10.66.0.100", "end": "10.66.0.110"}}],
                          "router": "10.66.0.1", "dns": ["10.66.0.1"]}},
                        {{"cidr": "10.67.0.0/24", "ranges": [{{"start": "10.67.0.10", "end": "10.67.0.12"}}]}}],
            "reservations": [{{"mac": "52:54:00:00:00:01", "ip": "10.66.0.50"}}],
            "known_macs": ["52:54:00:00:00:02"],
            "mode": "{}",
            "boot": {{"tftp_server": "10.66.0.1", "http_base_url": "http://10.66.0.1:5240/MAAS/boot/files/",
                      "ipxe_script_url": "http://10.66.0.1:5240/MAAS/boot/ipxe?mac={{mac}}"}}}}"#,
        if known_only { "known_only" } else { "allow_enlistment" }
    );
    Config::from_json(&doc).expect("fuzz config")
}

static CONFIGS: OnceLock<(Config, Config)> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let (open, closed) = CONFIGS.get_or_init(|| (config(false), config(true)));
    for cfg in [open, closed] {
        let mut e = Engine::new(cfg.clone(), LeaseDb::new()).expect("engine");
        // The same datagram twice: the second sees the state the first left.
        for now in [1_000u64, 1_001] {
            match e.handle(data, now) {
                Action::Reply { packet, .. } | Action::CommitThenReply { packet, .. } => {
                    use dhcproto::Decodable;
                    assert!(
                        dhcproto::v4::Message::decode(&mut dhcproto::Decoder::new(&packet)).is_ok(),
                        "the engine sent a reply that does not parse"
                    );
                }
                Action::None | Action::Persist(_) => {}
            }
        }
        e.tick(10_000_000);
    }
});
