// Idle logout warning (practices/idle.py). The server says how many seconds this session
// has left (data-seconds-left on #idle-warning); a minute before the end a banner offers
// "Stay logged in", which POSTs to the keep-alive URL; at the end the page goes to the
// login page, where the server has ended the session. Tabs share their deadline through
// localStorage, so activity in one tab keeps the others from warning.
(function () {
  "use strict";
  var box = document.getElementById("idle-warning");
  if (!box) return;

  var STORAGE_KEY = "idle-logout-deadline";
  var warnMs = Number(box.dataset.warnSeconds) * 1000;
  var countdown = box.querySelector("[data-idle-countdown]");
  var stay = box.querySelector("[data-idle-stay]");
  var deadline = Date.now() + Number(box.dataset.secondsLeft) * 1000;
  var timer = null;

  function publish() {
    try { window.localStorage.setItem(STORAGE_KEY, String(deadline)); } catch (e) { /* private mode */ }
  }

  function setSecondsLeft(seconds) {
    if (!isFinite(seconds)) return;
    deadline = Date.now() + seconds * 1000;
    publish();
    schedule();
  }

  function show(msLeft) {
    countdown.textContent = String(Math.max(0, Math.ceil(msLeft / 1000)));
    if (box.hidden) {
      box.hidden = false;
      stay.focus();
    }
  }

  function hide() { box.hidden = true; }

  function expire() {
    var here = window.location.pathname + window.location.search;
    window.location.assign(box.dataset.loginUrl + "?next=" + encodeURIComponent(here));
  }

  function schedule() {
    window.clearTimeout(timer);
    var left = deadline - Date.now();
    if (left <= 0) { expire(); return; }
    if (left <= warnMs) {
      show(left);
      timer = window.setTimeout(schedule, Math.min(1000, left));
      return;
    }
    hide();
    timer = window.setTimeout(schedule, left - warnMs);
  }

  stay.addEventListener("click", function () {
    stay.disabled = true;
    fetch(box.dataset.keepAliveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": box.dataset.csrfToken, "X-Idle-Background": "1" }
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok || body.logged_out) { expire(); return; }
        setSecondsLeft(Number(body.seconds_left));
      });
    }).catch(function () { /* offline: the timer carries on */ }).then(function () {
      stay.disabled = false;
    });
  });

  // Another tab was active: take its later deadline.
  window.addEventListener("storage", function (event) {
    if (event.key !== STORAGE_KEY || !event.newValue) return;
    var theirs = Number(event.newValue);
    if (theirs > deadline) { deadline = theirs; schedule(); }
  });

  // Polling is not activity: htmx requests fired by a timer ("every 2s") or on load are
  // marked, and the server does not count them. Every htmx answer says how long is left.
  document.addEventListener("htmx:configRequest", function (event) {
    var source = event.detail.elt;
    var trigger = (source && source.getAttribute && source.getAttribute("hx-trigger")) || "";
    if (/(^|,)\s*(every\s|load\b)/.test(trigger) || (source && source.closest && source.closest("[data-idle-background]"))) {
      event.detail.headers["X-Idle-Background"] = "1";
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    var left = xhr && xhr.getResponseHeader("X-Idle-Seconds-Left");
    if (left !== null && left !== undefined && left !== "") setSecondsLeft(Number(left));
  });

  publish();
  schedule();
})();
