//! A server the tests start on a free port of 127.0.0.1 (an S3 server, a WebDAV server),
//! stopped when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server process and where it listens.
pub struct Daemon {
    child: Option<Child>,
    pub addr: SocketAddr,
}

impl Daemon {
    /// Start `command(addr)` on a port the system gives (freed for it; tried again if
    /// another process took it first), once it answers there.
    pub fn start(what: &str, mut command: impl FnMut(SocketAddr) -> Command) -> Daemon {
        for _ in 0..5 {
            let addr = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            let child = command(addr)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("start {what}: {e}"));
            let mut d = Daemon {
                child: Some(child),
                addr,
            };
            if d.wait_listening() {
                return d;
            }
            d.stop();
        }
        panic!("{what} did not start listening on 127.0.0.1");
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

    /// Stop the server now.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().ok();
            c.wait().ok();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether `tool` can be used: `found`, or else (said) the test is skipped, unless
/// PIXPIPE_REQUIRE_TOOLS=1 (`make test`, which installs it) makes that a failure.
pub fn required(tool: &str, found: bool) -> bool {
    if found {
        return true;
    }
    if std::env::var("PIXPIPE_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("{tool} is missing; `make test` installs it");
    }
    eprintln!("SKIPPED: {tool} is not installed (make test installs it)");
    false
}
