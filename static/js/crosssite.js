// The second site's single-page client: five ways to call an API on another site.
// bearer: tokens in this closure, sent as Authorization (CORS, no credentials).
// token-cookie / session-cookie: the API sets an HttpOnly cookie; every call sends credentials.
// bff: this site's own backend holds the tokens; the page holds a same-site session cookie.
// dpop: tokens in this closure, bound to a key the page cannot export (dpop.js, as the /spa/ page does).
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
  const API = meta("api-origin");
  const csrf = meta("csrf-token");
  let held = null; // bearer and dpop: { access, refresh }, in memory only
  let nonce = null; // the API's latest DPoP-Nonce

  const way = () => document.querySelector('input[name="way"]:checked').value;

  function show(status, body, ms) {
    $("xs-status").textContent = status;
    $("xs-output").textContent = JSON.stringify(body, null, 2);
    $("xs-document-cookie").textContent = JSON.stringify(document.cookie);
    if (ms !== undefined) $("xs-latency").textContent = ms.toFixed(1) + " ms";
  }

  async function send(url, { method = "GET", headers = {}, body, credentials = "omit" } = {}) {
    if (body) headers["Content-Type"] = "application/json";
    const response = await fetch(url, { method, headers, credentials, body: body && JSON.stringify(body) });
    nonce = response.headers.get("DPoP-Nonce") || nonce;
    return { response, body: await response.json().catch(() => ({})) };
  }

  // One DPoP request; on use_dpop_nonce sign again, once, with the nonce just given (RFC 9449 8).
  async function dpopSend(url, { method = "GET", body, access } = {}) {
    for (let attempt = 0; ; attempt += 1) {
      const headers = { DPoP: await window.authdemoDpop.proof(method, url, { nonce, accessToken: access }) };
      if (access) headers.Authorization = "DPoP " + access;
      const result = await send(url, { method, headers, body });
      if (result.body.code !== "use_dpop_nonce" || attempt > 0) return result;
    }
  }

  const LOGIN = {
    bearer: (credentials) => send(API + "/api/token/", { method: "POST", body: credentials }),
    "token-cookie": (credentials, cookie) => send(API + "/crosssite/api/token-cookie/login/?cookie=" + cookie,
      { method: "POST", body: credentials, credentials: "include" }),
    "session-cookie": (credentials, cookie) => send(API + "/crosssite/api/session/login/?cookie=" + cookie,
      { method: "POST", body: credentials, credentials: "include" }),
    bff: (credentials) => send("/api/bff/login/",
      { method: "POST", body: credentials, headers: { "X-CSRFToken": csrf }, credentials: "same-origin" }),
    dpop: async (credentials) => {
      await window.authdemoDpop.keyPair();
      return dpopSend(API + "/api/token/", { method: "POST", body: credentials });
    },
  };

  const CALL = {
    bearer: () => send(API + "/api/dashboard/", { headers: held ? { Authorization: "Bearer " + held.access } : {} }),
    "token-cookie": () => send(API + "/api/dashboard/", { credentials: "include" }),
    "session-cookie": () => send(API + "/api/me/", { credentials: "include" }),
    bff: () => send("/api/bff/dashboard/", { credentials: "same-origin" }),
    dpop: () => dpopSend(API + "/api/dashboard/", { access: held && held.access }),
  };

  $("xs-login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const credentials = { username: form.username.value, password: form.password.value };
    form.password.value = "";
    try {
      const { response, body } = await LOGIN[way()](credentials, form.cookie.value);
      held = body.access ? { access: body.access, refresh: body.refresh } : null;
      $("xs-state").textContent = response.ok ? "yes, as " + credentials.username + " (" + way() + ")" : "no";
      show(response.status + (response.ok ? ": logged in." : ": refused."), body.access ? { token_type: body.token_type } : body);
    } catch (error) {
      show("error: " + error.message, {});
    }
  });

  $("xs-call").addEventListener("click", async () => {
    const started = performance.now();
    try {
      const { response, body } = await CALL[way()]();
      show(response.status + (response.ok ? ": access granted." : ": refused."), body, performance.now() - started);
    } catch (error) {
      show("error: " + error.message, {}, performance.now() - started); // a CORS refusal is a TypeError
    }
  });

  $("xs-logout").addEventListener("click", async () => {
    const { response, body } = await send("/api/bff/logout/",
      { method: "POST", headers: { "X-CSRFToken": csrf }, credentials: "same-origin" });
    held = null;
    $("xs-state").textContent = "no";
    show(response.status + ": " + (body.detail || ""), body);
  });
})();
