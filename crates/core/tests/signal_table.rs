//! What machine reports do, per status.

use ingot_core::actions::{path_is_valid, MachineFacts};
use ingot_core::signal::{
    plan_signal, plan_status_event, plan_timeout, SignalContext, SignalStatus, StatusEvent,
};
use ingot_core::status::Status::{self, *};

fn facts(s: Status, prev: Option<Status>) -> MachineFacts {
    MachineFacts {
        status: s,
        previous_status: prev,
        locked: false,
        owner_id: Some(1),
        commissioning_passed: true,
        has_osystem: false,
        has_power_type: true,
        power_controllable: false,
        has_mac: true,
    }
}

type SignalRow = (Status, Option<Status>, SignalStatus, bool, bool, Status);

fn ctx(enlisting: bool, failed: bool) -> SignalContext {
    SignalContext {
        enlisting,
        any_result_failed: failed,
        any_result_unfinished: false,
        error: None,
    }
}

#[test]
fn signal_outcomes() {
    use SignalStatus as S;
    // (status, previous, signal, enlisting, any failed, expected final)
    let rows: &[SignalRow] = &[
        (New, None, S::Commissioning, false, false, Commissioning),
        (New, None, S::Ok, false, false, New),
        (Commissioning, None, S::Ok, false, false, Ready),
        (Commissioning, None, S::Ok, true, false, New),
        (Commissioning, None, S::Ok, false, true, FailedCommissioning),
        (
            Commissioning,
            None,
            S::Failed,
            false,
            false,
            FailedCommissioning,
        ),
        (Commissioning, None, S::Working, false, false, Commissioning),
        (Commissioning, None, S::Testing, false, false, Testing),
        (Testing, Some(Commissioning), S::Ok, false, false, Ready),
        (Testing, Some(Deployed), S::Ok, false, false, Deployed),
        (
            Testing,
            Some(FailedCommissioning),
            S::Ok,
            false,
            false,
            Ready,
        ),
        (Testing, Some(Ready), S::Failed, false, false, FailedTesting),
        (Testing, Some(Ready), S::Ok, false, true, FailedTesting),
        (Deploying, None, S::Failed, false, false, FailedDeployment),
        (Deploying, None, S::Ok, false, false, Deploying),
        (DiskErasing, None, S::Ok, false, false, Ready),
        (
            DiskErasing,
            None,
            S::Failed,
            false,
            false,
            FailedDiskErasing,
        ),
        (Releasing, None, S::Failed, false, false, FailedReleasing),
        (
            EnteringRescueMode,
            Some(Ready),
            S::Ok,
            false,
            false,
            RescueMode,
        ),
        (
            EnteringRescueMode,
            Some(Ready),
            S::Working,
            false,
            false,
            RescueMode,
        ),
        (
            EnteringRescueMode,
            Some(Ready),
            S::Failed,
            false,
            false,
            FailedEnteringRescueMode,
        ),
        (Deployed, None, S::Ok, false, false, Deployed),
        (Deployed, None, S::Failed, false, false, Deployed),
        (Broken, None, S::Ok, false, false, Broken),
    ];
    for &(s, prev, sig, enl, failed, want) in rows {
        let f = facts(s, prev);
        let o = plan_signal(&f, sig, &ctx(enl, failed)).unwrap();
        let got = o.steps.last().copied().unwrap_or(s);
        assert_eq!(
            got, want,
            "{s:?} (prev {prev:?}) + {sig:?} enlisting={enl} failed={failed}"
        );
        assert!(path_is_valid(s, &o.steps), "{s:?} + {sig:?}: {:?}", o.steps);
    }
    assert!(plan_signal(&facts(Retired, None), S::Ok, &ctx(false, false)).is_err());
    assert!(SignalStatus::parse("BOGUS").is_err());
}

#[test]
fn every_status_signal_pair_is_valid() {
    use SignalStatus as S;
    let all = [
        S::Ok,
        S::Failed,
        S::Working,
        S::Commissioning,
        S::Testing,
        S::Timedout,
        S::Installing,
        S::ApplyingNetconf,
        S::Releasing,
        S::Deploying,
    ];
    for s in Status::ALL {
        for sig in all {
            for (enl, failed) in [(false, false), (true, false), (false, true)] {
                if let Ok(o) = plan_signal(&facts(s, Some(Ready)), sig, &ctx(enl, failed)) {
                    assert!(path_is_valid(s, &o.steps), "{s:?} + {sig:?}: {:?}", o.steps);
                }
            }
        }
    }
}

