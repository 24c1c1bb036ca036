use super::*;
use std::time::Instant;

/// Records every form, in the order sent; once a form matching `revoke_on` was sent, every
/// report (that one included) is answered as with a revoked token.
#[derive(Default)]
struct Recorder {
    forms: Mutex<Vec<(Instant, Form)>>,
    #[allow(clippy::type_complexity)] // a test double
    revoke_on: Mutex<Option<Box<dyn Fn(&Form) -> bool + Send + Sync>>>,
}

impl Signaller for Recorder {
    async fn signal(&self, form: Form) -> Delivery {
        let mut forms = self.forms.lock().unwrap();
        forms.push((Instant::now(), form));
        match &*self.revoke_on.lock().unwrap() {
            Some(r) if forms.iter().any(|(_, f)| r(f)) => Delivery::Revoked,
            _ => Delivery::Taken,
        }
    }
}

impl Recorder {
    fn forms(&self) -> Vec<Form> {
        self.forms
            .lock()
            .unwrap()
            .iter()
            .map(|(_, f)| f.clone())
            .collect()
    }
    /// (status, script_result_id, exit_status) of each form.
    fn summary(&self) -> Vec<(String, Option<String>, Option<String>)> {
        self.forms()
            .iter()
            .map(|f| {
                (
                    f.get("status").unwrap_or_default().to_string(),
                    f.get("script_result_id").map(String::from),
                    f.get("exit_status").map(String::from),
                )
            })
            .collect()
    }
    fn end_of(&self, id: i64) -> Form {
        self.forms()
            .into_iter()
            .find(|f| {
                f.get("script_result_id") == Some(&id.to_string())
                    && (f.get("exit_status").is_some() || f.get("status") == Some("TIMEDOUT"))
            })
            .unwrap_or_else(|| panic!("no end signal for {id}: {:?}", self.summary()))
    }
}

fn file<'a>(f: &'a Form, name: &str) -> Option<&'a [u8]> {
    f.files
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, d)| d.as_slice())
}

fn text(f: &Form, name: &str) -> String {
    String::from_utf8_lossy(file(f, name).unwrap_or_else(|| panic!("no file {name} in {f:?}")))
        .into_owned()
}

fn settings(dir: &Path) -> Settings {
    Settings {
        work_dir: dir.join("work"),
        resources_file: dir.join("resources.json"),
        builtin_command: vec!["/bin/echo".into(), "builtin".into()],
        extra_env: vec![("INGOT_TEST_SECONDS".into(), "1".into())],
        maas_url: "http://region:5240/MAAS".into(),
        heartbeat: Duration::from_secs(3600),
        ids: hardware::Ids::default(),
    }
}

fn user(id: i64, name: &str, parallel: i64, script: &str) -> ScriptEntry {
    ScriptEntry {
        name: name.into(),
        script_result_id: id,
        builtin: false,
        timeout_seconds: 0,
        parallel,
        hardware_type: 0,
        may_reboot: false,
        for_hardware: vec![],
        parameters: serde_json::Value::Null,
        packages: serde_json::Value::Null,
        tags: vec![],
        status: Some("Pending".into()),
        has_started: false,
        script: Some(script.into()),
    }
}

fn index(commissioning: Vec<ScriptEntry>, testing: Vec<ScriptEntry>) -> ScriptIndex {
    ScriptIndex {
        commissioning_scripts: commissioning,
        testing_scripts: testing,
        release_scripts: Vec::new(),
    }
}

