//! The shared cache: the cache's objects in an object store that many machines read and
//! write (S3 and any S3-compatible store, Google Cloud Storage, Azure Blob Storage, a
//! WebDAV-style HTTP server, or a folder through `file://`), always behind a local cache
//! folder (`cache::Cache`), so a warm machine never asks it anything.
//!
//! Layout: `PREFIX/objects/KEY`, one object per output, named by its cache key. Keys are
//! computed (blake3 of the source's bytes, the settings and the encoders' versions), so a
//! lookup needs no index and none is kept. An object is one header line and the output's
//! bytes: `pixpipe-object 1 HASH LEN\n`, HASH the blake3 of the bytes (64 hex digits, whose
//! first 10 name the output on the site). A fetched object whose bytes do not match its
//! header (cut short, damaged, not pixpipe's) is fetched once more, then taken as missing: the
//! output is made again and uploaded over it. Every writer of a key writes the same bytes, so
//! writers racing on one key are harmless.
//!
//! Faults: a store that cannot be reached, refuses the credentials, has no such bucket or
//! is full turns the shared cache off for the rest of the run after its first failure (with
//! the store's own reason), and the run goes on with local work; with `strict` that is an
//! error. Each request is retried with backoff within a time limit, and a run waits for the
//! store at most `time_limit` in all (then it is turned off, as after a failure). Requests run in
//! parallel (`requests` at once); uploads waiting to be sent hold at most `upload_bytes` of
//! outputs (a 32nd of the memory budget, at most `UPLOAD_BYTES`), and so do fetched ones
//! not yet stored: a worker (or a response) that would pass that waits.

use crate::locks::lock;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, PutPayload};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a shared cache is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `s3://bucket/prefix`, `gs://…`, `az://…`, `https://…`, `file:///…`.
    pub url: String,
    /// A failure of the store is an error, not a warning.
    pub strict: bool,
    /// Requests in flight at once.
    pub requests: usize,
    /// At most this many bytes of outputs wait to be uploaded at once.
    pub upload_bytes: u64,
    /// The longest a run waits for the store in all (fetching what it lacks, asking what it
    /// has, the uploads still going at its end: each a wait of the thread that runs the
    /// build); past it the store is turned off for the rest of the run. `None`: no limit but
    /// each request's own.
    pub time_limit: Option<Duration>,
}

/// The longest a run waits for the store in all, unless set: a final build of the 100,000
/// photos worked out in the README fetches 80 GB, ~11 minutes at 1 Gbit/s.
pub const DEFAULT_TIME_LIMIT: &str = "30m";

/// Requests in flight at once, unless set. A store answers each request after a wait of its
/// own (tens of milliseconds), so outputs of tens of kilobytes come as fast as requests are
/// kept in flight: 3,000 of them took 7.4 s at 16, 2.0 s at 64 and 1.1 s at 256 (loopback).
pub const DEFAULT_REQUESTS: u16 = 128;

/// At most this many bytes of outputs wait to be uploaded, whatever the memory budget: a
/// worker that would pass it waits for uploads to finish first.
pub const UPLOAD_BYTES: u64 = 64 << 20;

/// The bytes of outputs that may wait to be uploaded under a memory budget of
/// `memory_bytes`: a 32nd of it (10 MiB of the default 320), between 2 MiB and
/// `UPLOAD_BYTES`. Outputs are sent as they are made, so little waits; what does is on top of
/// the jobs' budget (taking a quarter from the jobs held back one of two AVIF encodes of the
/// bench photos: 44 s instead of 28 s).
pub fn upload_bytes(memory_bytes: u64) -> u64 {
    (memory_bytes / 32).clamp(2 << 20, UPLOAD_BYTES)
}

/// Whether `text` names an object store rather than a folder: it has a URL scheme.
pub fn is_url(text: &str) -> bool {
    text.split_once("://").is_some_and(|(scheme, _)| {
        scheme.len() > 1
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+')
    })
}

/// A shared cache, opened: the store's client and the runtime its requests run on. One per
/// process (a `--watch` keeps it); each run of a command takes a [`Session`] of it.
pub struct Remote {
    settings: Settings,
    /// The store's client, or why it could not be made (missing credentials, a folder that
    /// cannot be created): a failure of the store, not of the URL.
    store: Result<Arc<dyn ObjectStore>, String>,
    prefix: StorePath,
    rt: tokio::runtime::Runtime,
    /// When and why the last run's store failed, for the next runs of this process.
    failed_at: Mutex<Option<(std::time::Instant, String)>>,
}

/// After a run whose store failed, the next runs of the same process (a `--watch`) do not
/// ask it again for this long: each would first wait out the same timeouts.
pub const ASK_AGAIN_AFTER: Duration = Duration::from_secs(300);

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.settings.url)
            .finish()
    }
}

/// Why a shared cache cannot be opened.
#[derive(Debug, thiserror::Error)]
#[error("{url}: {why}")]
pub struct OpenError {
    /// The URL as given.
    pub url: String,
    /// What is wrong with it.
    pub why: String,
}