fn ev(event_type: &str, name: &str, result: Option<&str>) -> StatusEvent {
    StatusEvent {
        event_type: event_type.into(),
        origin: "cloud-init".into(),
        name: name.into(),
        description: "d".into(),
        result: result.map(String::from),
    }
}

#[test]
fn status_events() {
    let done = ev("finish", "modules-final", Some("SUCCESS"));
    assert_eq!(
        plan_status_event(&facts(Deploying, None), &done, &[]).steps,
        vec![Deployed]
    );
    assert_eq!(
        plan_status_event(&facts(Deployed, None), &done, &[]).steps,
        vec![]
    );
    let mut f = facts(DiskErasing, None);
    assert_eq!(plan_status_event(&f, &done, &[]).steps, vec![Ready]);
    f.commissioning_passed = false;
    assert_eq!(
        plan_status_event(&f, &done, &[]).steps,
        vec![Releasing, New]
    );
    let fail = ev("finish", "cmd-install", Some("FAIL"));
    assert_eq!(
        plan_status_event(&facts(Deploying, None), &fail, &[]).steps,
        vec![FailedDeployment]
    );
    let sub = ev("finish", "cmd-install/stage-partitioning", Some("FAIL"));
    assert_eq!(
        plan_status_event(&facts(Deploying, None), &sub, &[]).steps,
        vec![]
    );
    assert_eq!(
        plan_status_event(&facts(Commissioning, None), &fail, &[]).steps,
        vec![FailedCommissioning]
    );
    // cloud-init's final stage failing because a user-data script failed: the machine's error
    // names the module that failed.
    let mut final_fail = ev("finish", "modules-final", Some("FAIL"));
    final_fail.description = "running modules for final".into();
    let o = plan_status_event(
        &facts(Deploying, None),
        &final_fail,
        &["config-scripts-user".to_string()],
    );
    assert_eq!(o.steps, vec![FailedDeployment]);
    assert_eq!(
        o.error_description.as_deref(),
        Some("Installation failed: modules-final (running modules for final): config-scripts-user failed")
    );
    for s in Status::ALL {
        for e in [&done, &fail, &sub] {
            let o = plan_status_event(&facts(s, Some(Ready)), e, &[]);
            assert!(path_is_valid(s, &o.steps), "{s:?} {e:?}");
        }
    }
}

#[test]
fn timeouts() {
    for s in Status::ALL {
        let t = plan_timeout(s, 1800, Some("signal WORKING"));
        assert_eq!(t.is_some(), s.is_transient());
        if let Some((f, why)) = t {
            assert_eq!(Some(f), s.failed_status());
            assert!(
                why.contains("signal WORKING") && why.contains(s.label()),
                "{why}"
            );
        }
    }
}

#[test]
fn observed_power_states() {
    use ingot_core::signal::{plan_power_failure, plan_power_observed};
    use ingot_core::PowerState as P;
    let mut f = facts(Releasing, Some(Deployed));
    assert_eq!(plan_power_observed(&f, P::On).steps, vec![]);
    assert_eq!(plan_power_observed(&f, P::Off).steps, vec![Ready]);
    assert!(
        !plan_power_observed(&f, P::Off).power_off,
        "a machine seen off is not switched off again"
    );
    f.commissioning_passed = false;
    assert_eq!(plan_power_observed(&f, P::Off).steps, vec![New]);
    let f = facts(ExitingRescueMode, Some(Deployed));
    assert_eq!(plan_power_observed(&f, P::Off).steps, vec![]);
    assert_eq!(plan_power_observed(&f, P::On).steps, vec![Deployed]);
    let f = facts(ExitingRescueMode, Some(Ready));
    assert_eq!(plan_power_observed(&f, P::Off).steps, vec![Ready]);
    assert!(
        !plan_power_observed(&f, P::Off).power_off,
        "a machine seen off is not switched off again"
    );
    for s in Status::ALL {
        for st in [P::On, P::Off, P::Unknown, P::Error] {
            let o = plan_power_observed(&facts(s, Some(Ready)), st);
            assert!(path_is_valid(s, &o.steps), "{s:?} {st:?}");
        }
        let o = plan_power_failure(&facts(s, None), "BMC said no");
        assert_eq!(o.steps.first().copied(), s.failed_status());
        if let Some(why) = &o.error_description {
            assert!(why.contains("BMC said no") && why.contains(s.label()));
        }
    }
}

