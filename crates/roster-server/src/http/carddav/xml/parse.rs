//! Request bodies read into what they ask for: PROPFIND and REPORT properties, PROPPATCH
//! names, and the addressbook-multiget, addressbook-query and sync-collection REPORTs.

use super::tree::{Element, parse_tree};
use super::{CARDDAV, DAV, PropName, XmlError};
use std::collections::HashSet;

/// Which properties a PROPFIND or REPORT asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropRequest {
    /// All properties (also what an empty PROPFIND body means).
    AllProp,
    /// The names of all properties, without values.
    PropName,
    /// These properties.
    Prop(Vec<PropName>),
}

/// The vCard version an `address-data` element asks for, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AskedVersion {
    /// No version named: vCard 3.0 (RFC 6352 §10.4).
    #[default]
    Default,
    /// `version="3.0"`.
    V3,
    /// `version="4.0"`.
    V4,
}

/// What a `prop` element asks for, with the vCard version of `address-data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Props {
    /// The properties.
    pub request: PropRequest,
    /// The vCard version asked for in `address-data`.
    pub version: AskedVersion,
}

fn props_of(parent: &Element) -> Props {
    if parent.child(DAV, "allprop").is_some() {
        return Props {
            request: PropRequest::AllProp,
            version: AskedVersion::Default,
        };
    }
    if parent.child(DAV, "propname").is_some() {
        return Props {
            request: PropRequest::PropName,
            version: AskedVersion::Default,
        };
    }
    let mut names = Vec::new();
    let mut version = AskedVersion::Default;
    if let Some(prop) = parent.child(DAV, "prop") {
        // A property named twice is answered once, where it was first named. The names seen
        // are kept in a set, not looked up in the list: a 1 MiB body names 100,000 of them.
        let mut seen: HashSet<(&str, &str)> = HashSet::with_capacity(prop.children.len());
        for child in &prop.children {
            if child.is(CARDDAV, "address-data") {
                // vdirsyncer spells the content-type attribute in its own way: match the
                // version alone.
                version = match child.attribute("version").map(str::trim) {
                    Some("4.0") => AskedVersion::V4,
                    Some("3.0") => AskedVersion::V3,
                    _ => AskedVersion::Default,
                };
            }
            if seen.insert((child.ns.as_str(), child.name.as_str())) {
                names.push(child.prop_name());
            }
        }
    }
    Props {
        request: PropRequest::Prop(names),
        version,
    }
}

/// Parses a PROPFIND body; an empty body means `allprop`.
pub fn parse_propfind(body: &str) -> Result<Props, XmlError> {
    if body.trim().is_empty() {
        return Ok(Props {
            request: PropRequest::AllProp,
            version: AskedVersion::Default,
        });
    }
    let root = parse_tree(body)?;
    if !root.is(DAV, "propfind") {
        return Err(XmlError::Unexpected("expected DAV:propfind".into()));
    }
    let props = props_of(&root);
    if props.request == PropRequest::Prop(Vec::new()) && root.child(DAV, "prop").is_none() {
        return Err(XmlError::Unexpected("propfind needs prop, allprop or propname".into()));
    }
    Ok(props)
}

/// Parses a PROPPATCH body into the names of the properties it sets or removes.
pub fn parse_proppatch(body: &str) -> Result<Vec<PropName>, XmlError> {
    let root = parse_tree(body)?;
    if !root.is(DAV, "propertyupdate") {
        return Err(XmlError::Unexpected("expected DAV:propertyupdate".into()));
    }
    let mut names = Vec::new();
    for action in root.children.iter().filter(|c| c.is(DAV, "set") || c.is(DAV, "remove")) {
        for prop in action.children.iter().filter(|c| c.is(DAV, "prop")) {
            names.extend(prop.children.iter().map(Element::prop_name));
        }
    }
    Ok(names)
}

