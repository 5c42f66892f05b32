//! The pages' languages: Fluent catalogs in `locales/<language>/*.ftl`, compiled in, and the
//! choice of language from the reader's cookie or `Accept-Language`.

use axum::http::HeaderMap;
use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid};
use std::borrow::Cow;
use std::collections::HashMap;

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // No Unicode isolation marks around arguments: they would end up in form values.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// The cookie that keeps a reader's choice of language.
pub const LANG_COOKIE: &str = "roster_lang";

/// A language the pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Simplified Chinese.
    ZhHans,
}

impl Lang {
    /// Every language, in the order the switch shows them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::ZhHans];

    /// The BCP 47 tag (`lang` attribute, cookie value, catalog folder).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhHans => "zh-Hans",
        }
    }

    /// The language's name in itself, for the switch.
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::ZhHans => "简体中文",
        }
    }

    /// A language from its tag, exactly as [`Lang::tag`] writes it.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.tag().eq_ignore_ascii_case(tag.trim()))
    }

    fn id(self) -> LanguageIdentifier {
        match self {
            Lang::En => langid!("en"),
            Lang::ZhHans => langid!("zh-Hans"),
        }
    }

    /// The reader's language: the cookie if it names one, else the best of `Accept-Language`.
    pub fn of_request(headers: &HeaderMap, cookie: Option<&str>) -> Lang {
        if let Some(lang) = cookie.and_then(Lang::from_tag) {
            return lang;
        }
        headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(negotiate)
            .unwrap_or_default()
    }

    /// A message of the catalog.
    pub fn t(self, key: &str) -> String {
        LOCALES.lookup(&self.id(), key)
    }

    /// A message with arguments.
    pub fn t_args(self, key: &str, args: &[(&'static str, FluentValue<'static>)]) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue<'static>> =
            args.iter().map(|(k, v)| (Cow::Borrowed(*k), v.clone())).collect();
        LOCALES.lookup_with_args(&self.id(), key, &args)
    }
}

/// The best supported language of an `Accept-Language` value (highest weight first; any
/// Chinese reads Simplified Chinese, which is closer to Traditional readers than English).
pub fn negotiate(header: &str) -> Lang {
    let mut best: Option<(u32, usize, Lang)> = None;
    for (index, item) in header.split(',').take(32).enumerate() {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let weight = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if weight <= 0.0 || weight.is_nan() {
            continue;
        }
        let lang = if tag == "zh" || tag.starts_with("zh-") {
            Lang::ZhHans
        } else if tag == "en" || tag.starts_with("en-") {
            Lang::En
        } else {
            continue;
        };
        // Weights compare in thousandths; earlier entries win ties.
        let weight = (weight.min(1.0) * 1000.0) as u32;
        if best.is_none_or(|(w, i, _)| weight > w || (weight == w && index < i)) {
            best = Some((weight, index, lang));
        }
    }
    best.map(|(_, _, lang)| lang).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_heaviest_supported_language() {
        assert_eq!(negotiate("zh-CN,zh;q=0.9,en;q=0.8"), Lang::ZhHans);
        assert_eq!(negotiate("de-DE,de;q=0.9,en-US;q=0.8,zh;q=0.7"), Lang::En);
        assert_eq!(negotiate("fr, zh-TW;q=0.5"), Lang::ZhHans);
        assert_eq!(negotiate("en;q=0.1, zh-Hans;q=0.2"), Lang::ZhHans);
        assert_eq!(negotiate("zh;q=0, en"), Lang::En);
        assert_eq!(negotiate("ja, ko"), Lang::En);
        assert_eq!(negotiate(""), Lang::En);
    }

    #[test]
    fn every_message_exists_in_every_language() {
        // Catalog files are compared key by key: a message missing in one language would fall
        // back to English silently.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
        let keys = |lang: Lang| -> std::collections::BTreeSet<String> {
            let mut keys = std::collections::BTreeSet::new();
            let dir = root.join(lang.tag());
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                .unwrap_or_default();
            files.sort();
            for file in files {
                let text = std::fs::read_to_string(&file).unwrap_or_default();
                for line in text.lines() {
                    let starts_key = line.starts_with(|c: char| c.is_ascii_alphabetic());
                    if let Some((key, _)) = line.split_once('=').filter(|_| starts_key) {
                        keys.insert(format!(
                            "{}: {}",
                            file.file_name().unwrap_or_default().to_string_lossy(),
                            key.trim()
                        ));
                    }
                }
            }
            keys
        };
        // Messages with arguments only resolve when given them: every argument name the
        // catalogs use gets a value.
        let resolve = |lang: Lang, id: &str| {
            let args: Vec<(&'static str, FluentValue<'static>)> = [
                "count", "n", "name", "group", "device", "time", "kind", "server", "login", "uses", "max", "date",
                "days", "role", "user", "client", "fields", "members",
            ]
            .into_iter()
            .map(|name| (name, FluentValue::from(2)))
            .collect();
            lang.t_args(id, &args)
        };
        let english = keys(Lang::En);
        assert!(english.len() > 20, "the English catalog is read");
        assert_eq!(english, keys(Lang::ZhHans));
        let unknown: Vec<String> = english
            .iter()
            .flat_map(|key| Lang::ALL.map(|lang| (lang, key.split(": ").nth(1).unwrap_or_default().to_string())))
            .filter(|(lang, id)| resolve(*lang, id).starts_with("Unknown localization key"))
            .map(|(lang, id)| format!("{}: {id}", lang.tag()))
            .collect();
        assert!(unknown.is_empty(), "messages that do not parse: {unknown:?}");
        for key in &english {
            let id = key.split(": ").nth(1).unwrap_or_default();
            if id.starts_with("brand-") {
                continue; // names of products, the same in every language
            }
            assert_ne!(
                resolve(Lang::ZhHans, id),
                resolve(Lang::En, id),
                "{key} is not translated"
            );
        }
    }
}
