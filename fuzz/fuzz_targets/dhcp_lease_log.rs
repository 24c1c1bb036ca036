//! Any bytes as the lease log found on disk after a crash: recovery must never panic and
//! every record it keeps must encode and decode to itself.
#![no_main]
use ingot_dhcp::lease::{parse_log, LeaseRecord};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (records, _stats, _valid_len) = parse_log(data);
    for r in &records {
        let line = r.encode();
        assert_eq!(LeaseRecord::decode(line.trim_end()).as_ref(), Some(r), "{line}");
    }
    let _ = ingot_dhcp::LeaseDb::from_records(&records);
});
