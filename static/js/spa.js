// The single-page client: tokens live in HttpOnly cookies, so this script never holds one.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  let refreshes = 0;
  let refreshing = null; // one refresh at a time: a rotated token must never be sent twice

  function show(status, body) {
    $("spa-status").textContent = status;
    $("spa-output").textContent = JSON.stringify(body, null, 2);
    $("spa-document-cookie").textContent = JSON.stringify(document.cookie);
  }

  function setLoggedIn(body) {
    $("spa-state").textContent = body ? "yes, as " + body.username : "no";
    $("spa-expires").textContent = body ? new Date(body.access_expires_at).toLocaleTimeString() : "-";
    $("spa-refreshes").textContent = String(refreshes);
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
    const { response, body } = await api("/api/dashboard/");
    show(response.ok ? "200: access granted." : response.status + ": refused.", body);
  });

  $("spa-logout").addEventListener("click", async () => {
    const { response, body } = await call("/api/cookie/logout/", { method: "POST" });
    setLoggedIn(null);
    show(response.ok ? "Logged out: the refresh token is blacklisted and both cookies are gone." : "Logout failed.", body);
  });

  show("Not called yet.", {});
})();
