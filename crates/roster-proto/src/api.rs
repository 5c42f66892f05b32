//! JSON bodies of the `/api/v1` API.
//!
//! Inputs (`*Request`, [`CardInput`]) carry unvalidated strings; the server parses them once and
//! answers bad fields in a [`Problem`]. Outputs (`*View`, pages) are what the server renders.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// An RFC 9457 problem document, the body of every error answer (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank` or a Roster problem URI).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// One entry per invalid input field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Problem types (RFC 9457 `type`) that a client may act on; every other problem is
/// `about:blank`, described by its status and detail.
pub mod problem_type {
    /// 409 on accepting an invite: it has expired, been revoked or been used up.
    pub const INVITE_UNUSABLE: &str = "urn:x-roster:problem:invite-unusable";
}

/// One rejected input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// A JSON-pointer-like path to the field, e.g. `phones[1].number`.
    pub field: String,
    /// Why the value was rejected.
    pub message: String,
}

// ---------------------------------------------------------------------------------------------
// Accounts and terminals

/// `POST /api/v1/accounts`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// Login name: 3 to 64 characters from `a-z 0-9 . _ -`, case-insensitive.
    pub login: String,
    /// At least 8 characters.
    pub password: String,
    /// How the account is shown to group members (defaults to the login).
    #[serde(default)]
    pub display_name: Option<String>,
    /// An invite code (or link) to accept together with the registration; required when the
    /// server's registration is invite-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<String>,
}

/// An account as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    /// Stable identifier.
    pub id: Uuid,
    /// Login name (lower case).
    pub login: String,
    /// Display name.
    pub display_name: String,
    /// RFC 3339 time of registration.
    pub created_at: String,
}

/// `POST /api/v1/sessions`: log in and create a terminal.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Login name.
    pub login: String,
    /// Password.
    pub password: String,
    /// A name for the new terminal, e.g. "Anna's phone".
    #[serde(default)]
    pub terminal_name: Option<String>,
}

/// The answer to a login: the terminal's bearer token, shown only here, once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for `Authorization: Bearer …`. Store it; it cannot be shown again.
    pub token: String,
    /// The terminal this login created.
    pub terminal: TerminalView,
    /// The account logged in.
    pub account: AccountView,
}

/// What kind of credential a terminal holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TerminalKind {
    /// A bearer token from a login (CLI, browser, apps using the JSON API).
    Session,
    /// An app password for CardDAV clients.
    AppPassword,
    /// A browser signed in to the web pages (a cookie that opens the pages only).
    Web,
}

/// Asks for an app password: a terminal credential for a CardDAV client.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct AppPasswordRequest {
    /// Name of the device or client, shown in the terminal list.
    #[serde(default)]
    pub name: Option<String>,
    /// Whether this device's address-book home lists one book per group besides `contacts`;
    /// absent: the account's directory setting (Apple clients: the merged book only).
    #[serde(default)]
    pub group_books: Option<bool>,
}

/// How one app password's device is offered the address books.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct TerminalBooks {
    /// List one book per group besides `contacts` on this device; `null`: follow the account's
    /// directory setting (Apple clients: the merged book only).
    #[serde(default)]
    pub group_books: Option<bool>,
}

/// A new app password, shown once; use it with the login name over HTTP Basic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AppPasswordResponse {
    /// The password (never shown again).
    pub password: String,
    /// The terminal it belongs to; revoke it to revoke the password.
    pub terminal: TerminalView,
}

/// How the account's address books are offered to CardDAV clients.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct DirectorySettings {
    /// Also list one book per group besides `contacts` (people then appear once per book).
    #[serde(default)]
    pub list_group_books: bool,
}

/// One logged-in device of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TerminalView {
    /// Stable identifier.
    pub id: Uuid,
    /// Name given at login.
    pub name: String,
    /// Credential kind.
    pub kind: TerminalKind,
    /// RFC 3339 time of login.
    pub created_at: String,
    /// RFC 3339 time the terminal was last seen (to the minute).
    #[serde(default)]
    pub last_seen_at: Option<String>,
    /// Whether this is the terminal making the request.
    pub current: bool,
    /// Whether the terminal has a live stream open now.
    #[serde(default)]
    pub connected: bool,
    /// App passwords: whether the device lists the per-group books (`null`: account setting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_books: Option<bool>,
    /// App passwords: the client (User-Agent) that first used it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

/// `PUT /api/v1/me/password`: a new main password, confirmed with the current one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    /// The account's current password.
    pub current_password: String,
    /// The new password: at least 8 characters.
    pub new_password: String,
    /// Keep the app passwords (CardDAV devices) working; every other terminal but the calling
    /// one is revoked in any case. Default: false, everything else is revoked.
    #[serde(default)]
    pub keep_app_passwords: bool,
}

/// The answer to a password change.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasswordChanged {
    /// The terminals revoked by the change.
    pub revoked_terminals: Vec<Uuid>,
}

/// `DELETE /api/v1/me`: deleting an account asks for its password again.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeleteAccountRequest {
    /// The account's password.
    pub password: String,
}

