//! The shared cache against a real S3 server (s3s-fs on 127.0.0.1, see `support::s3`):
//! machines that share outputs, a cold build split into shards, a damaged object, a server
//! that stops mid-build, wrong credentials, and pruning the store; and against a real
//! WebDAV server (nginx, see `support::webdav`) through an `http://` URL.

use crate::support::s3::{objects, S3};
use crate::support::webdav::WebDav;
use crate::support::{jpeg_bytes, number_before, photo, pixpipe_with, tree, Run, SiteBuilder};
use std::path::Path;

const BUCKET: &str = "pixpipe-cache";

/// A site of `n` generated photos on one page.
fn site(n: u32, seed: u32) -> crate::support::Site {
    let mut b = SiteBuilder::new();
    let mut page = String::from("---\ntitle: Photos\n---\n");
    for i in 0..n {
        let name = format!("p{i}.jpg");
        b = b.bytes(
            &format!("content/p/{name}"),
            jpeg_bytes(&photo(1600 + 40 * i, 1000, seed + i)),
        );
        page.push_str(&format!("![Photo {i}]({name})\n\n"));
    }
    b.page("content/p/index.md", &page).build()
}

/// `pixpipe ARGS... SITE` with the server's variables; the run and its summary lines.
fn run(s3: &S3, args: &[&str], site: &Path) -> Run {
    let mut all = args.to_vec();
    all.extend(["-q", site.to_str().unwrap()]);
    pixpipe_with(None, &s3.env(), &all)
}

/// That `run`, a second machine's build, made and decoded nothing, and fetched `made`
/// outputs.
fn took_everything_from_the_store(run: &Run, made: u64) {
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = line(run, "build:");
    assert_eq!(number_before(summary, "made"), 0, "{summary}");
    assert_eq!(number_before(summary, "sources decoded"), 0, "{summary}");
    let shared = line(run, "shared cache");
    assert_eq!(number_before(shared, "outputs fetched"), made, "{shared}");
    assert_eq!(number_before(shared, "uploaded"), 0, "{shared}");
}

/// The line of `run`'s output that starts with `start`.
fn line<'a>(run: &'a Run, start: &str) -> &'a str {
    run.stderr
        .lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no `{start}` line in:\n{}", run.stderr))
}

fn build<'a>(url: &'a str, local: &'a Path) -> Vec<&'a str> {
    vec![
        "build",
        "--cache",
        url,
        "--cache-local",
        local.to_str().unwrap(),
    ]
}

#[test]
fn a_second_machine_takes_every_output_from_the_store_and_decodes_nothing() {
    let Some(s3) = S3::start(BUCKET) else { return };
    let url = format!("s3://{BUCKET}/sites/photos");
    let (a, b) = (site(5, 1), site(5, 1));
    let caches = tempfile::tempdir().unwrap();
    let (local_a, local_b) = (caches.path().join("a"), caches.path().join("b"));

    let first = run(&s3, &build(&url, &local_a), a.root());
    assert_eq!(first.code, 0, "{}", first.stderr);
    let made = number_before(line(&first, "build:"), "made");
    assert!(made >= 10, "{}", first.stderr);
    let shared = line(&first, "shared cache");
    assert_eq!(number_before(shared, "uploaded"), made, "{shared}");
    assert_eq!(
        objects(&s3.objects(BUCKET, "sites/photos")).len() as u64,
        made
    );

    // Another machine: its own (empty) cache folder, the same site elsewhere.
    let second = run(&s3, &build(&url, &local_b), b.root());
    took_everything_from_the_store(&second, made);
    assert_eq!(
        tree(&a.path(".pixpipe/site")),
        tree(&b.path(".pixpipe/site")),
        "the second machine's site equals the first's byte for byte"
    );

    // Warm: the local folder has everything, so the store is not asked anything.
    let third = run(&s3, &build(&url, &local_b), b.root());
    assert_eq!(number_before(line(&third, "shared cache"), "requests"), 0);
}

