#!/usr/bin/env python3
"""Latency of `pixpipe build --watch`, measured from outside the process.

Lays out a site of PAGES page bundles, each with one generated photo (1200x800) shown at 60 %
of the column (defaults otherwise), builds it cold with `--watch`, then:

- edits EDITS pages one at a time as an editor saves (a temporary file renamed over the page),
  GAP seconds apart, alternating a text edit and a width edit (the page asks for a new width:
  its variants are made);
- times a cold build of the last width-edited page alone (the processing of its variants);
- copies a 24 MP photo into a page that already names it (reported missing until then), then
  another over it, and times a cold build of each photo alone for its processing time;
- copies BATCH photos at once into a new page bundle, against a cold build of those photos.

Each time runs from the moment before the write to the moment the watch log's line for that
change is read (so it includes the debounce, the rebuild and the log). Prints the median and
95th percentile per kind, and the CPU the process used while idle for IDLE seconds.

usage: [WATCH_BENCH_DIR=DIR] watch.py PIXPIPE [PAGES] [EDITS] [GAP] [BATCH] [IDLE]
(WATCH_BENCH_DIR keeps the site there for the next run, which then starts warm.)
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

pixpipe = os.path.realpath(sys.argv[1])
pages = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
edits = int(sys.argv[3]) if len(sys.argv) > 3 else 40
gap = float(sys.argv[4]) if len(sys.argv) > 4 else 0.3
batch = int(sys.argv[5]) if len(sys.argv) > 5 else 200
idle = float(sys.argv[6]) if len(sys.argv) > 6 else 10.0


def photos(count, size):
    d = f"target/bench-photos/{count}-{size}"
    subprocess.run(
        ["cargo", "run", "--quiet", "--release", "--example", "bench-photos", "--", d, str(count), size],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return sorted(os.path.join(os.path.abspath(d), f) for f in os.listdir(d) if f.endswith(".jpg"))


def page(i, width, extra=""):
    return (
        f"---\ntitle: Page {i}\n---\n\nSome words about photo {i}.{extra}\n\n"
        f'{{{{< image width="{width}" link="./photo.jpg" caption="Photo {i}" >}}}}\n'
    )


def save(path, text):
    """As an editor saves: a temporary file beside the page, renamed over it."""
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".swp")
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def link(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def cold(site, flags=()):
    t0 = time.monotonic()
    subprocess.run([pixpipe, "build", site, "--quiet", *flags], check=True, stderr=subprocess.DEVNULL)
    return time.monotonic() - t0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(p / 100 * len(xs) + 0.5)) - 1))]


def main():
    # The batch's photos are others than the pages' (the cache would know those).
    small = photos(pages + batch, "1200x800")
    big = photos(2, "6000x4000")
    keep = os.environ.get("WATCH_BENCH_DIR")
    work = keep or tempfile.mkdtemp(prefix="pixpipe-watch.")
    try:
        run(work, small, big)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def run(work, small, big):
    site = os.path.join(work, "site")
    if os.path.isdir(site):
        # Kept from an earlier run (WATCH_BENCH_DIR): as it was laid out, warm. The 24 MP
        # photo's outputs are in the cache then, so its time is not its processing's.
        for d in ["alone0", "alone1", "batch-alone", "batch-out", "batch-cache", "site/content/batch", "width-alone"]:
            shutil.rmtree(os.path.join(work, d), ignore_errors=True)
        for r in range(3):
            for d in [f"alone-out0{r}", f"alone-cache0{r}", f"alone-out1{r}", f"alone-cache1{r}", f"width-out{r}", f"width-cache{r}"]:
                shutil.rmtree(os.path.join(work, d), ignore_errors=True)
        big_photo = os.path.join(site, "content", "big", "photo.jpg")
        if os.path.exists(big_photo):
            os.remove(big_photo)
    else:
        lay_out(site, small)
    run_watch(work, site, small, big)


def lay_out(site, small):
    for i in range(pages):
        d = os.path.join(site, "content", f"p{i:04}")
        os.makedirs(d)
        with open(os.path.join(d, "index.md"), "w") as f:
            f.write(page(i, "60%"))
        link(small[i], os.path.join(d, "photo.jpg"))
    # The page that will get the 24 MP photo names it already.
    big_dir = os.path.join(site, "content", "big")
    os.makedirs(big_dir)
    with open(os.path.join(big_dir, "index.md"), "w") as f:
        f.write('---\ntitle: Big\n---\n\n{{< image width="100%" link="./photo.jpg" >}}\n')


def run_watch(work, site, small, big):
    big_dir = os.path.join(site, "content", "big")
    proc = subprocess.Popen(
        [pixpipe, "build", site, "--watch", "--quiet"],
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )

    def line_for(what, timeout=600):
        """The next watch log line about `what` (read until it comes)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ln = proc.stderr.readline()
            if not ln:
                raise SystemExit("pixpipe ended")
            if ln.startswith("watch: ") and what in ln:
                return ln.strip()
        raise SystemExit(f"no line for {what}")

    t0 = time.monotonic()
    line_for("watching")
    print(f"site: {pages} pages, {pages} photos 1200x800; first build {time.monotonic() - t0:.1f} s")

    kinds = {"text": [], "width": []}
    logged = []
    widths = {}
    last_width = None
    for k in range(edits):
        i = (k * 37) % pages
        path = os.path.join(site, "content", f"p{i:04}", "index.md")
        kind = "width" if k % 2 else "text"
        w = widths.get(i, 60)
        if kind == "width":
            w = 40 + (w + 7) % 50
            widths[i] = w
            last_width = i
        text = page(i, f"{w}%", f" Edit {k}." if kind == "text" else "")
        time.sleep(gap)
        t0 = time.monotonic()
        save(path, text)
        ln = line_for(f"content/p{i:04}/index.md")
        kinds[kind].append((time.monotonic() - t0) * 1000)
        logged.append(int(ln.rsplit(";", 1)[1].strip().split()[0]))
    print("| change | n | median ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for kind, xs in kinds.items():
        print(f"| page edit ({kind}) | {len(xs)} | {pct(xs, 50):.0f} | {pct(xs, 95):.0f} | {max(xs):.0f} |")
    both = kinds["text"] + kinds["width"]
    print(f"| page edit (all) | {len(both)} | {pct(both, 50):.0f} | {pct(both, 95):.0f} | {max(both):.0f} |")
    print(f"(as the log says, from the first event: median {pct(logged, 50)} ms, p95 {pct(logged, 95)} ms)")

    # A width edit makes new variants: against a cold build of the last width-edited page
    # alone (its processing time, with the process's start).
    if last_width is not None:
        last = last_width
        alone_w = os.path.join(work, "width-alone")
        src = os.path.join(site, "content", f"p{last:04}")
        os.makedirs(os.path.join(alone_w, "content"))
        shutil.copytree(src, os.path.join(alone_w, "content", f"p{last:04}"))
        alone_ws = [cold(alone_w, ["--out", os.path.join(work, f"width-out{r}"), "--cache", os.path.join(work, f"width-cache{r}")]) for r in range(3)]
        print(f"page width edit: median {pct(kinds['width'], 50):.0f} ms; a cold build of such a page alone: median {pct([s * 1000 for s in alone_ws], 50):.0f} ms")

    # A 24 MP photo added, then replaced by another, each against a cold build of a site
    # with just it.
    watched, alone_ms = [], []
    for b, photo in enumerate(big):
        time.sleep(gap)
        t0 = time.monotonic()
        shutil.copyfile(photo, os.path.join(big_dir, "photo.jpg"))
        line_for("content/big/photo.jpg")
        watched.append((time.monotonic() - t0) * 1000)
        alone = os.path.join(work, f"alone{b}")
        os.makedirs(os.path.join(alone, "content", "big"))
        shutil.copyfile(os.path.join(big_dir, "index.md"), os.path.join(alone, "content", "big", "index.md"))
        link(photo, os.path.join(alone, "content", "big", "photo.jpg"))
        runs = [cold(alone, ["--out", os.path.join(work, f"alone-out{b}{r}"), "--cache", os.path.join(work, f"alone-cache{b}{r}")]) for r in range(3)]
        alone_ms.append(pct([s * 1000 for s in runs], 50))
    both = " / ".join(f"{w:.0f}" for w in watched)
    print(f"24 MP photo added, then replaced: {both} ms; a cold build of each alone: median {' / '.join(f'{a:.0f}' for a in alone_ms)} ms")

    # Idle CPU.
    def cpu():
        with open(f"/proc/{proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    c0 = cpu()
    time.sleep(idle)
    print(f"idle {idle:.0f} s: {cpu() - c0:.2f} s of CPU")

    # BATCH photos at once, against a cold build of them.
    if batch:
        d = os.path.join(site, "content", "batch")
        os.makedirs(d)
        with open(os.path.join(d, "index.md"), "w") as f:
            f.write("---\ntitle: Batch\n---\n\n")
            for j in range(batch):
                f.write(f'{{{{< image width="60%" link="./b{j:03}.jpg" >}}}}\n')
        # (The folder's line: a page written before the watch on its new folder is in place
        # is found by the full scan the new folder starts, and not named itself.)
        line_for("content/batch")
        time.sleep(gap)
        t0 = time.monotonic()
        for j in range(batch):
            shutil.copyfile(small[pages + j], os.path.join(d, f"b{j:03}.jpg"))
        mirror = os.path.join(site, ".pixpipe", "site", "content", "batch")
        n = 0
        while True:
            line_for("content/batch/b")
            n += 1
            made = {f.split("-", 1)[0] for f in os.listdir(mirror) if f.startswith("b") and "w." in f}
            if len(made) == batch:
                break
        watched = time.monotonic() - t0
        alone = os.path.join(work, "batch-alone")
        os.makedirs(os.path.join(alone, "content"))
        shutil.copytree(d, os.path.join(alone, "content", "batch"))
        alone_s = cold(alone, ["--out", os.path.join(work, "batch-out"), "--cache", os.path.join(work, "batch-cache")])
        print(f"{batch} photos copied at once: {n} rebuild(s), {watched:.1f} s; a cold build of them alone: {alone_s:.1f} s")

    proc.terminate()
    proc.wait()


main()
