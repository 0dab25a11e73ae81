//! Integration tests: each command is run as a user runs it, through the binary.

#[path = "../support/mod.rs"]
mod support;

mod avif;
mod browser;
mod build;
mod check;
mod fidelity;
mod gallery;
mod hostile;
mod html;
mod hugo;
mod lighthouse;
mod mutants;
mod scan;
mod shared;
mod watch;