#[tokio::test]
async fn parallel_groups_overlap_and_disabled_scripts_run_alone() {
    let t = tempfile::tempdir().unwrap();
    let log = t.path().join("log");
    let s = |tag: &str| {
        format!(
            "#!/bin/sh\necho start {tag} >> {l}\nsleep 0.4\necho end {tag} >> {l}\n",
            l = log.display()
        )
    };
    let entries = vec![
        user(1, "a", 0, &s("a")),
        user(2, "b", 2, &s("b")),
        user(3, "c", 1, &s("c")),
        user(4, "d", 2, &s("d")),
        user(5, "e", 0, &s("e")),
    ];
    let rec = Recorder::default();
    let start = Instant::now();
    let sum = run(
        "commission",
        &index(entries, vec![]),
        &settings(t.path()),
        &rec,
    )
    .await;
    let took = start.elapsed();
    assert_eq!(sum.final_status, "OK");
    assert!(sum
        .commissioning
        .iter()
        .all(|o| o.status == ResultStatus::Passed));
    // a alone, b c d together, e alone: about 3 × 0.4 s, not 5 × 0.4 s.
    assert!(took < Duration::from_millis(1900), "{took:?}");
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines[0], "start a");
    assert_eq!(lines[1], "end a");
    let mut middle_starts: Vec<&str> = lines[2..5].iter().map(String::as_str).collect();
    middle_starts.sort();
    assert_eq!(
        middle_starts,
        ["start b", "start c", "start d"],
        "{lines:?}"
    );
    assert!(
        lines[5..8].iter().all(|l| l.starts_with("end ")),
        "{lines:?}"
    );
    assert_eq!(&lines[8..], ["start e", "end e"]);
    // Signals: a start, a end, then three starts before their ends, ...; finally OK.
    let sm = rec.summary();
    assert_eq!(sm.last().unwrap().0, "OK");
    assert_eq!(sm.len(), 11, "{sm:?}");
}

#[tokio::test]
async fn two_instances_of_one_name_never_overlap() {
    let t = tempfile::tempdir().unwrap();
    let lock = t.path().join("lock");
    let script = format!(
        "#!/bin/sh\nif [ -e {l} ]; then echo overlap; exit 1; fi\ntouch {l}\nsleep 0.3\nrm {l}\n",
        l = lock.display()
    );
    let entries = vec![user(1, "same", 1, &script), user(2, "same", 1, &script)];
    let rec = Recorder::default();
    let sum = run("test", &index(vec![], entries), &settings(t.path()), &rec).await;
    assert_eq!(sum.final_status, "OK", "{:?}", sum.testing);
    assert_eq!(sum.testing.len(), 2);
}

#[tokio::test]
async fn outputs_environment_and_result_file_are_reported() {
    let t = tempfile::tempdir().unwrap();
    let script = r#"#!/bin/sh
echo "cwd=$(pwd)"
echo "combined=$OUTPUT_COMBINED_PATH"
echo "stdout=$OUTPUT_STDOUT_PATH"
echo "stderr=$OUTPUT_STDERR_PATH"
echo "download=$DOWNLOAD_PATH"
echo "runtime=$RUNTIME"
echo "started=$HAS_STARTED"
echo "resources=$MAAS_RESOURCES_FILE"
echo "knob=$INGOT_TEST_SECONDS"
echo "path=$PATH"
echo to-stderr >&2
printf 'status: degraded\nnote: fine\n' > "$RESULT_PATH"
"#;
    let mut e = user(9, "env-check", 0, script);
    e.timeout_seconds = 77;
    e.has_started = true;
    let rec = Recorder::default();
    let st = settings(t.path());
    let sum = run("commission", &index(vec![e], vec![]), &st, &rec).await;
    assert_eq!(sum.commissioning[0].status, ResultStatus::Degraded);
    assert_eq!(sum.final_status, "OK", "degraded is not a failure");
    let sm = rec.summary();
    assert_eq!(
        sm[0],
        ("WORKING".into(), Some("9".into()), None),
        "start first"
    );
    let end = rec.end_of(9);
    assert_eq!(end.get("status"), Some("WORKING"));
    assert_eq!(end.get("exit_status"), Some("0"));
    assert!(end.get("runtime").unwrap().parse::<f64>().is_ok());
    let out = text(&end, "env-check.out");
    let out_dir = st.work_dir.join("out");
    let dl = st.work_dir.join("downloads/env-check");
    for want in [
        format!("cwd={}", dl.display()),
        format!("combined={}", out_dir.join("env-check").display()),
        format!("stdout={}", out_dir.join("env-check.out").display()),
        format!("stderr={}", out_dir.join("env-check.err").display()),
        format!("download={}", dl.display()),
        "runtime=77".into(),
        "started=True".into(),
        format!("resources={}", st.resources_file.display()),
        "knob=1".into(),
        format!("path={SCRIPT_PATH}"),
    ] {
        assert!(out.lines().any(|l| l == want), "missing {want:?} in\n{out}");
    }
    assert_eq!(text(&end, "env-check.err"), "to-stderr\n");
    let combined = text(&end, "env-check");
    assert!(combined.contains("to-stderr\n") && combined.contains("cwd="));
    assert_eq!(
        text(&end, "env-check.yaml"),
        "status: degraded\nnote: fine\n"
    );
    // The script was written with mode 0755.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(st.work_dir.join("scripts/env-check"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
}

