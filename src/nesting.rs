//! How deep a YAML, TOML or JSON text nests its `[` lists and `{` maps, checked before any
//! parser reads it. A leaf: front matter (`extract`) and the configuration files (`config`,
//! `hugo_config`) call it; it parses nothing.
//!
//! Why before parsing: serde_json stops at 128 levels and toml at 80, each with an error at
//! the position, but serde_yaml_ng's limit (128) is in its deserializer, after libyaml has
//! scanned the whole text, and libyaml looks at every open flow level for every token: 100,000
//! `[` took 49 s before the error (issue #17, item 7). Strings and comments are counted as
//! well: a text is only refused when it has more than `MAX_DEPTH` brackets open at once, which
//! no real front matter or configuration does.

/// The deepest nesting of `[` and `{` read. Real configuration and front matter nest five or
/// six deep; 32 leaves room, and keeps libyaml's look at the open levels short.
pub const MAX_DEPTH: usize = 32;

/// Where a text first nests deeper than `MAX_DEPTH`: the byte offset of the bracket that does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep {
    /// Byte offset of the opening bracket one level too deep.
    pub offset: usize,
}

impl TooDeep {
    /// What is wrong, for an error message.
    pub fn message(&self) -> String {
        format!("lists and maps are nested more than {MAX_DEPTH} deep here")
    }
}

/// Check that `text` never has more than `MAX_DEPTH` brackets open at once (a closing
/// bracket with none open is ignored). One pass over the bytes.
pub fn check(text: &str) -> Result<(), TooDeep> {
    let mut depth = 0usize;
    for (offset, &b) in text.as_bytes().iter().enumerate() {
        match b {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(TooDeep { offset });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bracket_one_level_too_deep_is_pointed_at() {
        let ok = format!("a: {}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(check(&ok), Ok(()));
        let deep = format!("a: {{b: {}", "[".repeat(MAX_DEPTH));
        // `{` at 3, the `[` from 7: the last one is one too many.
        assert_eq!(
            check(&deep),
            Err(TooDeep {
                offset: 7 + MAX_DEPTH - 1
            })
        );
    }

    #[test]
    fn closed_levels_do_not_add_up() {
        let many = "[[x], {y: z}] ".repeat(10_000) + "]]]";
        assert_eq!(check(&many), Ok(()));
    }
}
