//! Site paths: the `/`-separated paths relative to the site root (`content/a/p.jpg`) that
//! every stage keys its pages, files, outputs and manifest entries by.
//!
//! A leaf: the one place where such a path is split or joined, so that no stage does it by
//! hand. Pure string work, no file system: a site path is never turned into an absolute path
//! here, and never holds `\`.

/// The folder of `path` (`content/a/p.jpg` → `content/a`; `p.jpg` → ``).
pub fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// The folder of `path` with its trailing `/` (`content/a/p.jpg` → `content/a/`; `p.jpg` →
/// ``): a prefix that the paths inside it start with.
pub fn parent_prefix(path: &str) -> &str {
    &path[..path.rfind('/').map_or(0, |i| i + 1)]
}

/// The file name of `path` (`content/a/p.jpg` → `p.jpg`).
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `name` in the folder `dir` (`dir` may be ``, the root).
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Whether `path` is `folder` or inside it (`content/a` holds `content/a/p.jpg`, not
/// `content/ab.jpg`).
pub fn is_within(path: &str, folder: &str) -> bool {
    path == folder
        || path
            .strip_prefix(folder)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_paths_split_and_join_at_slashes() {
        assert_eq!(parent("content/a/p.jpg"), "content/a");
        assert_eq!(parent("p.jpg"), "");
        assert_eq!(parent_prefix("content/a/p.jpg"), "content/a/");
        assert_eq!(parent_prefix("p.jpg"), "");
        assert_eq!(file_name("content/a/p.jpg"), "p.jpg");
        assert_eq!(join("", "p.jpg"), "p.jpg");
        assert_eq!(join("content/a", "p.jpg"), "content/a/p.jpg");
        assert!(is_within("content/a/p.jpg", "content/a"));
        assert!(is_within("content/a", "content/a"));
        assert!(!is_within("content/ab.jpg", "content/a"));
    }
}
