//! A real S3 server for the shared cache's tests: s3s-fs (an S3 implementation over a
//! folder, from crates.io; `make test` installs it) on 127.0.0.1, with its own credentials.
//! Without it the tests say they were skipped, unless PIXPIPE_REQUIRE_TOOLS=1 (`make test`).

use super::daemon::{required, Daemon};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const ACCESS_KEY: &str = "pixpipe-test";
pub const SECRET_KEY: &str = "pixpipe-test-secret";

/// A running s3s-fs, stopped when dropped.
pub struct S3 {
    server: Daemon,
    /// Where it keeps its buckets (one folder each).
    pub root: tempfile::TempDir,
    pub addr: std::net::SocketAddr,
}

/// The s3s-fs binary, or `None` (said) when it is not installed.
fn binary() -> Option<PathBuf> {
    let name = std::env::var("S3S_FS").unwrap_or_else(|_| "s3s-fs".into());
    let found = Command::new(&name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    required("s3s-fs", found).then(|| PathBuf::from(name))
}

impl S3 {
    /// Start a server with one bucket, `bucket`; `None` (said) without s3s-fs.
    pub fn start(bucket: &str) -> Option<S3> {
        let bin = binary()?;
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join(bucket)).unwrap();
        let server = Daemon::start("s3s-fs", |addr| {
            let mut c = Command::new(&bin);
            c.args(["--host", "127.0.0.1", "--port", &addr.port().to_string()])
                .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
                .arg(root.path());
            c
        });
        let addr = server.addr;
        Some(S3 { server, root, addr })
    }

    /// The variables a client of this server needs (as a user sets them for any S3 store).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ENDPOINT_URL", format!("http://{}", self.addr)),
        ]
    }

    /// The folder of the objects under `bucket/prefix`.
    pub fn objects(&self, bucket: &str, prefix: &str) -> PathBuf {
        self.root.path().join(bucket).join(prefix).join("objects")
    }

    /// Stop the server now.
    pub fn stop(&mut self) {
        self.server.stop();
    }
}

/// The object files under `dir`, by name.
pub fn objects(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}