#[tokio::test]
async fn a_timed_out_script_is_killed_and_reported_timedout_with_its_output() {
    let t = tempfile::tempdir().unwrap();
    let mut e = user(
        3,
        "slow",
        0,
        "#!/bin/sh\necho before\nsleep 30\necho after\n",
    );
    e.timeout_seconds = 1;
    let rec = Recorder::default();
    let start = Instant::now();
    let sum = run(
        "commission",
        &index(vec![e], vec![]),
        &settings(t.path()),
        &rec,
    )
    .await;
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(sum.commissioning[0].status, ResultStatus::Timedout);
    let end = rec.end_of(3);
    assert_eq!(end.get("status"), Some("TIMEDOUT"));
    assert_eq!(end.get("exit_status"), None);
    assert_eq!(text(&end, "slow.out"), "before\n");
    assert_eq!(sum.final_status, "FAILED");
    assert!(sum.error.unwrap().contains("'slow' (timed out after 1 s)"));
}

#[tokio::test]
async fn for_hardware_mismatch_is_skipped_with_a_result_yaml_and_never_run() {
    let t = tempfile::tempdir().unwrap();
    let marker = t.path().join("ran");
    let mut e = user(
        4,
        "gpu-only",
        2,
        &format!("#!/bin/sh\ntouch {}\n", marker.display()),
    );
    e.for_hardware = vec!["pci:10de:1eb8".into()];
    let mut st = settings(t.path());
    let sys = t.path().join("sys");
    crate::hardware::tests::fake(&sys);
    st.ids = hardware::gather(&sys);
    let mut matching = user(5, "intel-nic", 2, "#!/bin/sh\necho matched\n");
    matching.for_hardware = vec!["pci:8086:100e".into()];
    let rec = Recorder::default();
    let sum = run("test", &index(vec![], vec![e, matching]), &st, &rec).await;
    assert!(!marker.exists(), "the script must not run");
    assert_eq!(sum.testing[0].status, ResultStatus::Skipped);
    assert_eq!(sum.testing[1].status, ResultStatus::Passed);
    let end = rec.end_of(4);
    assert_eq!(end.get("exit_status"), Some("0"));
    let yaml = file(&end, "gpu-only.yaml").unwrap();
    assert_eq!(
        ingot_core::scripts::result_yaml_status(yaml)
            .unwrap()
            .as_deref(),
        Some("skipped")
    );
    assert!(text(&end, "gpu-only").contains("for_hardware"));
    // No start signal for a skipped script.
    assert_eq!(
        rec.summary()
            .iter()
            .filter(|(_, id, _)| id.as_deref() == Some("4"))
            .count(),
        1
    );
    assert_eq!(sum.final_status, "OK");
}