#[test]
fn three_shards_then_a_final_build_equal_one_machine_byte_for_byte() {
    let Some(s3) = S3::start(BUCKET) else { return };
    let url = format!("s3://{BUCKET}/shards");
    let one = site(7, 20);
    let sharded = site(7, 20);
    let caches = tempfile::tempdir().unwrap();
    let alone = pixpipe_with(
        None,
        &[],
        &[
            "build",
            "-q",
            "--cache",
            caches.path().join("alone").to_str().unwrap(),
            one.root().to_str().unwrap(),
        ],
    );
    assert_eq!(alone.code, 0, "{}", alone.stderr);
    let total = number_before(line(&alone, "build:"), "made");

    // Three processes at once, each with its own folder, as a CI matrix runs them.
    let shards: Vec<Run> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=3)
            .map(|i| {
                let (s3, url, root) = (&s3, &url, sharded.root());
                let local = caches.path().join(format!("shard{i}"));
                scope.spawn(move || {
                    let shard = format!("{i}/3");
                    let mut args = build(url, &local);
                    args.extend(["--shard", shard.as_str()]);
                    run(s3, &args, root)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut made = 0;
    for (i, r) in shards.iter().enumerate() {
        assert_eq!(r.code, 0, "{}", r.stderr);
        let summary = line(r, "build: shard");
        assert!(summary.contains(&format!("shard {}/3", i + 1)), "{summary}");
        assert!(summary.ends_with("no pages written"), "{summary}");
        made += number_before(summary, "made");
        assert!(
            number_before(summary, "made") > 0,
            "every shard has work: {summary}"
        );
    }
    assert_eq!(made, total, "the shards made each output once");
    assert!(
        !sharded.path(".pixpipe/site").exists(),
        "a shard writes no page nor output"
    );

    let last = run(
        &s3,
        &build(&url, &caches.path().join("final")),
        sharded.root(),
    );
    assert_eq!(last.code, 0, "{}", last.stderr);
    let summary = line(&last, "build:");
    assert_eq!(number_before(summary, "sources decoded"), 0, "{summary}");
    assert_eq!(number_before(summary, "made"), 0, "{summary}");
    assert_eq!(
        tree(&one.path(".pixpipe/site")),
        tree(&sharded.path(".pixpipe/site"))
    );

    // The matrix again on new runners (empty folders), against the full store: each shard
    // reads only the header of each of its outputs, downloads none, and makes nothing.
    let mut probed = 0;
    for i in 1..=3 {
        let shard = format!("{i}/3");
        let local = caches.path().join(format!("again{i}"));
        let mut args = build(&url, &local);
        args.extend(["--shard", shard.as_str()]);
        let r = run(&s3, &args, sharded.root());
        assert_eq!(r.code, 0, "{}", r.stderr);
        let summary = line(&r, "build: shard");
        assert_eq!(number_before(summary, "made"), 0, "{summary}");
        assert_eq!(number_before(summary, "sources decoded"), 0, "{summary}");
        let shared = line(&r, "shared cache");
        assert_eq!(number_before(shared, "outputs fetched"), 0, "{shared}");
        assert_eq!(number_before(shared, "uploaded"), 0, "{shared}");
        probed += number_before(shared, "requests");
    }
    assert_eq!(probed, total, "one request per output, its header only");
}

#[test]
fn gallery_shards_then_a_final_run_equal_one_run() {
    let Some(s3) = S3::start(BUCKET) else { return };
    let url = format!("s3://{BUCKET}/gallery");
    let mut b = SiteBuilder::new();
    for i in 0..4 {
        b = b.bytes(
            &format!("photos/e{i}.jpg"),
            jpeg_bytes(&photo(1500, 1000 + 50 * i, 40 + i)),
        );
    }
    let s = b.build();
    let photos = s.path("photos");
    let caches = tempfile::tempdir().unwrap();
    let gallery = |local: &str, out: &str, shard: Option<&str>, with_store: bool| {
        let (local, out) = (caches.path().join(local), s.path(out));
        let mut args = vec!["gallery", "-q", "--out", out.to_str().unwrap()];
        let cache = if with_store {
            vec![
                "--cache",
                url.as_str(),
                "--cache-local",
                local.to_str().unwrap(),
            ]
        } else {
            vec!["--cache", local.to_str().unwrap()]
        };
        args.extend(cache);
        if let Some(sh) = shard {
            args.extend(["--shard", sh]);
        }
        args.push(photos.to_str().unwrap());
        pixpipe_with(None, &s3.env(), &args)
    };
    let alone = gallery("alone", "alone", None, false);
    assert_eq!(alone.code, 0, "{}", alone.stderr);
    let mut made = 0;
    for sh in ["1/2", "2/2"] {
        let r = gallery(&format!("s{}", &sh[..1]), "sharded", Some(sh), true);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let summary = line(&r, "gallery: shard");
        assert!(summary.ends_with("no gallery written"), "{summary}");
        assert_eq!(
            number_before(summary, "already in the cache"),
            0,
            "{summary}"
        );
        assert!(
            number_before(summary, "made") > 0,
            "every shard has work: {summary}"
        );
        made += number_before(summary, "made");
    }
    assert_eq!(made, number_before(line(&alone, "gallery:"), "made"));
    assert!(!s.path("sharded").exists());
    let last = gallery("final", "sharded", None, true);
    assert_eq!(last.code, 0, "{}", last.stderr);
    assert_eq!(number_before(line(&last, "gallery:"), "made"), 0);
    assert_eq!(tree(&s.path("alone")), tree(&s.path("sharded")));
}

#[test]
fn a_damaged_object_is_fetched_again_then_remade_and_replaced() {
    let Some(s3) = S3::start(BUCKET) else { return };
    let url = format!("s3://{BUCKET}/damaged");
    let (a, b) = (site(3, 60), site(3, 60));
    let caches = tempfile::tempdir().unwrap();
    let first = run(&s3, &build(&url, &caches.path().join("a")), a.root());
    assert_eq!(first.code, 0, "{}", first.stderr);
    let dir = s3.objects(BUCKET, "damaged");
    let before = objects(&dir);
    // One object cut short, as an interrupted copy into the bucket leaves it.
    let (key, whole) = before.iter().next().unwrap();
    std::fs::write(dir.join(key), &whole[..whole.len() - 100]).unwrap();

    let second = run(&s3, &build(&url, &caches.path().join("b")), b.root());
    assert_eq!(second.code, 0, "{}", second.stderr);
    let summary = line(&second, "build:");
    assert_eq!(number_before(summary, "made"), 1, "{summary}");
    assert_eq!(number_before(summary, "sources decoded"), 1, "{summary}");
    let shared = line(&second, "shared cache");
    assert!(shared.ends_with("1 damaged objects made again"), "{shared}");
    assert_eq!(number_before(shared, "uploaded"), 1, "{shared}");
    assert_eq!(
        tree(&a.path(".pixpipe/site")),
        tree(&b.path(".pixpipe/site"))
    );
    assert_eq!(objects(&dir), before, "the damaged object was replaced");
    assert!(pixpipe::remote::unwrap(&objects(&dir)[key]).is_some());
}

#[test]
fn a_server_that_stops_mid_build_is_one_warning_and_the_build_completes() {
    let Some(mut s3) = S3::start(BUCKET) else {
        return;
    };
    let url = format!("s3://{BUCKET}/stopping");
    let s = site(8, 80);
    let caches = tempfile::tempdir().unwrap();
    let local = caches.path().join("local");
    let objects_dir = local.join("objects");
    let env = s3.env();
    let mut args = build(&url, &local);
    args.extend(["--jobs", "1", "-q", s.root().to_str().unwrap()]);
    let r = std::thread::scope(|scope| {
        let building = scope.spawn(|| pixpipe_with(None, &env, &args));
        // Stopped as soon as the first output exists: the rest are made after.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while std::time::Instant::now() < until && !building.is_finished() {
            let any = walkdir::WalkDir::new(&objects_dir)
                .into_iter()
                .flatten()
                .any(|e| {
                    e.file_type().is_file() && !e.file_name().to_string_lossy().starts_with('.')
                });
            if any {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        s3.stop();
        building.join().unwrap()
    });
    assert_eq!(
        r.code, 0,
        "a store that fails is not the build's failure:\n{}",
        r.stderr
    );
    let warnings: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning[cache]"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", r.stderr);
    assert!(
        warnings[0].starts_with(&format!("warning[cache]: the shared cache {url} failed: ")),
        "{}",
        warnings[0]
    );
    let summary = line(&r, "build:");
    let made = number_before(summary, "made");
    assert!(number_before(line(&r, "shared cache"), "uploaded") < made);
    // Every output is in the site and named in the manifest.
    let manifest: serde_json::Value = serde_yaml::from_str(
        &std::fs::read_to_string(s.path(".pixpipe/site/data/pixpipe.yaml")).unwrap(),
    )
    .unwrap();
    let variants: Vec<&serde_json::Value> = manifest["images"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|i| i["variants"].as_array().unwrap())
        .collect();
    assert_eq!(variants.len() as u64, made);
    for v in variants {
        assert!(s
            .path(".pixpipe/site")
            .join(v["path"].as_str().unwrap())
            .is_file());
    }
}

#[test]
fn wrong_credentials_warn_and_with_cache_strict_or_in_a_shard_fail_the_build() {
    let Some(s3) = S3::start(BUCKET) else { return };
    let url = format!("s3://{BUCKET}/creds");
    let s = site(2, 90);
    let caches = tempfile::tempdir().unwrap();
    let mut env = s3.env();
    env[1].1 = "not-the-secret".into();
    for (strict, code, severity) in [(false, 0, "warning"), (true, 1, "error")] {
        let local = caches.path().join(format!("{strict}"));
        let mut args = build(&url, &local);
        if strict {
            args.push("--cache-strict");
        }
        args.extend(["-q", s.root().to_str().unwrap()]);
        let r = pixpipe_with(None, &env, &args);
        assert_eq!(r.code, code, "{}", r.stderr);
        let finding = line(&r, &format!("{severity}[cache]"));
        assert!(
            finding.contains(&format!("the shared cache {url} failed: ")),
            "{finding}"
        );
        assert!(finding.contains("403 Forbidden"), "{finding}");
        // The site is built all the same.
        assert!(number_before(line(&r, "build:"), "made") > 0);
    }
    // A shard exists to fill the store: one that cannot fails without being told to.
    let shard_cache = caches.path().join("shard");
    let mut args = build(&url, &shard_cache);
    args.extend(["--shard", "1/2", "-q", s.root().to_str().unwrap()]);
    let r = pixpipe_with(None, &env, &args);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        line(&r, "error[cache]").contains("403 Forbidden"),
        "{}",
        r.stderr
    );
    assert!(objects(&s3.objects(BUCKET, "creds")).is_empty());
}

#[test]
fn prune_deletes_what_no_named_site_uses_and_a_dry_run_deletes_nothing() {
    let Some(s3) = S3::start(BUCKET) else { return };
    let url = format!("s3://{BUCKET}/prune");
    let (kept, gone) = (site(2, 100), site(3, 200));
    let caches = tempfile::tempdir().unwrap();
    for (s, local) in [(&kept, "k"), (&gone, "g")] {
        let r = run(&s3, &build(&url, &caches.path().join(local)), s.root());
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let dir = s3.objects(BUCKET, "prune");
    let all = objects(&dir).len();
    let prune = |extra: &[&str]| {
        let mut args = vec!["cache", "prune", "--cache", &url];
        args.extend(extra);
        pixpipe_with(None, &s3.env(), &args)
    };
    let keep = ["--keep-referenced-by", kept.root().to_str().unwrap()];
    // Everything is minutes old: nothing is older than a day.
    let r = prune(&["--older-than", "1d"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        number_before(line(&r, "cache prune"), "outputs"),
        0,
        "{}",
        r.stderr
    );
    let r = prune(&[&keep[..], &["--dry-run"]].concat());
    let summary = line(&r, "cache prune");
    assert!(summary.contains("would be deleted (dry run)"), "{summary}");
    let doomed = number_before(summary, "outputs");
    assert!(doomed > 0 && (doomed as usize) < all, "{summary}");
    assert_eq!(objects(&dir).len(), all, "a dry run deletes nothing");
    let r = prune(&keep);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(objects(&dir).len(), all - doomed as usize);
    // The kept site still builds from the store alone; the other one's outputs are gone.
    let again = run(&s3, &build(&url, &caches.path().join("k2")), kept.root());
    assert_eq!(number_before(line(&again, "build:"), "made"), 0);
    let other = run(&s3, &build(&url, &caches.path().join("g2")), gone.root());
    assert_eq!(
        number_before(line(&other, "build:"), "made") as usize,
        doomed as usize
    );
}

#[test]
fn a_folder_store_named_in_pixpipe_yaml_is_shared_like_a_bucket() {
    // `cache:` in the configuration, as a file:// URL (a mounted network folder): no server.
    let store = tempfile::tempdir().unwrap();
    let url = url::Url::from_directory_path(store.path()).unwrap();
    let config = format!("cache: {url}\n");
    let with_config = |seed| {
        let s = site(2, seed);
        std::fs::write(s.path("pixpipe.yaml"), &config).unwrap();
        s
    };
    let (a, b) = (with_config(300), with_config(300));
    let first = pixpipe_with(None, &[], &["build", "-q", a.root().to_str().unwrap()]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let made = number_before(line(&first, "build:"), "made");
    assert_eq!(objects(&store.path().join("objects")).len() as u64, made);
    // Each site keeps its own local folder (SITE/.pixpipe/cache) in front of the store.
    let second = pixpipe_with(None, &[], &["build", "-q", b.root().to_str().unwrap()]);
    assert_eq!(
        number_before(line(&second, "build:"), "made"),
        0,
        "{}",
        second.stderr
    );
    assert!(b.path(".pixpipe/cache/objects").is_dir());
    assert_eq!(
        tree(&a.path(".pixpipe/site")),
        tree(&b.path(".pixpipe/site"))
    );
    // A folder cache has no folder in front of it.
    let r = pixpipe_with(
        None,
        &[],
        &[
            "build",
            "--cache",
            "some/folder",
            "--cache-local",
            "other",
            b.root().to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(
        "--cache-local is the folder in front of a shared cache, and the cache `some/folder` is a folder: give one of them"
    ), "{}", r.stderr);
}

#[test]
fn a_shard_whose_folder_already_has_its_outputs_uploads_them_for_the_last_build() {
    let Some(s3) = S3::start(BUCKET) else { return };
    let url = format!("s3://{BUCKET}/warm");
    let s = site(3, 400);
    let caches = tempfile::tempdir().unwrap();
    let local = caches.path().join("restored");
    // A folder restored from an earlier run that had no store.
    let earlier = pixpipe_with(
        None,
        &[],
        &[
            "build",
            "-q",
            "--cache",
            local.to_str().unwrap(),
            s.root().to_str().unwrap(),
        ],
    );
    let made = number_before(line(&earlier, "build:"), "made");
    std::fs::remove_dir_all(s.path(".pixpipe/site")).unwrap();
    let mut args = build(&url, &local);
    args.extend(["--shard", "1/1"]);
    let shard = run(&s3, &args, s.root());
    assert_eq!(shard.code, 0, "{}", shard.stderr);
    let summary = line(&shard, "build: shard");
    assert_eq!(number_before(summary, "made"), 0, "{summary}");
    assert_eq!(
        number_before(summary, "already in the cache"),
        made,
        "{summary}"
    );
    let shared = line(&shard, "shared cache");
    assert_eq!(number_before(shared, "uploaded"), made, "{shared}");
    // HEAD for each output, then a PUT for each.
    assert_eq!(number_before(shared, "requests"), 2 * made, "{shared}");
    let last = run(&s3, &build(&url, &caches.path().join("fresh")), s.root());
    assert_eq!(number_before(line(&last, "build:"), "sources decoded"), 0);
}

#[test]
fn a_webdav_server_behind_an_http_url_is_shared_like_a_bucket() {
    let Some(dav) = WebDav::start() else { return };
    let url = dav.url("sites/photos");
    let (a, b, other) = (site(3, 500), site(3, 500), site(2, 600));
    let caches = tempfile::tempdir().unwrap();
    let go = |args: Vec<&str>, s: &crate::support::Site| {
        let mut all = args;
        all.extend(["-q", s.root().to_str().unwrap()]);
        pixpipe_with(None, &[], &all)
    };
    let first = go(build(&url, &caches.path().join("a")), &a);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let made = number_before(line(&first, "build:"), "made");
    assert!(made >= 6, "{}", first.stderr);
    assert_eq!(
        number_before(line(&first, "shared cache"), "uploaded"),
        made
    );
    let stored = objects(&dav.objects("sites/photos"));
    assert_eq!(stored.len() as u64, made);
    assert!(stored
        .values()
        .all(|o| pixpipe::remote::unwrap(o).is_some()));

    // A second machine makes and decodes nothing, and publishes the same bytes.
    let second = go(build(&url, &caches.path().join("b")), &b);
    took_everything_from_the_store(&second, made);
    assert_eq!(
        tree(&a.path(".pixpipe/site")),
        tree(&b.path(".pixpipe/site"))
    );

    // Listing (PROPFIND) for pruning: another site's outputs are what would go.
    let more = go(build(&url, &caches.path().join("o")), &other);
    let theirs = number_before(line(&more, "build:"), "made");
    let r = pixpipe_with(
        None,
        &[],
        &[
            "cache",
            "prune",
            "--cache",
            &url,
            "--keep-referenced-by",
            a.root().to_str().unwrap(),
            "--dry-run",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let summary = line(&r, "cache prune");
    assert_eq!(number_before(summary, "outputs"), theirs, "{summary}");
    assert_eq!(
        objects(&dav.objects("sites/photos")).len() as u64,
        made + theirs,
        "a dry run deletes nothing"
    );
}

#[test]
fn a_store_that_never_answers_is_given_up_at_the_time_limit_and_the_build_completes() {
    // A server that takes connections and never answers: each request alone would wait for
    // its own timeout (a minute, then retries).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().collect();
        drop(held);
    });
    let url = format!("http://{addr}/cache");
    let s = site(2, 700);
    let caches = tempfile::tempdir().unwrap();
    let go = |extra: &[&str], local: &str| {
        let local = caches.path().join(local);
        let mut args = build(&url, &local);
        args.extend(extra);
        args.extend(["-q", s.root().to_str().unwrap()]);
        pixpipe_with(None, &[], &args)
    };
    let r = go(&["--cache-timeout", "2s"], "a");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let warnings: Vec<&str> = (r.stderr.lines())
        .filter(|l| l.starts_with("warning[cache]"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", r.stderr);
    assert!(
        warnings[0].starts_with(&format!(
            "warning[cache]: the shared cache {url} failed: the build waited for it 2s in all, \
             the most --cache-timeout allows"
        )),
        "{}",
        warnings[0]
    );
    let summary = line(&r, "build:");
    assert!(number_before(summary, "made") >= 6, "{summary}");
    assert_eq!(number_before(summary, "reused"), 0, "{summary}");
    let shared = line(&r, "shared cache");
    assert_eq!(number_before(shared, "outputs fetched"), 0, "{shared}");
    assert_eq!(number_before(shared, "uploaded"), 0, "{shared}");
    // With --cache-strict it is the build's error.
    let r = go(&["--cache-timeout", "2s", "--cache-strict"], "b");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "error[cache]: the shared cache {url} failed: the build waited for it 2s in all"
        )),
        "{}",
        r.stderr
    );
    // Not a duration: refused before anything starts.
    let r = go(&["--cache-timeout", "soon"], "c");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "--cache-timeout: `soon` is not a duration (write `90s`, `10m`, `1h` or `none`)"
        ),
        "{}",
        r.stderr
    );
}
