// The clerk's page: log in at a window, then drive it with large buttons or their keys.
// Queue state comes only from the server (hallq.js keeps a live copy); the page decides nothing
// but which buttons make sense now, and the server still has the last word on every command.
(function () {
  "use strict";
  const KEY = {token: "hallq.counter.token", window: "hallq.counter.window",
               staff: "hallq.counter.staff", lang: "hallq.counter.lang"};
  const $ = sel => document.querySelector(sel);
  const i18n = HallQI18n.create(KEY.lang);
  const t = i18n.t;

  const page = {token: null, window: null, staff: null, client: null, state: null,
                summary: null, clock: () => Date.now(), busy: false, online: false};
  window.HallQCounter = page;  // for tests and curious supervisors
  let summaryTimer = null;
  let messageTimer = null;

  // -- helpers -----------------------------------------------------------------------------
  function requestId() {
    return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  }
  function api(method, path, body) {
    const headers = {"Content-Type": "application/json"};
    if (page.token) headers.Authorization = "Bearer " + page.token;
    return fetch(path, {method: method, headers: headers,
                        body: body ? JSON.stringify(body) : undefined})
      .then(r => r.json().then(json => ({status: r.status, json: json})));
  }
  function minutesSince(iso, until) {
    return Math.max(0, ((until === undefined ? page.clock() : until) - Date.parse(iso)) / 60000);
  }
  function clockText(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
    const mm = String(m).padStart(h ? 2 : 1, "0") + ":" + String(sec).padStart(2, "0");
    return h ? h + ":" + mm : mm;
  }
  function hhmm(iso) {
    return iso.slice(11, 16);  // the hall's wall-clock time: server times carry the hall's offset
  }
  function serviceName(id) {
    const s = page.state && page.state.services.find(x => x.id === id);
    return s ? s.name[i18n.lang] || s.name.zh : id;
  }
  function myWindow() {
    return page.state && page.state.windows.find(w => w.number === page.window);
  }
  function showMessage(text, kind) {
    const el = $("#message");
    el.textContent = text;
    el.className = "banner " + (kind || "ok");
    el.hidden = false;
    clearTimeout(messageTimer);
    messageTimer = setTimeout(() => { el.hidden = true; }, kind === "bad" ? 8000 : 4000);
  }

  // -- login ---------------------------------------------------------------------------------
  function showLogin() {
    $("#desk").hidden = true;
    $("#logout").hidden = true;
    $("#conn").hidden = true;  // no one is logged in: there is no connection to speak of
    $("#offline-banner").hidden = true;
    $("#login").hidden = false;
    $("#clerk").textContent = "";
    $("#window-name").textContent = t("login_title");
    fetch("/api/v1/state").then(r => r.json()).then(state => {
      const wanted = new URLSearchParams(location.search).get("window") ||
                     localStorage.getItem(KEY.window) || "1";
      $("#login-window").replaceChildren(...state.windows.map(w => {
        const o = document.createElement("option");
        o.value = w.number;
        o.textContent = w.name[i18n.lang] || w.name.zh;
        o.selected = String(w.number) === String(wanted);
        return o;
      }));
    }).catch(() => {});
    $("#staff-id").focus();
  }

  function login(event) {
    event.preventDefault();
    const body = {staff_id: $("#staff-id").value.trim(), pin: $("#pin").value,
                  window: Number($("#login-window").value)};
    page.token = null;
    api("POST", "/api/v1/login", body).then(({status, json}) => {
      if (status !== 200) { showMessage(json.error.message, "bad"); return; }
      $("#pin").value = "";
      localStorage.setItem(KEY.token, json.token);
      localStorage.setItem(KEY.window, String(body.window));
      localStorage.setItem(KEY.staff, JSON.stringify(json.staff));
      startDesk(json.token, body.window, json.staff);
    }).catch(() => showMessage(t("offline"), "bad"));
  }

  function logout() {
    api("POST", "/api/v1/logout").finally(forget);
  }

  function forget() {
    localStorage.removeItem(KEY.token);
    page.token = null;  // first: the socket's last "offline" then belongs to no one
    if (page.client) page.client.socket.disconnect();
    page.client = null;
    showLogin();
  }

  function askSwitch(token, held, wanted, staff) {
    const dialog = $("#switch-dialog");
    const who = staff ? `${staff.name}（${staff.id}）` : "";
    $("#switch-text").textContent = t("switch_text", who, held, wanted);
    $("#switch-stay").textContent = t("switch_stay", held);
    $("#switch-leave").textContent = t("switch_leave", wanted);
    const stay = () => {
      dialog.close();
      history.replaceState(null, "", `?window=${held}`);  // the address says what is shown
      startDesk(token, held, staff);
    };
    $("#switch-stay").onclick = stay;
    dialog.oncancel = ev => { ev.preventDefault(); stay(); };  // Esc keeps what was there
    $("#switch-leave").onclick = () => {
      dialog.close();
      page.token = token;
      logout();  // then the login, with the address's window chosen
    };
    dialog.showModal();
  }

  // -- the desk ------------------------------------------------------------------------------
  function startDesk(token, windowNumber, staff) {
    page.token = token;
    page.window = windowNumber;
    page.staff = staff;
    $("#login").hidden = true;
    $("#desk").hidden = false;
    $("#logout").hidden = false;
    $("#clerk").textContent = staff ? `${staff.name}（${staff.id}）` : "";
    page.client = HallQ.live({
      token: token,
      onState: state => { page.state = state; page.clock = HallQ.serverClock(state);
                          loadSummary(); render(); },
      onEvent: onEvent,
      onConnection: (ok, why) => {
        if (page.token !== token) return;  // a connection of a session already left
        page.online = ok;
        if (!ok && why === "unauthorized") { forget(); return; }  // the session was ended
        HallQ.showConnection($("#conn"), ok);
        $("#offline-banner").hidden = ok;
        render();
      },
    });
  }

  function onEvent(name, payload, state) {
    page.state = state;
    const mine = page.window;
    const myServices = (myWindow() || {services: []}).services;
    if ((name === "window" && payload.window.number === mine) ||
        (name === "queue" && myServices.includes(payload.service)) ||
        (name === "ticket" && (payload.ticket.window === mine ||
                               payload.ticket.target_window === mine))) {
      scheduleSummary();
    }
    if (name === "away_overdue" && payload.window === mine) scheduleSummary();
    render();
  }

  function scheduleSummary() {
    clearTimeout(summaryTimer);
    summaryTimer = setTimeout(loadSummary, 60);
  }

  function loadSummary() {
    if (!page.token) return;
    api("GET", `/api/v1/windows/${page.window}/summary`).then(({status, json}) => {
      if (status === 401) { forget(); return; }
      if (status === 200) { page.summary = json; render(); }
    }).catch(() => {});
  }

  // -- commands ------------------------------------------------------------------------------
  function run(name, body) {
    if (!page.client || page.busy) return;
    page.busy = true;
    render();
    const payload = Object.assign({window: page.window, request_id: requestId()}, body || {});
    page.client.command(name, payload).then(answer => {
      const number = answer.ticket ? answer.ticket.number : "";
      const key = {"call-next": "done_call", "no-show": "done_no_show"}[name] || "done_" + name;
      showMessage(t(key, number), "ok");
    }).catch(error => {
      if (error.code === "unauthorized") { forget(); return; }  // the session ended
      showMessage(error.message || error.code, "bad");
    }).finally(() => { page.busy = false; render(); });
  }

  function press(name) {
    const button = document.querySelector(`#buttons [data-cmd="${name}"]`);
    if (!button || button.disabled || button.hidden) return;
    if (name === "transfer") openTransfer();
    else if (name === "away") openAway();
    else if (name === "callback") openCallback();
    else run(name);
  }

  function openTransfer() {
    const w = myWindow();
    const current = w && w.ticket ? w.ticket.service : null;
    const services = page.state.services.filter(s => s.id !== current);
    $("#transfer-services").replaceChildren(...services.map(s =>
      choice(`${s.prefix} ${s.name[i18n.lang] || s.name.zh}`, () => run("transfer", {service: s.id}),
             "service-" + s.id)));
    const windows = page.state.windows.filter(x => x.number !== page.window &&
                                                   x.status !== "closed");
    $("#transfer-windows").replaceChildren(...(windows.length ? windows.map(x =>
      choice(`${x.name[i18n.lang] || x.name.zh}` + (x.staff ? ` · ${x.staff.name}` : ""),
             () => run("transfer", {to_window: x.number}), "window-" + x.number))
      : [Object.assign(document.createElement("p"), {textContent: t("no_windows_open")})]));
    $("#transfer-dialog").showModal();
  }

  function openAway() {
    const zh = HallQI18n.WORDS.zh.reasons;
    $("#away-reasons").replaceChildren(...t("reasons").map((label, i) =>
      choice(`${i + 1} · ${label}`, () => run("away", {reason: zh[i]}), "reason-" + (i + 1))));
    $("#away-limit-hint").textContent = t("away_limit_hint",
                                          page.state.hall.away_limit_minutes);
    $("#away-dialog").showModal();
  }

  // HALL-RULES #10: when the system fails, take the customer's contact and book another time.
  // Sent over HTTP: in a Socket.IO command `name` is the command's own name, not the customer's.
  function openCallback() {
    ["#cb-phone", "#cb-name", "#cb-note"].forEach(sel => { $(sel).value = ""; });
    openBooking();
    $("#callback-dialog").showModal();
    $("#cb-phone").focus();
  }

  // The same customer, booked at once (issue 17): the slot list comes from the server, and the
  // code it answers is shown large, to be read out to the customer.
  function openBooking() {
    const bookable = page.state.services.filter(s => s.bookable);
    $("#cb-booking").hidden = !bookable.length;
    $("#cb-code").hidden = true;
    if (!bookable.length) return;
    const mine = (myWindow() || {services: []}).services;
    bookable.sort((a, b) => (mine.includes(b.id) ? 1 : 0) - (mine.includes(a.id) ? 1 : 0));
    $("#cb-service").replaceChildren(...bookable.map(s => Object.assign(
      document.createElement("option"), {value: s.id, textContent: s.name[i18n.lang] || s.name.zh})));
    $("#cb-date").value = page.state.hall.day;
    loadSlots();
  }

  function loadSlots() {
    const query = `service=${encodeURIComponent($("#cb-service").value)}` +
                  `&date=${encodeURIComponent($("#cb-date").value)}`;
    api("GET", "/api/v1/appointments/slots?" + query).then(({status, json}) => {
      if (status !== 200) { showMessage(json.error.message, "bad"); return; }
      const open = json.slots.filter(s => !s.past);
      $("#cb-slot").replaceChildren(...(open.length ? open.map(s => Object.assign(
        document.createElement("option"), {
          value: s.start, disabled: s.free <= 0,
          textContent: `${hhmm(s.start)}–${hhmm(s.end)}  ` +
                       (s.free > 0 ? t("cb_free", s.free) : t("cb_full"))}))
        : [Object.assign(document.createElement("option"),
                         {value: "", disabled: true, textContent: t("cb_no_slots")})]));
      const first = open.find(s => s.free > 0);
      if (first) $("#cb-slot").value = first.start;
    }).catch(() => showMessage(t("offline"), "bad"));
  }

  function book() {
    const body = {service: $("#cb-service").value, slot_start: $("#cb-slot").value,
                  phone: $("#cb-phone").value.trim(), request_id: requestId()};
    if ($("#cb-name").value.trim()) body.name = $("#cb-name").value.trim();
    api("POST", "/api/v1/appointments", body).then(({status, json}) => {
      if (status !== 201) { showMessage(json.error.message, "bad"); return; }
      const a = json.appointment;
      const code = $("#cb-code");
      code.textContent = t("cb_code", a.code, a.date, `${hhmm(a.slot_start)}–${hhmm(a.slot_end)}`);
      code.hidden = false;
      showMessage(t("done_booked", a.code), "ok");
      loadSlots();
    }).catch(() => showMessage(t("offline"), "bad"));
  }

  function saveCallback(event) {
    event.preventDefault();
    const body = {phone: $("#cb-phone").value.trim(), request_id: requestId()};
    if ($("#cb-name").value.trim()) body.name = $("#cb-name").value.trim();
    if ($("#cb-note").value.trim()) body.note = $("#cb-note").value.trim();
    api("POST", `/api/v1/windows/${page.window}/callback`, body).then(({status, json}) => {
      if (status !== 200) { showMessage(json.error.message, "bad"); return; }
      $("#callback-dialog").close();
      showMessage(t("done_callback"), "ok");
    }).catch(() => showMessage(t("offline"), "bad"));
  }

  function choice(label, action, id) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.dataset.choice = id;
    b.addEventListener("click", () => { b.closest("dialog").close(); action(); });
    return b;
  }

  // -- rendering -----------------------------------------------------------------------------
  function allowed(w) {
    const s = w ? w.status : "closed";
    const ticket = w && w.ticket;
    const maxRecalls = page.state.hall.max_recalls;
    const waiting = page.summary ? waitingTotal() : 1;  // unknown yet: let the server decide
    return {
      "call-next": s === "idle" && waiting > 0,
      "recall": s === "calling",
      "start": s === "calling",
      "finish": s === "calling" || s === "serving",
      "no-show": s === "calling" && ticket && ticket.recalls >= maxRecalls,
      "transfer": s === "calling" || s === "serving",
      "away": s === "idle",
      "back": s === "away",
      "close": s === "idle" || s === "away",
      "open": s === "closed",
      "callback": true,
    };
  }

  function waitingTotal() {
    const w = myWindow();
    if (!w) return 0;
    const counts = page.state.services.filter(s => w.services.includes(s.id))
                                      .reduce((n, s) => n + s.waiting, 0);
    return counts + (page.summary ? page.summary.waiting.transferred_here : 0);
  }

  function render() {
    if (!page.state || $("#desk").hidden) return;
    const w = myWindow();
    $("#window-name").textContent = w ? (w.name[i18n.lang] || w.name.zh) : "";
    renderCurrent(w);
    const ok = allowed(w);
    document.querySelectorAll("#buttons button").forEach(b => {
      const cmd = b.dataset.cmd;
      b.hidden = cmd === "open" ? w && w.status !== "closed" : cmd === "close" && w &&
                 w.status === "closed";
      b.disabled = !page.online || page.busy || !ok[cmd];
    });
    const recalls = w && w.ticket ? w.ticket.recalls : 0;
    $("#recall-count").textContent = w && w.ticket
      ? `(${recalls}/${page.state.hall.max_recalls})` : "";
    renderWaiting(w);
    renderToday();
  }

  function renderCurrent(w) {
    const status = w ? w.status : "closed";
    const card = $("#current");
    const overdue = w && w.away && (w.away.overdue ||
                                    page.clock() > Date.parse(w.away.limit_at));
    card.className = "card current status-" + status + (overdue ? " overdue" : "");
    $("#status").textContent = t("status_" + status);
    $("#away-reason").textContent = w && w.away ? `· ${i18n.awayReason(w.away)}` : "";
    const ticket = w && w.ticket;
    $("#ticket-number").textContent = ticket ? ticket.number : "";
    $("#ticket-number").hidden = !ticket;
    const facts = [];
    if (ticket) {
      facts.push(serviceName(ticket.service));
      facts.push(t("prio_" + ticket.priority));
      const waited = minutesSince(ticket.issued_at, Date.parse(ticket.called_at));
      facts.push(`${t("waited")} ${Math.round(waited)} ${t("min")}`);
      facts.push(`${t("at_window")} ${clockText(page.clock() - Date.parse(ticket.called_at))}`);
      if (ticket.recalls) facts.push(`${t("recalls")} ${ticket.recalls}`);
    } else if (status === "idle") {
      facts.push(t("waiting_now", waitingTotal()));
    }
    $("#ticket-facts").replaceChildren(...facts.map((f, i) => {
      const span = document.createElement("span");
      span.textContent = f;
      if (i === 1 && ticket.priority !== "normal") span.className = "prio";
      return span;
    }));
    const away = $("#away-clock");
    away.hidden = !(w && w.away);
    if (w && w.away) {
      const left = Date.parse(w.away.limit_at) - page.clock();
      away.textContent = left > 0
        ? `${t("limit_in")} ${clockText(left)} · ${t("back_by")} ${hhmm(w.away.limit_at)}`
        : `${t("overdue_by")} ${clockText(-left)} · ${t("back_by")} ${hhmm(w.away.limit_at)}`;
    }
  }

  function renderWaiting(w) {
    if (!w) return;
    const rows = page.state.services.filter(s => w.services.includes(s.id))
      .map(s => HallQ.row([`${s.prefix} ${s.name[i18n.lang] || s.name.zh}`, String(s.waiting)]));
    const here = page.summary ? page.summary.waiting.transferred_here : 0;
    if (here) rows.push(HallQ.row([t("transferred_here"), String(here)], "here"));
    $("#waiting tbody").replaceChildren(...rows);
    const longest = page.summary && page.summary.waiting.longest;
    $("#longest").textContent = waitingTotal() === 0 || !longest ? t("nobody")
      : `${t("longest")}: ${longest.number} · ` +
        `${Math.round(minutesSince(longest.issued_at))} ${t("min")}`;
  }

  function renderToday() {
    const s = page.summary;
    if (!s) return;
    $("#served").textContent = s.today.served;
    $("#avg").textContent = s.today.avg_handling_min === null ? "—" : s.today.avg_handling_min;
    $("#last tbody").replaceChildren(...s.last_tickets.map(x => HallQ.row([
      x.number, serviceName(x.service),
      t("out_" + x.outcome) + (x.to_window ? ` → ${x.to_window}` : "") +
        (x.outcome === "transferred" && x.to_service && !x.to_window
          ? ` → ${serviceName(x.to_service)}` : ""),
      x.handling_min === null ? "" : `${x.handling_min} ${t("min")}`,
      hhmm(x.at)], "out-" + x.outcome)));
  }

  // -- wiring --------------------------------------------------------------------------------
  document.querySelectorAll("#buttons button").forEach(b =>
    b.addEventListener("click", () => press(b.dataset.cmd)));
  document.querySelectorAll("dialog .cancel").forEach(b =>
    b.addEventListener("click", () => b.closest("dialog").close()));
  document.addEventListener("keydown", event => {
    if (event.ctrlKey || event.altKey || event.metaKey) return;
    const dialog = document.querySelector("dialog[open]");
    if (dialog) {
      const pick = dialog.querySelector(`[data-choice="reason-${event.key}"]`);
      if (pick) { event.preventDefault(); pick.click(); }
      return;
    }
    if (/^(INPUT|SELECT|TEXTAREA)$/.test(event.target.tagName)) return;
    const button = document.querySelector(
      `#buttons [data-key="${event.key.toUpperCase()}"]`);
    if (button) { event.preventDefault(); press(button.dataset.cmd); }
  });
  $("#login").addEventListener("submit", login);
  $("#callback-form").addEventListener("submit", saveCallback);
  $("#cb-service").addEventListener("change", loadSlots);
  $("#cb-date").addEventListener("change", loadSlots);
  $("#cb-book").addEventListener("click", book);
  $("#logout").addEventListener("click", logout);
  $("#lang").addEventListener("click", () => {
    i18n.toggle();
    $("#lang").textContent = i18n.lang === "zh" ? "English" : "中文";
    render();
  });
  setInterval(render, 1000);  // the clocks: time at the window, away countdown, longest wait

  i18n.apply();
  $("#lang").textContent = i18n.lang === "zh" ? "English" : "中文";
  const token = localStorage.getItem(KEY.token);
  if (!token) { showLogin(); return; }
  let staff = null;
  try { staff = JSON.parse(localStorage.getItem(KEY.staff)); } catch (e) { staff = null; }
  // Keep the clerk logged in across reloads and restarts: the token outlives both. An address
  // for another window (a bookmark, a colleague's link) asks first instead of showing this one.
  const held = Number(localStorage.getItem(KEY.window));
  const wanted = Number(new URLSearchParams(location.search).get("window"));
  if (wanted && wanted !== held) askSwitch(token, held, wanted, staff);
  else startDesk(token, held, staff);
})();
