//! Script results through the metadata API, played by the test as the machine (the agent's
//! own end-to-end test is `commissioning.rs`).

mod common;

use common::{mac, Client, Server};
use serde_json::Value;

/// The machine's results: (set, result JSON).
async fn results(c: &Client, sid: &str) -> Vec<(String, Value)> {
    let v = c
        .get(&format!("/MAAS/api/2.0/nodes/{sid}/results/"))
        .await
        .ok()
        .json();
    let mut out = Vec::new();
    for set in v.as_array().unwrap() {
        let ty = set["type_name"].as_str().unwrap().to_string();
        for r in set["results"].as_array().unwrap() {
            out.push((ty.clone(), r.clone()));
        }
    }
    out
}

fn find<'a>(rs: &'a [(String, Value)], set: &str, name: &str) -> &'a Value {
    &rs.iter()
        .find(|(s, r)| s == set && r["name"] == name)
        .unwrap_or_else(|| panic!("no {set} result {name}"))
        .1
}

/// A script's end report, as the agent sends it.
async fn report_end(m: &Client, id: i64, name: &str, stdout: &str) -> common::Resp {
    let id = id.to_string();
    let out = format!("{name}.out");
    m.post_form(
        "/MAAS/metadata/2012-03-01/",
        &[
            ("op", "signal"),
            ("status", "WORKING"),
            ("script_result_id", &id),
            ("exit_status", "0"),
            ("runtime", "0.5"),
        ],
        &[
            (name, name, stdout.as_bytes()),
            (&out, &out, stdout.as_bytes()),
        ],
    )
    .await
}

/// Region regression: a script's end report that changes the machine while it is stored (the
/// inventory hook), or that races other reports, used to be stored again by the retry of the
/// status update and answered 409 "already finished" although it had been taken.
#[tokio::test]
async fn end_reports_are_taken_once_even_when_the_machine_changes_meanwhile() {
    let server = Server::start(&[]).await;
    let c = server.client();
    let m = c.create("host4", &mac(4), &[]).await;
    let sid = m["system_id"].as_str().unwrap().to_string();
    let machine = c.with_token(&c.token(&sid).await);
    let idx = machine
        .get("/MAAS/metadata/2012-03-01/maas-scripts/")
        .await
        .ok()
        .json();
    let id_of = |name: &str| {
        idx["commissioning_scripts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {idx}"))["script_result_id"]
            .as_i64()
            .unwrap()
    };
    // The inventory: its hook writes the machine's hardware (and bumps its version).
    let doc =
        serde_json::json!({"cpu": {"total": 3, "sockets": []}, "memory": {"total": 2147483648u64}});
    report_end(
        &machine,
        id_of("50-maas-01-commissioning"),
        "50-maas-01-commissioning",
        &doc.to_string(),
    )
    .await
    .expect(200);
    let m = c.machine(&sid).await;
    assert_eq!(
        (m["cpu_count"].as_i64(), m["memory"].as_i64()),
        (Some(3), Some(2048))
    );
    // Parallel scripts reporting at the same time.
    let names = [
        "maas-firmware-info",
        "maas-list-modaliases",
        "maas-network-interfaces",
        "maas-serial-ports",
        "maas-support-info",
        "maas-virtuality",
    ];
    let answers = futures::future::join_all(
        names
            .iter()
            .map(|n| report_end(&machine, id_of(n), n, "output\n")),
    )
    .await;
    for (n, r) in names.iter().zip(answers) {
        assert_eq!(r.status.as_u16(), 200, "{n}: {}", r.body);
    }
    let rs = results(&c, &sid).await;
    for n in names {
        assert_eq!(
            find(&rs, "commissioning", n)["status_name"],
            "Passed",
            "{n}"
        );
    }
    // A second end report for a finished script is still refused.
    report_end(
        &machine,
        id_of("maas-virtuality"),
        "maas-virtuality",
        "again\n",
    )
    .await
    .expect(409);
}
