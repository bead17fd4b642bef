// auditbook's only script: the theme toggle, the full-text search, the tables' tools and
// the charts' tooltips and legends.
// No network: the search index is a script of its own (assets/search-index.js), built with
// the book. The page's HTML is the same with or without this script (the Markdown book and
// print read it as it is); the script only adds to it in the browser.

// Text made safe to put into HTML: the charts' tooltips and the search's results.
function escapeHtml(text) {
  return text.replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; });
}

// Tables: every data table sorts by a click on a column's header (again: the other way,
// a third time: the book's order); one with more than FILTER_FROM rows gets a filter box,
// one with more than PAGE rows is shown PAGE rows at a time; each can be downloaded as CSV,
// numbers without their thousands separators.
(function () {
  "use strict";
  var PAGE = 50, FILTER_FROM = 10;
  var GROUPED = /^-?\d{1,3}(,\d{3})+(\.\d+)?$/;

  function cellText(cell) { return (cell.textContent || "").trim(); }
  // A cell's number, or NaN: thousands separators and a trailing % or unit-free sign allowed.
  function numberOf(text) {
    var t = text.replace(/,/g, "").replace(/%$/, "");
    return t !== "" && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t) ? parseFloat(t) : NaN;
  }
  function csvField(text) {
    var t = GROUPED.test(text) ? text.replace(/,/g, "") : text;
    return /[",\n\r]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t;
  }
  // The table's name: its caption's <code> (`Table 2.1. <code>load_report</code>: …`),
  // else the heading above it (the verification page's `checks`), else `table`.
  function nameOf(wrap) {
    // (A capped table has a line between it and its caption.) A figure's data: its id.
    var figure = wrap.closest("details.chart-data");
    var name = figure ? figure.id : "";
    for (var next = wrap.nextElementSibling, i = 0; next && i < 2 && !name; next = next.nextElementSibling, i++) {
      var code = next.querySelector("em > code");
      if (code) name = code.textContent;
    }
    for (var at = wrap.previousElementSibling; !name && at; at = at.previousElementSibling) {
      if (/^H[1-4]$/.test(at.tagName) && at.id) name = at.id;
    }
    return (name.trim() || "table").replace(/[^A-Za-z0-9_.-]+/g, "_");
  }

  function enhance(wrap, serial) {
    var table = wrap.querySelector("table");
    var head = table && table.tHead && table.tHead.rows[0];
    var body = table && table.tBodies[0];
    if (!head || !body) return;
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function (row, i) { row.dataset.order = i; });
    var columns = head.cells.length;
    var numeric = [];
    for (var c = 0; c < columns; c++) {
      numeric[c] = rows.length > 0 && rows.every(function (row) {
        var t = row.cells[c] ? cellText(row.cells[c]) : "";
        return t === "" || t === "(null)" || !isNaN(numberOf(t));
      }) && rows.some(function (row) { return row.cells[c] && !isNaN(numberOf(cellText(row.cells[c]))); });
    }
    var state = { column: -1, descending: false, filter: "", page: 0 };
    var name = nameOf(wrap);

    var tools = document.createElement("div");
    tools.className = "table-tools";
    var filter = null;
    if (rows.length > FILTER_FROM) {
      filter = document.createElement("input");
      filter.type = "search";
      filter.className = "table-filter";
      filter.placeholder = "Filter rows";
      filter.setAttribute("aria-label", "Filter the rows of " + name);
      tools.appendChild(filter);
    }
    var count = document.createElement("span");
    count.className = "table-count";
    count.setAttribute("aria-live", "polite");
    tools.appendChild(count);
    var pager = document.createElement("span");
    pager.className = "table-pager";
    var prev = document.createElement("button");
    prev.type = "button"; prev.textContent = "‹ Previous"; prev.className = "table-prev";
    var next = document.createElement("button");
    next.type = "button"; next.textContent = "Next ›"; next.className = "table-next";
    var where = document.createElement("span");
    where.className = "table-page";
    pager.appendChild(prev); pager.appendChild(where); pager.appendChild(next);
    tools.appendChild(pager);
    var download = document.createElement("button");
    download.type = "button";
    download.className = "table-csv";
    download.textContent = "Download CSV";
    download.setAttribute("aria-label", "Download " + name + " as CSV");
    tools.appendChild(download);
    wrap.parentNode.insertBefore(tools, wrap);
    wrap.dataset.table = name;
    tools.id = "table-tools-" + serial;

    function matching() {
      var words = state.filter.toLowerCase().split(/\s+/).filter(Boolean);
      return rows.filter(function (row) {
        var text = row.textContent.toLowerCase();
        return words.every(function (w) { return text.indexOf(w) >= 0; });
      });
    }
    function sorted(list) {
      if (state.column < 0) return list.slice().sort(function (a, b) { return a.dataset.order - b.dataset.order; });
      var c = state.column, sign = state.descending ? -1 : 1;
      return list.slice().sort(function (a, b) {
        var x = a.cells[c] ? cellText(a.cells[c]) : "", y = b.cells[c] ? cellText(b.cells[c]) : "";
        var order;
        if (numeric[c]) {
          var nx = numberOf(x), ny = numberOf(y);
          // Empty cells last, whichever the direction.
          if (isNaN(nx) || isNaN(ny)) return isNaN(nx) - isNaN(ny) || a.dataset.order - b.dataset.order;
          order = nx - ny;
        } else {
          order = x.localeCompare(y, undefined, { numeric: true });
        }
        return sign * order || a.dataset.order - b.dataset.order;
      });
    }
    function show() {
      var shown = sorted(matching());
      var pages = Math.max(1, Math.ceil(shown.length / PAGE));
      state.page = Math.min(state.page, pages - 1);
      var from = state.page * PAGE, to = Math.min(shown.length, from + PAGE);
      rows.forEach(function (row) { row.hidden = true; });
      shown.forEach(function (row, i) {
        body.appendChild(row);
        row.hidden = i < from || i >= to;
      });
      // Rows that do not match go after, hidden, so that print shows the book's table.
      rows.forEach(function (row) { if (shown.indexOf(row) < 0) body.appendChild(row); });
      var total = rows.length;
      count.textContent = shown.length === total
        ? (pages > 1 ? "Rows " + (from + 1) + "–" + to + " of " + total : total + (total === 1 ? " row" : " rows"))
        : (shown.length ? "Rows " + (from + 1) + "–" + to + " of " + shown.length + " matching (" + total + " in all)"
                        : "No row matches (" + total + " in all)");
      pager.hidden = pages <= 1;
      where.textContent = "Page " + (state.page + 1) + " of " + pages;
      prev.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
      Array.prototype.forEach.call(head.cells, function (th, c) {
        th.setAttribute("aria-sort", c !== state.column ? "none" : state.descending ? "descending" : "ascending");
      });
    }
    Array.prototype.forEach.call(head.cells, function (th, c) {
      th.classList.add("sortable");
      th.tabIndex = 0;
      th.title = "Sort by " + cellText(th);
      function sortHere() {
        if (state.column !== c) { state.column = c; state.descending = false; }
        else if (!state.descending) state.descending = true;
        else state.column = -1;
        state.page = 0;
        show();
      }
      th.addEventListener("click", sortHere);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { sortHere(); e.preventDefault(); }
      });
    });
    if (filter) filter.addEventListener("input", function () { state.filter = filter.value; state.page = 0; show(); });
    prev.addEventListener("click", function () { state.page -= 1; show(); });
    next.addEventListener("click", function () { state.page += 1; show(); });
    download.addEventListener("click", function () {
      // The whole table in the book's order, whatever is sorted, filtered or paged.
      var lines = [Array.prototype.map.call(head.cells, function (th) { return csvField(cellText(th)); }).join(",")];
      rows.slice().sort(function (a, b) { return a.dataset.order - b.dataset.order; }).forEach(function (row) {
        lines.push(Array.prototype.map.call(row.cells, function (td) { return csvField(cellText(td)); }).join(","));
      });
      var blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = name + ".csv";
      document.body.appendChild(link);
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
    });
    show();
  }

  Array.prototype.forEach.call(document.querySelectorAll("main .table-wrap"), enhance);
})();

