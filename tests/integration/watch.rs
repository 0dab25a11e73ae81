//! `pixpipe build --watch` and `gallery --watch`, driven for real: the binary watches a
//! generated site while the test edits, adds, replaces, deletes and renames its files the
//! way writers and their tools do; after each change the mirror must equal what a fresh
//! `pixpipe build` makes, and the watch log must show no work beyond the change.

use crate::support::{jpeg_bytes, photo, tree, SiteBuilder};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// A running `pixpipe … --watch`, its stderr read line by line.
pub(crate) struct Watching {
    child: Child,
    lines: Receiver<String>,
    log: Vec<String>,
}

impl Watching {
    pub(crate) fn start(args: &[&str]) -> Watching {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pixpipe"))
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pixpipe --watch");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for l in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let mut w = Watching {
            child,
            lines,
            log: Vec::new(),
        };
        w.next_line("watch: watching");
        w
    }

    /// The next line of the log that starts with `prefix` (the lines before it are kept
    /// for messages); fails after 60 s.
    pub(crate) fn next_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.log.push(l.clone());
                    if l.starts_with(prefix) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "no line starting with {prefix:?} within 60 s; the log:\n{}",
                    self.log.join("\n")
                ),
            }
        }
    }

    /// The next line of what one batch did.
    pub(crate) fn next_batch(&mut self) -> String {
        loop {
            let l = self.next_line("watch: ");
            if !l.starts_with("watch: watching") {
                return l;
            }
        }
    }

    /// Lines that arrive within `wait` (none expected).
    fn quiet_for(&mut self, wait: Duration) -> Vec<String> {
        let deadline = Instant::now() + wait;
        let mut got = Vec::new();
        while let Ok(l) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.log.push(l.clone());
            got.push(l);
        }
        got
    }

    /// Ctrl-C, and the exit code.
    pub(crate) fn stop(mut self) -> i32 {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill -INT");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "pixpipe did not stop on Ctrl-C");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_cache_and_mirror_removed_while_watching_are_made_again_at_the_next_change() {
    let site = SiteBuilder::new()
        .page("content/p/index.md", &page("60%", "photo.jpg"))
        .bytes("content/p/photo.jpg", jpeg_bytes(&photo(900, 600, 1)))
        .page("content/q/index.md", &page("40%", "photo.jpg"))
        .bytes("content/q/photo.jpg", jpeg_bytes(&photo(800, 600, 2)))
        .build();
    let root = site.root().to_path_buf();
    let cache = root.join(".pixpipe/cache");
    let mirror = root.join(".pixpipe/site");
    let mut w = Watching::start(&["build", root.to_str().unwrap(), "-q", "--watch"]);
    // Edited once, so that the watch remembers the jobs' outputs as in the cache.
    save_like_an_editor(
        &root.join("content/p/index.md"),
        (page("60%", "photo.jpg") + "\nOne.\n").as_bytes(),
    );
    let l = w.next_batch();
    assert_eq!(count(&l, "variants made"), 0, "{l}");
    std::fs::remove_dir_all(root.join(".pixpipe")).unwrap();
    save_like_an_editor(
        &root.join("content/p/index.md"),
        (page("60%", "photo.jpg") + "\nTwo.\n").as_bytes(),
    );
    let l = w.next_batch();
    assert!(l.contains("no problems"), "{l}\n{}", w.log.join("\n"));
    assert!(count(&l, "variants made") > 0, "{l}");
    assert_fresh_build_equals(&root, &mirror, &cache, "removal");
    assert_eq!(w.stop(), 0);
}

/// The files a mirror publishes, without the two that name where it is (its mark and the
/// Hugo mounts file, which hold the folder's own path).
fn published(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    tree(dir)
        .into_iter()
        .filter(|(k, _)| !k.starts_with(".pixpipe") && k != "hugo-mounts.toml")
        .collect()
}

