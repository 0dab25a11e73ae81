// pixpipe gallery lightbox: click or Enter opens a photo, arrows and swipes move, Esc closes
// and gives focus back. Each photo has a deep link (#photo-id). No dependencies; works from
// file:// as well as from a web server.
(function () {
  "use strict";
  var links = Array.prototype.slice.call(document.querySelectorAll(".pp-grid a[data-srcset]"));
  var box = document.querySelector(".pp-lightbox");
  if (!links.length || !box) return;
  var img = box.querySelector("img");
  var caption = box.querySelector("figcaption");
  var count = box.querySelector(".pp-count");
  var original = box.querySelector(".pp-original");
  var closeBtn = box.querySelector(".pp-close");
  var current = -1;
  var opener = null;

  function show(i) {
    current = (i + links.length) % links.length;
    var a = links[current];
    img.removeAttribute("src");
    img.setAttribute("sizes", a.getAttribute("data-sizes") || "100vw");
    img.setAttribute("srcset", a.getAttribute("data-srcset"));
    img.setAttribute("src", a.getAttribute("href"));
    img.setAttribute("alt", a.querySelector("img").getAttribute("alt") || "");
    img.setAttribute("width", a.getAttribute("data-width"));
    img.setAttribute("height", a.getAttribute("data-height"));
    caption.textContent = a.getAttribute("data-caption") || "";
    count.textContent = (current + 1) + " / " + links.length;
    if (original) {
      var href = a.getAttribute("data-original");
      original.hidden = !href;
      if (href) {
        original.setAttribute("href", href);
        original.setAttribute("download", a.getAttribute("data-original-name") || "");
        original.textContent = "Download original (" + a.getAttribute("data-original-size") + ")";
      } else {
        original.removeAttribute("href");
      }
    }
    var id = a.parentNode.id;
    if (id && history.replaceState) history.replaceState(null, "", "#" + id);
  }

  function open(i) {
    opener = document.activeElement;
    show(i);
    box.hidden = false;
    document.body.style.overflow = "hidden";
    closeBtn.focus();
  }

  function close() {
    box.hidden = true;
    document.body.style.overflow = "";
    if (history.replaceState) history.replaceState(null, "", location.pathname + location.search);
    var back = opener && document.body.contains(opener) ? opener : links[current];
    if (back) back.focus();
  }

  links.forEach(function (a, i) {
    a.addEventListener("click", function (e) {
      if (e.ctrlKey || e.metaKey || e.shiftKey) return;
      e.preventDefault();
      open(i);
    });
  });
  closeBtn.addEventListener("click", close);
  box.querySelector(".pp-prev").addEventListener("click", function () { show(current - 1); });
  box.querySelector(".pp-next").addEventListener("click", function () { show(current + 1); });
  box.addEventListener("click", function (e) { if (e.target === box) close(); });
  document.addEventListener("keydown", function (e) {
    if (box.hidden) return;
    if (e.key === "Escape") { e.preventDefault(); close(); }
    else if (e.key === "ArrowRight") { e.preventDefault(); show(current + 1); }
    else if (e.key === "ArrowLeft") { e.preventDefault(); show(current - 1); }
    else if (e.key === "Tab") {
      // Keep focus inside the dialog.
      var f = box.querySelectorAll("button, a[href]:not([hidden])");
      var first = f[0], last = f[f.length - 1];
      if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
    }
  });
  var startX = null;
  box.addEventListener("touchstart", function (e) { startX = e.changedTouches[0].clientX; }, { passive: true });
  box.addEventListener("touchend", function (e) {
    if (startX === null) return;
    var dx = e.changedTouches[0].clientX - startX;
    startX = null;
    if (Math.abs(dx) > 40) show(current + (dx < 0 ? 1 : -1));
  });
  // Deep link: #photo-id opens that photo.
  var id = decodeURIComponent(location.hash.slice(1));
  if (id) {
    for (var i = 0; i < links.length; i++) {
      if (links[i].parentNode.id === id) { open(i); break; }
    }
  }
})();
