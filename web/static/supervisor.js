// What the supervisor's pages share: the login (staff id + PIN, no window) kept for the
// browser tab, and HTTP calls that carry the token.
(function () {
  "use strict";
  const KEY = "hallq.supervisor";

  function saved() {
    try { return JSON.parse(sessionStorage.getItem(KEY)); } catch (e) { return null; }
  }

  async function api(method, path, body) {
    const me = saved();
    const headers = {"Content-Type": "application/json"};
    if (me) headers.Authorization = "Bearer " + me.token;
    const res = await fetch(path, {method: method, headers: headers,
                                   body: body === undefined ? undefined : JSON.stringify(body)});
    const isJson = (res.headers.get("Content-Type") || "").includes("json");
    const data = isJson ? await res.json() : await res.blob();
    if (!res.ok) {
      const error = (data && data.error) || {code: "http_" + res.status, message: res.statusText};
      if (error.code === "unauthorized" && me) {  // the session died: show the login again
        sessionStorage.removeItem(KEY);
        location.reload();
      }
      throw error;
    }
    return data;
  }

  const SUPERVISORS_ONLY = "此页面仅限负责人 · Supervisors only";
  // How a hall's supervisor logs in; the region's pages pass their own (region/static/region.js).
  const HALL_LOGIN = {
    path: "/api/v1/login",
    logout: "/api/v1/logout",
    body: form => ({staff_id: form.staff_id.value.trim(), pin: form.pin.value}),
    refuse: me => ["supervisor", "admin"].includes(me.staff.role) ? "" : SUPERVISORS_ONLY,
    // A clerk without a window is refused by the login itself (bad_request).
    explain: e => e.code === "bad_request" ? SUPERVISORS_ONLY : "",
    keep: me => ({token: me.token, staff: me.staff}),
    who: me => `${me.staff.name}（${me.staff.id}）`,
    entered: () => {},
  };

  function forget() {
    sessionStorage.removeItem(KEY);
    location.reload();
  }

  // Shows #login until someone `login` accepts logs in; then calls onReady(me).
  function gate(onReady, login = HALL_LOGIN) {
    const box = document.querySelector("#login");
    const app = document.querySelector("#app");
    const form = box.querySelector("form");
    const error = box.querySelector(".error");
    function enter(me) {
      box.classList.add("hidden");
      app.classList.remove("hidden");
      document.querySelector("#who").textContent = login.who(me);
      login.entered(me);
      onReady(me);
    }
    form.addEventListener("submit", async ev => {
      ev.preventDefault();
      error.textContent = "";
      try {
        const me = await api("POST", login.path, login.body(form));
        const refused = login.refuse(me);
        if (refused) {
          error.textContent = refused;
          return;
        }
        sessionStorage.setItem(KEY, JSON.stringify(login.keep(me)));
        enter(me);
      } catch (e) {
        error.textContent = login.explain(e) || e.message || String(e);
      }
    });
    document.querySelector("#logout").addEventListener("click", async () => {
      try { await api("POST", login.logout); } catch (e) { /* gone already */ }
      forget();
    });
    const me = saved();
    if (me) enter(me);
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "class") node.className = v;
      else if (k === "style") node.style.cssText = v;  // CSSOM: the CSP refuses style attributes
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v);
    });
    children.flat().forEach(c => node.append(c instanceof Node ? c : String(c ?? "")));
    return node;
  }

  window.Supervisor = {api: api, gate: gate, saved: saved, el: el, forget: forget};
})();