/// The mirror `mirror` equals a fresh `pixpipe build` of `site` into a new folder (the
/// cache shared, so that it takes seconds).
fn assert_fresh_build_equals(site: &Path, mirror: &Path, cache: &Path, step: &str) {
    let fresh = site.join(format!("fresh-{}", step.replace(' ', "-")));
    let run = crate::support::pixpipe(&[
        "build",
        site.to_str().unwrap(),
        "--out",
        fresh.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "-q",
    ]);
    assert!(run.code <= 1, "{}", run.stderr);
    let (a, b) = (published(mirror), published(&fresh));
    let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "after {step}: the files differ");
    for (k, v) in &a {
        assert!(v == &b[k], "after {step}: {k} differs from a fresh build's");
    }
    std::fs::remove_dir_all(fresh).unwrap();
}

/// A number from a batch line: the one before `what` (`3 pages written` → 3).
fn count(line: &str, what: &str) -> usize {
    crate::support::number_before(line, what) as usize
}

fn page(width: &str, image: &str) -> String {
    format!(
        "---\ntitle: A post\n---\n\nText.\n\n{{{{< image width=\"{width}\" link=\"./{image}\" caption=\"A photo\" >}}}}\n"
    )
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Write `bytes` at `path` as editors save: a temporary file beside it, renamed over it.
fn save_like_an_editor(path: &Path, bytes: &[u8]) {
    let swap = path.with_file_name(format!(
        ".{}.swp",
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&swap, b"swap").unwrap();
    let tmp = path.with_extension("md.tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
    std::fs::remove_file(&swap).unwrap();
}

#[test]
fn build_watch_keeps_the_mirror_equal_to_a_fresh_build_through_every_kind_of_change() {
    let mut b = SiteBuilder::new();
    for i in 0..4 {
        b = b
            .page(&format!("content/p{i}/index.md"), &page("60%", "photo.jpg"))
            .bytes(
                &format!("content/p{i}/photo.jpg"),
                jpeg_bytes(&photo(1200, 800, i)),
            );
    }
    let site = b.build();
    let root = site.root().to_path_buf();
    let cache = root.join(".pixpipe/cache");
    let mirror = root.join(".pixpipe/site");
    let mut w = Watching::start(&[
        "build",
        root.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "-q",
        "--watch",
    ]);
    let content = root.join("content");

    // A page edited: its width changes; only it is rewritten, new sizes of one photo made.
    save_like_an_editor(
        &content.join("p0/index.md"),
        page("30%", "photo.jpg").as_bytes(),
    );
    let l = w.next_batch();
    assert!(l.starts_with("watch: content/p0/index.md: "), "{l}");
    assert_eq!(count(&l, "pages written"), 1, "{l}");
    assert_eq!(count(&l, "sources decoded"), 1, "{l}");
    assert_fresh_build_equals(&root, &mirror, &cache, "page edit");

    // Text only: the page, nothing else.
    let text = page("30%", "photo.jpg") + "\nMore text.\n";
    write(&content.join("p0/index.md"), text.as_bytes());
    let l = w.next_batch();
    assert_eq!(
        (count(&l, "pages written"), count(&l, "variants made")),
        (1, 0),
        "{l}"
    );

    // A photo added with the page that shows it.
    write(
        &content.join("p4/photo.jpg"),
        &jpeg_bytes(&photo(1000, 700, 9)),
    );
    write(
        &content.join("p4/index.md"),
        page("60%", "photo.jpg").as_bytes(),
    );
    let l = w.next_batch();
    assert_eq!(
        (count(&l, "pages written"), count(&l, "sources decoded")),
        (1, 1),
        "{l}"
    );
    assert_fresh_build_equals(&root, &mirror, &cache, "photo added");

    // A photo replaced: new pixels, new names; its page rewritten, the old outputs pruned.
    write(
        &content.join("p1/photo.jpg"),
        &jpeg_bytes(&photo(1200, 800, 77)),
    );
    let l = w.next_batch();
    assert!(l.starts_with("watch: content/p1/photo.jpg: "), "{l}");
    assert_eq!(
        (count(&l, "pages written"), count(&l, "sources decoded")),
        (1, 1),
        "{l}"
    );
    assert!(count(&l, "stale files removed") > 0, "{l}");
    assert_fresh_build_equals(&root, &mirror, &cache, "photo replaced");

    // A photo deleted and its page with it.
    std::fs::remove_dir_all(content.join("p2")).unwrap();
    let l = w.next_batch();
    assert_eq!(count(&l, "sources decoded"), 0, "{l}");
    assert!(count(&l, "stale files removed") > 0, "{l}");
    assert_fresh_build_equals(&root, &mirror, &cache, "photo deleted");

    // A folder renamed: nothing to decode, the pages move.
    std::fs::rename(content.join("p3"), content.join("renamed")).unwrap();
    let l = w.next_batch();
    assert_eq!(count(&l, "sources decoded"), 0, "{l}");
    assert_fresh_build_equals(&root, &mirror, &cache, "folder renamed");

    // 200 photos copied at once, with the page that shows them: one batch.
    let mut gallery = String::from("---\ntitle: Many\n---\n");
    for i in 0..200 {
        gallery.push_str(&format!("\n![photo {i}](img/{i:03}.jpg)\n"));
    }
    let staging = root.join("staging");
    for i in 0..200u32 {
        write(
            &staging.join(format!("img/{i:03}.jpg")),
            &jpeg_bytes(&photo(96 + i % 7, 64, 1000 + i)),
        );
    }
    write(&staging.join("index.md"), gallery.as_bytes());
    Command::new("cp")
        .arg("-r")
        .arg(&staging)
        .arg(content.join("many"))
        .status()
        .unwrap();
    let l = w.next_batch();
    assert_eq!(count(&l, "sources decoded"), 200, "{l}");
    assert!(
        w.quiet_for(Duration::from_millis(500)).is_empty(),
        "{}",
        w.log.join("\n")
    );
    assert_fresh_build_equals(&root, &mirror, &cache, "200 photos");

    // Files pixpipe ignores: editor swap files and the output folder.
    write(&content.join("p0/.index.md.swp"), b"swap");
    write(&mirror.join("content/note.txt"), b"x");
    assert!(
        w.quiet_for(Duration::from_millis(400)).is_empty(),
        "{}",
        w.log.join("\n")
    );
    std::fs::remove_file(mirror.join("content/note.txt")).unwrap();

    // Ctrl-C: a clean end, no temporary file left anywhere.
    assert_eq!(w.stop(), 0);
    let leftovers: Vec<String> = tree(&root)
        .into_keys()
        .chain(tree(&cache).into_keys())
        .filter(|k| k.contains(".pixpipe-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_broken_page_keeps_its_last_good_output_and_reports_once() {
    let site = SiteBuilder::new()
        .page("content/p/index.md", &page("60%", "photo.jpg"))
        .bytes("content/p/photo.jpg", jpeg_bytes(&photo(900, 600, 1)))
        .build();
    let root = site.root().to_path_buf();
    let cache = root.join(".pixpipe/cache");
    let mirror = root.join(".pixpipe/site");
    let mut w = Watching::start(&[
        "build",
        root.to_str().unwrap(),
        "-q",
        "--watch",
        "--poll",
        "100",
    ]);
    let before = std::fs::read_to_string(mirror.join("content/p/index.md")).unwrap();
    // The photo replaced by a truncated file: an error, the last good outputs stay.
    let good = std::fs::read(root.join("content/p/photo.jpg")).unwrap();
    write(&root.join("content/p/photo.jpg"), &good[..good.len() / 3]);
    let l = w.next_batch();
    assert!(l.contains("1 error"), "{l}\n{}", w.log.join("\n"));
    assert!(
        w.log.iter().any(|l| l.contains("content/p/photo.jpg")),
        "{}",
        w.log.join("\n")
    );
    assert_eq!(
        std::fs::read_to_string(mirror.join("content/p/index.md")).unwrap(),
        before
    );
    // Another change while it is broken: the problem is not printed again.
    write(
        &root.join("content/p/index.md"),
        (page("60%", "photo.jpg") + "\nMore.\n").as_bytes(),
    );
    let l = w.next_batch();
    assert!(l.contains("1 error"), "{l}");
    let shown = w.log.iter().filter(|l| l.contains("error[")).count();
    assert_eq!(shown, 1, "{}", w.log.join("\n"));
    // Fixed again: the problem is gone.
    write(&root.join("content/p/photo.jpg"), &good);
    let l = w.next_batch();
    assert!(
        l.ends_with(" ms") && l.contains("no problems, ") && l.contains(" gone;"),
        "{l}"
    );
    assert_fresh_build_equals(&root, &mirror, &cache, "fixed");
    assert_eq!(w.stop(), 0);
}

#[test]
fn gallery_watch_adds_a_photo_dropped_into_the_folder() {
    let mut b = SiteBuilder::new();
    for i in 0..3u32 {
        b = b.bytes(
            &format!("photos/p{i}.jpg"),
            jpeg_bytes(&photo(1200, 800, i)),
        );
    }
    let site = b.build();
    let photos = site.path("photos");
    let out = site.path("gallery");
    let mut w = Watching::start(&[
        "gallery",
        photos.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
        "--watch",
    ]);
    let count_imgs = |dir: &PathBuf| {
        std::fs::read_to_string(dir.join("index.html"))
            .unwrap()
            .matches("<img")
            .count()
    };
    let before = count_imgs(&out);
    write(&photos.join("p3.jpg"), &jpeg_bytes(&photo(1200, 800, 3)));
    let l = w.next_batch();
    assert!(l.starts_with("watch: p3.jpg: "), "{l}");
    assert!(count(&l, "variants made") > 0, "{l}");
    assert_eq!(count_imgs(&out), before + 1);
    assert_eq!(w.stop(), 0);
}

/// The page at `url` as headless Chromium renders it.
fn chromium_dom(chromium: &Path, url: &str) -> String {
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
            url,
        ])
        .stderr(Stdio::null())
        .output()
        .expect("run chromium");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `srcset` of the first `<img>` of `dom`.
fn first_srcset(dom: &str) -> Option<String> {
    let tag = &dom[dom.find("<img")?..];
    let tag = &tag[..tag.find('>')?];
    let v = &tag[tag.find("srcset=\"")? + 8..];
    Some(v[..v.find('"')?].to_string())
}

#[test]
fn hugo_server_shows_an_edited_page_with_its_new_image_sizes_without_a_restart() {
    let Some(hugo) = crate::hugo::hugo() else {
        return;
    };
    let chromium =
        PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    if !chromium.is_file() {
        if std::env::var("PIXPIPE_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("chromium is missing; `make test` installs it");
        }
        eprintln!("SKIPPED: chromium is missing (make test installs it)");
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    crate::support::copy_tree(&repo.join("assets/demo/layouts"), &site.join("layouts"));
    crate::support::copy_tree(&repo.join("assets/hugo"), &tmp.path().join("hugo"));
    std::fs::copy(repo.join("assets/demo/hugo.toml"), site.join("hugo.toml")).unwrap();
    write(
        &site.join("content/post/index.md"),
        page("40%", "photo.jpg").as_bytes(),
    );
    write(
        &site.join("content/post/photo.jpg"),
        &jpeg_bytes(&photo(2400, 1600, 5)),
    );
    let mut w = Watching::start(&["build", site.to_str().unwrap(), "-q", "--watch"]);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}/");
    let mut server = Command::new(&hugo)
        .current_dir(&site)
        .args([
            "server",
            "--config",
            crate::hugo::THROUGH_MIRROR,
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--baseURL",
            &base,
            "--disableLiveReload",
            "--disableFastRender",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start hugo server");
    struct Stop<'a>(&'a mut Child);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _server = Stop(&mut server);
    let url = format!("{base}post/");
    // The srcset Chromium sees, once it satisfies `ok` (within 60 s).
    let srcset_when = |ok: &dyn Fn(&str) -> bool| -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = first_srcset(&chromium_dom(&chromium, &url)) {
                if ok(&s) {
                    return s;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{url} never showed the expected srcset"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    let before = srcset_when(&|s| s.contains("photo-"));

    // The writer makes the photo wider; pixpipe updates the mirror, Hugo the page.
    write(
        &site.join("content/post/index.md"),
        page("100%", "photo.jpg").as_bytes(),
    );
    let l = w.next_batch();
    assert!(
        l.starts_with("watch: content/post/index.md: 1 pages written"),
        "{l}"
    );
    let after = srcset_when(&|s| s.contains("photo-") && s != before);
    let widest = |s: &str| -> u32 {
        s.split(", ")
            .filter_map(|c| c.rsplit_once(' ')?.1.strip_suffix('w')?.parse().ok())
            .max()
            .unwrap()
    };
    assert!(widest(&after) > widest(&before), "{before} -> {after}");
    // Every file the new srcset names is served.
    for c in after.split(", ") {
        let u = c.rsplit_once(' ').unwrap().0;
        let path = u.trim_start_matches(&base).trim_start_matches('/');
        let file = site
            .join(".pixpipe/site/content/post")
            .join(Path::new(path).file_name().unwrap_or_else(|| panic!("{u}")));
        assert!(file.is_file(), "{u} is not in the mirror");
    }
    assert_eq!(w.stop(), 0);
}

#[test]
fn in_place_rewrites_of_source_pages_do_not_start_another_rebuild() {
    let site = SiteBuilder::new()
        .page("content/p/index.md", &page("60%", "photo.jpg"))
        .bytes("content/p/photo.jpg", jpeg_bytes(&photo(900, 600, 1)))
        .build();
    let root = site.root().to_path_buf();
    let mut w = Watching::start(&[
        "build",
        root.to_str().unwrap(),
        "-q",
        "--in-place",
        "--watch",
    ]);
    // A new page: pixpipe rewrites it in place (its image now names an output).
    write(
        &root.join("content/q/index.md"),
        page("50%", "../p/photo.jpg").as_bytes(),
    );
    let l = w.next_batch();
    assert!(l.starts_with("watch: content/q"), "{l}");
    assert!(count(&l, "pages written") >= 1, "{l}");
    let text = std::fs::read_to_string(root.join("content/q/index.md")).unwrap();
    assert!(!text.contains("../p/photo.jpg\""), "{text}");
    // That rewrite is pixpipe's own: no second batch.
    assert!(
        w.quiet_for(Duration::from_millis(600)).is_empty(),
        "{}",
        w.log.join("\n")
    );
    assert_eq!(w.stop(), 0);
}

#[test]
fn a_folder_that_appears_later_is_watched_from_then_on() {
    let site = SiteBuilder::new()
        .page("content/p/index.md", "---\ntitle: p\n---\nText.\n")
        .build();
    let root = site.root().to_path_buf();
    let mut w = Watching::start(&["build", root.to_str().unwrap(), "-q", "--watch"]);
    // static/ does not exist yet: it appears with an image the page then shows.
    write(
        &root.join("static/img/logo.png"),
        &crate::support::png_bytes(&photo(800, 400, 1)),
    );
    write(
        &root.join("content/p/index.md"),
        b"---\ntitle: p\n---\n![logo](/img/logo.png)\n",
    );
    // Until a rebuild has made the logo's variants (the new folder may take two batches).
    loop {
        let l = w.next_batch();
        if count(&l, "sources decoded") == 1 {
            break;
        }
    }
    // A change inside the new folder is seen.
    write(
        &root.join("static/img/logo.png"),
        &crate::support::png_bytes(&photo(800, 400, 2)),
    );
    let l = loop {
        let l = w.next_batch();
        if !l.starts_with("watch: everything looked at again") {
            break l;
        }
    };
    assert!(l.starts_with("watch: static/img/logo.png"), "{l}");
    assert_eq!(count(&l, "sources decoded"), 1, "{l}");
    assert_eq!(w.stop(), 0);
}

#[test]
fn a_configuration_that_moves_the_content_folder_is_watched_anew() {
    let site = SiteBuilder::new()
        .page("content/p/index.md", &page("60%", "photo.jpg"))
        .bytes("content/p/photo.jpg", jpeg_bytes(&photo(900, 600, 1)))
        .page("docs/q/index.md", &page("60%", "photo.jpg"))
        .bytes("docs/q/photo.jpg", jpeg_bytes(&photo(900, 600, 2)))
        .build();
    let root = site.root().to_path_buf();
    let mut w = Watching::start(&["build", root.to_str().unwrap(), "-q", "--watch"]);
    // pixpipe.yaml now reads the pages from docs/: the batch names it, docs/q's photo is made.
    write(&root.join("pixpipe.yaml"), b"content: [docs]\n");
    let l = w.next_batch();
    assert!(l.starts_with("watch: pixpipe.yaml: "), "{l}");
    assert_eq!(count(&l, "sources decoded"), 1, "{l}");
    // The watcher starts again on docs/ and looks at everything once.
    let l = w.next_batch();
    assert!(l.starts_with("watch: everything looked at again: "), "{l}");
    // A change in the folder watched from then on is seen.
    write(
        &root.join("docs/q/index.md"),
        page("30%", "photo.jpg").as_bytes(),
    );
    let l = w.next_batch();
    assert!(
        l.starts_with("watch: docs/q/index.md: 1 pages written"),
        "{l}"
    );
    // A bad configuration: reported, the last good one stays, the batch still built.
    write(&root.join("pixpipe.yaml"), b"content: [docs\n");
    let l = w.next_batch();
    assert!(l.contains("the last good configuration stays"), "{l}");
    let l = w.next_batch();
    assert!(l.starts_with("watch: pixpipe.yaml: 0 pages written"), "{l}");
    assert_eq!(w.stop(), 0);
}

#[test]
fn a_warm_rebuild_keeps_the_avif_it_left_out_in_the_cache() {
    // A flat disc: its AVIF is no smaller than its WebP, so it is left out but stays in the
    // cache (`jobs::avif_gains`). A rebuild takes the job from memory; with --prune-cache
    // that memory must still count the AVIF as the cache's, or a later build makes it again.
    let logo = |text: &str| format!("---\ntitle: Logo\n---\n\n![logo](logo.png)\n\n{text}\n");
    let site = SiteBuilder::new()
        .page("pixpipe.yaml", "formats: [auto, webp, avif]\n")
        .page("content/p/index.md", &logo("One."))
        .bytes(
            "content/p/logo.png",
            crate::support::rgba_png_bytes(512, 512),
        )
        .build();
    let root = site.root().to_path_buf();
    let mut w = Watching::start(&[
        "build",
        root.to_str().unwrap(),
        "-q",
        "--watch",
        "--prune-cache",
    ]);
    save_like_an_editor(&root.join("content/p/index.md"), logo("Two.").as_bytes());
    let l = w.next_batch();
    assert_eq!(count(&l, "variants made"), 0, "{l}");
    assert_eq!(w.stop(), 0);
    let again = crate::support::pixpipe(&["build", root.to_str().unwrap()]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.contains("(0 made, "), "{}", again.stderr);
    assert!(
        again.stderr.contains(" of 1 image left out"),
        "{}",
        again.stderr
    );
}
