//! Where Hugo publishes a page: its URL folder from front matter (`url`, `slug`, `title`,
//! `date`) and the site's `permalinks`, with Hugo's rules for turning text into a path.
//!
//! Pure. The rules were read off Hugo 0.168's output (the unit tests below hold what it
//! published for each title and slug), not from its code:
//! - A path segment made from text (`urlize`) keeps letters, digits, combining marks and
//!   `. / \ _ # + ~ - @`, and `%` when two hex digits follow; drops every other character; a
//!   run of white space becomes one `-`, unless it is at either end, next to a `-` already
//!   written, or before a `-`. Then it is lower-cased letter by letter.
//! - A `slug` with no permalink pattern is published as `urlize` makes it.
//! - In a permalink pattern, `:slug` and `:title` go further: the urlized text is read as a
//!   URL (a `#` with nothing after it is dropped, `%XX` decoded, `+` read as a space) and
//!   urlized again; `:title` first turns `/` and `\` into spaces, `:slug` keeps its folders.
//!
//! The result is the folder on disk (`Déjà vu` → `déjà-vu`), not its percent-encoded URL.

use crate::config::Config;
use crate::extract::fmvalues::UrlParts;
use crate::resolve::PageInfo;
use crate::site_path;
use percent_encoding::percent_decode_str;

/// Hugo's `urlize` for a path made from text (see the module's rules), unescaped.
pub fn urlize(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut space_before = false;
    for (i, &c) in chars.iter().enumerate() {
        let escape = c == '%'
            && chars.get(i + 1).is_some_and(char::is_ascii_hexdigit)
            && chars.get(i + 2).is_some_and(char::is_ascii_hexdigit);
        let kept = c.is_alphanumeric()
            || is_mark(c)
            || matches!(c, '.' | '/' | '\\' | '_' | '#' | '+' | '~' | '-' | '@')
            || escape;
        if kept {
            if space_before && c != '-' && !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            space_before = false;
            push_lower(&mut out, c);
        } else if c.is_whitespace() {
            space_before = true;
        }
    }
    out
}

/// A letter lower-cased on its own, as Go's `unicode.ToLower` does: one character for one
/// (`İ` → `i`, and a final `Σ` is `σ`).
fn push_lower(out: &mut String, c: char) {
    if c == '\u{130}' {
        out.push('i');
        return;
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => out.push(l),
        _ => out.push(c),
    }
}

/// Whether `c` is a combining mark (Unicode categories Mn, Mc, Me), as in `e\u{301}`.
fn is_mark(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F | 0x0483..=0x0489 | 0x0591..=0x05BD | 0x0610..=0x061A
        | 0x064B..=0x065F | 0x0900..=0x0903 | 0x093A..=0x094F | 0x0951..=0x0957
        | 0x0962..=0x0963 | 0x0E31 | 0x0E34..=0x0E3A | 0x0E47..=0x0E4E
        | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0x302A..=0x302F
        | 0x3099..=0x309A | 0xFE00..=0xFE0F | 0xFE20..=0xFE2F)
}

/// `:slug` or `:title` in a permalink pattern: the text urlized, read back as a URL, and
/// urlized again.
fn permalink_text(s: &str) -> String {
    let once = urlize(s);
    // A `#` with nothing after it is an empty fragment, which a URL drops.
    let once = match once.find('#') {
        Some(i) if i + 1 == once.len() => &once[..i],
        _ => &once[..],
    };
    let plus = once.replace('+', " ");
    let decoded = percent_decode_str(&plus).decode_utf8_lossy();
    urlize(&decoded)
}

/// `:title`: the title's folders are not folders of the URL.
fn permalink_title(title: &str) -> String {
    permalink_text(&title.replace(['/', '\\'], " "))
}

/// The URL folder (no slashes around, language prefix included) of a page, from its front
/// matter (`url`, `slug`, `date`, `title`) and the site's permalink patterns; `None` when it
/// is simply the content path.
/// `is_section` says whether a folder of the content tree below the first level is a section
/// (holds an `_index` page): `:sections` counts only those.
pub fn page_url(
    info: &PageInfo,
    parts: &UrlParts,
    config: &Config,
    is_section: &dyn Fn(&str) -> bool,
) -> Option<String> {
    let prefix = info.content.url_prefix.trim_start_matches('/');
    if let Some(u) = &parts.url {
        // A URL that names a file (`/docs/file.html`) is served from its folder.
        let folder = match u.rsplit_once('/') {
            Some((dir, last)) if last.contains('.') => dir,
            _ => u.as_str(),
        };
        return Some(folder.trim_matches('/').to_string());
    }
    let section = info.dir.split('/').next().unwrap_or("");
    let kind = if info.is_branch { "section" } else { "page" };
    let pattern = config
        .permalinks
        .iter()
        .find(|(k, s, _)| k == kind && s == section)
        .map(|(_, _, p)| p.as_str());
    let url = match pattern {
        Some(p) => expand(p, info, parts, (section, is_section)),
        None => {
            let slug = parts.slug.as_deref().map(urlize)?;
            if info.is_bundle && !info.url_dir.contains('/') {
                return None;
            }
            site_path::join(site_path::parent(&info.url_dir), &slug)
        }
    };
    Some(join(prefix, &url))
}

