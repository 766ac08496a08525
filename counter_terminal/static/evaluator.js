// The customer's side of the window: who serves them, whether the window is away or closed, and
// after each finished service five buttons to rate it (for RATE_SECONDS).
(function () {
  "use strict";
  const RATE_SECONDS = 30;
  const THANKS_MS = 4000;
  const BAD = 2;  // scores 1 and 2 (不满意, 非常不满意) ask for a reason
  const $ = sel => document.querySelector(sel);
  const params = new URLSearchParams(location.search);
  const windowNumber = Number(params.get("window") || 1);
  const KEY = {token: "hallq.evaluator.token." + windowNumber, lang: "hallq.evaluator.lang"};
  const i18n = HallQI18n.create(KEY.lang);
  const t = i18n.t;

  const ev = {window: windowNumber, client: null, state: null, clock: () => Date.now(),
              rating: null, online: false};
  window.HallQEvaluator = ev;
  let rateTimer = null;

  function requestId() {
    return "e" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  }

  function start(token) {
    $("#setup").hidden = true;
    $("#face").hidden = false;
    ev.client = HallQ.live({
      token: token,
      onState: state => { ev.state = state; ev.clock = HallQ.serverClock(state); render(); },
      onEvent: onEvent,
      onConnection: (ok, why) => {
        ev.online = ok;
        if (!ok && why === "unauthorized") { localStorage.removeItem(KEY.token);
                                             location.reload(); return; }
        HallQ.showConnection($("#conn"), ok);
        render();
      },
    });
  }

  function onEvent(name, payload, state) {
    ev.state = state;
    if (name === "ticket" && payload.ticket.window === ev.window &&
        payload.ticket.status === "done") offerRating(payload.ticket.number);
    if (name === "rating" && payload.window === ev.window && ev.rating &&
        payload.number === ev.rating.number) thank();  // rated elsewhere (the GPIO buttons)
    render();
  }

  // -- rating --------------------------------------------------------------------------------
  function offerRating(number) {
    ev.rating = {number: number, until: Date.now() + RATE_SECONDS * 1000, score: null};
    $("#thanks").hidden = true;
    $("#rate-error").hidden = true;
    $("#reasons").hidden = true;
    $("#rate-number").textContent = number;
    const levels = t("ev_levels");
    $("#levels").replaceChildren(...[5, 4, 3, 2, 1].map(score => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "level level-" + score;
      b.dataset.score = score;
      b.innerHTML = `<span class="face">${"★".repeat(score)}</span>`;
      b.append(levels[score - 1]);
      b.addEventListener("click", () => choose(score));
      return b;
    }));
    $("#rate").hidden = false;
    clearInterval(rateTimer);
    rateTimer = setInterval(tickRating, 250);
    tickRating();
  }

  function tickRating() {
    if (!ev.rating) return;
    const left = Math.ceil((ev.rating.until - Date.now()) / 1000);
    if (left <= 0) { closeRating(); return; }
    $("#rate-left").textContent = t("ev_seconds", left);
  }

  function choose(score) {
    if (!ev.rating || ev.rating.sending) return;
    if (score <= BAD) {
      ev.rating.score = score;
      document.querySelectorAll(".level").forEach(b =>
        b.classList.toggle("chosen", Number(b.dataset.score) === score));
      const zh = HallQI18n.WORDS.zh.ev_reasons;
      $("#reason-list").replaceChildren(...t("ev_reasons").map((label, i) => {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = label;
        b.dataset.reason = zh[i];
        b.addEventListener("click", () => send(score, zh[i]));
        return b;
      }), skipButton(score));
      $("#reasons").hidden = false;
      ev.rating.until = Math.max(ev.rating.until, Date.now() + 15000);  // time to read the list
      return;
    }
    send(score, null);
  }

  function skipButton(score) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "skip";
    b.textContent = t("ev_skip");
    b.addEventListener("click", () => send(score, null));
    return b;
  }

  function send(score, reason) {
    ev.rating.sending = true;
    const body = {window: ev.window, score: score, request_id: requestId()};
    if (reason) body.reason = reason;
    ev.client.command("rate", body).then(thank).catch(error => {
      closeRating();
      const el = $("#rate-error");
      el.textContent = error.message || error.code;
      el.hidden = false;
      setTimeout(() => { el.hidden = true; }, THANKS_MS);
    });
  }

  function thank() {
    closeRating();
    $("#thanks").hidden = false;
    setTimeout(() => { $("#thanks").hidden = true; }, THANKS_MS);
  }

  function closeRating() {
    ev.rating = null;
    clearInterval(rateTimer);
    $("#rate").hidden = true;
  }

  // -- the window's face -----------------------------------------------------------------------
  function render() {
    if (!ev.state) return;
    const w = ev.state.windows.find(x => x.number === ev.window);
    if (!w) return;
    $("#window-name").textContent = w.name[i18n.lang] || w.name.zh;
    document.body.dataset.status = w.status;
    const staff = w.status !== "closed" && w.staff;
    $("#clerk").hidden = !staff;
    if (staff) {
      $("#clerk-name").textContent = staff.name;
      $("#clerk-id").textContent = `${t("ev_staff_no")} ${staff.id}`;
    }
    let status = "", detail = "";
    if (w.status === "closed") status = t("ev_paused");
    else if (w.status === "away") {
      status = t("ev_away");
      detail = `${i18n.awayReason(w.away)} · ${t("ev_back_by", w.away.limit_at.slice(11, 16))}`;
    } else if (w.status === "calling") status = t("ev_please", w.ticket.number);
    else if (w.status === "serving") status = t("ev_serving", w.ticket.number);
    else status = t("ev_welcome");
    $("#status").textContent = status;
    $("#detail").textContent = detail;
  }

  // Pairing: the code from the supervisor's dashboard buys this window's device token, which
  // then lives only in this browser's storage (never in an address).
  $("#setup").addEventListener("submit", event => {
    event.preventDefault();
    const error = $("#setup-error");
    error.hidden = true;
    fetch("/api/v1/pair", {method: "POST", headers: {"Content-Type": "application/json"},
                           body: JSON.stringify({code: $("#code").value.trim()})})
      .then(r => r.json())
      .then(answer => {
        if (answer.error) throw answer.error;
        const paired = answer.device.window;
        localStorage.setItem("hallq.evaluator.token." + paired, answer.token);
        if (paired !== ev.window) { location.search = "?window=" + paired; return; }
        start(answer.token);
      })
      .catch(e => { error.textContent = e.message || String(e); error.hidden = false; });
  });
  $("#lang").addEventListener("click", () => {
    i18n.toggle();
    $("#lang").textContent = i18n.lang === "zh" ? "English" : "中文";
    render();
  });

  i18n.apply();
  $("#lang").textContent = i18n.lang === "zh" ? "English" : "中文";
  const token = localStorage.getItem(KEY.token);
  if (token) start(token); else $("#setup").hidden = false;
})();