impl Remote {
    /// Open the store `settings.url` names, with credentials and endpoint from the usual
    /// variables of its kind (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
    /// `AWS_ENDPOINT_URL`; `GOOGLE_SERVICE_ACCOUNT`; `AZURE_STORAGE_ACCOUNT_NAME`, …). Nothing
    /// is sent yet.
    pub fn open(settings: Settings) -> Result<Remote, OpenError> {
        let fail = |why: String| OpenError {
            url: settings.url.clone(),
            why,
        };
        let url = url::Url::parse(&settings.url).map_err(|e| fail(e.to_string()))?;
        if !KNOWN.contains(&url.scheme()) {
            return Err(fail(format!(
                "`{}://` is not a store pixpipe knows (s3://, gs://, az://, http(s)://, file://)",
                url.scheme()
            )));
        }
        shape_of(&url).map_err(fail)?;
        let (store, prefix) = match store_for(&url) {
            Ok((store, prefix)) => (Ok(store), prefix),
            Err(why) => (Err(why), StorePath::default()),
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pixpipe-store")
            .enable_all()
            .build()
            .map_err(|e| fail(format!("cannot start its client: {e}")))?;
        Ok(Remote {
            settings,
            store,
            prefix,
            rt,
            failed_at: Mutex::new(None),
        })
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.settings.url
    }

    /// Whether a failure of the store is an error.
    pub fn strict(&self) -> bool {
        self.settings.strict
    }

    fn object(&self, key: &str) -> StorePath {
        self.prefix.child("objects").child(key)
    }

    /// Every object under the prefix: (key, bytes, last modified). Objects lie flat in one
    /// folder, so it is listed one level deep: a recursive listing is, over WebDAV, a
    /// `Depth: infinity` PROPFIND, which servers such as nginx refuse (403).
    pub fn list(&self) -> Result<Vec<Listed>, String> {
        let under = self.prefix.child("objects");
        let store = self.store.as_ref().map_err(String::clone)?;
        self.rt.block_on(async {
            match store.list_with_delimiter(Some(&under)).await {
                Ok(found) => Ok(found
                    .objects
                    .into_iter()
                    .map(|m| Listed {
                        key: m.location.filename().unwrap_or_default().to_string(),
                        bytes: m.size,
                        modified: m.last_modified.into(),
                    })
                    .collect()),
                // Nothing stored yet (a WebDAV server has no such folder).
                Err(object_store::Error::NotFound { .. }) => Ok(Vec::new()),
                Err(e) => Err(reason(&e)),
            }
        })
    }

    /// Delete the objects of `keys`, `requests` at a time; how many were deleted, or the
    /// first failure.
    pub fn delete(&self, keys: &[String]) -> Result<usize, String> {
        let n = self.settings.requests.max(1);
        let store = self.store.as_ref().map_err(String::clone)?;
        self.rt.block_on(async {
            futures::stream::iter(keys)
                .map(|k| async move {
                    match store.delete(&self.object(k)).await {
                        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                        Err(e) => Err(reason(&e)),
                    }
                })
                .buffer_unordered(n)
                .try_fold(0, |count, ()| async move { Ok(count + 1) })
                .await
        })
    }
}

/// One object of a shared cache, as listed.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Its cache key.
    pub key: String,
    /// Its size in the store (header included).
    pub bytes: u64,
    /// When it was written.
    pub modified: std::time::SystemTime,
}

/// What is wrong with `url`'s shape, if anything: a mistake in the URL is an error before
/// any work, not a store that fails (as missing credentials are).
fn shape_of(url: &url::Url) -> Result<(), String> {
    match url.scheme() {
        "file" => {
            url.to_file_path().map_err(|()| {
                "a file:// URL needs an absolute path (file:///mnt/cache)".to_string()
            })?;
        }
        "http" | "https" => {}
        _ => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err("the URL names no bucket or container (s3://bucket/prefix)".into());
            }
            StorePath::parse(url.path().trim_matches('/'))
                .map_err(|e| format!("its prefix `{}` is not a store path: {e}", url.path()))?;
        }
    }
    Ok(())
}

/// The URL schemes `store_for` knows.
const KNOWN: &[&str] = &[
    "s3", "s3a", "gs", "az", "azure", "abfs", "abfss", "http", "https", "file",
];