// Charts: the point, bar or line nearest the pointer shows its row of the figure's data (the
// table behind the disclosure under the figure), with links to that row and to the query
// the chart came from; a click on a legend entry (or Enter on it) hides or shows its series.
// The SVG's marks are grouped per series by the book (g.series), in the order of the rows.
(function () {
  "use strict";
  var REACH = 24; // px in the chart's own units: how near the pointer must be to a mark

  function centres(group) {
    var marks = [];
    Array.prototype.forEach.call(group.children, function (el) {
      if (el.tagName === "circle") {
        marks.push({ x: +el.getAttribute("cx"), y: +el.getAttribute("cy"), band: null });
      } else if (el.tagName === "rect") {
        var y = +el.getAttribute("y"), h = +el.getAttribute("height");
        marks.push({ x: +el.getAttribute("x") + +el.getAttribute("width"), y: y + h / 2, band: [y, y + h] });
      }
    });
    return marks;
  }
  // The figure's data table and its caption: the siblings after the chart's paragraph.
  function around(chart) {
    var found = { data: null, source: null };
    for (var at = chart.closest("p") || chart, i = 0; at && i < 4; i++) {
      at = at.nextElementSibling;
      if (!at) break;
      if (!found.source && at.tagName === "P") found.source = at.querySelector('a[href^="#query-"]');
      if (at.matches("details.chart-data")) { found.data = at; break; }
    }
    return found;
  }

  function enhance(chart) {
    var svg = chart.querySelector("svg");
    var groups = svg ? Array.prototype.slice.call(svg.querySelectorAll("g.series")) : [];
    var near = around(chart);
    if (!groups.length || !near.data) return;
    var table = near.data.querySelector("table");
    var headers = Array.prototype.map.call(table.tHead.rows[0].cells, function (th) { return th.textContent.trim(); });
    // The rows in the book's order, read once: sorting the data table must not move marks.
    var rows = Array.prototype.map.call(table.tBodies[0].rows, function (tr) {
      return Array.prototype.map.call(tr.cells, function (td) { return td.textContent.trim(); });
    });
    var series = groups.map(function (g) { return { group: g, marks: centres(g), off: false }; });
    var tip = document.createElement("div");
    tip.className = "chart-tip";
    tip.hidden = true;
    tip.setAttribute("role", "status");
    chart.appendChild(tip);
    chart.classList.add("interactive");

    function pointer(event) {
      var p = svg.createSVGPoint();
      p.x = event.clientX; p.y = event.clientY;
      return p.matrixTransform(svg.getScreenCTM().inverse());
    }
    function nearest(at) {
      var best = null;
      series.forEach(function (s, si) {
        if (s.off) return;
        s.marks.forEach(function (m, k) {
          var d = m.band
            ? (at.y < m.band[0] ? m.band[0] - at.y : at.y > m.band[1] ? at.y - m.band[1] : 0)
            : Math.hypot(m.x - at.x, m.y - at.y);
          if (d <= REACH && (!best || d < best.d)) best = { d: d, series: si, row: k, mark: m };
        });
      });
      return best;
    }
    function show(hit) {
      var row = rows[hit.row] || [];
      // A line chart's columns are the category, then one per series: the hovered one stands out.
      var many = series.length > 1;
      var lines = headers.map(function (h, c) {
        var strong = many && c === hit.series + 1;
        return "<span" + (strong ? ' class="this"' : "") + ">" + escapeHtml(h) + ": <b>" + escapeHtml(row[c] || "") + "</b></span>";
      });
      lines.push('<div class="chart-tip-links"><a class="chart-tip-row" href="#' + near.data.id + '" data-row="' + hit.row + '">Row ' + (hit.row + 1) + " of the data</a>" +
        (near.source ? ' · from <a href="' + near.source.getAttribute("href") + '">' + escapeHtml(near.source.textContent) + "</a>" : "") + "</div>");
      tip.innerHTML = lines.join("");
      tip.hidden = false;
      var box = svg.getBoundingClientRect(), frame = chart.getBoundingClientRect();
      var scale = box.width / svg.viewBox.baseVal.width;
      var left = box.left - frame.left + hit.mark.x * scale + 12, top = box.top - frame.top + hit.mark.y * scale + 12;
      tip.style.left = Math.min(left, Math.max(0, frame.width - tip.offsetWidth)) + "px";
      tip.style.top = top + "px";
    }
    svg.addEventListener("mousemove", function (event) {
      var hit = nearest(pointer(event));
      if (hit) show(hit); else tip.hidden = true;
    });
    chart.addEventListener("mouseleave", function () { tip.hidden = true; });
    tip.addEventListener("click", function (event) {
      var link = event.target.closest("a.chart-tip-row");
      if (!link) return;
      // Open the data, and mark the row (it may sit on another page of the table: show all).
      near.data.open = true;
      var tr = table.tBodies[0].querySelector('tr[data-order="' + link.dataset.row + '"]') || table.tBodies[0].rows[+link.dataset.row];
      Array.prototype.forEach.call(table.querySelectorAll("tr.picked"), function (r) { r.classList.remove("picked"); });
      if (tr) { tr.hidden = false; tr.classList.add("picked"); tr.scrollIntoView({ block: "center" }); event.preventDefault(); }
    });

    Array.prototype.forEach.call(svg.querySelectorAll("g.legend-entry"), function (entry) {
      var s = series[+entry.getAttribute("data-series")];
      if (!s) return;
      function flip() {
        s.off = !s.off;
        s.group.classList.toggle("off", s.off);
        entry.classList.toggle("off", s.off);
        entry.setAttribute("aria-pressed", s.off ? "false" : "true");
        tip.hidden = true;
      }
      entry.addEventListener("click", flip);
      entry.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { flip(); e.preventDefault(); }
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("main .chart"), enhance);
})();

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