/// `PATCH /api/v1/me`: what the account owner may change about the account.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateAccountRequest {
    /// New display name: 1 to 100 characters, no control characters.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// One member who receives the caller's card in a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AudienceMember {
    /// The member's account.
    pub account_id: Uuid,
    /// Their display name, or a neutral label when they do not share their name.
    pub display_name: String,
}

/// `GET /api/v1/me/audience`: what one group receives of the caller's card, and who.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GroupAudienceView {
    /// The group.
    pub group_id: Uuid,
    /// Its name.
    pub group_name: String,
    /// The caller's share policy in the group.
    pub share: Vec<CardField>,
    /// The fields the group receives: the policy, restricted to the fields the card has.
    pub fields: Vec<CardField>,
    /// The active members (the caller excepted) who receive them.
    pub members: Vec<AudienceMember>,
}

// ---------------------------------------------------------------------------------------------
// Cards

/// What a phone number is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PhoneKind {
    /// A mobile phone.
    #[default]
    Mobile,
    /// A work phone.
    Work,
    /// A home phone.
    Home,
    /// Anything else.
    Other,
}

/// What an e-mail address is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    /// Personal address.
    Home,
    /// Work address.
    Work,
    /// Anything else.
    #[default]
    Other,
}

/// A phone number as sent by a client: any common notation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PhoneInput {
    /// e.g. `+49 30 1234567`, or `030 1234567` read in the server's default region.
    pub number: String,
    /// Defaults to `mobile`.
    #[serde(default, rename = "type")]
    pub kind: Option<PhoneKind>,
}

/// A validated phone number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct Phone {
    /// E.164, e.g. `+49301234567`.
    pub number: String,
    /// What the number is for.
    #[serde(rename = "type")]
    pub kind: PhoneKind,
}

/// An e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct Email {
    /// The address.
    pub address: String,
    /// What the address is for; defaults to `other`.
    #[serde(default, rename = "type")]
    pub kind: EmailKind,
}

/// The parts of a person's name (vCard `N`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct StructuredName {
    /// Family name.
    #[serde(default)]
    pub family: String,
    /// Given name.
    #[serde(default)]
    pub given: String,
    /// Additional (middle) names.
    #[serde(default)]
    pub additional: String,
    /// Honorific prefixes.
    #[serde(default)]
    pub prefix: String,
    /// Honorific suffixes.
    #[serde(default)]
    pub suffix: String,
}

/// A postal address (vCard `ADR`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct Address {
    /// Street and number.
    #[serde(default)]
    pub street: String,
    /// City or town.
    #[serde(default)]
    pub locality: String,
    /// State or province.
    #[serde(default)]
    pub region: String,
    /// Postal code.
    #[serde(default)]
    pub postal_code: String,
    /// Country.
    #[serde(default)]
    pub country: String,
}

/// A photo, inline.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct Photo {
    /// `image/jpeg` or `image/png` (detected from the bytes on input).
    pub media_type: String,
    /// Standard base64 of the image bytes.
    pub data: String,
}

/// `PUT /api/v1/me/card`: my whole card. Absent optional fields are cleared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CardInput {
    /// Formatted name, e.g. "Anna Schmidt". Required.
    pub formatted_name: String,
    /// Structured name.
    #[serde(default)]
    pub name: Option<StructuredName>,
    /// At least one phone number.
    #[serde(default)]
    pub phones: Vec<PhoneInput>,
    /// E-mail addresses.
    #[serde(default)]
    pub emails: Vec<Email>,
    /// Organisation.
    #[serde(default)]
    pub organization: Option<String>,
    /// Job title.
    #[serde(default)]
    pub title: Option<String>,
    /// Postal address.
    #[serde(default)]
    pub address: Option<Address>,
    /// `YYYY-MM-DD`, or `--MM-DD` without a year.
    #[serde(default)]
    pub birthday: Option<String>,
    /// Free text.
    #[serde(default)]
    pub note: Option<String>,
    /// A JPEG or PNG photo: base64, or a `data:` URI.
    #[serde(default)]
    pub photo: Option<String>,
}

/// A card as rendered to a viewer: fields the viewer may not see are absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CardView {
    /// Formatted name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted_name: Option<String>,
    /// Structured name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<StructuredName>,
    /// Phone numbers, E.164.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Phone>,
    /// E-mail addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<Email>,
    /// Organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// Job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Postal address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// `YYYY-MM-DD` or `--MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Photo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<Photo>,
}

/// My own card with its revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MyCard {
    /// The whole card.
    pub card: CardView,
    /// Grows by one with every change of the card.
    pub revision: i64,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
}

/// A card field that a share policy can grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CardField {
    /// Formatted and structured name.
    Name,
    /// Phone numbers.
    Phones,
    /// E-mail addresses.
    Emails,
    /// Organisation and title.
    Organization,
    /// Postal address.
    Address,
    /// Birthday.
    Birthday,
    /// Note.
    Note,
    /// Photo.
    Photo,
}

/// Which of my card's fields one group may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SharePolicy {
    /// The granted fields; the default is name and phones.
    pub fields: Vec<CardField>,
}

