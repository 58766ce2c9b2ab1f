//! Messages to people are counted as docs/tenant.md says, against the real binary and the sandbox:
//! an offline dry run counts the pairing message of every valid `ACTIVATION_REQUIRED` row as
//! the online one does (a duplicate sends none, whichever of the two rows asks for
//! activation), and a live run that would send them is refused naming the first lines.

use mfa_enroll::sandbox::SandboxOptions;
use mfa_enroll_test_support::*;

/// Lines 2 and 3 send a message. Line 5 asks for one, but repeats line 4's device; line 6
/// repeats line 2's without asking, which leaves line 2's message as it was. Line 7 is invalid.
fn input() -> String {
    let (a, b, c) = (user_id(1), user_id(2), user_id(3));
    format!(
        "user_id,type,phone,email,status\n\
         {a},SMS,+15125550101,,ACTIVATION_REQUIRED\n\
         {b},EMAIL,,b@example.com,ACTIVATION_REQUIRED\n\
         {c},SMS,+15125550103,,ACTIVE\n\
         {c},SMS,+1 512 555 0103,,ACTIVATION_REQUIRED\n\
         {a},SMS,+1.512.555.0101,,ACTIVE\n\
         {b},SMS,+1 555 0100,,ACTIVATION_REQUIRED\n"
    )
}

fn total(counts: &serde_json::Value) -> u64 {
    counts
        .as_object()
        .map_or(0, |m| m.values().filter_map(|v| v.as_u64()).sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_count_pairing_messages_and_a_live_run_names_their_lines() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    ws.write("in.csv", &input());

    let offline = enroll_to(&ws, &sandbox, "in.csv", "offline", &["--dry-run"]).await;
    assert_eq!(offline.code, 1, "{}", offline.both());
    let summary = |out: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(ws.path(out).join("summary.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let counted = summary("offline")["pairing_messages"].clone();
    assert_eq!(counted["SMS"], 1, "{counted}");
    assert_eq!(counted["EMAIL"], 1, "{counted}");
    // Shards count their own users' messages; merged, they add up to the whole file's.
    for shard in ["0/2", "1/2"] {
        let out = format!("shard{}", &shard[..1]);
        let run = enroll_to(
            &ws,
            &sandbox,
            "in.csv",
            &out,
            &["--dry-run", "--shard", shard],
        )
        .await;
        assert!(run.code <= 1, "{}", run.both());
    }
    let merged = run_binary(
        ws.dir.path(),
        None,
        &["merge", "shard0", "shard1", "--out", "merged"],
    )
    .await;
    assert!(merged.code <= 1, "{}", merged.both());
    assert_eq!(summary("merged")["pairing_messages"], counted);
    assert!(
        offline
            .stdout
            .contains("a real run would send 2 pairing messages"),
        "{}",
        offline.stdout
    );

    let online = enroll_to(
        &ws,
        &sandbox,
        "in.csv",
        "online",
        &["--dry-run", "--online"],
    )
    .await;
    assert_eq!(online.code, 1, "{}", online.both());
    assert_eq!(total(&summary("online")["plan"]["pairing_messages"]), 2);
    assert_eq!(summary("online")["pairing_messages"], counted);

    let live = enroll_to(&ws, &sandbox, "in.csv", "live", &[]).await;
    assert_eq!(live.code, 2, "{}", live.both());
    assert!(
        live.stderr
            .contains("2 rows would create ACTIVATION_REQUIRED devices (lines 2, 3)"),
        "{}",
        live.stderr
    );
    assert_eq!(sandbox.tally().posts, 0, "nothing sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refusal_shows_the_first_lines_of_many() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    let mut csv = String::from("user_id,type,phone,status\n");
    for i in 0..8 {
        csv.push_str(&format!(
            "{},SMS,{},ACTIVATION_REQUIRED\n",
            user_id(i),
            us_number(i)
        ));
    }
    ws.write("in.csv", &csv);
    let live = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(live.code, 2, "{}", live.both());
    assert!(
        live.stderr
            .contains("8 rows would create ACTIVATION_REQUIRED devices (lines 2, 3, 4, 5, 6, ...)"),
        "{}",
        live.stderr
    );
}