/// How a text-match compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    /// Equal text.
    Equals,
    /// Contains the text (the default).
    Contains,
    /// Starts with the text.
    StartsWith,
    /// Ends with the text.
    EndsWith,
}

/// One `text-match` of an addressbook-query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMatch {
    /// The text to look for.
    pub text: Needle,
    /// How to compare.
    pub match_type: MatchType,
    /// Whether the match is negated.
    pub negate: bool,
    /// `i;octet` (exact) instead of the default case-insensitive collation.
    pub octet: bool,
}

/// The text a `text-match` looks for, also in the lower case the case-insensitive collations
/// compare: folded once when the request is read, not once per card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needle {
    text: String,
    folded: String,
}

impl Needle {
    /// The text as sent, which `i;octet` compares.
    pub fn as_sent(&self) -> &str {
        &self.text
    }

    /// The text in lower case, which `i;unicode-casemap` and `i;ascii-casemap` compare.
    pub fn folded(&self) -> &str {
        &self.folded
    }
}

impl From<String> for Needle {
    fn from(text: String) -> Self {
        Needle {
            folded: text.to_lowercase(),
            text,
        }
    }
}

impl From<&str> for Needle {
    fn from(text: &str) -> Self {
        Needle::from(text.to_string())
    }
}

/// One `prop-filter` of an addressbook-query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropFilter {
    /// The vCard property name, upper-case (`FN`, `EMAIL`, `TEL`...).
    pub name: String,
    /// Matches only cards without the property.
    pub is_not_defined: bool,
    /// All text matches must hold (else any).
    pub all_of: bool,
    /// The text matches.
    pub matches: Vec<TextMatch>,
}

/// The filter of an addressbook-query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// All prop-filters must hold (else any).
    pub all_of: bool,
    /// The prop-filters; none matches every card.
    pub props: Vec<PropFilter>,
}

/// A REPORT request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// CARDDAV:addressbook-multiget.
    Multiget {
        /// Asked properties.
        props: Props,
        /// The cards' hrefs.
        hrefs: Vec<String>,
    },
    /// CARDDAV:addressbook-query.
    Query {
        /// Asked properties.
        props: Props,
        /// Which cards.
        filter: Filter,
        /// At most this many results.
        limit: Option<usize>,
    },
    /// DAV:sync-collection (RFC 6578).
    Sync {
        /// Asked properties.
        props: Props,
        /// The token of the previous sync ("" for the first).
        token: String,
        /// At most this many results (advisory).
        limit: Option<usize>,
    },
}

fn all_of(element: &Element) -> bool {
    element
        .attribute("test")
        .is_some_and(|t| t.eq_ignore_ascii_case("allof"))
}

fn limit_of(element: &Element) -> Result<Option<usize>, XmlError> {
    element
        .child(CARDDAV, "limit")
        .or_else(|| element.child(DAV, "limit"))
        .and_then(|l| l.child(CARDDAV, "nresults").or_else(|| l.child(DAV, "nresults")))
        .map(|n| {
            n.text
                .trim()
                .parse::<usize>()
                .map_err(|_| XmlError::Unexpected("nresults is not a number".into()))
        })
        .transpose()
}

fn text_match(element: &Element) -> Result<TextMatch, XmlError> {
    let match_type = match element.attribute("match-type").unwrap_or("contains") {
        "equals" => MatchType::Equals,
        "contains" => MatchType::Contains,
        "starts-with" => MatchType::StartsWith,
        "ends-with" => MatchType::EndsWith,
        other => return Err(XmlError::Unexpected(format!("unsupported match-type {other}"))),
    };
    let octet = match element.attribute("collation").unwrap_or("i;unicode-casemap") {
        "i;octet" => true,
        "i;unicode-casemap" | "i;ascii-casemap" => false,
        other => return Err(XmlError::Unexpected(format!("unsupported collation {other}"))),
    };
    Ok(TextMatch {
        text: Needle::from(element.text.clone()),
        match_type,
        negate: element.attribute("negate-condition") == Some("yes"),
        octet,
    })
}

