//! The WebDAV properties of each kind of resource: which exist (for `allprop` and
//! `propname`) and their values. Unknown properties are answered 404 in their own propstat.

use super::card::{VCARD_TYPE, quoted, render};
use super::resource::Hrefs;
use super::xml::{self, CALSERVER, CARDDAV, DAV, PUSH, Prop, PropName, PropRequest, PropStat, Props, Value};
use crate::domain::book::{Book, BookCard, BookInfo};
use crate::domain::terminal::Caller;
use roster_proto::vcard::VcardVersion;

/// Which resource properties are asked of.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target<'a> {
    /// The DAV root.
    Root,
    /// The caller's principal.
    Principal,
    /// The address-book home set.
    Home,
    /// A book.
    Book(&'a BookInfo),
    /// A card of a book, rendered in a vCard version if its data is asked.
    Card(Book, &'a BookCard, VcardVersion),
}

/// A resource with what its property values need.
pub(super) struct Context<'a> {
    pub(super) kind: Target<'a>,
    pub(super) hrefs: &'a Hrefs,
    pub(super) caller: &'a Caller,
    pub(super) resource_href: String,
    /// A book's WebDAV-Push topic and the server's VAPID public key, when the caller may
    /// register for pushes.
    pub(super) push: Option<(String, String)>,
}

const READ: &str =
    "<D:privilege><D:read/></D:privilege><D:privilege><D:read-current-user-privilege-set/></D:privilege>";
// `me` may be written but not added to or removed from: the card always exists once set.
const READ_WRITE: &str = "<D:privilege><D:read/></D:privilege><D:privilege><D:read-current-user-privilege-set/></D:privilege><D:privilege><D:write-content/></D:privilege>";
const REPORTS: &str = "<D:supported-report><D:report><C:addressbook-multiget/></D:report></D:supported-report>\
<D:supported-report><D:report><C:addressbook-query/></D:report></D:supported-report>\
<D:supported-report><D:report><D:sync-collection/></D:report></D:supported-report>";
const ADDRESS_DATA_TYPES: &str = "<C:address-data-type content-type=\"text/vcard\" version=\"3.0\"/>\
<C:address-data-type content-type=\"text/vcard\" version=\"4.0\"/>";

fn names(kind: &Target<'_>) -> Vec<PropName> {
    let list: &[(&str, &str)] = match kind {
        Target::Root => &[
            (DAV, "resourcetype"),
            (DAV, "displayname"),
            (DAV, "current-user-principal"),
            (DAV, "current-user-privilege-set"),
            (CARDDAV, "addressbook-home-set"),
        ],
        Target::Principal => &[
            (DAV, "resourcetype"),
            (DAV, "displayname"),
            (DAV, "current-user-principal"),
            (DAV, "principal-URL"),
            (DAV, "current-user-privilege-set"),
            (CARDDAV, "addressbook-home-set"),
        ],
        Target::Home => &[
            (DAV, "resourcetype"),
            (DAV, "displayname"),
            (DAV, "current-user-principal"),
            (DAV, "owner"),
            (DAV, "current-user-privilege-set"),
            (CALSERVER, "me-card"),
        ],
        Target::Book(_) => &[
            (DAV, "resourcetype"),
            (DAV, "displayname"),
            (DAV, "current-user-principal"),
            (DAV, "owner"),
            (DAV, "current-user-privilege-set"),
            (DAV, "supported-report-set"),
            (DAV, "sync-token"),
            (CARDDAV, "addressbook-description"),
            (CARDDAV, "supported-address-data"),
            (CARDDAV, "max-resource-size"),
            (CALSERVER, "getctag"),
            (PUSH, "transports"),
            (PUSH, "topic"),
            (PUSH, "supported-triggers"),
        ],
        Target::Card(..) => &[
            (DAV, "resourcetype"),
            (DAV, "getetag"),
            (DAV, "getcontenttype"),
            (DAV, "current-user-privilege-set"),
        ],
    };
    list.iter().map(|(ns, name)| PropName::new(ns, name)).collect()
}

/// The largest vCard accepted on PUT, advertised so clients do not send bigger ones.
fn max_resource_size(caller_photo_limit: usize) -> usize {
    caller_photo_limit.saturating_mul(4) / 3 + 64 * 1024
}

