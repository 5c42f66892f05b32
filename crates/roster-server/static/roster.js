// Roster's one script. Every page works without it; where it runs it keeps open pages current
// (the directory follows the live stream, the waiting page moves on when approved) and shows
// the share preview as the boxes are ticked. No framework, no build step.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Replaces an element with its fresh copy from the server (the page is rendered there, so
  // everything stays escaped exactly as without the script).
  function refresh(selector) {
    return fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.redirected) { window.location.href = response.url; return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector(selector);
        var current = document.querySelector(selector);
        if (fresh && current) { current.replaceWith(fresh); }
      });
  }

  // A list of one group (the directory, the members and requests): follow the group's stream
  // from the rendered version on; any later change, or new join requests, re-render the list.
  function follow(list) {
    var group = list.getAttribute("data-group");
    var version = parseInt(list.getAttribute("data-version"), 10) || 0;
    var selector = "#" + list.id;
    var delay = 1000;
    var pending = null;
    function scheduleRefresh() {
      if (pending) { return; }
      pending = setTimeout(function () { pending = null; refresh(selector); }, 150);
    }
    function retry() { setTimeout(connect, delay); delay = Math.min(delay * 2, 30000); }
    function connect() {
      fetch("/web/ticket", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrfToken() } })
        .then(function (response) { if (!response.ok) { throw new Error("ticket " + response.status); } return response.json(); })
        .then(function (body) {
          var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
          var socket = new WebSocket(scheme + window.location.host + "/api/v1/stream?ticket=" + encodeURIComponent(body.ticket));
          var pendingAck = 0;
          var ackTimer = null;
          socket.onopen = function () {
            delay = 1000;
            var cursors = {};
            cursors[group] = version;
            socket.send(JSON.stringify({ type: "watch", cursors: cursors }));
          };
          socket.onmessage = function (event) {
            var frame;
            try { frame = JSON.parse(event.data); } catch (e) { return; }
            if (frame.type === "ping") { socket.send(JSON.stringify({ type: "pong" })); return; }
            if (frame.group !== group) { return; }
            if (frame.type === "cursor") {
              // Acknowledgements are coalesced: the latest cursor, at most once a second.
              pendingAck = Math.max(pendingAck, frame.cursor);
              if (!ackTimer) {
                ackTimer = setTimeout(function () {
                  ackTimer = null;
                  if (socket.readyState === WebSocket.OPEN) {
                    socket.send(JSON.stringify({ type: "ack", group: group, cursor: pendingAck }));
                  }
                }, 1000);
              }
              if (frame.cursor > version) { version = frame.cursor; scheduleRefresh(); }
            } else if (frame.type === "left") {
              window.location.href = "/groups";
            } else if (frame.type === "resync" || frame.type === "requests") {
              scheduleRefresh();
            }
          };
          socket.onclose = retry;
        })
        .catch(retry);
    }
    connect();
  }

  // The waiting page: look again every few seconds; the server redirects once approved.
  function watchApproval(section) {
    var url = section.getAttribute("data-watch");
    document.querySelectorAll(".js-only").forEach(function (el) { el.hidden = false; });
    setInterval(function () {
      fetch(url, { credentials: "same-origin" }).then(function (response) {
        if (response.redirected) { window.location.href = response.url; }
      });
    }, 2000);
  }

  // The share form: the preview shows exactly the ticked fields.
  function livePreview(form) {
    function update() {
      var shown = {};
      form.querySelectorAll('input[name="field"]').forEach(function (box) { shown[box.value] = box.checked; });
      var any = false;
      document.querySelectorAll("#share-preview [data-field]").forEach(function (el) {
        var visible = !!shown[el.getAttribute("data-field")];
        el.hidden = !visible;
        any = any || visible;
      });
      var nothing = document.getElementById("share-preview-nothing");
      if (nothing) { nothing.hidden = any; }
    }
    form.addEventListener("change", update);
    var button = document.getElementById("share-preview-button");
    if (button) { button.hidden = true; }
  }

  document.addEventListener("DOMContentLoaded", function () {
    ["directory", "member-lists"].forEach(function (id) {
      var list = document.getElementById(id);
      if (list && list.getAttribute("data-group")) { follow(list); }
    });
    var waiting = document.getElementById("waiting");
    if (waiting) { watchApproval(waiting); }
    var share = document.getElementById("share-form");
    if (share) { livePreview(share); }
  });
})();