/// The store for `url` and the prefix its objects go under.
fn store_for(url: &url::Url) -> Result<(Arc<dyn ObjectStore>, StorePath), String> {
    use object_store::{BackoffConfig, ClientOptions, RetryConfig};
    let retry = RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 4,
        retry_timeout: Duration::from_secs(30),
    };
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .or_else(|_| std::env::var("AWS_ENDPOINT"))
        .unwrap_or_default();
    // An endpoint given as http:// (a store on the local network, a test server) is asked
    // over plain HTTP; https is the default everywhere else.
    let client = ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(60))
        .with_allow_http(endpoint.starts_with("http://") || url.scheme() == "http");
    let prefix_of =
        |path: &str| StorePath::parse(path.trim_matches('/')).map_err(|e| e.to_string());
    let e = |e: object_store::Error| reason(&e);
    let store: Arc<dyn ObjectStore> = match url.scheme() {
        "s3" | "s3a" => Arc::new(
            object_store::aws::AmazonS3Builder::from_env()
                .with_url(url.as_str())
                .with_client_options(client)
                .with_retry(retry)
                // Each object names the blake3 of its bytes (checked on every fetch), and the
                // connection is TLS: the body is not hashed again to sign the request.
                .with_unsigned_payload(true)
                .build()
                .map_err(e)?,
        ),
        "gs" => Arc::new(
            object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(url.as_str())
                .with_client_options(client)
                .with_retry(retry)
                .build()
                .map_err(e)?,
        ),
        "az" | "azure" | "abfs" | "abfss" => Arc::new(
            object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(url.as_str())
                .with_client_options(client)
                .with_retry(retry)
                .build()
                .map_err(e)?,
        ),
        "http" | "https" => {
            // The URL is the store's root: its path is where objects go, not a prefix.
            let store = object_store::http::HttpBuilder::new()
                .with_url(url.as_str())
                .with_client_options(client)
                .with_retry(retry)
                .build()
                .map_err(e)?;
            return Ok((Arc::new(store), StorePath::default()));
        }
        "file" => {
            let dir = url
                .to_file_path()
                .map_err(|()| "a file:// URL needs an absolute path".to_string())?;
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let store = object_store::local::LocalFileSystem::new_with_prefix(&dir).map_err(e)?;
            return Ok((Arc::new(store), StorePath::default()));
        }
        other => {
            return Err(format!(
            "`{other}://` is not a store pixpipe knows (s3://, gs://, az://, http(s)://, file://)"
        ))
        }
    };
    // For s3, gs and az the URL's host is the bucket or container, its path the prefix.
    Ok((store, prefix_of(url.path())?))
}

/// A store error's reason, on one line (object_store nests the request's own error).
fn reason(e: &object_store::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    text.replace('\n', " ")
}

/// The header line of an object holding `bytes`.
fn header(bytes: &[u8]) -> String {
    format!(
        "pixpipe-object 1 {} {}\n",
        blake3::hash(bytes).to_hex(),
        bytes.len()
    )
}

/// The output in a fetched object, if the object is whole: its header names the blake3 and
/// length of exactly the bytes that follow.
pub fn unwrap(object: &[u8]) -> Option<&[u8]> {
    unwrap_hashed(object).map(|(body, _)| body)
}

/// [`unwrap`], with the output's blake3 (checked, so not computed again to name it).
fn unwrap_hashed(object: &[u8]) -> Option<(&[u8], blake3::Hash)> {
    let (body, named, len) = parse_header(object)?;
    if len != body.len() as u64 {
        return None;
    }
    let real = blake3::hash(body);
    (real == named).then_some((body, real))
}

/// What the header line of `object` (which may be cut short after it) names: the bytes
/// after the line, the output's blake3 and its length.
fn parse_header(object: &[u8]) -> Option<(&[u8], blake3::Hash, u64)> {
    let end = memchr::memchr(b'\n', object)?;
    let line = std::str::from_utf8(&object[..end]).ok()?;
    let mut words = line.split(' ');
    let (Some("pixpipe-object"), Some("1"), Some(hash), Some(len), None) = (
        words.next(),
        words.next(),
        words.next(),
        words.next(),
        words.next(),
    ) else {
        return None;
    };
    let hash = blake3::Hash::from_hex(hash).ok()?;
    Some((&object[end + 1..], hash, len.parse().ok()?))
}

/// The bytes of an object that always hold its header line (`pixpipe-object 1`, 64 hex
/// digits, a length of up to 20 digits).
const HEADER_READ: u64 = 104;

/// What one run did with a shared cache.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Traffic {
    /// Outputs fetched (whole).
    pub fetched: u64,
    /// Their bytes.
    pub fetched_bytes: u64,
    /// Outputs uploaded.
    pub uploaded: u64,
    /// Their bytes.
    pub uploaded_bytes: u64,
    /// Objects found damaged (and made again).
    pub damaged: u64,
    /// Requests sent (GET and PUT; each retry inside the client counts once).
    pub requests: u64,
}

