//! Where a URL in a built page points: a file of the built site, or somewhere else.
//!
//! Pure. A URL resolves as a browser resolves it against the page's own URL (and the page's
//! `<base href>`), then the site's base path (`--base-url https://example.org/docs/` serves the
//! folder's `a.png` at `/docs/a.png`) is taken off.

use crate::resolve::{clean_src, is_remote, normalize};
use crate::site_path;

/// What a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Another site's URL, a `data:` URL, anything not in the folder.
    Remote,
    /// Nothing (an empty `src`).
    Empty,
    /// A path of the built site that climbs above its root (`../../x.png` on a top page) or
    /// lies outside the base path.
    Outside(String),
    /// A site-relative path (the file may or may not exist).
    Site(String),
}

/// The site: its base URL, if known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Base {
    /// `https://example.org` (no trailing `/`), when the site's URL was given.
    pub origin: Option<String>,
    /// The path the folder is served under, with both slashes: `/` or `/docs/`.
    pub path: String,
}

impl Base {
    /// From `--base-url` (`https://example.org/docs/`, or a bare path `/docs/`).
    pub fn parse(url: Option<&str>) -> Base {
        let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
            return Base {
                origin: None,
                path: "/".into(),
            };
        };
        let (origin, path) = match url.find("://") {
            Some(i) => {
                let rest = &url[i + 3..];
                let slash = rest.find('/').map_or(url.len(), |j| i + 3 + j);
                (Some(url[..slash].to_ascii_lowercase()), &url[slash..])
            }
            None => (None, url),
        };
        let trimmed = path.trim_matches('/');
        Base {
            origin,
            path: if trimmed.is_empty() {
                "/".into()
            } else {
                format!("/{trimmed}/")
            },
        }
    }
}

/// The URL path a page is served at: `blog/p/index.html` → `/blog/p/`, `404.html` →
/// `/404.html` (with the site's base path in front).
pub fn page_url(page: &str, base: &Base) -> String {
    let url = match page.strip_suffix("index.html") {
        Some(dir) if dir.is_empty() || dir.ends_with('/') => dir.to_string(),
        _ => page.to_string(),
    };
    format!("{}{}", base.path, url)
}

/// The path part of an absolute or scheme-relative URL of this site (`https://example.org/x`
/// → `/x`), or `None` for another site's.
fn own_path<'a>(url: &'a str, base: &Base) -> Option<&'a str> {
    let origin = base.origin.as_deref()?;
    let lower = url.get(..origin.len())?.to_ascii_lowercase();
    let scheme_relative = origin
        .find("//")
        .map(|i| &origin[i..])
        .filter(|_| url.starts_with("//"));
    let rest = if lower == origin {
        &url[origin.len()..]
    } else if let Some(o) = scheme_relative {
        url.get(o.len()..).filter(|_| url.starts_with(o))?
    } else {
        return None;
    };
    (rest.is_empty() || rest.starts_with('/')).then_some(if rest.is_empty() { "/" } else { rest })
}

/// Resolve `url` (as written in an attribute, entities decoded) on the page at site path
/// `page` whose `<base href>` is `base_href`.
pub fn resolve(url: &str, page: &str, base_href: Option<&str>, base: &Base) -> Target {
    let url = url.trim();
    if url.is_empty() {
        return Target::Empty;
    }
    // The document's base URL: the page's, or its `<base href>` resolved against it.
    let page_dir = {
        let u = page_url(page, base);
        u[..u.rfind('/').map_or(0, |i| i + 1)].to_string()
    };
    let doc_dir = match base_href.map(str::trim).filter(|h| !h.is_empty()) {
        None => page_dir,
        Some(h) => match absolute_path(h, &page_dir, base) {
            Some(p) => p[..p.rfind('/').map_or(0, |i| i + 1)].to_string(),
            // A base on another site: every relative URL of the page is remote.
            None if !url.starts_with('/') => return Target::Remote,
            None => page_dir,
        },
    };
    let Some(path) = absolute_path(url, &doc_dir, base) else {
        return Target::Remote;
    };
    let path = clean_src(&path);
    let Some(path) = normalize(&path) else {
        return Target::Outside(url.to_string());
    };
    let rooted = format!("/{path}");
    let under = base.path.trim_end_matches('/');
    match rooted.strip_prefix(under) {
        Some(rest) if rest.starts_with('/') || rest.is_empty() => {
            Target::Site(rest.trim_start_matches('/').to_string())
        }
        _ => Target::Outside(url.to_string()),
    }
}