#[tokio::test]
async fn commissioning_failure_stops_before_testing_and_names_the_script() {
    let t = tempfile::tempdir().unwrap();
    let c = vec![
        user(1, "ok-one", 0, "#!/bin/sh\necho fine\n"),
        user(2, "broken", 0, "#!/bin/sh\necho oops >&2\nexit 3\n"),
        user(3, "after", 0, "#!/bin/sh\necho still runs\n"),
    ];
    let tests = vec![user(10, "never", 0, "#!/bin/sh\n")];
    let rec = Recorder::default();
    let sum = run("commission", &index(c, tests), &settings(t.path()), &rec).await;
    assert_eq!(sum.final_status, "FAILED");
    assert_eq!(
        sum.error.as_deref(),
        Some("Commissioning script(s) failed: 'broken' (exit status 3).")
    );
    assert_eq!(sum.commissioning.len(), 3, "later scripts still run");
    assert!(sum.testing.is_empty());
    let sm = rec.summary();
    assert!(!sm.iter().any(|(s, _, _)| s == "TESTING"));
    assert!(!sm.iter().any(|(_, id, _)| id.as_deref() == Some("10")));
    let last = rec.forms().pop().unwrap();
    assert_eq!(last.get("status"), Some("FAILED"));
    assert!(last.get("error").unwrap().contains("'broken'"));
    assert_eq!(rec.end_of(2).get("exit_status"), Some("3"));
}

#[tokio::test]
async fn commissioning_then_testing_then_ok_or_failed() {
    let t = tempfile::tempdir().unwrap();
    let rec = Recorder::default();
    let sum = run(
        "commission",
        &index(
            vec![user(1, "c", 0, "#!/bin/sh\n")],
            vec![user(2, "t", 0, "#!/bin/sh\n")],
        ),
        &settings(t.path()),
        &rec,
    )
    .await;
    assert_eq!(sum.final_status, "OK");
    let statuses: Vec<String> = rec.summary().into_iter().map(|(s, _, _)| s).collect();
    assert_eq!(
        statuses,
        ["WORKING", "WORKING", "TESTING", "WORKING", "WORKING", "OK"]
    );

    let rec = Recorder::default();
    let sum = run(
        "test",
        &index(vec![], vec![user(2, "t", 0, "#!/bin/sh\nexit 1\n")]),
        &settings(t.path()),
        &rec,
    )
    .await;
    assert_eq!(sum.final_status, "FAILED");
    assert_eq!(
        sum.error.as_deref(),
        Some("Test(s) failed: 't' (exit status 1).")
    );
    let statuses: Vec<String> = rec.summary().into_iter().map(|(s, _, _)| s).collect();
    assert_eq!(statuses, ["WORKING", "WORKING", "FAILED"]);
}

#[tokio::test]
async fn builtins_run_through_the_builtin_command_and_unknown_ones_fail() {
    let t = tempfile::tempdir().unwrap();
    let mut known = user(1, "maas-kernel-cmdline", 2, "");
    known.builtin = true;
    known.script = None;
    let mut unknown = user(2, "not-a-builtin", 2, "");
    unknown.builtin = true;
    unknown.script = None;
    let mut textless = user(3, "no-text", 2, "");
    textless.script = None;
    let rec = Recorder::default();
    let sum = run(
        "commission",
        &index(vec![known, unknown, textless], vec![]),
        &settings(t.path()),
        &rec,
    )
    .await;
    assert_eq!(
        text(&rec.end_of(1), "maas-kernel-cmdline.out"),
        "builtin maas-kernel-cmdline\n"
    );
    assert_eq!(sum.commissioning[0].status, ResultStatus::Passed);
    assert_eq!(sum.commissioning[1].status, ResultStatus::Failed);
    assert!(text(&rec.end_of(2), "not-a-builtin.err").contains("no built-in script named"));
    assert_eq!(rec.end_of(2).get("exit_status"), Some("127"));
    assert_eq!(sum.commissioning[2].status, ResultStatus::Failed);
    assert!(text(&rec.end_of(3), "no-text").contains("no text"));
}

