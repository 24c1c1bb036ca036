//! Table-driven test: every (status, action) pair against the expected outcome.

use ingot_core::actions::{
    path_is_valid, plan, Action, ActionError, ActionOptions, Actor, MachineFacts,
};
use ingot_core::status::Status::{self, *};

const ADMIN: Actor = Actor {
    user_id: 1,
    is_admin: true,
};

fn facts(s: Status) -> MachineFacts {
    MachineFacts {
        status: s,
        previous_status: Some(Ready),
        locked: false,
        owner_id: if s.is_owned_status() {
            Some(ADMIN.user_id)
        } else {
            None
        },
        commissioning_passed: true,
        has_osystem: s == Deployed,
        has_power_type: true,
        power_controllable: false,
        has_mac: true,
    }
}

/// `None` in the second slot means: status unchanged.
type Row = (Action, &'static [(Status, Option<Status>)]);

const ALL_SAME: &[(Status, Option<Status>)] = &[
    (New, None),
    (Commissioning, None),
    (FailedCommissioning, None),
    (Missing, None),
    (Ready, None),
    (Reserved, None),
    (Deployed, None),
    (Retired, None),
    (Broken, None),
    (Deploying, None),
    (Allocated, None),
    (FailedDeployment, None),
    (Releasing, None),
    (FailedReleasing, None),
    (DiskErasing, None),
    (FailedDiskErasing, None),
    (RescueMode, None),
    (EnteringRescueMode, None),
    (FailedEnteringRescueMode, None),
    (ExitingRescueMode, None),
    (FailedExitingRescueMode, None),
    (Testing, None),
    (FailedTesting, None),
];

const OWNED_SAME: &[(Status, Option<Status>)] = &[
    (Deployed, None),
    (Deploying, None),
    (Allocated, None),
    (FailedDeployment, None),
    (Releasing, None),
    (FailedReleasing, None),
    (DiskErasing, None),
    (FailedDiskErasing, None),
    (RescueMode, None),
    (EnteringRescueMode, None),
    (FailedEnteringRescueMode, None),
    (ExitingRescueMode, None),
    (FailedExitingRescueMode, None),
    (Testing, None),
    (FailedTesting, None),
];

/// For each action, the statuses it is allowed from and where it ends (unlocked machine,
/// admin owner for owned statuses, manual power, passing commissioning data, previous READY).
/// Every status not listed must be refused with 409.
const TABLE: &[Row] = &[
    (
        Action::Commission,
        &[
            (New, Some(Commissioning)),
            (FailedCommissioning, Some(Commissioning)),
            (Ready, Some(Commissioning)),
            (Missing, Some(Commissioning)),
            (Broken, Some(Commissioning)),
            (FailedTesting, Some(Commissioning)),
        ],
    ),
    (
        Action::Test,
        &[
            (FailedCommissioning, Some(Testing)),
            (New, Some(Testing)),
            (Ready, Some(Testing)),
            (Reserved, Some(Testing)),
            (Allocated, Some(Testing)),
            (FailedDeployment, Some(Testing)),
            (Deployed, Some(Testing)),
            (Missing, Some(Testing)),
            (Retired, Some(Testing)),
            (Broken, Some(Testing)),
            (RescueMode, Some(Testing)),
            (FailedReleasing, Some(Testing)),
            (FailedDiskErasing, Some(Testing)),
            (FailedEnteringRescueMode, Some(Testing)),
            (FailedExitingRescueMode, Some(Testing)),
            (FailedTesting, Some(Testing)),
        ],
    ),
    (
        Action::Abort,
        &[
            (Commissioning, Some(New)),
            (Testing, Some(Ready)),
            (Deploying, Some(Allocated)),
            (DiskErasing, Some(FailedDiskErasing)),
        ],
    ),
    (Action::Allocate, &[(Ready, Some(Allocated))]),
    (
        Action::Deploy,
        &[(Ready, Some(Deploying)), (Allocated, Some(Deploying))],
    ),
    (
        Action::Release,
        &[
            (Ready, None),
            (Releasing, None),
            (Allocated, Some(Ready)),
            (Reserved, Some(Ready)),
            (Broken, Some(Ready)),
            (Deploying, Some(Ready)),
            (Deployed, Some(Ready)),
            (FailedDeployment, Some(Ready)),
            (FailedDiskErasing, Some(Ready)),
            (FailedReleasing, Some(Ready)),
        ],
    ),
    (
        Action::MarkBroken,
        &[
            (New, Some(Broken)),
            (Commissioning, Some(Broken)),
            (Ready, Some(Broken)),
            (Allocated, Some(Broken)),
            (Releasing, Some(Broken)),
            (Deploying, Some(Broken)),
            (Deployed, Some(Broken)),
            (DiskErasing, Some(Broken)),
            (Testing, Some(Broken)),
            (FailedCommissioning, Some(Broken)),
            (FailedDeployment, Some(Broken)),
            (FailedReleasing, Some(Broken)),
            (FailedDiskErasing, Some(Broken)),
            (FailedEnteringRescueMode, Some(Broken)),
            (FailedExitingRescueMode, Some(Broken)),
            (FailedTesting, Some(Broken)),
        ],
    ),
    (Action::MarkFixed, &[(Broken, Some(Ready))]),
    (
        Action::RescueMode,
        &[
            (New, Some(EnteringRescueMode)),
            (FailedCommissioning, Some(EnteringRescueMode)),
            (Ready, Some(EnteringRescueMode)),
            (Reserved, Some(EnteringRescueMode)),
            (Allocated, Some(EnteringRescueMode)),
            (FailedDeployment, Some(EnteringRescueMode)),
            (Deployed, Some(EnteringRescueMode)),
            (Missing, Some(EnteringRescueMode)),
            (Retired, Some(EnteringRescueMode)),
            (Broken, Some(EnteringRescueMode)),
            (FailedDiskErasing, Some(EnteringRescueMode)),
            (FailedEnteringRescueMode, Some(EnteringRescueMode)),
            (FailedTesting, Some(EnteringRescueMode)),
        ],
    ),
    (
        Action::ExitRescueMode,
        &[
            (RescueMode, Some(Ready)),
            (EnteringRescueMode, Some(Ready)),
            (FailedEnteringRescueMode, Some(Ready)),
            (FailedExitingRescueMode, Some(Ready)),
        ],
    ),
    (Action::Lock, &[(Deployed, None), (Deploying, None)]),
    (Action::Unlock, &[]),
    (
        Action::OverrideFailedTesting,
        &[(FailedTesting, Some(Ready))],
    ),
    (Action::PowerOn, OWNED_SAME),
    (Action::PowerOff, ALL_SAME),
    (Action::QueryPowerState, ALL_SAME),
    (Action::SetWorkloadAnnotations, OWNED_SAME),
    (Action::Update, ALL_SAME),
    (Action::Delete, ALL_SAME),
    (Action::GetToken, ALL_SAME),
];

#[test]
fn every_status_action_pair() {
    assert_eq!(TABLE.len(), Action::ALL.len(), "every action has a row");
    let mut checked = 0;
    for action in Action::ALL {
        let (_, allowed) = TABLE
            .iter()
            .find(|(a, _)| *a == action)
            .expect("row for action");
        for s in Status::ALL {
            let f = facts(s);
            let got = plan(action, &f, ADMIN, &ActionOptions::default());
            match allowed.iter().find(|(st, _)| *st == s) {
                Some((_, want)) => {
                    let p = got.unwrap_or_else(|e| panic!("{action:?} from {s:?} refused: {e}"));
                    assert_eq!(
                        p.final_status(s),
                        want.unwrap_or(s),
                        "{action:?} from {s:?}"
                    );
                    assert!(
                        path_is_valid(s, &p.steps),
                        "{action:?} from {s:?}: {:?}",
                        p.steps
                    );
                }
                None => match got {
                    Err(ActionError::WrongStatus(msg)) => {
                        // Messages about state name the status (except lock/unlock's MAAS wording).
                        if !matches!(
                            action,
                            Action::Unlock | Action::PowerOn | Action::SetWorkloadAnnotations
                        ) {
                            assert!(
                                msg.contains(s.label()),
                                "{action:?} from {s:?}: '{msg}' names no status"
                            );
                        }
                    }
                    other => panic!("{action:?} from {s:?}: expected 409, got {other:?}"),
                },
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 23 * 20);
}

#[test]
fn locked_machine_refuses_everything_but_unlock_and_reads() {
    for action in Action::ALL {
        for s in Status::ALL {
            let mut f = facts(s);
            f.locked = true;
            let got = plan(action, &f, ADMIN, &ActionOptions::default());
            match action {
                Action::Unlock => assert_eq!(got.map(|p| p.locked), Ok(Some(false))),
                Action::Lock => assert!(matches!(got, Err(ActionError::WrongStatus(_)))),
                Action::QueryPowerState | Action::GetToken => assert!(got.is_ok()),
                _ => assert!(
                    matches!(got, Err(ActionError::NotPermitted(_))),
                    "{action:?} on locked {s:?}: {got:?}"
                ),
            }
        }
    }
}

#[test]
fn non_admin_permissions() {
    let user = Actor {
        user_id: 2,
        is_admin: false,
    };
    // Another user's machine: invisible, every action refused with 403.
    for action in Action::ALL {
        let f = facts(Allocated);
        assert!(matches!(
            plan(action, &f, user, &ActionOptions::default()),
            Err(ActionError::NotPermitted(_))
        ));
    }
    // Admin-only actions on an unowned machine.
    for action in [
        Action::Commission,
        Action::Test,
        Action::MarkFixed,
        Action::RescueMode,
        Action::Delete,
    ] {
        let f = facts(Ready);
        assert!(matches!(
            plan(action, &f, user, &ActionOptions::default()),
            Err(ActionError::NotPermitted(_))
        ));
    }
    // A user allocates and deploys an unowned READY machine.
    let f = facts(Ready);
    let p = plan(Action::Allocate, &f, user, &ActionOptions::default()).unwrap();
    assert_eq!(p.final_owner(Ready, None), Some(2));
    // mark_broken on an unowned machine is for the owner or admins only.
    assert!(matches!(
        plan(Action::MarkBroken, &f, user, &ActionOptions::default()),
        Err(ActionError::NotPermitted(_))
    ));
}

#[test]
fn release_variants() {
    let mut f = facts(Deployed);
    let erase = ActionOptions {
        erase: true,
        ..Default::default()
    };
    assert_eq!(
        plan(Action::Release, &f, ADMIN, &erase).unwrap().steps,
        vec![DiskErasing]
    );
    f.power_controllable = true;
    let p = plan(Action::Release, &f, ADMIN, &ActionOptions::default()).unwrap();
    assert_eq!(p.steps, vec![Releasing]);
    // Seeds: a machine without passing commissioning data releases to NEW.
    f.power_controllable = false;
    f.commissioning_passed = false;
    let p = plan(Action::Release, &f, ADMIN, &ActionOptions::default()).unwrap();
    assert_eq!(p.steps, vec![Releasing, New]);
    assert_eq!(p.final_owner(Deployed, Some(1)), None);
}

#[test]
fn mark_fixed_returns_deployed_machines_to_deployed() {
    let mut f = facts(Broken);
    f.previous_status = Some(Deployed);
    f.owner_id = Some(1);
    let p = plan(Action::MarkFixed, &f, ADMIN, &ActionOptions::default()).unwrap();
    assert_eq!(p.steps, vec![Deployed]);
    assert_eq!(p.final_owner(Broken, Some(1)), Some(1));
    // Without commissioning data and not previously deployed: refused.
    f.previous_status = Some(New);
    f.commissioning_passed = false;
    assert!(matches!(
        plan(Action::MarkFixed, &f, ADMIN, &ActionOptions::default()),
        Err(ActionError::WrongStatus(_))
    ));
}

#[test]
fn commission_needs_power_type() {
    let mut f = facts(New);
    f.has_power_type = false;
    assert!(matches!(
        plan(Action::Commission, &f, ADMIN, &ActionOptions::default()),
        Err(ActionError::Invalid(_))
    ));
}

/// A machine without a MAC (brown-field, added by hand) can do everything that does not
/// network-boot it; of what does, only commissioning (which is how its MAC gets known).
#[test]
fn a_machine_without_a_mac_refuses_what_network_boots_except_commissioning() {
    let erase = ActionOptions {
        erase: true,
        ..Default::default()
    };
    let cases: &[(Status, Action, &ActionOptions, bool)] = &[
        (Deployed, Action::Release, &ActionOptions::default(), true),
        (Deployed, Action::Release, &erase, false),
        (
            Deployed,
            Action::RescueMode,
            &ActionOptions::default(),
            false,
        ),
        (
            Deployed,
            Action::MarkBroken,
            &ActionOptions::default(),
            true,
        ),
        (Deployed, Action::Lock, &ActionOptions::default(), true),
        (Ready, Action::Test, &ActionOptions::default(), false),
        (Allocated, Action::Deploy, &ActionOptions::default(), false),
        (New, Action::Commission, &ActionOptions::default(), true),
        (Ready, Action::Release, &erase, true),
    ];
    for &(s, action, opts, ok) in cases {
        let mut f = facts(s);
        f.has_mac = false;
        let got = plan(action, &f, ADMIN, opts);
        match (ok, &got) {
            (true, Ok(_)) => {}
            (false, Err(ActionError::Invalid(m))) => {
                assert!(m.contains("no network interface"), "{s:?} {action:?}: {m}")
            }
            _ => panic!("{s:?} {action:?} erase={}: {got:?}", opts.erase),
        }
        // The same with a MAC is allowed (the MAC is the only difference).
        f.has_mac = true;
        if !ok {
            assert!(plan(action, &f, ADMIN, opts).is_ok(), "{s:?} {action:?}");
        }
    }
}

/// Credentials: the owner only; an administrator only while the machine has no owner.
#[test]
fn credentials_are_for_the_owner_only() {
    let owner = Actor {
        user_id: 7,
        is_admin: false,
    };
    let other = Actor {
        user_id: 8,
        is_admin: false,
    };
    let mut f = facts(Deployed);
    f.owner_id = Some(7);
    assert!(plan(Action::GetToken, &f, owner, &ActionOptions::default()).is_ok());
    for who in [other, ADMIN] {
        assert!(matches!(
            plan(Action::GetToken, &f, who, &ActionOptions::default()),
            Err(ActionError::NotPermitted(_))
        ));
    }
    f.owner_id = None;
    assert!(plan(Action::GetToken, &f, ADMIN, &ActionOptions::default()).is_ok());
    assert!(plan(Action::GetToken, &f, other, &ActionOptions::default()).is_err());
}

/// Which plans power a machine on to boot from the network (the region checks that a rack
/// answers DHCP where it boots before any of them): (action, status, the machine's netboot
/// flag, release with erase, boots from the network).
#[test]
fn plans_that_boot_from_the_network() {
    for (action, s, netboot, erase, want) in [
        (Action::Commission, New, false, false, true),
        (Action::Commission, Ready, false, false, true),
        (Action::Test, Ready, false, false, true),
        (Action::Deploy, Allocated, false, false, true),
        (Action::RescueMode, Deployed, false, false, true),
        (Action::Release, Deployed, false, true, true),
        (Action::Release, Deployed, true, false, false),
        (Action::PowerOn, Allocated, true, false, true),
        (Action::PowerOn, Deployed, false, false, false),
        (Action::PowerOff, Allocated, true, false, false),
        (Action::Abort, Commissioning, true, false, false),
        (Action::ExitRescueMode, RescueMode, true, false, false),
    ] {
        let opts = ActionOptions {
            erase,
            ..Default::default()
        };
        let p = plan(action, &facts(s), ADMIN, &opts)
            .unwrap_or_else(|e| panic!("{action:?} from {s:?}: {e:?}"));
        assert_eq!(
            p.boots_from_network(netboot),
            want,
            "{action:?} from {s:?} (netboot {netboot}, erase {erase}): {p:?}"
        );
    }
}