/// One run's use of a [`Remote`]: what it fetched and uploaded, and its first failure, after
/// which the run asks the store nothing more.
pub struct Session {
    remote: Arc<Remote>,
    failure: Arc<Mutex<Option<String>>>,
    room: Arc<tokio::sync::Semaphore>,
    /// The same room for fetched objects not yet handed over.
    down_room: Arc<tokio::sync::Semaphore>,
    /// Uploads in flight (`requests` at most).
    slots: Arc<tokio::sync::Semaphore>,
    uploads: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    counts: Arc<Counts>,
    /// How long this run has waited for the store so far (against `time_limit`).
    waited: Mutex<Duration>,
    /// The run started with the failure of an earlier one (not asked, so not failed again).
    remembered: bool,
    /// Keys [`Session::probe`] found in the store (not asked again by `ensure`).
    in_store: Mutex<rustc_hash::FxHashSet<String>>,
}

#[derive(Debug, Default)]
struct Counts {
    fetched: AtomicU64,
    fetched_bytes: AtomicU64,
    uploaded: AtomicU64,
    uploaded_bytes: AtomicU64,
    damaged: AtomicU64,
    requests: AtomicU64,
}

/// A run that ends early (an error after its images were made) still sends what it made.
impl Drop for Session {
    fn drop(&mut self) {
        self.drain();
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("url", &self.remote.settings.url)
            .finish()
    }
}

/// A time limit as it is written (`90s`, `10m`, `1h`).
fn shown(d: Duration) -> String {
    let s = d.as_secs_f64();
    match s {
        _ if s >= 3600.0 && s % 3600.0 == 0.0 => format!("{}h", s / 3600.0),
        _ if s >= 60.0 && s % 60.0 == 0.0 => format!("{}m", s / 60.0),
        _ => format!("{s}s"),
    }
}

/// Upload room is counted in KiB (a semaphore's permits are u32).
const KIB: u64 = 1024;

/// The permits for `bytes` in a room of `room` bytes (all of it for an object that alone is
/// larger: it then waits for the room to empty).
fn room_for(bytes: u64, room: u64) -> u32 {
    bytes.div_ceil(KIB).clamp(1, (room / KIB).max(1)) as u32
}

/// A fetched object, with the room its bytes take until they are handed over.
type Fetched = (bytes::Bytes, tokio::sync::OwnedSemaphorePermit);

impl Session {
    /// A run's session with `remote`: off from the start when the store failed in a run of
    /// this process less than [`ASK_AGAIN_AFTER`] ago.
    pub fn new(remote: Arc<Remote>) -> Session {
        let room = (remote.settings.upload_bytes / KIB).max(1);
        let requests = remote.settings.requests.max(1);
        let recent = lock(&remote.failed_at).as_ref().and_then(|(at, why)| {
            let ago = at.elapsed();
            (ago < ASK_AGAIN_AFTER).then(|| {
                format!(
                    "{why} (in a run {} s ago; it is asked again {} s after that)",
                    ago.as_secs(),
                    ASK_AGAIN_AFTER.as_secs()
                )
            })
        });
        let remembered = recent.is_some();
        let failure = remote.store.as_ref().err().cloned().or(recent);
        Session {
            remembered,
            remote,
            failure: Arc::new(Mutex::new(failure)),
            slots: Arc::new(tokio::sync::Semaphore::new(requests)),
            room: Arc::new(tokio::sync::Semaphore::new(room as usize)),
            down_room: Arc::new(tokio::sync::Semaphore::new(room as usize)),
            uploads: Mutex::new(Vec::new()),
            counts: Default::default(),
            waited: Mutex::new(Duration::ZERO),
            in_store: Mutex::new(Default::default()),
        }
    }

    /// Run `work` on the store's runtime, waiting at most what is left of `time_limit`;
    /// `None` (and the store turned off for this run) when that runs out first.
    fn wait_for<T>(&self, work: impl std::future::Future<Output = T>) -> Option<T> {
        let rt = &self.remote.rt;
        let Some(limit) = self.remote.settings.time_limit else {
            return Some(rt.block_on(work));
        };
        let left = limit.saturating_sub(*lock(&self.waited));
        let start = std::time::Instant::now();
        let done = rt.block_on(async { tokio::time::timeout(left, work).await.ok() });
        *lock(&self.waited) += start.elapsed();
        if done.is_none() {
            self.fail(format!(
                "the build waited for it {} in all, the most --cache-timeout allows; what it \
                 had not sent yet is made here",
                shown(limit)
            ));
        }
        done
    }

    /// The store's URL.
    pub fn url(&self) -> &str {
        self.remote.url()
    }

    /// Whether a failure of the store is an error.
    pub fn strict(&self) -> bool {
        self.remote.strict()
    }

    fn failed(&self) -> bool {
        lock(&self.failure).is_some()
    }

    /// Fetch the outputs of `keys` (those the local cache does not have), `requests` at a
    /// time, handing each whole one to `found(key, bytes, blake3)` as it arrives. Objects are
    /// checked and handed over on `rayon::current_num_threads()` threads of their own while
    /// this one keeps the requests going: checking and storing 3,000 fetched outputs one at a
    /// time on this thread was most of a fresh machine's build. Damaged objects are fetched
    /// once more, then left out (so made again); a missing one is left out; a failure turns
    /// the store off for this run and leaves the rest out.
    pub fn fetch(&self, keys: &[String], found: &(dyn Fn(&str, &[u8], blake3::Hash) + Sync)) {
        let mut ask: Vec<&String> = keys.iter().collect();
        for last in [false, true] {
            if ask.is_empty() || self.failed() {
                return;
            }
            ask = self.fetch_round(&ask, found);
            if last {
                (self.counts.damaged).fetch_add(ask.len() as u64, Ordering::Relaxed);
            }
        }
    }

