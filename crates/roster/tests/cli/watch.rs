//! `roster watch`: changes arrive live, and the watcher survives a server restart.

use crate::support::{Server, User};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

/// A running `roster watch`, killed when dropped.
struct Watcher {
    child: Child,
    lines: Receiver<String>,
}

impl Watcher {
    fn start(user: &User) -> Self {
        let mut child = user
            .command(&["watch"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Watcher { child, lines }
    }

    /// Waits for a line containing `text`; answers it.
    fn expect(&self, text: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(20)) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(e) => panic!("no line with `{text}` from roster watch: {e}"),
            }
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn watch_applies_changes_live_and_survives_a_server_restart() {
    let mut server = Server::start();
    let (anna, anna_id) = User::register(&server, "anna");
    let (ben, _) = User::register(&server, "ben");
    anna.ok(&["card", "set", "--name", "Anna Schmidt", "--phone", "+49 30 1234567"]);
    ben.ok(&["card", "set", "--name", "Ben Meier", "--phone", "+49 30 7654321"]);
    let (group_id, link) = anna.create_group("Club", &[]);
    ben.ok(&["group", "join", &link]);

    let watcher = Watcher::start(&ben);
    // What Ben missed arrives first: the group and Anna's card.
    watcher.expect("+ Anna Schmidt");
    let file = ben.book().join(&group_id).join(format!("{anna_id}.vcf"));
    assert!(std::fs::read_to_string(&file).unwrap().contains("+49301234567"));

    anna.ok(&["card", "set", "--phone", "+49 30 1111111"]);
    watcher.expect("~ Anna Schmidt");
    assert!(std::fs::read_to_string(&file).unwrap().contains("+49301111111"));

    // The server goes away and comes back on the same port; the change made while the
    // watcher reconnects still arrives, once.
    server.restart();
    anna.ok(&["card", "set", "--phone", "+49 30 2222222"]);
    watcher.expect("~ Anna Schmidt");
    assert!(std::fs::read_to_string(&file).unwrap().contains("+49302222222"));

    // Leaving removes the card live; the cursor the watcher stored lets `sync` find nothing new.
    let (carl, _) = User::register(&server, "carl");
    carl.ok(&["card", "set", "--name", "Carl", "--phone", "+49 30 3333333"]);
    carl.ok(&["group", "join", &link]);
    watcher.expect("+ Carl");
    carl.ok(&["group", "leave", "Club"]);
    watcher.expect("- Carl");
    drop(watcher);
    assert!(ben.ok(&["sync"]).starts_with("+0 ~0 -0 in 1 group"));
}