fn value(ctx: &Context<'_>, name: &PropName, photo_limit: usize) -> Option<Value> {
    let hrefs = ctx.hrefs;
    let text = |s: &str| Some(Value::Text(s.to_string()));
    let xml = |s: &str| Some(Value::Xml(s.to_string()));
    let writable =
        matches!(ctx.kind, Target::Book(info) if info.writable) || matches!(ctx.kind, Target::Card(Book::Me, ..));
    match (name.ns.as_str(), name.name.as_str(), ctx.kind) {
        (DAV, "resourcetype", Target::Root | Target::Home) => xml("<D:collection/>"),
        (DAV, "resourcetype", Target::Principal) => xml("<D:collection/><D:principal/>"),
        (DAV, "resourcetype", Target::Book(_)) => xml("<D:collection/><C:addressbook/>"),
        (DAV, "resourcetype", Target::Card(..)) => Some(Value::Empty),
        (DAV, "displayname", Target::Root) => text("Roster"),
        (DAV, "displayname", Target::Principal) => text(&ctx.caller.account.display_name),
        (DAV, "displayname", Target::Home) => text("Address books"),
        (DAV, "displayname", Target::Book(info)) => text(&info.name),
        (DAV, "current-user-principal", _) => Some(Value::Href(hrefs.principal())),
        (DAV, "principal-URL", Target::Principal) => Some(Value::Href(hrefs.principal())),
        (CARDDAV, "addressbook-home-set", Target::Root | Target::Principal) => Some(Value::Href(hrefs.home())),
        (DAV, "owner", Target::Home | Target::Book(_)) => Some(Value::Href(hrefs.principal())),
        (DAV, "current-user-privilege-set", _) => xml(if writable { READ_WRITE } else { READ }),
        (DAV, "supported-report-set", Target::Book(_)) => xml(REPORTS),
        (DAV, "sync-token", Target::Book(info)) | (CALSERVER, "getctag", Target::Book(info)) => text(&info.token),
        (CARDDAV, "addressbook-description", Target::Book(info)) => text(match info.book {
            Book::Contacts => "Everyone you share a group with",
            Book::Me => "Your own card",
            Book::Group(_) => "The members of this group",
        }),
        (CARDDAV, "supported-address-data", Target::Book(_)) => xml(ADDRESS_DATA_TYPES),
        (CARDDAV, "max-resource-size", Target::Book(_)) => text(&max_resource_size(photo_limit).to_string()),
        (PUSH, "transports", Target::Book(_)) => ctx.push.as_ref().map(|(_, key)| {
            // Unprefixed children inherit the property's default namespace (WebDAV-Push).
            Value::Xml(format!(
                "<web-push><vapid-public-key type=\"p256ecdsa\">{key}</vapid-public-key></web-push>"
            ))
        }),
        (PUSH, "topic", Target::Book(_)) => ctx.push.as_ref().map(|(topic, _)| Value::Text(topic.clone())),
        (PUSH, "supported-triggers", Target::Book(_)) if ctx.push.is_some() => {
            xml("<content-update><D:sync-level>1</D:sync-level></content-update>")
        }
        (CALSERVER, "me-card", Target::Home) => Some(Value::Href(hrefs.card(Book::Me, ctx.caller.account.id))),
        (DAV, "getetag", Target::Card(_, card, _)) => text(&quoted(&card.etag)),
        (DAV, "getcontenttype", Target::Card(..)) => text(VCARD_TYPE),
        (CARDDAV, "address-data", Target::Card(_, card, version)) => Some(Value::Text(render(card, version))),
        _ => None,
    }
}

/// The `DAV:response` for one resource: 200 propstat with the known properties first, then
/// a 404 propstat with the unknown ones.
pub(super) fn respond(ctx: &Context<'_>, asked: &Props, photo_limit: usize) -> xml::Response {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    match &asked.request {
        PropRequest::PropName => {
            found = names(&ctx.kind)
                .into_iter()
                .map(|name| Prop {
                    name,
                    value: Value::Empty,
                })
                .collect();
        }
        PropRequest::AllProp => {
            for name in names(&ctx.kind) {
                if let Some(value) = value(ctx, &name, photo_limit) {
                    found.push(Prop { name, value });
                }
            }
        }
        PropRequest::Prop(list) => {
            for name in list {
                match value(ctx, name, photo_limit) {
                    Some(value) => found.push(Prop {
                        name: name.clone(),
                        value,
                    }),
                    None => missing.push(Prop {
                        name: name.clone(),
                        value: Value::Empty,
                    }),
                }
            }
        }
    }
    xml::Response::Props {
        href: ctx.resource_href.clone(),
        propstats: vec![
            PropStat {
                status: 200,
                props: found,
            },
            PropStat {
                status: 404,
                props: missing,
            },
        ],
    }
}
