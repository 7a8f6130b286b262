// The WhatsApp bridge's login page: a client of the provisioning API (bridgev2 v3 paths).
// No build step and no dependencies: the server renders the QR code as a PNG.
"use strict";

(() => {
  const api = document.body.dataset.api + "/v3";
  const panels = ["auth", "choose", "qr", "phone", "code", "done", "restart"];
  const $ = (id) => document.getElementById(id);
  let token = "";
  let busy = false;

  class APIError extends Error {
    constructor(status, body) {
      super(body.error || `The bridge answered with HTTP ${status}`);
      this.status = status;
      this.errcode = body.errcode || "";
    }
  }

  function show(...ids) {
    for (const id of panels) {
      $(id).hidden = !ids.includes(id);
    }
  }

  function setStatus(text) {
    $("status").textContent = text;
  }

  function setError(text) {
    $("error").textContent = text;
    $("error").hidden = !text;
  }

  async function request(url, method, body, auth) {
    const headers = {};
    if (auth) {
      headers.Authorization = `Bearer ${token}`;
    }
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    const resp = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
    let data = {};
    try {
      data = await resp.json();
    } catch (e) {
      data = {};
    }
    if (!resp.ok) {
      throw new APIError(resp.status, data);
    }
    return data;
  }

  const call = (method, path, body) => request(api + path, method, body, true);

  function loggedIn(name) {
    setStatus("");
    setError("");
    $("logged-in").textContent = `Logged in as ${name}`;
    show("done");
  }

  function fail(err) {
    setError(err.message || String(err));
    if (err.status === 401) {
      token = "";
      setStatus("Sign in");
      show("auth");
    } else {
      show("restart");
    }
  }

  async function whoami() {
    setError("");
    setStatus("Checking your account…");
    const me = await call("GET", "/whoami");
    if (me.logins && me.logins.length > 0) {
      loggedIn(me.logins[0].name);
      return;
    }
    setStatus(`Signed in as ${me.user_id}. You're not logged into WhatsApp.`);
    show("choose");
  }

  async function follow(step) {
    while (step.type === "display_and_wait") {
      const display = step.display_and_wait || {};
      if (display.type === "qr") {
        $("qr-image").src = display.image_url;
        setStatus("Scan the QR code with WhatsApp on your phone.");
        show("qr");
      } else if (display.type === "code") {
        $("pairing-code").textContent = display.data;
        setStatus("Enter the pairing code in WhatsApp on your phone.");
        show("code");
      } else {
        setStatus("Connecting to WhatsApp…");
      }
      const path = `/login/step/${encodeURIComponent(step.login_id)}/` +
        `${encodeURIComponent(step.step_id)}/display_and_wait`;
      step = await call("POST", path);
    }
    if (step.type === "complete") {
      loggedIn(`+${step.complete.user_login_id}`);
    } else if (step.type === "user_input") {
      pendingStep = step;
      setStatus(step.instructions || "");
      show("phone");
      $("phone-number").focus();
    } else {
      throw new Error(`Unsupported login step ${step.type}`);
    }
  }

  let pendingStep = null;

  async function guarded(fn) {
    if (busy) {
      return;
    }
    busy = true;
    setError("");
    try {
      await fn();
    } catch (err) {
      fail(err);
    } finally {
      busy = false;
    }
  }

  $("start-qr").addEventListener("click", () => guarded(async () => {
    setStatus("Connecting to WhatsApp…");
    show();
    await follow(await call("POST", "/login/start/qr"));
  }));

  $("start-phone").addEventListener("click", () => guarded(async () => {
    show();
    await follow(await call("POST", "/login/start/phone"));
  }));

  $("phone").addEventListener("submit", (evt) => {
    evt.preventDefault();
    guarded(async () => {
      const step = pendingStep;
      const path = `/login/step/${encodeURIComponent(step.login_id)}/` +
        `${encodeURIComponent(step.step_id)}/user_input`;
      setStatus("Asking WhatsApp for a pairing code…");
      show();
      await follow(await call("POST", path, { phone_number: $("phone-number").value }));
    });
  });

  $("auth").addEventListener("submit", (evt) => {
    evt.preventDefault();
    token = $("access-token").value.trim();
    $("access-token").value = "";
    guarded(whoami);
  });

  $("restart").addEventListener("click", () => guarded(whoami));

  async function init() {
    const params = new URLSearchParams(location.hash.slice(1));
    const loginToken = params.get("token");
    if (!loginToken) {
      setStatus("Sign in");
      show("auth");
      return;
    }
    // The token is single-use: take it out of the address bar and the history right away.
    history.replaceState(null, "", location.pathname + location.search);
    setStatus("Checking your login link…");
    const session = await request("session", "POST", { login_token: loginToken }, false);
    token = session.access_token;
    await whoami();
  }

  guarded(init);
})();
