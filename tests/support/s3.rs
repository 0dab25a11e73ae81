//! A real S3 server for the shared cache's tests: s3s-fs (an S3 implementation over a
//! folder, from crates.io; `make test` installs it) on 127.0.0.1, with its own credentials.
//! Without it the tests say they were skipped, unless PIXPIPE_REQUIRE_TOOLS=1 (`make test`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "pixpipe-test";
pub const SECRET_KEY: &str = "pixpipe-test-secret";

/// A running s3s-fs, stopped when dropped.
pub struct S3 {
    child: Option<Child>,
    /// Where it keeps its buckets (one folder each).
    pub root: tempfile::TempDir,
    pub addr: SocketAddr,
}

/// The s3s-fs binary, or `None` (said) when it is not installed.
fn binary() -> Option<PathBuf> {
    let name = std::env::var("S3S_FS").unwrap_or_else(|_| "s3s-fs".into());
    let found = Command::new(&name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(PathBuf::from(name));
    }
    if std::env::var("PIXPIPE_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("s3s-fs is missing; `make test` installs it");
    }
    eprintln!("SKIPPED: s3s-fs is not installed (make test installs it from crates.io)");
    None
}

impl S3 {
    /// Start a server with one bucket, `bucket`; `None` (said) without s3s-fs.
    pub fn start(bucket: &str) -> Option<S3> {
        let bin = binary()?;
        let mut root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join(bucket)).unwrap();
        // A port the system gives, freed for the server (retried if another took it).
        for _ in 0..5 {
            let addr = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            let child = Command::new(&bin)
                .args(["--host", "127.0.0.1", "--port", &addr.port().to_string()])
                .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
                .arg(root.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start s3s-fs");
            let mut s3 = S3 {
                child: Some(child),
                root,
                addr,
            };
            if s3.wait_listening() {
                return Some(s3);
            }
            root = s3.take_root();
        }
        panic!("s3s-fs did not start listening on 127.0.0.1");
    }

    fn take_root(mut self) -> tempfile::TempDir {
        self.stop();
        std::mem::replace(&mut self.root, tempfile::tempdir().unwrap())
    }

    /// Whether the server answers on its port within 10 s (and is still running).
    fn wait_listening(&mut self) -> bool {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                return false;
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
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
        if let Some(mut c) = self.child.take() {
            c.kill().ok();
            c.wait().ok();
        }
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        self.stop();
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
