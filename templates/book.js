// auditbook's only script: the theme toggle and the full-text search. No network: the
// search index is a script of its own (assets/search-index.js), built with the book.
(function () {
  "use strict";
  var root = document.documentElement;

  // Theme: the toggle flips between light and dark and remembers the choice.
  function currentTheme() {
    var set = root.getAttribute("data-theme");
    if (set) return set;
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  var toggle = document.getElementById("theme-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var next = currentTheme() === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try { localStorage.setItem("auditbook-theme", next); } catch (e) {}
    });
  }

  // Search: sections scored by how often the query's words occur, headings counting more.
  var input = document.getElementById("search-input");
  var list = document.getElementById("search-results");
  var index = window.AUDITBOOK_SEARCH || [];
  if (!input || !list) return;

  function words(text) {
    return text.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "").split(/[^a-z0-9_.]+/).filter(Boolean);
  }
  function escapeHtml(text) {
    return text.replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; });
  }
  function snippet(text, term) {
    var at = text.toLowerCase().indexOf(term);
    var start = Math.max(0, at - 60);
    var piece = (start > 0 ? "…" : "") + text.slice(start, start + 160) + "…";
    var safe = escapeHtml(piece);
    return at < 0 ? safe : safe.replace(new RegExp("(" + term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + ")", "i"), "<mark>$1</mark>");
  }
  function search(query) {
    var terms = words(query);
    if (!terms.length) return [];
    var scored = [];
    index.forEach(function (entry) {
      var heading = entry.heading.toLowerCase(), text = entry.text.toLowerCase(), score = 0, all = true;
      terms.forEach(function (t) {
        var inHeading = heading.indexOf(t) >= 0, hits = text.split(t).length - 1;
        if (!inHeading && !hits) all = false;
        score += (inHeading ? 10 : 0) + Math.min(hits, 5);
      });
      if (all) scored.push({ entry: entry, score: score });
    });
    scored.sort(function (a, b) { return b.score - a.score || a.entry.page.localeCompare(b.entry.page); });
    return scored.slice(0, 12).map(function (s) { return s.entry; });
  }
  var active = -1;
  function render(query) {
    var found = search(query);
    active = -1;
    if (!query.trim()) { list.hidden = true; list.innerHTML = ""; return; }
    var first = words(query)[0] || "";
    list.innerHTML = found.length ? found.map(function (e) {
      return '<li><a href="' + e.page + "#" + e.id + '"><strong>' + escapeHtml(e.heading) + '</strong>' +
        '<span class="where">' + escapeHtml(e.page_title) + "</span>" +
        '<span class="snippet">' + snippet(e.text, first) + "</span></a></li>";
    }).join("") : '<li class="none">No section matches “' + escapeHtml(query) + "”.</li>";
    list.hidden = false;
  }
  function move(step) {
    var links = list.querySelectorAll("a");
    if (!links.length) return;
    if (active >= 0) links[active].classList.remove("active");
    active = (active + step + links.length) % links.length;
    links[active].classList.add("active");
    links[active].scrollIntoView({ block: "nearest" });
  }
  input.addEventListener("input", function () { render(input.value); });
  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown") { move(1); event.preventDefault(); }
    else if (event.key === "ArrowUp") { move(-1); event.preventDefault(); }
    else if (event.key === "Enter") {
      var links = list.querySelectorAll("a");
      if (links.length) window.location.href = links[Math.max(active, 0)].getAttribute("href");
    } else if (event.key === "Escape") { list.hidden = true; input.blur(); }
  });
  document.addEventListener("keydown", function (event) {
    var typing = /^(INPUT|TEXTAREA)$/.test((document.activeElement || {}).tagName || "");
    if (!typing && (event.key === "/" || (event.key === "k" && (event.ctrlKey || event.metaKey)))) {
      input.focus();
      event.preventDefault();
    }
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest(".search")) list.hidden = true;
  });
  // ?q=… opens the page with that search done (links and tests use it).
  var asked = new URLSearchParams(location.search).get("q");
  if (asked) { input.value = asked; render(asked); }
})();
