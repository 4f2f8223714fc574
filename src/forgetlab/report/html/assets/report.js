/* forgetlab HTML report: per-sample browsers (filters, paging, click-to-reveal). No network. */
(function () {
  "use strict";
  var PAGE = 50;

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  /* Mark the first occurrence of the expected answer (ICL first, then IF) in an output. */
  function highlight(text, icl, iff) {
    text = String(text == null ? "" : text);
    var answers = [[icl, "icl"], [iff, "if"]];
    for (var k = 0; k < answers.length; k++) {
      var a = String(answers[k][0] == null ? "" : answers[k][0]).trim();
      if (!a) continue;
      var i = text.indexOf(a);
      if (i >= 0) {
        return esc(text.slice(0, i)) + '<mark class="' + answers[k][1] + '">' + esc(a) + "</mark>" +
          esc(text.slice(i + a.length));
      }
    }
    return esc(text);
  }

  function hitBadges(m) {
    var out = [];
    if (m.ih) out.push('<span class="badge hit-icl">ICL hit</span>');
    if (m.fh) out.push('<span class="badge hit-if">IF hit</span>');
    if (!m.ih && !m.fh) out.push('<span class="badge">neither</span>');
    return out.join(" ");
  }

  function pairedCell(r, m, cls) {
    if (!m) return '<td class="' + cls + '"><span class="muted">not generated</span></td>';
    var html = '<td class="' + cls + '">' + hitBadges(m) + '<pre class="out">' + highlight(m.o, r.ia, r.fa) + "</pre>";
    if (m.om != null && m.om !== m.o) {
      html += '<div class="small muted">read back (inverse):</div><pre class="inv">' + highlight(m.om, r.ia0, r.fa0) + "</pre>";
    }
    return html + "</td>";
  }

  function scoreList(s) {
    return Object.keys(s || {}).map(function (k) { return esc(k) + "=" + esc(s[k]); }).join(" ");
  }

  function compareCell(m, cls) {
    return '<td class="' + cls + '"><div class="small">' + scoreList(m.s) + '</div><pre class="out">' + esc(m.o) + "</pre></td>";
  }

  var renderers = {
    columns: function (r) {
      return "<tr data-id=\"" + esc(r.id) + "\">" + r.cells.map(function (c) {
        return "<td><pre>" + esc(c) + "</pre></td>";
      }).join("") + "</tr>";
    },
    compare: function (r) {
      var prompt = "<details><summary>" + esc(String(r.p).slice(0, 160)) + "</summary><pre>" + esc(r.p) + "</pre>";
      if (r.tp != null) prompt += '<div class="small muted">tuned prompt:</div><pre>' + esc(r.tp) + "</pre>";
      prompt += "</details>";
      return "<tr data-id=\"" + esc(r.id) + "\"><td>" + esc(r.task) + '<div class="small muted">#' + esc(r.id) +
        '</div><span class="badge">' + esc(r.dir) + "</span></td><td>" + prompt + "</td><td><pre>" + esc(r.tg) + "</pre></td>" +
        compareCell(r.b, "col-base") + compareCell(r.t, "col-tuned") + "</tr>";
    },
    paired: function (r) {
      var prompt = "<details><summary>" + esc(r.p0) + "</summary><pre>" + esc(r.mi) + "</pre>";
      if (r.p != null) prompt += '<div class="small muted">inverse (untransformed prompt):</div><pre>' + esc(r.p) + "</pre>";
      prompt += "</details>";
      return "<tr data-id=\"" + esc(r.id) + "\"><td>" + esc(r.cond) + '<div class="small muted">' + esc(r.task) +
        " #" + esc(r.idx) + "</div></td><td>" + prompt + '</td><td><span class="chip icl" title="ICL answer">' +
        esc(JSON.stringify(r.ia)) + '</span><br><span class="chip if" title="IF answer">' + esc(JSON.stringify(r.fa)) +
        "</span></td>" +
        pairedCell(r, r.b, "col-base") + pairedCell(r, r.t, "col-tuned") + "</tr>";
    },
    harmful: function (r) {
      var labels = '<span class="badge ' + esc(r.lab) + '">' + esc(r.lab) + "</span>";
      var others = r.other || {};
      Object.keys(others).forEach(function (name) {
        var differs = r.dis.indexOf(name) >= 0 ? " differs" : "";
        labels += '<div class="small">' + esc(name) + ': <span class="badge ' + esc(others[name]) + differs + '">' +
          esc(others[name]) + "</span></div>";
      });
      var prompt = "<pre>" + esc(r.p) + "</pre>";
      if (r.pe != null) prompt += '<div class="small muted">English original:</div><pre>' + esc(r.pe) + "</pre>";
      var gen;
      if (r.redacted) {
        gen = '<span class="muted">[generated text redacted from this file]</span>';
      } else {
        gen = '<div class="gen-warning">Model output to a harmful request; may be offensive or dangerous.</div>' +
          '<button type="button" class="reveal" aria-expanded="false">Reveal generated text</button>' +
          '<div class="gen" hidden><pre>' + esc(r.o) + "</pre>" +
          (r.oe != null ? '<div class="small muted">read back in English (' + esc(r.jo) + '):</div><pre>' + esc(r.oe) + "</pre>" : "") +
          "</div>";
      }
      return "<tr data-id=\"" + esc(r.id) + "\"><td>" + esc(r.cond) + '<div class="small muted">' + esc(r.grp) +
        " #" + esc(r.idx) + "</div></td><td>" + esc(r.role) + '<div class="small muted">' + esc(r.model) + "</div></td><td>" +
        prompt + "</td><td>" + labels + '<div class="small muted">judged on ' + esc(r.jo) + "</div></td><td>" + gen + "</td></tr>";
    }
  };

  function matches(r, filters) {
    for (var f in filters) {
      var v = filters[f];
      if (v === "") continue;
      if (f === "dis") {
        if (v === "any" ? r.dis.length === 0 : v === "none" ? r.dis.length > 0 : r.dis.indexOf(v) < 0) return false;
      } else if (String(r[f]) !== v) {
        return false;
      }
    }
    return true;
  }

  function setup(box) {
    var data = JSON.parse(document.getElementById(box.getAttribute("data-src")).textContent);
    var rows = data.rows, render = renderers[box.getAttribute("data-kind")];
    var selects = box.querySelectorAll("select[data-field]");
    var tbody = box.querySelector("tbody"), count = box.querySelector(".count");
    var pageLabel = box.querySelector(".page"), page = 0, shown = rows;

    function draw() {
      var pages = Math.max(1, Math.ceil(shown.length / PAGE));
      if (page >= pages) page = pages - 1;
      var part = shown.slice(page * PAGE, (page + 1) * PAGE);
      tbody.innerHTML = part.map(render).join("");
      count.textContent = shown.length + " of " + rows.length + " samples";
      count.setAttribute("data-count", String(shown.length));
      pageLabel.textContent = "page " + (page + 1) + " of " + pages;
    }
    function apply() {
      var filters = {};
      selects.forEach(function (s) { filters[s.getAttribute("data-field")] = s.value; });
      shown = rows.filter(function (r) { return matches(r, filters); });
      page = 0;
      draw();
    }
    selects.forEach(function (s) { s.addEventListener("change", apply); });
    box.querySelectorAll("button[data-preset]").forEach(function (b) {
      b.addEventListener("click", function () {
        var preset = JSON.parse(b.getAttribute("data-preset"));
        selects.forEach(function (s) {
          var f = s.getAttribute("data-field");
          s.value = Object.prototype.hasOwnProperty.call(preset, f) ? preset[f] : "";
        });
        apply();
      });
    });
    var view = box.querySelector("select[data-view]");
    if (view) {
      view.addEventListener("change", function () {
        box.classList.toggle("hide-base", view.value === "tuned");
        box.classList.toggle("hide-tuned", view.value === "base");
      });
    }
    box.querySelector("button.prev").addEventListener("click", function () { if (page > 0) { page--; draw(); } });
    box.querySelector("button.next").addEventListener("click", function () {
      if ((page + 1) * PAGE < shown.length) { page++; draw(); }
    });
    tbody.addEventListener("click", function (ev) {
      var b = ev.target.closest("button.reveal");
      if (!b) return;
      var gen = b.parentNode.querySelector(".gen"), open = gen.hidden;
      gen.hidden = !open;
      b.textContent = open ? "Hide generated text" : "Reveal generated text";
      b.setAttribute("aria-expanded", String(open));
    });
    apply();
  }

  document.querySelectorAll(".browser[data-src]").forEach(setup);
  document.documentElement.setAttribute("data-ready", "1");
})();
