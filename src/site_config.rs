//! Which files configure a site, and in which order they apply: the site's Hugo
//! configuration, then `pixpipe.yaml` at the site root (or `--config FILE`) on top.
//!
//! This module owns the order; the formats are elsewhere. `hugo_config` turns Hugo's files
//! into a `Config`, and `config` applies `pixpipe.yaml` text on top of one. `config` reads no
//! file and names no other stage, so every stage can take a `Config` whatever made it.

use crate::config::{Config, ConfigError, CONFIG_FILE};
use std::path::{Path, PathBuf};

/// The site's Hugo configuration (when there is one) with `explicit`, or `pixpipe.yaml` at
/// `root` when it exists, on top.
pub fn load(root: &Path, explicit: Option<&Path>) -> Result<Config, ConfigError> {
    let base = crate::hugo_config::read(root)?;
    let (path, shown): (PathBuf, String) = match explicit {
        Some(p) => (p.to_path_buf(), p.display().to_string()),
        None => {
            let p = root.join(CONFIG_FILE);
            if !p.exists() {
                return Ok(base);
            }
            (p, CONFIG_FILE.to_string())
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: shown.clone(),
        source,
    })?;
    base.with_yaml(&text, &shown)
}