fn filter_of(element: Option<&Element>) -> Result<Filter, XmlError> {
    let Some(element) = element else {
        return Ok(Filter {
            all_of: false,
            props: Vec::new(),
        });
    };
    let mut props = Vec::new();
    for prop in element.children.iter().filter(|c| c.is(CARDDAV, "prop-filter")) {
        let name = prop
            .attribute("name")
            .ok_or_else(|| XmlError::Unexpected("prop-filter without name".into()))?;
        props.push(PropFilter {
            name: name.to_ascii_uppercase(),
            is_not_defined: prop.child(CARDDAV, "is-not-defined").is_some(),
            all_of: all_of(prop),
            matches: prop
                .children
                .iter()
                .filter(|c| c.is(CARDDAV, "text-match"))
                .map(text_match)
                .collect::<Result<_, _>>()?,
        });
    }
    Ok(Filter {
        all_of: all_of(element),
        props,
    })
}

/// Parses a REPORT body.
pub fn parse_report(body: &str) -> Result<Report, XmlError> {
    let root = parse_tree(body)?;
    if root.is(CARDDAV, "addressbook-multiget") {
        let hrefs = root
            .children
            .iter()
            .filter(|c| c.is(DAV, "href"))
            .map(|h| h.text.trim().to_string())
            .collect();
        Ok(Report::Multiget {
            props: props_of(&root),
            hrefs,
        })
    } else if root.is(CARDDAV, "addressbook-query") {
        Ok(Report::Query {
            props: props_of(&root),
            filter: filter_of(root.child(CARDDAV, "filter"))?,
            limit: limit_of(&root)?,
        })
    } else if root.is(DAV, "sync-collection") {
        let token = root
            .child(DAV, "sync-token")
            .map(|t| t.text.trim().to_string())
            .unwrap_or_default();
        Ok(Report::Sync {
            props: props_of(&root),
            token,
            limit: limit_of(&root)?,
        })
    } else {
        Err(XmlError::Unexpected(format!(
            "unsupported report {}:{}",
            root.ns, root.name
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::carddav::xml::{CALSERVER, golden, parse_push_register};

    #[test]
    fn propfind_prop_with_foreign_namespaces() {
        let props = parse_propfind(&golden("propfind-prop.xml")).unwrap();
        assert_eq!(
            props.request,
            PropRequest::Prop(vec![
                PropName::new(DAV, "resourcetype"),
                PropName::new(DAV, "getetag"),
                PropName::new(CALSERVER, "getctag"),
                PropName::new(DAV, "sync-token"),
                PropName::new("http://example.com/ns", "color"),
            ])
        );
    }

    #[test]
    fn a_property_named_twice_is_asked_once_where_first_named() {
        // `y` is another prefix for the namespace of `x`; `z:getetag` is another property.
        let body = r#"<d:propfind xmlns:d="DAV:" xmlns:x="urn:x" xmlns:y="urn:x" xmlns:z="urn:z"><d:prop>
            <d:getetag/><x:color/><d:getetag/><y:color/><z:getetag/><x:size/><d:displayname/><x:color/>
            </d:prop></d:propfind>"#;
        assert_eq!(
            parse_propfind(body).unwrap().request,
            PropRequest::Prop(vec![
                PropName::new(DAV, "getetag"),
                PropName::new("urn:x", "color"),
                PropName::new("urn:z", "getetag"),
                PropName::new("urn:x", "size"),
                PropName::new(DAV, "displayname"),
            ])
        );
    }

    #[test]
    fn a_hundred_thousand_names_and_fifty_thousand_repeats_are_asked_once_each_in_order() {
        // 150,002 elements in all: within the reader's bound of 200,000.
        let names: Vec<String> = (0..100_000).map(|i| format!("p{i}")).collect();
        let mut body = String::from(r#"<propfind xmlns="DAV:"><prop xmlns:x="urn:x">"#);
        for name in names.iter().chain(names.iter().rev().step_by(2)) {
            body.push_str(&format!("<x:{name}/>"));
        }
        body.push_str("</prop></propfind>");
        let expected: Vec<PropName> = names.iter().map(|name| PropName::new("urn:x", name)).collect();
        assert_eq!(parse_propfind(&body).unwrap().request, PropRequest::Prop(expected));
    }

    #[test]
    fn propfind_forms() {
        assert_eq!(parse_propfind("").unwrap().request, PropRequest::AllProp);
        let allprop = r#"<propfind xmlns="DAV:"><allprop/></propfind>"#;
        assert_eq!(parse_propfind(allprop).unwrap().request, PropRequest::AllProp);
        let propname = r#"<d:propfind xmlns:d="DAV:"><d:propname/></d:propfind>"#;
        assert_eq!(parse_propfind(propname).unwrap().request, PropRequest::PropName);
        assert!(matches!(
            parse_propfind(r#"<propfind xmlns="DAV:"/>"#),
            Err(XmlError::Unexpected(_))
        ));
        assert!(matches!(
            parse_propfind(r#"<x:propfind xmlns:x="urn:other"><x:prop/></x:propfind>"#),
            Err(XmlError::Unexpected(_))
        ));
    }

    #[test]
    fn refuses_dtds_entities_and_garbage() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><propfind xmlns="DAV:">&a;</propfind>"#;
        assert!(matches!(parse_propfind(bomb), Err(XmlError::Malformed(_))));
        let unknown = r#"<propfind xmlns="DAV:"><prop><getetag/></prop>&a;</propfind>"#;
        assert!(matches!(parse_propfind(unknown), Err(XmlError::Malformed(_))));
        for bad in [
            "<propfind xmlns=\"DAV:\"><prop>",
            "not xml",
            "<a:propfind/>",
            "<propfind xmlns=\"DAV:\"></wrong>",
            "<propfind xmlns=\"DAV:\"><allprop/></propfind><second/>",
        ] {
            assert!(parse_propfind(bad).is_err(), "{bad}");
        }
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert!(matches!(parse_report(&deep), Err(XmlError::Malformed(_))));
    }

    #[test]
    fn every_request_parser_refuses_a_dtd() {
        // Each body is accepted as it is and refused once a DTD declaring an entity precedes it,
        // even where nothing uses the entity.
        let with_dtd = |body: &str| {
            let body = body
                .strip_prefix("<?xml")
                .and_then(|b| b.split_once("?>"))
                .map_or(body, |(_, rest)| rest);
            format!(r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]>{body}"#)
        };
        let refused = |result: Result<(), XmlError>| matches!(result, Err(XmlError::Malformed(_)));
        let propfind = golden("propfind-prop.xml");
        assert!(parse_propfind(&propfind).is_ok());
        assert!(refused(parse_propfind(&with_dtd(&propfind)).map(drop)));
        for name in ["multiget.xml", "query.xml", "sync-collection.xml"] {
            let report = golden(name);
            assert!(parse_report(&report).is_ok(), "{name}");
            assert!(refused(parse_report(&with_dtd(&report)).map(drop)), "{name}");
        }
        let proppatch =
            r#"<propertyupdate xmlns="DAV:"><set><prop><displayname>x</displayname></prop></set></propertyupdate>"#;
        assert!(parse_proppatch(proppatch).is_ok());
        assert!(refused(parse_proppatch(&with_dtd(proppatch)).map(drop)));
        let register = r#"<push-register xmlns="https://bitfire.at/webdav-push"><subscription>
            <web-push-subscription><push-resource>https://push.example.net/x</push-resource>
            <subscription-public-key>BTBZMqHH6r4Tts7J_aSIgg</subscription-public-key>
            <auth-secret>BTBZMqHH6r4Tts7J_aSIgg</auth-secret></web-push-subscription>
            </subscription></push-register>"#;
        assert!(parse_push_register(register).is_ok());
        assert!(refused(parse_push_register(&with_dtd(register)).map(drop)));
    }

    #[test]
    fn multiget_with_version_and_escaped_hrefs() {
        let report = parse_report(&golden("multiget.xml")).unwrap();
        let Report::Multiget { props, hrefs } = report else {
            panic!("not a multiget: {report:?}");
        };
        assert_eq!(props.version, AskedVersion::V4);
        assert_eq!(
            props.request,
            PropRequest::Prop(vec![
                PropName::new(DAV, "getetag"),
                PropName::new(CARDDAV, "address-data")
            ])
        );
        assert_eq!(hrefs, vec!["/dav/addressbooks/anna/contacts/a.vcf", "/dav/x&y.vcf"]);
    }

    #[test]
    fn query_filter_and_limit() {
        let report = parse_report(&golden("query.xml")).unwrap();
        let Report::Query { filter, limit, props } = report else {
            panic!("not a query: {report:?}");
        };
        assert_eq!(props.version, AskedVersion::Default);
        assert_eq!(limit, Some(5));
        assert!(!filter.all_of);
        assert_eq!(filter.props.len(), 2);
        assert_eq!(filter.props[0].name, "FN");
        assert_eq!(
            filter.props[0].matches,
            vec![TextMatch {
                text: "anna".into(),
                match_type: MatchType::StartsWith,
                negate: false,
                octet: false,
            }]
        );
        assert_eq!(filter.props[1].name, "TEL");
        assert_eq!(filter.props[1].matches[0].match_type, MatchType::Contains);
    }

    #[test]
    fn a_text_match_needle_is_read_as_sent_and_folded_once() {
        let body = r#"<c:addressbook-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav">
            <c:filter><c:prop-filter name="fn"><c:text-match collation="i;octet">Ärger &amp; CO</c:text-match>
            </c:prop-filter></c:filter></c:addressbook-query>"#;
        let Report::Query { filter, .. } = parse_report(body).unwrap() else {
            panic!("not a query");
        };
        let text_match = &filter.props[0].matches[0];
        assert_eq!(text_match.text.as_sent(), "Ärger & CO");
        assert_eq!(text_match.text.folded(), "ärger & co");
        assert!(text_match.octet);
    }

    #[test]
    fn sync_collection_with_and_without_token() {
        let report = parse_report(&golden("sync-collection.xml")).unwrap();
        let Report::Sync { token, props, limit } = report else {
            panic!("not a sync: {report:?}");
        };
        assert_eq!(token, "urn:x-roster:sync:AAAA");
        assert_eq!(limit, None);
        assert_eq!(props.request, PropRequest::Prop(vec![PropName::new(DAV, "getetag")]));
        let empty = r#"<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"#;
        assert!(matches!(parse_report(empty), Ok(Report::Sync { token, .. }) if token.is_empty()));
    }

    #[test]
    fn sync_collection_with_a_limit() {
        let body = r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:limit><D:nresults>25</D:nresults></D:limit><D:prop><D:getetag/></D:prop></D:sync-collection>"#;
        assert!(matches!(parse_report(body), Ok(Report::Sync { limit: Some(25), .. })));
        let bad = body.replace("25", "many");
        assert!(matches!(parse_report(&bad), Err(XmlError::Unexpected(_))));
    }

    #[test]
    fn proppatch_names() {
        let body = r#"<D:propertyupdate xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><D:set><D:prop><CS:me-card><D:href>/x</D:href></CS:me-card></D:prop></D:set></D:propertyupdate>"#;
        assert_eq!(
            parse_proppatch(body).unwrap(),
            vec![PropName::new(CALSERVER, "me-card")]
        );
    }
}
