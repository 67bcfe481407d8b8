//! What the voice adapters share: the spoken language (and the vendor's voice) picked
//! for a message's locale from a table, and text made safe inside the XML the vendors
//! read (Twilio's TwiML, the SSML of a Vonage `talk` action).
//!
//! Each voice adapter has a built-in table keyed by locale tag (`en`, `en-gb`, `pt`, …)
//! that its settings' `locales` extend or override. A message's locale is looked up
//! exactly (case and `_`/`-` ignored), then by its language alone, then as `en`: a
//! call always gets a voice. The call says `msg.body`, whose language is that of the
//! template text the tenant has for the locale (see `template::render_for`), so a
//! tenant that serves a locale by voice should give it a voice text of its own.

use std::collections::BTreeMap;

/// A table key or a locale as looked up: lowercase, `_` as `-`.
pub fn locale_key(locale: &str) -> String {
    locale.trim().to_ascii_lowercase().replace('_', "-")
}

/// `builtin` with `overrides` on top, keys normalised ([`locale_key`]).
pub fn merged<T: Clone>(
    builtin: &[(&str, T)],
    overrides: &BTreeMap<String, T>,
) -> BTreeMap<String, T> {
    let mut table: BTreeMap<String, T> = builtin
        .iter()
        .map(|(k, v)| (locale_key(k), v.clone()))
        .collect();
    for (k, v) in overrides {
        table.insert(locale_key(k), v.clone());
    }
    table
}

/// The entry for `locale`: the exact tag, then its language, then `en`.
pub fn pick<'t, T>(table: &'t BTreeMap<String, T>, locale: &str) -> Option<&'t T> {
    let key = locale_key(locale);
    let language = key.split('-').next().unwrap_or("");
    table
        .get(&key)
        .or_else(|| table.get(language))
        .or_else(|| table.get("en"))
}

/// `s` escaped for XML element content and attribute values (either quote), with the
/// characters XML 1.0 does not allow (control characters other than tab, newline and
/// carriage return) left out.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The commented example in `config/default.toml` that starts with the line `# {start}`,
/// uncommented: its tables and keys, up to the first blank line.
#[cfg(test)]
pub(crate) fn documented_example(start: &str) -> String {
    // read as a file: providers import nothing from `config`
    include_str!("../../config/default.toml")
        .lines()
        .skip_while(|l| l.strip_prefix("# ") != Some(start))
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| l.starts_with('[') || l.contains(" = "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locale_falls_back_to_its_language_then_to_english() {
        let over = BTreeMap::from([("pt_BR".to_string(), "override")]);
        let t = merged(&[("en", "en"), ("pt", "pt"), ("en-GB", "gb")], &over);
        assert_eq!(pick(&t, "en-gb"), Some(&"gb"));
        assert_eq!(pick(&t, "EN_GB"), Some(&"gb"));
        assert_eq!(pick(&t, "en-AU"), Some(&"en"));
        assert_eq!(pick(&t, "pt-BR"), Some(&"override"));
        assert_eq!(pick(&t, "pt-PT"), Some(&"pt"));
        assert_eq!(pick(&t, "xx"), Some(&"en"));
        assert_eq!(pick(&BTreeMap::<String, u8>::new(), "en"), None);
    }

    #[test]
    fn xml_escape_leaves_no_markup_and_no_forbidden_characters() {
        assert_eq!(
            xml_escape("A&B <\"x\"> 'y'\u{0}\u{7}\n"),
            "A&amp;B &lt;&quot;x&quot;&gt; &apos;y&apos;\n"
        );
    }
}