#[tokio::test]
async fn finished_results_are_not_run_again() {
    let t = tempfile::tempdir().unwrap();
    let mut done = user(1, "done", 0, "#!/bin/sh\nexit 1\n");
    done.status = Some("Passed".into());
    let rec = Recorder::default();
    let sum = run(
        "test",
        &index(vec![], vec![done]),
        &settings(t.path()),
        &rec,
    )
    .await;
    assert!(sum.testing.is_empty());
    assert_eq!(rec.summary(), [("OK".to_string(), None, None)]);
}

#[tokio::test]
async fn heartbeats_while_scripts_run() {
    let t = tempfile::tempdir().unwrap();
    let mut st = settings(t.path());
    st.heartbeat = Duration::from_millis(200);
    let rec = Recorder::default();
    run(
        "test",
        &index(vec![], vec![user(1, "sleepy", 0, "#!/bin/sh\nsleep 1.1\n")]),
        &st,
        &rec,
    )
    .await;
    let beats = rec
        .summary()
        .iter()
        .filter(|(s, id, _)| s == "WORKING" && id.is_none())
        .count();
    assert!(
        (4..=7).contains(&beats),
        "{beats} heartbeats in 1.1 s at 0.2 s"
    );
}

#[tokio::test]
async fn a_revoked_token_stops_the_run() {
    let t = tempfile::tempdir().unwrap();
    let marker = t.path().join("ran");
    let c = vec![
        user(1, "first", 0, "#!/bin/sh\n"),
        user(
            2,
            "second",
            0,
            &format!("#!/bin/sh\ntouch {}\n", marker.display()),
        ),
    ];
    let rec = Recorder::default();
    // The region fails the machine while `first` runs: its end report is refused.
    *rec.revoke_on.lock().unwrap() = Some(Box::new(|f: &Form| {
        f.get("script_result_id") == Some("1") && f.get("exit_status").is_some()
    }));
    let sum = run(
        "commission",
        &index(c, vec![user(3, "t", 0, "#!/bin/sh\n")]),
        &settings(t.path()),
        &rec,
    )
    .await;
    assert!(sum.revoked);
    assert_eq!(sum.delivery, None, "no final signal once revoked");
    assert!(
        !marker.exists(),
        "nothing is started after the token was revoked"
    );
    let sm = rec.summary();
    assert_eq!(sm.len(), 2, "{sm:?}");
}

#[test]
fn builtin_parameters_become_arguments() {
    let p = serde_json::json!({
        "quick_erase": {"type": "boolean", "value": true},
        "secure_erase": {"type": "boolean", "value": false},
        "runtime": {"type": "runtime", "value": 30},
        "storage": "sda",
    });
    assert_eq!(
        builtin_args(&p),
        ["--quick-erase", "--runtime=30", "--storage=sda"]
    );
    assert!(builtin_args(&serde_json::Value::Null).is_empty());
}

#[tokio::test]
async fn erase_runs_the_release_scripts_and_refuses_an_empty_list() {
    let t = tempfile::tempdir().unwrap();
    // Nothing to run: the disks were not erased, so the run fails instead of signalling OK.
    let rec = Recorder::default();
    let sum = run("erase", &index(vec![], vec![]), &settings(t.path()), &rec).await;
    assert_eq!(sum.final_status, "FAILED");
    assert!(sum.error.unwrap().contains("no erase script"));
    // The region lists the erase under `release_scripts`.
    let mut idx = index(vec![], vec![]);
    idx.release_scripts = vec![user(5, "eraser", 0, "#!/bin/sh\necho erased\n")];
    let rec = Recorder::default();
    let sum = run("erase", &idx, &settings(t.path()), &rec).await;
    assert_eq!(sum.final_status, "OK");
    assert_eq!(rec.end_of(5).get("exit_status"), Some("0"));
}
