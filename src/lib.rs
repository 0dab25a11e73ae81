//! pixpipe: makes the images of a static site correct, small and fast.
//!
//! The library is a pipeline of stages, each in its own module:
//! `scan` (read the site) → `extract` (find image references in page text) →
//! `resolve` (map each reference to the file the site serves) → later stages
//! (`probe`, `plan`, `process`, `rewrite`, `emit`).
//! Pure stages take values and return values; I/O happens in `scan` and the
//! stages marked as such. The library never prints: commands return a report and
//! the binary decides what to show and which exit code to use. Nor does it set
//! anything for the whole process: the global allocator and the command-line flags
//! are the binary's (`src/alloc.rs`, `src/cli.rs`).

pub mod analyze;
pub mod avif;
pub mod build;
pub mod cache;
pub mod check;
pub mod config;
pub mod declared;
pub mod emit;
pub mod extract;
pub mod format;
pub mod gallery;
pub mod html;
pub mod hugo_components;
pub mod hugo_config;
pub mod inventory;
pub mod jobs;
pub mod layout;
mod locks;
pub mod manifest;
pub mod naming;
pub mod nesting;
pub mod output;
pub mod permalink;
pub mod plan;
pub mod position;
pub mod probe;
pub mod process;
pub mod prune;
pub mod remote;
pub mod report;
pub mod resolve;
pub mod rewrite;
pub mod rows;
pub mod scan;
pub mod site_config;
pub mod site_path;
pub mod stamp;
pub mod watch;

pub use config::Config;
pub use report::{Diagnostic, Severity};
