//! `roster backup` and `roster restore` as an operator runs them: a backup of the running
//! server, the data folder lost, the backup restored into a new one and served at the same
//! address; a terminal that synced after the backup is brought back to the restored state by
//! a resync, not left holding a card the server no longer has.

use crate::support::{Server, User, wait_ready};
use std::process::{Command, Output, Stdio};

fn roster(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

fn one_line_failure(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("roster: "), "{stderr}");
    stderr
}

#[test]
fn a_backup_of_the_running_server_restores_and_terminals_that_went_further_resync() {
    let mut server = Server::start();
    let (anna, anna_id) = User::register(&server, "anna");
    let (ben, _) = User::register(&server, "ben");
    anna.ok(&["card", "set", "--name", "Anna", "--phone", "+49 30 1111111"]);
    ben.ok(&["card", "set", "--name", "Ben", "--phone", "+44 20 7946 0958"]);
    let (group, link) = anna.create_group("Club", &[]);
    ben.ok(&["group", "join", &link]);
    assert!(ben.ok(&["sync"]).starts_with("+1 ~0 -0"));

    // While the server runs.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("roster-backup.db");
    let file_arg = file.to_str().unwrap();
    let url = server.database_url();
    let out = roster(&["backup", "--database-url", &url, "--to", file_arg]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.starts_with("backed up 2 accounts and 1 groups to ") && stdout.contains(file_arg),
        "{stdout}"
    );
    let again = roster(&["backup", "--database-url", &url, "--to", file_arg]);
    assert!(one_line_failure(&again).contains("exists"));

    // After the backup Anna changes her number, and Ben's address book follows.
    anna.ok(&["card", "set", "--phone", "+49 30 2222222"]);
    assert!(ben.ok(&["sync"]).starts_with("+0 ~1 -0"));
    let vcf = ben.book().join(&group).join(format!("{anna_id}.vcf"));
    assert!(std::fs::read_to_string(&vcf).unwrap().contains("+49302222222"));

    // The data folder is lost; the backup goes into a new one, served at the same address.
    server.stop();
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().to_str().unwrap();
    let out = roster(&["restore", file_arg, "--data-dir", data_arg]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("restored 2 accounts and 1 groups into sqlite://"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(one_line_failure(&roster(&["restore", file_arg, "--data-dir", data_arg])).contains("exists"));
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, "hello").unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let refused = one_line_failure(&roster(&[
        "restore",
        garbage.to_str().unwrap(),
        "--data-dir",
        elsewhere.path().to_str().unwrap(),
    ]));
    assert!(refused.contains("not a usable Roster backup"), "{refused}");

    let address = server.url.trim_start_matches("http://").to_string();
    let port: u16 = address.rsplit_once(':').unwrap().1.parse().unwrap();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args([
            "serve",
            "--listen",
            &address,
            "--data-dir",
            data_arg,
            "--default-region",
            "DE",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_ready(port, &mut serve);
    // Ben's cursor is ahead of the restored log: his next sync reloads the directory, and
    // his address book holds Anna's number as the server has it again.
    let out = ben.ok(&["sync"]);
    assert!(out.starts_with("+0 ~1 -0"), "{out}");
    let card = std::fs::read_to_string(&vcf).unwrap();
    assert!(
        card.contains("+49301111111") && !card.contains("+49302222222"),
        "{card}"
    );
    // And from there on incrementally.
    anna.ok(&["card", "set", "--phone", "+49 30 3333333"]);
    assert!(ben.ok(&["sync"]).starts_with("+0 ~1 -0"));
    assert!(std::fs::read_to_string(&vcf).unwrap().contains("+49303333333"));
    let _ = serve.kill();
    let _ = serve.wait();
}
