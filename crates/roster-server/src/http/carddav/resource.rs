//! The DAV tree's names: which resource a request path names, and the hrefs written back
//! for the caller's resources. Pure string work, no I/O.

use crate::domain::book::Book;
use crate::domain::ids::AccountId;
use uuid::Uuid;

/// Where the DAV tree starts.
pub(super) const ROOT: &str = "/dav/";

/// The path of an account's principal, where a CardDAV client starts (also written into the
/// phone setup profiles and links of the web pages).
pub fn principal_path(login: &str) -> String {
    format!("{ROOT}principals/{login}/")
}

/// A resource of the DAV tree, as named by a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Resource {
    /// `/` or `/dav/`: points at the principal.
    Root,
    /// The account's principal.
    Principal(String),
    /// The address-book home set.
    Home(String),
    /// One book.
    Book(String, Book),
    /// One card of a book.
    Card(String, Book, AccountId),
}

impl Resource {
    /// The resource a request path names, if it names one (logins are case-insensitive).
    pub(super) fn parse(path: &str) -> Option<Resource> {
        if path == "/" || path == "/dav" || path == ROOT {
            return Some(Resource::Root);
        }
        let rest = path.strip_prefix(ROOT)?;
        let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        let login = |s: &str| s.to_ascii_lowercase();
        match parts.as_slice() {
            ["principals", who] => Some(Resource::Principal(login(who))),
            ["addressbooks", who] => Some(Resource::Home(login(who))),
            ["addressbooks", who, book] => Some(Resource::Book(login(who), Book::from_key(book)?)),
            ["addressbooks", who, book, card] if !rest.ends_with('/') => {
                let id = card.strip_suffix(".vcf")?.parse::<Uuid>().ok()?;
                Some(Resource::Card(login(who), Book::from_key(book)?, AccountId(id)))
            }
            _ => None,
        }
    }

    /// The login whose tree the resource is in; `None` for the root.
    pub(super) fn owner(&self) -> Option<&str> {
        match self {
            Resource::Root => None,
            Resource::Principal(l) | Resource::Home(l) | Resource::Book(l, _) | Resource::Card(l, _, _) => Some(l),
        }
    }
}

/// Hrefs of the caller's resources.
#[derive(Debug, Clone)]
pub(super) struct Hrefs {
    /// The caller's login, the first segment of every href below the tree's root.
    pub(super) login: String,
}

impl Hrefs {
    /// The caller's principal.
    pub(super) fn principal(&self) -> String {
        principal_path(&self.login)
    }

    /// The caller's address-book home set.
    pub(super) fn home(&self) -> String {
        format!("{ROOT}addressbooks/{}/", self.login)
    }

    /// One of the caller's books.
    pub(super) fn book(&self, book: Book) -> String {
        format!("{}{}/", self.home(), book.key())
    }

    /// One card of one of the caller's books.
    pub(super) fn card(&self, book: Book, subject: AccountId) -> String {
        format!("{}{subject}.vcf", self.book(book))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::GroupId;

    #[test]
    fn paths_name_resources() {
        let id = Uuid::new_v4();
        assert_eq!(Resource::parse("/"), Some(Resource::Root));
        assert_eq!(Resource::parse("/dav/"), Some(Resource::Root));
        assert_eq!(
            Resource::parse("/dav/principals/Anna/"),
            Some(Resource::Principal("anna".into()))
        );
        assert_eq!(
            Resource::parse("/dav/addressbooks/anna/contacts/"),
            Some(Resource::Book("anna".into(), Book::Contacts))
        );
        assert_eq!(
            Resource::parse(&format!("/dav/addressbooks/anna/{id}/{id}.vcf")),
            Some(Resource::Card("anna".into(), Book::Group(GroupId(id)), AccountId(id)))
        );
        for bad in [
            "/dav/x/",
            "/dav/addressbooks/anna/nope/",
            "/dav/addressbooks/anna/me/x.vcf",
            "/api/v1",
        ] {
            assert_eq!(Resource::parse(bad), None, "{bad}");
        }
    }
}
