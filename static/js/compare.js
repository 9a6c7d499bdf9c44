// The live revocation demo: post the two forms, then keep asking the server about each credential.
(function () {
  "use strict";
  let csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 2000;
  const POLL_FOR_MS = 6 * 60 * 1000; // longer than an access token lives
  let timer = null;
  let stopAt = 0;

  async function probe(path) {
    const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    return response.ok ? "accepted" : "refused (" + response.status + (body.code ? ", " + body.code : "") + ")";
  }

  async function check() {
    const at = new Date().toLocaleTimeString();
    const [session, token] = await Promise.all([probe("/compare/probe/session/"), probe("/api/dashboard/")]);
    $("demo-session").textContent = session;
    $("demo-token").textContent = token;
    $("demo-session-at").textContent = at;
    $("demo-token-at").textContent = at;
    if (Date.now() > stopAt) {
      clearInterval(timer);
      timer = null; // so the next poll() starts a new interval
      $("demo-note").textContent = "Stopped checking; reload the page to check again.";
    }
  }

  function poll() {
    stopAt = Date.now() + POLL_FOR_MS;
    if (!timer) timer = setInterval(check, POLL_MS);
    check();
  }

  async function submit(event) {
    event.preventDefault();
    const form = event.target;
    const response = await fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrf },
      body: new FormData(form),
    });
    const body = await response.json().catch(() => ({ message: "The server answered " + response.status }));
    if (body.csrf) {
      // Logging in rotates the CSRF token (Django does, against login CSRF): use the new one.
      csrf = body.csrf;
      document.querySelectorAll('input[name="csrfmiddlewaretoken"]').forEach((input) => { input.value = csrf; });
    }
    $("demo-note").textContent = body.message + " Checking every " + POLL_MS / 1000 + " s.";
    poll();
  }

  $("demo-login").addEventListener("submit", submit);
  $("demo-revoke").addEventListener("submit", submit);
})();
