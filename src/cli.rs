//! Command-line flags as typed values (clap derive). No I/O.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Makes the images of a static site correct, small and fast.
#[derive(Debug, Parser)]
#[command(name = "pixpipe", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every image reference in the site's pages and the file it resolves to.
    Scan(ScanArgs),
    /// Verify every referenced image: it exists, decodes and fits what the page declares.
    Check(CheckArgs),
}

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Compiler-style messages with the source line and a caret.
    Human,
    /// A JSON array of findings.
    Json,
    /// GitHub Actions annotations.
    Github,
}

/// What `--deny` turns into errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Deny {
    /// Exit 1 on warnings too.
    Warnings,
}

/// `pixpipe check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The site root (the folder holding content/). Default: the current folder.
    #[arg(default_value = ".")]
    pub site: PathBuf,
    /// Configuration file. Default: pixpipe.yaml at the site root, if present.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
    /// Decode every pixel of every image (default: headers and file structure only).
    #[arg(long)]
    pub deep: bool,
    /// Exit 1 on warnings as well as errors.
    #[arg(long, value_enum)]
    pub deny: Option<Deny>,
}

/// Output formats of `scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON object per reference.
    Jsonl,
}

/// `pixpipe scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// The site root (the folder holding content/). Default: the current folder.
    #[arg(default_value = ".")]
    pub site: PathBuf,
    /// Configuration file. Default: pixpipe.yaml at the site root, if present.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ScanFormat::Table)]
    pub format: ScanFormat,
}