/// DISK_ERASING: OK finishes the release only when the erase script passed; OK while it is
/// unfinished (never ran) or after it failed is a failed erase.
#[test]
fn disk_erasing_ok_needs_a_passed_erase() {
    let f = facts(DiskErasing, Some(Deployed));
    let last = |c: SignalContext| {
        *plan_signal(&f, SignalStatus::Ok, &c)
            .unwrap()
            .steps
            .last()
            .unwrap()
    };
    assert_eq!(last(ctx(false, false)), Ready);
    assert_eq!(last(ctx(false, true)), FailedDiskErasing);
    let mut c = ctx(false, false);
    c.any_result_unfinished = true;
    assert_eq!(last(c), FailedDiskErasing);
}

#[test]
fn disk_erasing_ok_reads_the_release_results() {
    let f = facts(DiskErasing, Some(Deployed));
    let o = plan_signal(&f, SignalStatus::Ok, &ctx(false, false)).unwrap();
    assert_eq!(o.results, Some(ingot_core::signal::ResultSet::Release));
}

/// The whole enlistment path, as the pure rules see it, with the `enlisting` mark carried
/// from each step's outcome into the next step's facts — the bug this guards against: an
/// enlisted machine that was later commissioned by an administrator ended in NEW, because
/// nothing cleared the mark the enlistment left.
#[test]
fn enlistment_then_commissioning_ends_in_ready_with_no_mark_left() {
    use ingot_core::actions::{plan, plan_enlistment, Action, ActionOptions, Actor};
    use ingot_core::signal::Outcome;
    use SignalStatus as S;
    let admin = Actor {
        user_id: 1,
        is_admin: true,
    };
    let mut f = facts(New, None);
    f.owner_id = None;
    f.commissioning_passed = false;
    let final_of = |from: Status, o: &Outcome| o.steps.last().copied().unwrap_or(from);
    // (what the enlistment's run reports last, any script failed, where it ends)
    let runs: &[(&[S], bool, Status)] = &[
        (&[S::Working, S::Ok], false, New),
        (&[S::Ok], true, FailedCommissioning),
        (&[S::Failed], false, FailedCommissioning),
        (&[S::Timedout], false, FailedCommissioning),
    ];
    for &(signals, failed, ends) in runs {
        // Enlistment: NEW → COMMISSIONING, marked, nothing powered (the machine is running).
        let p = plan_enlistment(&f).unwrap();
        assert_eq!(p.steps, vec![Commissioning]);
        assert_eq!(p.enlisting, Some(true));
        assert_eq!(p.power, None);
        assert!(path_is_valid(New, &p.steps));
        let mut st = Commissioning;
        let mut enlisting = true;
        for &sig in signals {
            let mut g = f.clone();
            g.status = st;
            let o = plan_signal(&g, sig, &ctx(enlisting, failed)).unwrap();
            assert!(path_is_valid(st, &o.steps), "{st:?} + {sig:?}");
            st = final_of(st, &o);
            enlisting &= !o.clear_enlisting;
        }
        assert_eq!(st, ends, "enlistment run {signals:?} failed={failed}");
        assert!(
            !enlisting,
            "the enlistment's mark outlived its run {signals:?}"
        );
        // The administrator commissions it afterwards: READY (through TESTING too).
        let mut g = f.clone();
        g.status = st;
        g.has_power_type = true;
        let p = plan(Action::Commission, &g, admin, &ActionOptions::default()).unwrap();
        assert_eq!(p.steps, vec![Commissioning]);
        assert_eq!(p.enlisting, Some(false), "commission clears any mark");
        for (sigs, want) in [
            (&[S::Ok][..], Ready),
            (&[S::Testing, S::Ok][..], Ready),
            (&[S::Failed][..], FailedCommissioning),
            (&[S::Testing, S::Failed][..], FailedTesting),
        ] {
            let mut st = Commissioning;
            for &sig in sigs {
                let mut h = g.clone();
                h.status = st;
                h.previous_status = Some(if st == Testing { Commissioning } else { New });
                let o = plan_signal(&h, sig, &ctx(false, false)).unwrap();
                st = final_of(st, &o);
            }
            assert_eq!(st, want, "commission after {ends:?}: {sigs:?}");
        }
    }
    // Only a NEW machine enlists.
    for s in Status::ALL {
        let mut g = f.clone();
        g.status = s;
        assert_eq!(plan_enlistment(&g).is_ok(), s == New, "{s:?}");
    }
}
