// Drives the gallery in real headless Chromium (Debian's, through playwright-core) and prints
// what a visitor would see, as JSON, for tests/integration/browser.rs to assert on.
// usage: node gallery.cjs URL SCREENSHOT.png
const { chromium } = require("playwright-core");

(async () => {
  const [url, screenshot] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("requestfailed", (r) => errors.push("request failed: " + r.url()));
  // Sum of layout shifts while the page and its images load.
  await page.addInitScript(() => {
    window.__cls = 0;
    new PerformanceObserver((l) => { for (const e of l.getEntries()) if (!e.hadRecentInput) window.__cls += e.value; })
      .observe({ type: "layout-shift", buffered: true });
  });
  await page.goto(url, { waitUntil: "load" });
  // Scroll through the grid so every lazy image loads.
  for (let y = 0; y < 6000; y += 400) { await page.evaluate((y) => window.scrollTo(0, y), y); await page.waitForTimeout(50); }
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForFunction(() => Array.from(document.querySelectorAll(".pp-grid img")).every((i) => i.complete));
  const grid = await page.evaluate(() => Array.from(document.querySelectorAll(".pp-grid img")).map((i) => ({
    naturalWidth: i.naturalWidth, width: i.getAttribute("width"), height: i.getAttribute("height"), currentSrc: i.currentSrc })));
  const cls = await page.evaluate(() => window.__cls);
  await page.screenshot({ path: screenshot, fullPage: false });

  // Keyboard: focus the first photo, Enter opens the lightbox.
  await page.focus(".pp-grid li:first-child a");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => !document.querySelector(".pp-lightbox").hidden);
  const lb = () => page.evaluate(() => {
    const i = document.querySelector(".pp-lightbox img");
    return { hidden: document.querySelector(".pp-lightbox").hidden, currentSrc: i.currentSrc, complete: i.complete,
      naturalWidth: i.naturalWidth, caption: document.querySelector(".pp-lightbox figcaption").textContent, hash: location.hash,
      original: (() => { const o = document.querySelector(".pp-original");
        return o ? { hidden: o.hidden, href: o.getAttribute("href"), download: o.getAttribute("download"), text: o.textContent } : null; })() };
  });
  await page.waitForFunction(() => { const i = document.querySelector(".pp-lightbox img"); return i.complete && i.naturalWidth > 0; });
  const opened = await lb();
  // The original offered for download is there to fetch.
  if (opened.original && opened.original.href) {
    opened.original.status = await page.evaluate(async (h) => (await fetch(h)).status, opened.original.href);
  }
  await page.screenshot({ path: screenshot.replace(/\.png$/, "-lightbox.png") });
  await page.keyboard.press("ArrowRight");
  await page.waitForFunction((prev) => { const i = document.querySelector(".pp-lightbox img"); return i.currentSrc !== prev && i.complete && i.naturalWidth > 0; }, opened.currentSrc);
  const next = await lb();
  await page.keyboard.press("Escape");
  const closed = await lb();
  const focus = await page.evaluate(() => { const a = document.activeElement; return a && a.closest("li") ? a.closest("li").id : (a ? a.tagName : null); });
  // A deep link opens its photo.
  const deep = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await deep.goto(url + "#" + (await page.evaluate(() => document.querySelectorAll(".pp-grid li")[2].id)), { waitUntil: "load" });
  const deepState = await deep.evaluate(() => ({ hidden: document.querySelector(".pp-lightbox").hidden,
    count: document.querySelector(".pp-count").textContent }));
  console.log(JSON.stringify({ errors, grid, cls, opened, next, closed, focus, deep: deepState }));
  await browser.close();
})().catch((e) => { console.error(e); process.exit(1); });
