// The single-page client, two ways. Cookie mode: the tokens live in HttpOnly cookies, so this
// script never holds one. DPoP mode: the tokens live in this closure only (a reload loses them),
// bound to a key this browser cannot export (dpop.js), with a fresh proof on every request.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  let refreshes = 0;
  let refreshing = null; // one refresh at a time: a rotated token must never be sent twice
  let mode = "cookie";
  let held = null; // DPoP mode: { access, refresh, username }, in memory only
  let nonce = null; // the server's latest DPoP-Nonce

  function show(status, body) {
    $("spa-status").textContent = status;
    $("spa-output").textContent = JSON.stringify(body, null, 2);
    $("spa-document-cookie").textContent = JSON.stringify(document.cookie);
  }

  function setLoggedIn(body) {
    $("spa-state").textContent = body ? "yes, as " + body.username : "no";
    $("spa-expires").textContent = body ? new Date(body.access_expires_at).toLocaleTimeString() : "-";
    $("spa-refreshes").textContent = String(refreshes);
    $("spa-mode").textContent = mode === "dpop" ? "DPoP, tokens in memory" : "cookie";
  }

  // -- DPoP mode -------------------------------------------------------------------------

  function expiresAt(token) {
    const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return new Date(claims.exp * 1000).toISOString();
  }

  // One request with a proof; on use_dpop_nonce sign again, once, with the nonce just given.
  async function dpopCall(path, { method = "GET", body, access } = {}) {
    for (let attempt = 0; ; attempt += 1) {
      const headers = { DPoP: await window.authdemoDpop.proof(method, path, { nonce, accessToken: access }) };
      if (access) headers.Authorization = "DPoP " + access;
      if (body) headers["Content-Type"] = "application/json";
      const response = await fetch(path, {
        method, headers, credentials: "omit", body: body && JSON.stringify(body),
      });
      nonce = response.headers.get("DPoP-Nonce") || nonce;
      const answer = await response.json().catch(() => ({}));
      if (answer.code !== "use_dpop_nonce" || attempt > 0) return { response, body: answer };
    }
  }

  function hold(pair, username) {
    held = { access: pair.access, refresh: pair.refresh, username };
    setLoggedIn({ username, access_expires_at: expiresAt(pair.access) });
  }

  async function dpopRefresh() {
    const result = await dpopCall("/api/token/refresh/", { method: "POST", body: { refresh: held.refresh } });
    if (result.response.ok) {
      refreshes += 1;
      hold(result.body, held.username);
    }
    return result;
  }

  async function dpopApi(path) {
    if (!held) return { response: { ok: false, status: 401 }, body: { detail: "Not logged in." } };
    let result = await dpopCall(path, { access: held.access });
    if (result.response.status === 401) {
      const renewed = await dpopRefresh();
      if (!renewed.response.ok) {
        held = null;
        setLoggedIn(null);
        return result;
      }
      result = await dpopCall(path, { access: held.access });
    }
    return result;
  }

  async function dpopLogin(username, password) {
    await window.authdemoDpop.keyPair();
    const { response, body } = await dpopCall("/api/token/", { method: "POST", body: { username, password } });
    if (response.ok && body.token_type === "DPoP") {
      mode = "dpop";
      refreshes = 0;
      hold(body, username);
      show("Logged in with DPoP. The tokens are in this page's memory only and bound to its key.", { token_type: body.token_type });
    } else {
      show("Login failed (" + response.status + ").", body);
    }
  }

  async function call(path, options) {
    const response = await fetch(path, {
      method: "GET",
      credentials: "same-origin",
      ...options,
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, ...(options || {}).headers },
    });
    const body = await response.json().catch(() => ({}));
    return { response, body };
  }

  // Tabs share the refresh cookie: two tabs refreshing at once would send one token twice,
  // and a rotated token sent again is reuse. So refreshes take a lock shared by every tab of
  // this site (Web Locks API); the next tab's refresh starts once the first has set the new
  // cookie. The server's reuse interval forgives a race the lock cannot see (no Web Locks,
  // as outside a secure context, or another client).
  function refresh() {
    if (!refreshing) {
      const post = () => call("/api/cookie/refresh/", { method: "POST" });
      const run = navigator.locks ? navigator.locks.request("authdemo-token-refresh", post) : post();
      refreshing = run.finally(() => { refreshing = null; });
    }
    return refreshing;
  }

  // Call the API; on a 401 refresh the tokens once, silently, and try again.
  async function api(path, options) {
    let result = await call(path, options);
    if (result.response.status === 401) {
      const renewed = await refresh();
      if (!renewed.response.ok) {
        setLoggedIn(null);
        return result;
      }
      refreshes += 1;
      setLoggedIn(renewed.body);
      result = await call(path, options);
    }
    return result;
  }

  $("spa-login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    if (event.submitter && event.submitter.id === "spa-login-dpop") {
      const password = form.password.value;
      form.password.value = "";
      await dpopLogin(form.username.value, password);
      return;
    }
    held = null;
    mode = "cookie";
    const { response, body } = await call("/api/cookie/login/", {
      method: "POST",
      body: JSON.stringify({ username: form.username.value, password: form.password.value }),
    });
    form.password.value = "";
    if (response.ok) {
      setLoggedIn(body);
      show("Logged in. The tokens are in HttpOnly cookies; the body holds none.", body);
    } else {
      setLoggedIn(null);
      show("Login failed (" + response.status + ").", body);
    }
  });

  $("spa-dashboard").addEventListener("click", async () => {
    const { response, body } = await (mode === "dpop" ? dpopApi : api)("/api/dashboard/");
    show(response.ok ? "200: access granted." : response.status + ": refused.", body);
  });

  $("spa-refresh").addEventListener("click", async () => {
    if (mode === "dpop" && !held) {
      show("401: refused.", { detail: "Not logged in." });
      return;
    }
    const { response, body } = mode === "dpop" ? await dpopRefresh() : await refresh();
    if (mode === "cookie" && response.ok) {
      refreshes += 1;
      setLoggedIn(body);
    }
    const shown = mode === "dpop" ? { token_type: body.token_type, code: body.code } : body;
    show(response.ok ? "Refreshed: a new pair, the old refresh token is blacklisted." : response.status + ": refresh refused.", shown);
  });

  $("spa-logout").addEventListener("click", async () => {
    if (mode === "dpop") {
      const ended = held && (await dpopCall("/api/token/blacklist/", { method: "POST", body: { refresh: held.refresh } }));
      held = null;
      setLoggedIn(null);
      show(ended && ended.response.ok ? "Logged out: the refresh token is blacklisted and this page forgot both tokens." : "Logged out: this page forgot both tokens.", {});
      return;
    }
    const { response, body } = await call("/api/cookie/logout/", { method: "POST" });
    setLoggedIn(null);
    show(response.ok ? "Logged out: the refresh token is blacklisted and both cookies are gone." : "Logout failed.", body);
  });

  setLoggedIn(null);
  show("Not called yet.", {});
})();