/// Permalink pattern `p` filled in for the page.
fn expand(
    p: &str,
    info: &PageInfo,
    parts: &UrlParts,
    (section, is_section): (&str, &dyn Fn(&str) -> bool),
) -> String {
    // With no date, Hugo's zero date: year 1.
    let date = parts.date.clone().unwrap_or_default();
    let number = |r: std::ops::Range<usize>, zero: u32| {
        date.get(r)
            .and_then(|x| x.parse::<u32>().ok())
            .unwrap_or(zero)
    };
    let (y, m, d) = (
        number(0..4, 1).to_string(),
        format!("{:02}", number(5..7, 1)),
        format!("{:02}", number(8..10, 1)),
    );
    let base_name = site_path::file_name(&info.url_dir).to_string();
    let slug = parts.slug.as_deref().map(permalink_text);
    let title = parts
        .title
        .as_deref()
        .map(permalink_title)
        .unwrap_or_default();
    let or_base = || slug.clone().unwrap_or_else(|| base_name.clone());
    // The sections a page is in: its folders from the top down while each is a section (the
    // first level always is; a leaf bundle's own folder never is).
    let folder = if info.is_bundle && !info.is_branch {
        site_path::parent(&info.dir)
    } else {
        info.dir.as_str()
    };
    let mut sections = String::new();
    for part in folder.split('/').filter(|p| !p.is_empty()) {
        let next = site_path::join(&sections, part);
        if !sections.is_empty() && !is_section(&next) {
            break;
        }
        sections = next;
    }
    let mut out = p.to_string();
    // Longer tokens first: `:slugorfilename` before `:slug`.
    for (token, value) in [
        (":year", y),
        (":month", m),
        (":day", d),
        (":slugorcontentbasename", or_base()),
        (":slugorfilename", or_base()),
        (":slug", slug.clone().unwrap_or_else(|| title.clone())),
        (":title", title.clone()),
        (":contentbasename", base_name.clone()),
        (":filename", base_name.clone()),
        (":sections", sections),
        (":section", section.to_string()),
    ] {
        out = out.replace(token, &value);
    }
    out.trim_matches('/').to_string()
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Hugo 0.168 made of each text. `urlize`: its `urlize` function, and the folder of
    /// a page with this slug and no permalink pattern.
    #[test]
    fn urlize_as_hugo() {
        for (text, want) in [
            ("My Own Slug", "my-own-slug"),
            ("vu -- (2020)", "vu--2020"),
            ("a - b", "a-b"),
            ("a  b", "a-b"),
            ("a -b", "a-b"),
            ("a- b", "a-b"),
            ("a--b", "a--b"),
            ("a ---  b", "a---b"),
            (" lead", "lead"),
            ("trail ", "trail"),
            ("A\tB", "a-b"),
            ("x\u{a0}y", "x-y"),
            ("50% off", "50-off"),
            ("%41", "%41"),
            ("a%2", "a2"),
            ("Q&A", "qa"),
            ("a/b", "a/b"),
            ("a\\b", "a\\b"),
            ("é", "é"),
            ("e\u{301}", "e\u{301}"),
            ("日本語 テスト", "日本語-テスト"),
            ("a:b;c,d!e?f'g\"h", "abcdefgh"),
            ("C++ & C#", "c++-c#"),
            ("a + b", "a-+-b"),
            ("x#", "x#"),
            ("a.b_c~d@e+f", "a.b_c~d@e+f"),
            ("Ünïcödé Ärger", "ünïcödé-ärger"),
            ("a — b", "a-b"),
            ("a–b", "ab"),
            ("emoji 🎉 x", "emoji-x"),
            ("x__y", "x__y"),
            ("İstanbul", "istanbul"),
            ("ß", "ß"),
            ("ΣΑΣ", "σασ"),
        ] {
            assert_eq!(urlize(text), want, "{text:?}");
        }
    }

    /// The folder Hugo 0.168 published a page at under `/:section/:slug/`: a title and no
    /// slug (`:title`'s rules), then a slug.
    #[test]
    fn permalink_title_and_slug_as_hugo() {
        for (title, want) in [
            ("#x", "#x"),
            ("%41", "a"),
            ("50% off", "50-off"),
            ("a ---  b", "a---b"),
            ("a — b", "a-b"),
            ("a /b", "a-b"),
            ("a/ b", "a-b"),
            ("a/b", "a-b"),
            ("a\\b", "a-b"),
            ("a # b", "a-#-b"),
            ("a + b", "a--b"),
            ("a+b", "a-b"),
            ("a&b c", "ab-c"),
            ("a#", "a"),
            ("a.b_c~d@e+f", "a.b_c~d@e-f"),
            ("C++ & C#", "c-c"),
            ("y + #1", "y--#1"),
            ("vu -- (2020)", "vu--2020"),
            ("Ünïcödé Ärger", "ünïcödé-ärger"),
            ("emoji 🎉 x", "emoji-x"),
            (
                "Ça va?  Déjà vu -- (2020) Q&A: C++ é/x",
                "ça-va-déjà-vu--2020-qa-c-é-x",
            ),
            (
                "Ça va? Déjà  vu -- (2020) Q&A_x.y + #1 @me ~z",
                "ça-va-déjà-vu--2020-qa_x.y--#1-@me-~z",
            ),
        ] {
            assert_eq!(permalink_title(title), want, "title {title:?}");
        }
        for (slug, want) in [
            ("My Own Slug", "my-own-slug"),
            ("a/b", "a/b"),
            ("C++ & C#", "c-c"),
            ("a + b", "a--b"),
            ("Déjà vu", "déjà-vu"),
            ("x#", "x"),
        ] {
            assert_eq!(permalink_text(slug), want, "slug {slug:?}");
        }
    }
}
