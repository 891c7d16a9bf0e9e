/* stackmedic dashboard: relative times, the stop confirmation, busy buttons, live updates. */
(function () {
  "use strict";

  function relative(ts) {
    var seconds = Date.now() / 1000 - ts;
    var future = seconds < 0;
    var s = Math.abs(seconds);
    if (!future && s < 5) { return "just now"; }
    var text;
    if (s < 60) { text = Math.floor(s) + " s"; }
    else if (s < 3600) { text = Math.floor(s / 60) + " min"; }
    else if (s < 86400) { text = Math.floor(s / 3600) + " h"; }
    else { text = Math.floor(s / 86400) + " d"; }
    return future ? "in " + text : text + " ago";
  }

  function refreshTimes() {
    document.querySelectorAll("time[data-ts]").forEach(function (el) {
      var ts = Number(el.dataset.ts);
      if (ts) { el.textContent = relative(ts); }
    });
  }

  function setMoment(el, ts, title) {
    if (!el) { return; }
    if (ts === null || ts === undefined) {
      el.removeAttribute("data-ts");
      el.removeAttribute("datetime");
      el.textContent = "\u2014";
      return;
    }
    el.dataset.ts = String(ts);
    el.setAttribute("datetime", new Date(ts * 1000).toISOString());
    el.title = title || "";
    el.textContent = relative(ts);
  }

  function setBadge(el, word, tone) {
    if (!el) { return; }
    el.textContent = word;
    el.className = "badge tone-" + tone;
  }

  function setText(el, text) {
    if (el && el.textContent !== text) { el.textContent = text; }
  }

  /* Stop asks first; without scripts the server asks on a page of its own. */
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    var dialog = document.getElementById(form.dataset.confirm);
    var confirmed = form.querySelector("input[name=confirmed]");
    if (!dialog || !confirmed || typeof dialog.showModal !== "function") { return; }
    form.addEventListener("submit", function (event) {
      if (confirmed.value === "yes") { return; }
      event.preventDefault();
      event.stopImmediatePropagation();
      dialog.returnValue = "";
      dialog.showModal();
    });
    dialog.addEventListener("close", function () {
      if (dialog.returnValue === "confirm") {
        confirmed.value = "yes";
        markBusy(form);
        form.submit();
      }
    });
  });

  /* Buttons that start slow work say so and cannot be pressed twice. */
  function markBusy(form) {
    var button = form.querySelector("button[type=submit], button:not([type])");
    form.setAttribute("aria-busy", "true");
    window.setTimeout(function () {
      if (button) {
        button.disabled = true;
        button.dataset.label = button.textContent;
        button.textContent = "Working\u2026";
      }
    }, 0);
  }
  document.querySelectorAll("form[data-busy]").forEach(function (form) {
    form.addEventListener("submit", function () { markBusy(form); });
  });

  /* Live updates: poll a small JSON answer of this page and change the DOM in place. */
  var main = document.querySelector("[data-live]");
  var status = document.getElementById("live-status");
  var announcer = document.getElementById("announcer");

  function announce(text) {
    if (announcer) { announcer.textContent = text; }
  }

  function applyOverview(data) {
    var seen = {};
    (data.rows || []).forEach(function (row) {
      seen[row.name] = true;
      var tr = document.querySelector('tr[data-deployment="' + CSS.escape(row.name) + '"]');
      if (!tr) { return; }
      var badge = tr.querySelector('[data-field="verdict"]');
      if (badge && badge.textContent !== row.verdict) {
        announce(row.name + " is now " + row.verdict);
      }
      setBadge(badge, row.verdict, row.tone);
      ["desired", "observed", "reason", "cpu_text", "memory_text"].forEach(function (key) {
        setText(tr.querySelector('[data-field="' + key + '"]'), String(row[key]));
      });
      setMoment(tr.querySelector('[data-field="since"]'), row.since, row.since_title);
    });
    var shown = document.querySelectorAll("tr[data-deployment]");
    var changed = shown.length !== (data.rows || []).length;
    shown.forEach(function (tr) { if (!seen[tr.dataset.deployment]) { changed = true; } });
    var stale = document.getElementById("stale");
    if (stale) { stale.hidden = !changed; }
    var counts = document.getElementById("counts");
    if (counts) {
      var total = (data.rows || []).length;
      var parts = Object.keys(data.counts || {}).sort().map(function (k) {
        return data.counts[k] + " " + k;
      });
      counts.textContent = total + " deployment" + (total === 1 ? "" : "s") +
        (total ? ": " + parts.join(", ") : "");
    }
    var host = data.host_usage;
    if (host) {
      var cpu = document.querySelector('[data-host="cpu"]');
      if (cpu) { cpu.value = host.cpu || 0; }
      var memory = document.querySelector('[data-host="memory"]');
      if (memory) { memory.value = host.memory || 0; }
      setText(document.querySelector('[data-host="cpu_text"]'), host.cpu_text);
      setText(document.querySelector('[data-host="memory_text"]'), host.memory_text);
      (host.disks || []).forEach(function (disk) {
        var meter = document.querySelector('[data-disk="' + CSS.escape(disk.label) + '"]');
        if (meter) { meter.value = disk.percent; }
        setText(document.querySelector('[data-disk-text="' + CSS.escape(disk.label) + '"]'), disk.text);
      });
    }
    var banners = document.getElementById("banners");
    if (banners) {
      var key = function (b) { return b.tone + "|" + b.text + "|" + (b.link || ""); };
      var wanted = (data.banners || []).map(key).join("\n");
      var shown = Array.prototype.map.call(banners.children, function (p) {
        return p.dataset.key;
      }).join("\n");
      if (shown !== wanted) {
        banners.replaceChildren.apply(banners, (data.banners || []).map(function (b) {
          var p = document.createElement("p");
          p.className = "banner tone-" + b.tone;
          p.setAttribute("role", "alert");
          p.dataset.key = key(b);
          p.textContent = b.text + " ";
          if (b.link) {
            var a = document.createElement("a");
            a.href = b.link;
            a.textContent = "Open";
            p.appendChild(a);
          }
          return p;
        }));
      }
    }
  }

  function applyDeployment(data) {
    var badge = document.querySelector('h1 [data-field="verdict"]');
    if (badge && badge.textContent !== data.verdict) {
      announce(data.name + " is now " + data.verdict);
    }
    setBadge(badge, data.verdict, data.tone);
    setText(document.querySelector('[data-field="reason"]'), data.reason);
    setText(document.querySelector('[data-field="desired"]'), data.desired);
    setText(document.querySelector('[data-field="observed"]'), data.observed);
    setMoment(document.querySelector('[data-field="since"]'), data.since, data.since_title);
    if (Array.isArray(data.offered)) {
      document.querySelectorAll("form[data-action]").forEach(function (form) {
        form.hidden = data.offered.indexOf(form.dataset.action) < 0;
      });
    }
    var table = document.getElementById("services");
    if (table && typeof data.services_html === "string" && data.services_key !== table.dataset.key) {
      // Only when what it shows changed: an open probe output stays open between polls.
      table.innerHTML = data.services_html;
      table.dataset.key = data.services_key;
      refreshTimes();
    }
    (data.services || []).forEach(function (service) {
      var card = document.querySelector('[data-service="' + CSS.escape(service.name) + '"]');
      if (card) { setBadge(card.querySelector('[data-field="status"]'), service.status, service.tone); }
    });
  }

  function startLive(url, kind, interval) {
    var apply = kind === "overview" ? applyOverview : applyDeployment;
    var timer = null;
    function schedule(delay) {
      window.clearTimeout(timer);
      if (document.visibilityState === "hidden") { return; }
      timer = window.setTimeout(poll, delay);
    }
    function paused(text) {
      if (status) { status.textContent = text; status.classList.add("paused"); }
    }
    function poll() {
      fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (response.status === 401) {
            window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
            return null;
          }
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (data) {
          if (!data) { return; }
          apply(data);
          if (status) {
            status.classList.remove("paused");
            status.textContent = "Live \u00b7 updated " + new Date().toLocaleTimeString();
          }
          schedule(interval);
        })
        .catch(function () {
          paused("Live updates paused: the agent did not answer; retrying");
          schedule(interval * 3);
        });
    }
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") { schedule(0); }
    });
    schedule(interval);
  }

  refreshTimes();
  window.setInterval(refreshTimes, 15000);
  if (main) {
    startLive(main.dataset.live, main.dataset.liveKind, Number(main.dataset.liveInterval || 2000));
  }
})();