    /// One round of [`Session::fetch`]: the keys whose objects came back damaged.
    fn fetch_round<'k>(
        &self,
        keys: &[&'k String],
        found: &(dyn Fn(&str, &[u8], blake3::Hash) + Sync),
    ) -> Vec<&'k String> {
        let damaged = Mutex::new(Vec::new());
        // A `found` that panics: the rest is taken off the queue unhandled (its room given
        // back, so the requests never wait for room no worker frees), and the panic goes on
        // once all have stopped.
        let panicked = Mutex::new(None);
        let (tx, rx) = std::sync::mpsc::channel::<(&String, Fetched)>();
        let rx = Mutex::new(rx);
        std::thread::scope(|s| {
            for _ in 0..rayon::current_num_threads().max(1) {
                s.spawn(|| loop {
                    // (Its own statement: the lock is not held while an object is handled.)
                    let next = lock(&rx).recv();
                    // The room an object takes is given back once it is handed over.
                    let Ok((key, (object, _room))) = next else {
                        break;
                    };
                    if lock(&panicked).is_some() {
                        continue;
                    }
                    match unwrap_hashed(&object) {
                        Some((body, hash)) => {
                            let c = &self.counts;
                            c.fetched.fetch_add(1, Ordering::Relaxed);
                            c.fetched_bytes
                                .fetch_add(body.len() as u64, Ordering::Relaxed);
                            let hand = std::panic::AssertUnwindSafe(|| found(key, body, hash));
                            if let Err(p) = std::panic::catch_unwind(hand) {
                                lock(&panicked).get_or_insert(p);
                            }
                        }
                        None => lock(&damaged).push(key),
                    }
                });
            }
            let tx = tx;
            let n = self.remote.settings.requests.max(1);
            // Past the time limit, the requests still out are dropped (so cancelled).
            self.wait_for(async {
                let mut arriving = futures::stream::iter(keys)
                    .map(|k| self.get(k))
                    .buffer_unordered(n);
                while let Some((key, object)) = arriving.next().await {
                    if let Some(object) = object {
                        // The workers outlive this loop: a send cannot fail.
                        let _ = tx.send((key, object));
                    }
                }
            });
        });
        if let Some(p) = panicked.into_inner().unwrap_or_else(|e| e.into_inner()) {
            std::panic::resume_unwind(p);
        }
        let mut damaged = damaged.into_inner().unwrap_or_else(|e| e.into_inner());
        damaged.sort_unstable();
        damaged
    }

    /// The object of `key`; `None` for a missing or failed one. Its bytes are read only once
    /// `down_room` has room for them (the response's length, known from its headers), and
    /// hold that room until they are handed over.
    async fn get<'k>(&self, key: &'k String) -> (&'k String, Option<Fetched>) {
        let remote = &self.remote;
        let Ok(store) = &remote.store else {
            return (key, None);
        };
        if self.failed() {
            return (key, None);
        }
        self.counts.requests.fetch_add(1, Ordering::Relaxed);
        let got = match store.get(&remote.object(key)).await {
            Ok(r) => {
                let need = room_for(r.meta.size, remote.settings.upload_bytes);
                match self.down_room.clone().acquire_many_owned(need).await {
                    Ok(permit) => r.bytes().await.map(|b| (b, permit)),
                    Err(_) => return (key, None),
                }
            }
            Err(e) => Err(e),
        };
        match got {
            Ok(object) => (key, Some(object)),
            Err(object_store::Error::NotFound { .. }) => (key, None),
            Err(e) => {
                self.fail(reason(&e));
                (key, None)
            }
        }
    }

    /// Which of `keys` the store has, with the blake3 and length their headers name: only
    /// each object's first bytes are read (a shard writes no site, so it needs to know what
    /// is there, not to have it), `requests` at a time. Objects whose header is not whole
    /// are left out (made again, and uploaded over).
    pub fn probe(&self, keys: &[String]) -> Vec<(String, blake3::Hash, u64)> {
        let Ok(store) = &self.remote.store else {
            return Vec::new();
        };
        if keys.is_empty() || self.failed() {
            return Vec::new();
        }
        let found = self.ask_each(keys, |key| async move {
            let head = store
                .get_range(&self.remote.object(key), 0..HEADER_READ)
                .await?;
            Ok(parse_header(&head).map(|(_, hash, len)| (key.clone(), hash, len)))
        });
        lock(&self.in_store).extend(found.iter().map(|(k, _, _)| k.clone()));
        found
    }

    /// `ask(key)` for each of `keys`, `requests` at a time, within the time limit: what the
    /// answers give. A missing object gives nothing; any other failure turns the store off
    /// for the run, after which nothing more is asked.
    fn ask_each<'k, T, F>(&self, keys: &'k [String], ask: impl Fn(&'k String) -> F) -> Vec<T>
    where
        F: std::future::Future<Output = object_store::Result<Option<T>>>,
    {
        let n = self.remote.settings.requests.max(1);
        let answers = futures::stream::iter(keys)
            .map(|key| {
                let asked = (!self.failed()).then(|| {
                    self.counts.requests.fetch_add(1, Ordering::Relaxed);
                    ask(key)
                });
                async move {
                    match asked?.await {
                        Ok(answer) => answer,
                        Err(object_store::Error::NotFound { .. }) => None,
                        Err(e) => {
                            self.fail(reason(&e));
                            None
                        }
                    }
                }
            })
            .buffer_unordered(n)
            .filter_map(|a| async move { a })
            .collect();
        self.wait_for(answers).unwrap_or_default()
    }

    /// Make sure the store has the outputs of `keys` (ones the local folder had: a shard's
    /// outputs must all reach the store): each is asked for with a HEAD request, `requests`
    /// at a time, and those the store lacks are read with `read` and uploaded.
    pub fn ensure(&self, keys: &[String], read: &(dyn Fn(&str) -> Option<Vec<u8>> + Sync)) {
        let mut keys = {
            let known = lock(&self.in_store);
            (keys.iter())
                .filter(|k| !known.contains(*k))
                .cloned()
                .collect::<Vec<_>>()
        };
        keys.sort_unstable();
        keys.dedup();
        let keys = &keys[..];
        let Ok(store) = &self.remote.store else {
            return;
        };
        if keys.is_empty() || self.failed() {
            return;
        }
        let missing: Vec<&String> = self.ask_each(keys, |key| async move {
            match store.head(&self.remote.object(key)).await {
                Ok(_) => Ok(None),
                Err(object_store::Error::NotFound { .. }) => Ok(Some(key)),
                Err(e) => Err(e),
            }
        });
        for key in missing {
            if let Some(bytes) = read(key) {
                self.upload(key, &bytes);
            }
        }
    }

    /// Upload an output in the background (a worker waits here while `upload_bytes` of
    /// outputs are already waiting), at most `requests` at a time. Nothing after a failure.
    pub fn upload(&self, key: &str, bytes: &[u8]) {
        let Ok(store) = &self.remote.store else {
            return;
        };
        if self.failed() {
            return;
        }
        let need = room_for(bytes.len() as u64, self.remote.settings.upload_bytes);
        // Not counted against the time limit: a worker waits here while uploading is slower
        // than making images (a slow uplink), which each request's own limits bound.
        let room = self.room.clone();
        let Ok(permit) = (self.remote.rt).block_on(room.acquire_many_owned(need)) else {
            return;
        };
        let mut object = header(bytes).into_bytes();
        object.extend_from_slice(bytes);
        // The task holds the store's client, not the `Remote` (whose runtime it runs on).
        let (store, path) = (store.clone(), self.remote.object(key));
        let (failure, counts, slots) = (
            self.failure.clone(),
            self.counts.clone(),
            self.slots.clone(),
        );
        let size = bytes.len() as u64;
        let task = self.remote.rt.spawn(async move {
            let _room = permit;
            let Ok(_slot) = slots.acquire_owned().await else {
                return;
            };
            if lock(&failure).is_some() {
                return;
            }
            counts.requests.fetch_add(1, Ordering::Relaxed);
            match store.put(&path, PutPayload::from(object)).await {
                Ok(_) => {
                    counts.uploaded.fetch_add(1, Ordering::Relaxed);
                    counts.uploaded_bytes.fetch_add(size, Ordering::Relaxed);
                }
                Err(e) => {
                    lock(&failure).get_or_insert_with(|| reason(&e));
                }
            }
        });
        lock(&self.uploads).push(task);
    }

    fn fail(&self, why: String) {
        lock(&self.failure).get_or_insert(why);
    }

    /// Wait for every upload sent so far (those still going when the time limit runs out
    /// are stopped).
    fn drain(&self) {
        let tasks = std::mem::take(&mut *lock(&self.uploads));
        let stop: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
        let all = self.wait_for(async {
            for t in tasks {
                let _ = t.await;
            }
        });
        if all.is_none() {
            stop.iter().for_each(|t| t.abort());
        }
    }

    /// Wait for every upload; what the run did, and its failure if it had one.
    pub fn finish(&self) -> (Traffic, Option<String>) {
        self.drain();
        if !self.remembered {
            let failed = lock(&self.failure).clone();
            *lock(&self.remote.failed_at) = failed.map(|why| (std::time::Instant::now(), why));
        }
        let c = &self.counts;
        let traffic = Traffic {
            fetched: c.fetched.load(Ordering::Relaxed),
            fetched_bytes: c.fetched_bytes.load(Ordering::Relaxed),
            uploaded: c.uploaded.load(Ordering::Relaxed),
            uploaded_bytes: c.uploaded_bytes.load(Ordering::Relaxed),
            damaged: c.damaged.load(Ordering::Relaxed),
            requests: c.requests.load(Ordering::Relaxed),
        };
        (traffic, lock(&self.failure).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_is_whole_only_when_its_header_names_its_bytes() {
        let bytes = b"\xff\xd8 some jpeg bytes \xff\xd9";
        let mut object = header(bytes).into_bytes();
        object.extend_from_slice(bytes);
        assert_eq!(unwrap(&object), Some(&bytes[..]));
        // Cut short, one byte changed, one byte more, or no header at all: not whole.
        assert_eq!(unwrap(&object[..object.len() - 1]), None);
        let mut changed = object.clone();
        *changed.last_mut().unwrap() ^= 1;
        assert_eq!(unwrap(&changed), None);
        let mut longer = object.clone();
        longer.push(0);
        assert_eq!(unwrap(&longer), None);
        assert_eq!(unwrap(bytes), None);
        assert_eq!(unwrap(b""), None);
    }

    /// A store over the folder `dir`, through a file:// URL.
    fn file_store(dir: &std::path::Path, requests: usize, upload_bytes: u64) -> Arc<Remote> {
        let url = url::Url::from_directory_path(dir).unwrap().to_string();
        let settings = Settings {
            url,
            strict: false,
            requests,
            upload_bytes,
            time_limit: None,
        };
        Arc::new(Remote::open(settings).unwrap())
    }

    #[test]
    fn an_output_larger_than_the_room_waits_for_all_of_it_never_for_more() {
        // 4 MiB of room: a 10 MB output takes all of it (and so runs alone), never more
        // permits than there are (which would wait for ever).
        assert_eq!(room_for(10_000_000, 4 << 20), 4096);
        assert_eq!(room_for(1, 4 << 20), 1);
        assert_eq!(room_for(0, 4 << 20), 1);
        assert_eq!(room_for(5000, 4 << 20), 5);
        assert_eq!(upload_bytes(16 << 20), 2 << 20);
        assert_eq!(upload_bytes(320 << 20), 10 << 20);
        assert_eq!(upload_bytes(4 << 30), 64 << 20);
    }

    #[test]
    fn objects_larger_than_the_room_still_go_up_and_come_back_one_at_a_time() {
        let t = tempfile::tempdir().unwrap();
        let remote = file_store(t.path(), 8, 4096);
        let keys: Vec<String> = (0..20u8).map(|i| format!("{i:02x}").repeat(32)).collect();
        let body = |i: usize| vec![i as u8; 10_000];
        let s = Session::new(remote.clone());
        for (i, k) in keys.iter().enumerate() {
            s.upload(k, &body(i));
        }
        let (traffic, failure) = s.finish();
        assert_eq!((traffic.uploaded, failure), (20, None));
        let s = Session::new(remote);
        let got = Mutex::new(std::collections::BTreeMap::new());
        s.fetch(&keys, &|k, b, _| {
            lock(&got).insert(k.to_string(), b.to_vec());
        });
        let got = got.into_inner().unwrap();
        assert_eq!(got.len(), 20);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(got[k], body(i));
        }
    }

    #[test]
    fn a_panic_while_handing_over_goes_on_once_the_fetch_has_stopped_never_a_hang() {
        // One worker, and room for one object at a time: a worker that died with its
        // object's room would leave the requests waiting for room for ever.
        let t = tempfile::tempdir().unwrap();
        let remote = file_store(t.path(), 2, 4096);
        let keys: Vec<String> = (0..6u8).map(|i| format!("{i:02x}").repeat(32)).collect();
        let s = Session::new(remote.clone());
        for k in &keys {
            s.upload(k, &[7; 10_000]);
        }
        assert_eq!(s.finish().0.uploaded, 6);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let s = Session::new(remote);
        let handed = AtomicU64::new(0);
        let fetched = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            one.install(|| {
                s.fetch(&keys, &|_, _, _| {
                    handed.fetch_add(1, Ordering::Relaxed);
                    panic!("a placing that fails");
                })
            })
        }));
        let why = fetched.expect_err("the panic goes on");
        assert_eq!(why.downcast_ref::<&str>(), Some(&"a placing that fails"));
        assert_eq!(handed.into_inner(), 1, "nothing is handed over after it");
    }

    #[test]
    fn a_store_that_failed_is_not_asked_again_by_the_next_runs_for_a_while() {
        // Nothing listens on the port: every request is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let remote = Arc::new(
            Remote::open(Settings {
                url: format!("http://127.0.0.1:{port}/cache"),
                strict: false,
                requests: 4,
                upload_bytes: UPLOAD_BYTES,
                time_limit: None,
            })
            .unwrap(),
        );
        let keys = ["ab".repeat(32)];
        let s = Session::new(remote.clone());
        s.fetch(&keys, &|_, _, _| {});
        let (traffic, failure) = s.finish();
        assert_eq!(traffic.requests, 1);
        let why = failure.expect("refused");
        // The next run (a watch's rebuild) asks nothing and says why.
        let s = Session::new(remote.clone());
        s.fetch(&keys, &|_, _, _| {});
        s.upload(&keys[0], b"bytes");
        let (traffic, failure) = s.finish();
        assert_eq!((traffic.requests, traffic.uploaded), (0, 0));
        let again = failure.expect("still off");
        assert!(again.starts_with(&format!("{why} (in a run ")), "{again}");
        assert!(
            again.ends_with("it is asked again 300 s after that)"),
            "{again}"
        );
        // Once the time has passed, it is asked again.
        *lock(&remote.failed_at) = Some((
            std::time::Instant::now() - ASK_AGAIN_AFTER - Duration::from_secs(1),
            why,
        ));
        let s = Session::new(remote);
        s.fetch(&keys, &|_, _, _| {});
        assert_eq!(s.finish().0.requests, 1);
    }

    #[test]
    fn a_mistake_in_the_url_is_an_error_before_anything_starts() {
        let open = |url: &str| {
            Remote::open(Settings {
                url: url.into(),
                strict: false,
                requests: 4,
                upload_bytes: UPLOAD_BYTES,
                time_limit: None,
            })
            .map(|_| ())
            .map_err(|e| e.to_string())
        };
        assert_eq!(
            open("file://cache/dir"),
            Err(
                "file://cache/dir: a file:// URL needs an absolute path (file:///mnt/cache)".into()
            )
        );
        assert_eq!(
            open("s3:///prefix"),
            Err("s3:///prefix: the URL names no bucket or container (s3://bucket/prefix)".into())
        );
        assert!(open("s3://bucket/a//b")
            .unwrap_err()
            .contains("is not a store path"));
        // Well formed: nothing is sent yet, whatever the credentials.
        assert_eq!(open("s3://bucket/prefix"), Ok(()));
    }

    #[test]
    fn urls_name_stores_and_paths_name_folders() {
        for url in [
            "s3://bucket/prefix",
            "gs://b",
            "az://c/p",
            "https://h/x",
            "file:///tmp/c",
        ] {
            assert!(is_url(url), "{url}");
        }
        for dir in [
            ".pixpipe/cache",
            "/var/cache/pixpipe",
            "C:/cache",
            "C://cache",
            "a b://c",
        ] {
            assert!(!is_url(dir), "{dir}");
        }
        let err = Remote::open(Settings {
            url: "ftp://host/cache".into(),
            strict: false,
            requests: 4,
            upload_bytes: UPLOAD_BYTES,
            time_limit: None,
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "ftp://host/cache: `ftp://` is not a store pixpipe knows (s3://, gs://, az://, http(s)://, file://)"
        );
    }

    #[test]
    fn a_file_store_keeps_outputs_framed_and_fetches_them_back() {
        let t = tempfile::tempdir().unwrap();
        let remote = file_store(t.path(), 4, UPLOAD_BYTES);
        let key = "ab".repeat(32);
        let s = Session::new(remote.clone());
        s.upload(&key, b"output bytes");
        let (traffic, failure) = s.finish();
        assert_eq!(
            (traffic.uploaded, traffic.uploaded_bytes, failure),
            (1, 12, None)
        );
        let on_disk = std::fs::read(t.path().join("objects").join(&key)).unwrap();
        assert!(on_disk.starts_with(b"pixpipe-object 1 "));
        let s = Session::new(remote.clone());
        let got = Mutex::new(Vec::new());
        s.fetch(&[key.clone(), "cd".repeat(32)], &|k, b, hash| {
            lock(&got).push((k.to_string(), b.to_vec(), hash))
        });
        let want = (
            key.clone(),
            b"output bytes".to_vec(),
            blake3::hash(b"output bytes"),
        );
        assert_eq!(got.into_inner().unwrap(), vec![want]);
        // Damaged in the store: fetched twice, then left out and counted.
        let cut = &on_disk[..on_disk.len() - 3];
        std::fs::write(t.path().join("objects").join(&key), cut).unwrap();
        let s = Session::new(remote.clone());
        let got = AtomicU64::new(0);
        s.fetch(std::slice::from_ref(&key), &|_, _, _| {
            got.fetch_add(1, Ordering::Relaxed);
        });
        let got = got.into_inner();
        let (traffic, failure) = s.finish();
        assert_eq!(
            (got, traffic.damaged, traffic.requests, failure),
            (0, 1, 2, None)
        );
        let listed = remote.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].key, key);
        assert_eq!(remote.delete(&[key]).unwrap(), 1);
        assert!(remote.list().unwrap().is_empty());
    }
}
