//! Machine lists a page at a time and concurrent allocation, on a region over SQLite.

mod common;
use common::{lab, machine, params, Lab};
use futures::future::join_all;
use ingot_core::Status;
use ingot_region::model::{Machine, MachineFilter, NamedKind};
use ingot_region::RegionError;
use std::collections::HashSet;

fn mac(i: u32) -> String {
    format!("52:54:00:ab:{:02x}:{:02x}", i >> 8, i & 255)
}

/// A machine that commissioned and passed: Ready.
async fn ready(l: &Lab, i: u32) -> Machine {
    let m = machine(l, &mac(i)).await;
    assert_eq!(m.status, Status::Commissioning, "{}", m.system_id);
    l.region
        .signal(m.id, &params(&[("status", "OK")]), &[])
        .await
        .expect("signal OK");
    m
}

/// Every page in turn, following the last id of the one before.
async fn all_pages(l: &Lab, f: &MachineFilter, limit: i64) -> Vec<Vec<String>> {
    let (mut pages, mut after) = (Vec::new(), None);
    loop {
        let page = l
            .region
            .list_machines_page(&l.admin, f.clone(), after, limit)
            .await
            .expect("a page");
        after = page.last().map(|m| m.id);
        let last = (page.len() as i64) < limit;
        pages.push(page.into_iter().map(|m| m.system_id).collect());
        if last {
            return pages;
        }
        assert!(pages.len() < 100, "paging does not end");
    }
}

#[tokio::test]
async fn pages_hold_every_machine_once_in_order_and_keep_filters() {
    let l = lab().await;
    let mut made = Vec::new();
    for i in 0..30 {
        made.push(machine(&l, &mac(i)).await.system_id);
    }
    let whole: Vec<String> = l
        .region
        .list_machines(&l.admin, MachineFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.system_id)
        .collect();
    assert!(made.iter().all(|s| whole.contains(s)), "{whole:?}");

    let pages = all_pages(&l, &MachineFilter::default(), 7).await;
    assert!(pages.iter().all(|p| p.len() <= 7), "{pages:?}");
    assert_eq!(
        pages.concat(),
        whole,
        "pages of 7 are the whole list, in order"
    );
    // A page size that divides the list ends with an empty page, not a missing one.
    let n = whole.len() as i64;
    let exact = all_pages(&l, &MachineFilter::default(), n).await;
    assert_eq!(exact, vec![whole.clone(), vec![]]);

    // A filter holds on every page: machines in one zone.
    l.region
        .create_named(&l.admin, NamedKind::Zone, "rack-b", "")
        .await
        .expect("zone rack-b");
    // Every third machine moves there.
    for sid in made.iter().step_by(3) {
        l.region
            .update_machine(&l.admin, sid, &params(&[("zone", "rack-b")]))
            .await
            .expect("move to zone rack-b");
    }
    let f = MachineFilter {
        zone: Some("rack-b".into()),
        ..Default::default()
    };
    let want: Vec<String> = made.iter().step_by(3).cloned().collect();
    assert_eq!(all_pages(&l, &f, 4).await.concat(), want);
}

#[tokio::test]
async fn concurrent_allocations_each_get_a_machine_until_none_is_left() {
    let l = lab().await;
    for i in 0..40 {
        ready(&l, i).await;
    }
    let c = ingot_core::constraints::Constraints::default();
    let round =
        |n: usize| join_all((0..n).map(|_| l.region.allocate(&l.user, &c, None, None, false)));
    let first = round(32).await;
    let got: Vec<String> = first
        .iter()
        .map(|r| {
            r.as_ref()
                .expect("a machine is left for each")
                .system_id
                .clone()
        })
        .collect();
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), 32, "{got:?}");
    // 8 left, 12 asking: 8 machines, then "no machine".
    let second = round(12).await;
    let more: Vec<String> = second
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|m| m.system_id.clone()))
        .collect();
    assert_eq!(more.len(), 8, "{second:?}");
    assert!(second
        .iter()
        .filter_map(|r| r.as_ref().err())
        .all(|e| matches!(e, RegionError::Conflict(_))));
    let all: HashSet<String> = got.into_iter().chain(more).collect();
    assert_eq!(all.len(), 40, "no machine allocated twice");
    let allocated = l
        .region
        .list_machines(
            &l.admin,
            MachineFilter {
                statuses: vec![Status::Allocated],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(allocated.len(), 40);
}
