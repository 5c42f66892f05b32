//! Faults a person meets: each is one line on stderr and its documented exit code.

use crate::support::{Server, User};

#[test]
fn each_fault_has_one_line_and_its_own_exit_code() {
    let server = Server::start();
    let (anna, _) = User::register(&server, "anna");
    anna.ok(&["card", "set", "--name", "Anna", "--phone", "+49 30 1111111"]);

    // 5: not logged in.
    let stranger = User::new("nobody");
    assert!(stranger.fails(&["sync"], 5).contains("not logged in"));
    // 3: nothing listens there.
    let stderr = stranger.fails(&["login", "--server", "http://127.0.0.1:1", "nobody"], 3);
    assert!(stderr.contains("cannot reach the server"), "{stderr}");
    // 4: wrong password (the stranger's password is not Anna's).
    assert!(
        stranger
            .fails(&["login", "--server", &server.url, "anna"], 4)
            .contains("wrong login")
    );
    // 2: usage, before any request.
    stranger.fails(&["login", "--server", "ftp://x", "anna"], 2);

    // 6: not found.
    anna.fails(&["group", "show", "No such group"], 6);
    anna.fails(&["group", "join", &format!("{}/join/inv_doesnotexist", server.url)], 6);
    // 8: the server rejects a field, and says which.
    assert!(
        anna.fails(&["card", "set", "--phone", "12"], 8)
            .contains("phones[0].number")
    );

    // 7: an invite used up.
    anna.ok(&["group", "create", "Club"]);
    let link = anna.json(&["group", "invite", "Club", "--max-uses", "1"])["url"]
        .as_str()
        .unwrap()
        .to_string();
    let (ben, _) = User::register(&server, "ben");
    ben.ok(&["group", "join", &link]);
    let (carl, _) = User::register(&server, "carl");
    assert!(
        carl.fails(&["group", "join", &link], 7)
            .contains("expired or has been used up")
    );
    // 9: refused: the owner cannot leave, a member cannot invite in an invite-only group.
    anna.fails(&["group", "leave", "Club"], 9);
    ben.fails(&["group", "invite", "Club"], 9);

    // 5: a revoked terminal. Anna revokes Ben's terminal from another of Ben's terminals.
    let ben_laptop = User::new("ben");
    ben_laptop.ok(&["login", "--server", &server.url, "ben"]);
    let terminals = ben_laptop.json(&["terminals"]);
    let phone = terminals
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    ben_laptop.ok(&["terminals", "revoke", &phone]);
    assert!(ben.fails(&["sync"], 5).contains("no longer accepts this terminal"));
    assert!(ben_laptop.ok(&["sync"]).starts_with("+1"));

    // Logging out revokes the token and forgets it.
    ben_laptop.ok(&["logout"]);
    ben_laptop.fails(&["sync"], 5);
}

#[test]
fn credentials_are_readable_by_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::start();
    let (anna, _) = User::register(&server, "anna");
    let file = anna.home().join("config/config.toml");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(std::fs::read_to_string(&file).unwrap().contains(&server.url));
}

#[test]
fn a_password_change_logs_out_the_other_terminals() {
    let server = Server::start();
    let (anna, _) = User::register(&server, "anna");
    let laptop = User::new("anna");
    laptop.ok(&["login", "--server", &server.url, "anna"]);
    // A wrong current password is refused (9), and nothing changes.
    let output = anna
        .command(&["password"])
        .env("ROSTER_PASSWORD", "not the password")
        .env("ROSTER_NEW_PASSWORD", "a new password")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(9),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    laptop.ok(&["terminals"]);
    let output = anna
        .command(&["--json", "password"])
        .env("ROSTER_NEW_PASSWORD", "a new password")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let changed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(changed["revoked_terminals"].as_array().unwrap().len(), 1, "{changed}");
    // The laptop is logged out (5); this terminal goes on.
    laptop.fails(&["terminals"], 5);
    anna.ok(&["terminals"]);
}
