//! The order scripts run in. The list is in run order; a script with `parallel` 0 (disabled)
//! waits for everything before it and runs alone; consecutive scripts with `parallel` 1
//! (instance) or 2 (any) run together, but never two instances of one name at once (those
//! queue one after the other in a lane).

/// Scripts that run at the same time: each lane runs its scripts one after the other, lanes
/// run concurrently. Values are indices into the list given to [`plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub lanes: Vec<Vec<usize>>,
}

/// Groups `(name, parallel)` items, in order.
pub fn plan<'a>(items: impl IntoIterator<Item = (&'a str, i64)>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    // Names of the lanes of the open parallel group (None: no group open).
    let mut open: Option<Vec<&str>> = None;
    for (i, (name, parallel)) in items.into_iter().enumerate() {
        if parallel <= 0 {
            open = None;
            groups.push(Group {
                lanes: vec![vec![i]],
            });
            continue;
        }
        match (&mut open, groups.last_mut()) {
            (Some(names), Some(g)) => match names.iter().position(|n| *n == name) {
                Some(lane) => {
                    if let Some(l) = g.lanes.get_mut(lane) {
                        l.push(i);
                    }
                }
                None => {
                    names.push(name);
                    g.lanes.push(vec![i]);
                }
            },
            _ => {
                open = Some(vec![name]);
                groups.push(Group {
                    lanes: vec![vec![i]],
                });
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(lanes: &[&[usize]]) -> Group {
        Group {
            lanes: lanes.iter().map(|l| l.to_vec()).collect(),
        }
    }

    #[test]
    fn disabled_scripts_run_alone_parallel_ones_together() {
        let items = [
            ("a", 0),
            ("b", 2),
            ("c", 1),
            ("c", 1),
            ("d", 2),
            ("e", 0),
            ("f", 0),
            ("g", 1),
        ];
        assert_eq!(
            plan(items),
            vec![
                g(&[&[0]]),
                g(&[&[1], &[2, 3], &[4]]),
                g(&[&[5]]),
                g(&[&[6]]),
                g(&[&[7]]),
            ]
        );
    }

    #[test]
    fn a_disabled_script_splits_parallel_runs() {
        let items = [("x", 2), ("y", 2), ("z", 0), ("x", 2), ("y", 1)];
        assert_eq!(
            plan(items),
            vec![g(&[&[0], &[1]]), g(&[&[2]]), g(&[&[3], &[4]])]
        );
        assert!(plan([]).is_empty());
    }

    #[test]
    fn every_item_is_scheduled_once_in_order_within_its_lane() {
        let names = ["p", "q", "p", "r", "q", "p"];
        let pars = [1, 2, 0, 1, 1, 2];
        let items: Vec<(&str, i64)> = names.iter().copied().zip(pars).collect();
        let groups = plan(items.clone());
        let mut seen: Vec<usize> = groups
            .iter()
            .flat_map(|g| g.lanes.iter().flatten().copied())
            .collect();
        seen.sort();
        assert_eq!(seen, (0..items.len()).collect::<Vec<_>>());
        for gr in &groups {
            for lane in &gr.lanes {
                assert!(lane.windows(2).all(|w| w[0] < w[1]));
                assert!(lane.iter().all(|i| items[*i].0 == items[lane[0]].0));
            }
        }
    }
}
