//! Test fixtures made in code: sites from string literals, images from pixels.
#![allow(dead_code)]

pub mod daemon;
pub mod demo;
pub mod exif;
pub mod mutants;
pub mod pixels;
pub mod s3;
pub mod serve;
pub mod verdicts;
pub mod webdav;

pub use pixels::*;

use std::path::{Path, PathBuf};
use std::process::Command;

/// A site in a temporary folder, built from string pages and generated images.
pub struct SiteBuilder {
    files: Vec<(String, Vec<u8>)>,
    links: Vec<(String, String)>,
}

/// A built site; the folder is removed when it is dropped.
pub struct Site {
    pub dir: tempfile::TempDir,
}

impl Site {
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).expect("read")
    }
}

impl SiteBuilder {
    pub fn new() -> Self {
        SiteBuilder {
            files: Vec::new(),
            links: Vec::new(),
        }
    }
    /// A page (or any text file) with `text`.
    pub fn page(mut self, rel: &str, text: &str) -> Self {
        self.files.push((rel.to_string(), text.as_bytes().to_vec()));
        self
    }
    /// A file with raw bytes.
    pub fn bytes(mut self, rel: &str, bytes: Vec<u8>) -> Self {
        self.files.push((rel.to_string(), bytes));
        self
    }
    /// A photo-like image, JPEG or PNG by extension.
    pub fn image(self, rel: &str, w: u32, h: u32) -> Self {
        let img = photo(w, h, rel.len() as u32);
        let bytes = if rel.ends_with(".png") {
            png_bytes(&img)
        } else {
            jpeg_bytes(&img)
        };
        self.bytes(rel, bytes)
    }
    /// A JPEG photo with EXIF.
    pub fn photo_with_exif(self, rel: &str, w: u32, h: u32, exif: &exif::Exif) -> Self {
        let bytes = exif.insert_into_jpeg(&jpeg_bytes(&photo(w, h, 7)));
        self.bytes(rel, bytes)
    }
    /// A symbolic link at `rel` pointing to `target` (as written).
    pub fn symlink(mut self, rel: &str, target: &str) -> Self {
        self.links.push((rel.to_string(), target.to_string()));
        self
    }
    pub fn build(self) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        for (rel, bytes) in self.files {
            let p = dir.path().join(&rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
        for (rel, target) in self.links {
            let p = dir.path().join(&rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target, p).unwrap();
        }
        Site { dir }
    }
}

/// The output of one pixpipe run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run the pixpipe binary with `args`, without colour.
pub fn pixpipe(args: &[&str]) -> Run {
    pixpipe_in(None, args)
}

/// Run the pixpipe binary in folder `cwd`.
pub fn pixpipe_in(cwd: Option<&Path>, args: &[&str]) -> Run {
    pixpipe_with(cwd, &[], args)
}

/// Run the pixpipe binary in folder `cwd` (or here), with the variables `env` set.
pub fn pixpipe_with(cwd: Option<&Path>, env: &[(&str, String)], args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pixpipe"));
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .envs(env.iter().map(|(k, v)| (k, v)));
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    let out = cmd.output().expect("run pixpipe");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `../shared/corpus` next to the repository (or `$PIXPIPE_CORPUS`), when it is there.
pub fn corpus() -> Option<PathBuf> {
    let p = std::env::var_os("PIXPIPE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if p.join("expected").is_dir() {
        Some(p)
    } else {
        eprintln!(
            "SKIPPED: {} is not there; this test needs the shared corpus (CI has it)",
            p.display()
        );
        None
    }
}

/// A site whose page `content/p/index.md` references every file of the corpus photo folders
/// `dirs`, copied to `content/p/<dir>/`.
pub fn photo_site(corpus: &Path, dirs: &[&str]) -> Site {
    let mut b = SiteBuilder::new();
    let mut page = String::new();
    for dir in dirs {
        for e in std::fs::read_dir(corpus.join("photos").join(dir)).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            b = b.bytes(
                &format!("content/p/{dir}/{name}"),
                std::fs::read(e.path()).unwrap(),
            );
            page.push_str(&format!("![]({dir}/{name})\n\n"));
        }
    }
    b.page("content/p/index.md", &page).build()
}

/// Parse JSON Lines.
pub fn jsonl(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// Every file under `dir`, relative path → bytes.
pub fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path()
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Copy the tree `from` into `to`, without its `.pixpipe` folder and its JPEG and PNG files
/// (the demo's generated images and outputs).
pub fn copy_tree(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from).into_iter().flatten() {
        let rel = e.path().strip_prefix(from).unwrap();
        if rel.starts_with(".pixpipe")
            || matches!(
                e.path().extension().and_then(|x| x.to_str()),
                Some("jpg" | "png")
            )
        {
            continue;
        }
        let dest = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// The number just before `what` in a summary line (`3 pages written` or `(3 made` → 3).
pub fn number_before(line: &str, what: &str) -> u64 {
    let i = line
        .find(what)
        .unwrap_or_else(|| panic!("{what:?} not in {line:?}"));
    line[..i]
        .trim_end()
        .rsplit([' ', '('])
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("no number before {what:?} in {line:?}"))
}