/// `url` as an absolute path on this site (`/…`, query and fragment kept), resolved against
/// the folder URL `dir` (ends with `/`); `None` when it is another site's.
fn absolute_path(url: &str, dir: &str, base: &Base) -> Option<String> {
    if url.starts_with("//") || is_remote(url) {
        return own_path(url, base).map(str::to_string);
    }
    if url.starts_with('/') {
        return Some(url.to_string());
    }
    if url.starts_with('?') || url.starts_with('#') {
        return None;
    }
    Some(site_path::join(dir.trim_end_matches('/'), url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(s: &str) -> Target {
        Target::Site(s.into())
    }

    #[test]
    fn urls_resolve_against_the_page_its_base_and_the_site_path() {
        let root = Base::parse(None);
        assert_eq!(
            resolve("a.png", "blog/p/index.html", None, &root),
            site("blog/p/a.png")
        );
        assert_eq!(
            resolve("a.png", "blog/p.html", None, &root),
            site("blog/a.png")
        );
        assert_eq!(
            resolve("../img/a%20b.png?v=2#x", "blog/p/index.html", None, &root),
            site("blog/img/a b.png")
        );
        assert_eq!(
            resolve("/img/a.png", "index.html", None, &root),
            site("img/a.png")
        );
        assert_eq!(
            resolve("../../x.png", "index.html", None, &root),
            Target::Outside("../../x.png".into())
        );
        assert_eq!(
            resolve("https://cdn.example.com/a.png", "index.html", None, &root),
            Target::Remote
        );
        assert_eq!(
            resolve("data:image/png;base64,AAAA", "index.html", None, &root),
            Target::Remote
        );
        assert_eq!(resolve("  ", "index.html", None, &root), Target::Empty);
        // <base href>
        assert_eq!(
            resolve("a.png", "blog/p/index.html", Some("/static/"), &root),
            site("static/a.png")
        );
        assert_eq!(
            resolve(
                "a.png",
                "blog/p/index.html",
                Some("https://other.org/"),
                &root
            ),
            Target::Remote
        );
    }

    #[test]
    fn a_site_under_a_base_path_serves_its_folder_there() {
        let docs = Base::parse(Some("https://Example.org/docs/"));
        assert_eq!(docs.path, "/docs/");
        assert_eq!(
            resolve("/docs/img/a.png", "index.html", None, &docs),
            site("img/a.png")
        );
        assert_eq!(
            resolve("img/a.png", "guide/index.html", None, &docs),
            site("guide/img/a.png")
        );
        assert_eq!(
            resolve("../img/a.png", "guide/index.html", None, &docs),
            site("img/a.png")
        );
        assert_eq!(
            resolve("https://example.org/docs/a.png", "index.html", None, &docs),
            site("a.png")
        );
        assert_eq!(
            resolve("//example.org/docs/a.png", "index.html", None, &docs),
            site("a.png")
        );
        assert_eq!(
            resolve("/img/a.png", "index.html", None, &docs),
            Target::Outside("/img/a.png".into())
        );
        assert_eq!(
            resolve(
                "https://example.org.evil/docs/a.png",
                "index.html",
                None,
                &docs
            ),
            Target::Remote
        );
        assert_eq!(page_url("guide/index.html", &docs), "/docs/guide/");
    }
}