// ---------------------------------------------------------------------------------------------
// Groups, memberships, invites

/// How accounts join a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JoinPolicy {
    /// Only admins create invites; an invite joins at once.
    #[default]
    InviteOnly,
    /// Admins create invites; using one files a request that an admin approves or denies.
    Approval,
    /// Any member may create invites; an invite joins at once.
    OpenWithLink,
}

/// A member's role in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An ordinary member.
    Member,
    /// Manages members and invites.
    Admin,
    /// Created the group or received it; one per group.
    Owner,
}

/// Where a membership stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MembershipState {
    /// Asked to join; waits for an admin.
    Pending,
    /// A member: sees and is seen.
    Active,
    /// Left on their own.
    Left,
    /// Removed, or their request was denied.
    Removed,
}

/// `POST /api/v1/groups`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateGroupRequest {
    /// 1 to 100 characters.
    pub name: String,
    /// Up to 2000 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// Defaults to `invite_only`.
    #[serde(default)]
    pub join_policy: Option<JoinPolicy>,
    /// Maximum number of active members; none means the server's limit.
    #[serde(default)]
    pub member_limit: Option<u32>,
}

/// `PATCH /api/v1/groups/{id}`: absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateGroupRequest {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// New join policy.
    #[serde(default)]
    pub join_policy: Option<JoinPolicy>,
    /// New member limit.
    #[serde(default)]
    pub member_limit: Option<u32>,
}

/// A group as one of its members sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GroupView {
    /// Stable identifier.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// The owner's account.
    pub owner_id: Uuid,
    /// How accounts join.
    pub join_policy: JoinPolicy,
    /// Maximum number of active members.
    pub member_limit: u32,
    /// Number of active members.
    pub member_count: u64,
    /// The group's current change-log version.
    pub version: i64,
    /// The caller's role.
    pub role: Role,
    /// The caller's membership state.
    pub state: MembershipState,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// A member as listed to other members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MemberView {
    /// The member's account.
    pub account_id: Uuid,
    /// The account's display name.
    pub display_name: String,
    /// Role in the group.
    pub role: Role,
    /// Membership state (admins also see pending requests).
    pub state: MembershipState,
    /// RFC 3339 time the membership last changed state.
    pub since: String,
}

/// `PATCH /api/v1/groups/{id}/members/{account_id}`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UpdateMemberRequest {
    /// `member` or `admin` (ownership moves with the transfer call).
    pub role: Role,
}

/// `POST /api/v1/groups/{id}/transfer`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TransferRequest {
    /// The active member who becomes owner.
    pub account_id: Uuid,
}

/// `POST /api/v1/groups/{id}/invites`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CreateInviteRequest {
    /// Lifetime in seconds (default 7 days, at most 90 days).
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// How many joins the invite allows (default unlimited within its lifetime).
    #[serde(default)]
    pub max_uses: Option<u32>,
}

/// An invite link of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InviteView {
    /// Stable identifier (to revoke it).
    pub id: Uuid,
    /// The group it joins.
    pub group_id: Uuid,
    /// The secret code; present only in the answer that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The link to share; present only in the answer that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// RFC 3339 expiry.
    pub expires_at: String,
    /// Maximum number of joins, if limited.
    #[serde(default)]
    pub max_uses: Option<u32>,
    /// Joins so far.
    pub uses: u32,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// The answer to accepting an invite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JoinResponse {
    /// The group joined (or asked to join).
    pub group_id: Uuid,
    /// The group's name.
    pub group_name: String,
    /// `active`, or `pending` in approval groups.
    pub state: MembershipState,
}

// ---------------------------------------------------------------------------------------------
// Directory and changes

/// One other member's card as the viewer may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DirectoryEntry {
    /// The member's account; also the contact's stable UID.
    pub account_id: Uuid,
    /// The visible part of the card.
    pub card: CardView,
}

/// `GET /api/v1/groups/{id}/directory`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DirectoryPage {
    /// Cards, ordered by account id.
    pub entries: Vec<DirectoryEntry>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// The group's version when the page was read: `changes?since=` this catches up.
    pub version: i64,
}

/// One entry of an incremental sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum DirectoryChange {
    /// Store (or replace) this member's card.
    Upsert {
        /// The member's account.
        account_id: Uuid,
        /// The visible part of the card.
        card: Box<CardView>,
    },
    /// Delete this member's card: they left, were removed, or share nothing any more.
    Remove {
        /// The member's account.
        account_id: Uuid,
    },
}

/// `GET /api/v1/groups/{id}/changes?since=V`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChangesPage {
    /// The group.
    pub group_id: Uuid,
    /// True when `since` was older than the kept log: `changes` is empty; drop every card of
    /// this group, read the whole directory, then continue with `since=cursor`.
    pub resync: bool,
    /// Distinct members changed after `since`, each in its current state.
    pub changes: Vec<DirectoryChange>,
    /// The version to pass as `since` next time.
    pub cursor: i64,
    /// True when more changes follow: ask again at once with `since=cursor`.
    pub more: bool,
}
