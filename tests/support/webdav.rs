//! A real WebDAV server for the shared cache's `http://` store: Debian's nginx (its DAV
//! module, and the dav-ext module for PROPFIND, which listing a store needs; `make test`
//! installs both) on 127.0.0.1, serving a folder of its own. Without it the tests say they
//! were skipped, unless PIXPIPE_REQUIRE_TOOLS=1 (`make test`).

use super::daemon::{required, Daemon};
use std::path::{Path, PathBuf};
use std::process::Command;

const NGINX: &str = "/usr/sbin/nginx";
const DAV_EXT: &str = "/usr/lib/nginx/modules/ngx_http_dav_ext_module.so";

/// A running nginx with WebDAV, stopped when dropped.
pub struct WebDav {
    server: Daemon,
    /// Its configuration, logs and the folder it serves (`store/`).
    dir: tempfile::TempDir,
}

impl WebDav {
    /// Start a server of an empty folder; `None` (said) without nginx and its modules.
    pub fn start() -> Option<WebDav> {
        let found = Path::new(NGINX).is_file() && Path::new(DAV_EXT).is_file();
        if !required(
            "nginx with WebDAV (nginx-light, libnginx-mod-http-dav-ext)",
            found,
        ) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("store")).unwrap();
        std::fs::create_dir_all(d.join("tmp")).unwrap();
        let server = Daemon::start("nginx", |addr| {
            // One process (no workers left behind when it is killed), no logs but errors.
            let conf = format!(
                "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
                 load_module {DAV_EXT};\nevents {{ worker_connections 1024; }}\n\
                 http {{\n  access_log off;\n  client_body_temp_path {d}/tmp;\n\
                 proxy_temp_path {d}/tmp;\n  fastcgi_temp_path {d}/tmp;\n\
                 uwsgi_temp_path {d}/tmp;\n  scgi_temp_path {d}/tmp;\n\
                 server {{\n    listen {addr};\n    root {d}/store;\n\
                 client_max_body_size 0;\n    dav_methods PUT DELETE MKCOL COPY MOVE;\n\
                 dav_ext_methods PROPFIND OPTIONS;\n    create_full_put_path on;\n  }}\n}}\n",
                d = d.display()
            );
            std::fs::write(d.join("nginx.conf"), conf).unwrap();
            let mut c = Command::new(NGINX);
            c.arg("-p").arg(d).arg("-e").arg(d.join("error.log"));
            c.arg("-c").arg(d.join("nginx.conf"));
            c
        });
        Some(WebDav { server, dir })
    }

    /// The URL of the store under `prefix`.
    pub fn url(&self, prefix: &str) -> String {
        format!("http://{}/{prefix}", self.server.addr)
    }

    /// The folder of the objects under `prefix`.
    pub fn objects(&self, prefix: &str) -> PathBuf {
        self.dir.path().join("store").join(prefix).join("objects")
    }
}
