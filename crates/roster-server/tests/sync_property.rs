//! The sync engine's promise, as a property: after any sequence of joins, leaves, card edits
//! and share-policy changes, applying `changes since 0` — or the changes since each earlier
//! cursor, incrementally — yields exactly the directory, for every member.

use proptest::prelude::*;
use roster_proto::api::{
    CardField, CardInput, CreateGroupRequest, CreateInviteRequest, JoinPolicy, LoginRequest, PhoneInput,
    RegisterRequest, TerminalKind,
};
use roster_server::domain::Roster;
use roster_server::domain::ids::GroupId;
use roster_server::domain::sync::Delta;
use roster_server::domain::terminal::Caller;
use roster_server::{Application, Config};
use std::collections::BTreeMap;
use std::sync::Arc;

const PEOPLE: usize = 5;

#[derive(Debug, Clone)]
enum Step {
    Join(usize),
    Leave(usize),
    Remove(usize),
    EditCard(usize, u32),
    ClearName(usize),
    Share(usize, Vec<CardField>),
}

fn step() -> impl Strategy<Value = Step> {
    let field = prop::sample::select(vec![
        CardField::Name,
        CardField::Phones,
        CardField::Emails,
        CardField::Note,
    ]);
    prop_oneof![
        3 => (1..PEOPLE).prop_map(Step::Join),
        1 => (1..PEOPLE).prop_map(Step::Leave),
        1 => (1..PEOPLE).prop_map(Step::Remove),
        3 => (0..PEOPLE, 1_000_000u32..9_999_999).prop_map(|(p, n)| Step::EditCard(p, n)),
        1 => (0..PEOPLE).prop_map(Step::ClearName),
        2 => (1..PEOPLE, prop::collection::vec(field, 0..3)).prop_map(|(p, f)| Step::Share(p, f)),
    ]
}

type View = BTreeMap<String, roster_proto::api::CardView>;

fn apply(view: &mut View, deltas: Vec<Delta>) {
    for delta in deltas {
        match delta {
            Delta::Upsert(id, card) => {
                view.insert(id.to_string(), *card);
            }
            Delta::Remove(id) => {
                view.remove(&id.to_string());
            }
        }
    }
}

async fn catch_up(roster: &Roster, caller: &Caller, group: GroupId, view: &mut View, cursor: &mut i64) -> bool {
    loop {
        match roster.changes(caller, group, *cursor).await {
            Ok(changes) => {
                assert!(!changes.resync);
                apply(view, changes.deltas);
                *cursor = changes.cursor;
                if !changes.more {
                    return true;
                }
            }
            Err(_) => return false, // not an active member: nothing to sync
        }
    }
}

async fn directory(roster: &Roster, caller: &Caller, group: GroupId) -> Option<View> {
    let mut view = View::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = roster
            .directory(caller, group, cursor.as_deref(), Some(3), None)
            .await
            .ok()?;
        for (id, card) in page.entries {
            view.insert(id.to_string(), card);
        }
        match page.next {
            Some(next) => cursor = Some(roster_server::domain::directory::encode_cursor(next)),
            None => return Some(view),
        }
    }
}

async fn run(steps: Vec<Step>) {
    let dir = tempfile::tempdir().unwrap();
    let app = Application::build(Config::for_tests(dir.path())).await.unwrap();
    let roster: Arc<Roster> = app.roster();
    let mut people = Vec::new();
    for i in 0..PEOPLE {
        let login = format!("person{i}");
        roster
            .register(
                &RegisterRequest {
                    login: login.clone(),
                    password: "long enough".into(),
                    display_name: None,
                    invite: None,
                },
                None,
            )
            .await
            .unwrap();
        let (token, _, _) = roster
            .login(
                &LoginRequest {
                    login,
                    password: "long enough".into(),
                    terminal_name: None,
                },
                TerminalKind::Session,
                None,
            )
            .await
            .unwrap();
        people.push(roster.authenticate(&token).await.unwrap());
    }
    let owner = &people[0];
    let group = roster
        .create_group(
            owner,
            &CreateGroupRequest {
                name: "G".into(),
                description: None,
                join_policy: Some(JoinPolicy::InviteOnly),
                member_limit: None,
            },
        )
        .await
        .unwrap()
        .group
        .id;
    let invite = roster
        .create_invite(owner, group, &CreateInviteRequest::default())
        .await
        .unwrap()
        .code;
    let mut incremental: Vec<(View, i64)> = vec![(View::new(), 0); PEOPLE];
    for step in steps {
        // Steps that the rules refuse (leaving twice, the owner leaving…) are no-ops here.
        let _ = match &step {
            Step::Join(p) => roster.accept_invite(&people[*p], &invite).await.map(|_| ()),
            Step::Leave(p) => roster.leave(&people[*p], group).await,
            Step::Remove(p) => roster.remove_member(owner, group, people[*p].account.id).await,
            Step::EditCard(p, n) => roster
                .set_card(
                    &people[*p],
                    &CardInput {
                        formatted_name: format!("Person {p}"),
                        phones: vec![PhoneInput {
                            number: format!("030 {n}"),
                            kind: None,
                        }],
                        note: Some(format!("note {n}")),
                        ..CardInput::default()
                    },
                    None,
                )
                .await
                .map(|_| ()),
            Step::ClearName(p) => roster
                .set_card(
                    &people[*p],
                    &CardInput {
                        formatted_name: format!("P{p}"),
                        phones: vec![PhoneInput {
                            number: "030 1000000".into(),
                            kind: None,
                        }],
                        ..CardInput::default()
                    },
                    None,
                )
                .await
                .map(|_| ()),
            Step::Share(p, fields) => roster.set_share_policy(&people[*p], group, fields).await.map(|_| ()),
        };
        for (i, person) in people.iter().enumerate() {
            let Some(expected) = directory(&roster, person, group).await else {
                // Not a member now: a member who comes back starts from scratch.
                incremental[i] = (View::new(), 0);
                continue;
            };
            let mut from_zero = View::new();
            let mut cursor = 0;
            assert!(catch_up(&roster, person, group, &mut from_zero, &mut cursor).await);
            assert_eq!(
                from_zero, expected,
                "person {i}: changes since 0 differ from the directory after {step:?}"
            );
            let (view, cursor) = &mut incremental[i];
            assert!(catch_up(&roster, person, group, view, cursor).await);
            assert_eq!(*view, expected, "person {i}: incremental changes differ after {step:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn changes_converge_to_the_directory(steps in prop::collection::vec(step(), 1..30)) {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run(steps));
    }
}
