// The region's pages: the login kept for the browser tab, the live socket, and each page's
// drawing. Every figure and alert comes from the server as it is.
(function () {
  "use strict";
  // The hall supervisor's pages' own helpers (web/static/supervisor.js): the login gate, HTTP
  // calls carrying the token kept for this tab, and element building.
  const {api, el, forget, gate} = window.Supervisor;

  const num = v => (v === null || v === undefined) ? "–" : String(v);
  const pct = v => (v === null || v === undefined) ? "–" : (v * 100).toFixed(1) + "%";
  const name = n => (n && typeof n === "object") ? (n.zh === n.en ? n.zh : `${n.zh} · ${n.en}`)
    : String(n ?? "");
  const time = iso => iso ? new Date(iso).toLocaleString("zh-CN", {hour12: false}) : "–";

  // A region user's login, through the hall pages' own gate.
  const REGION_LOGIN = {
    path: "/api/login",
    logout: "/api/logout",
    body: form => ({user: form.user.value.trim(), password: form.password.value}),
    refuse: () => "",
    explain: () => "",
    keep: me => ({token: me.token, user: me.user}),
    who: me => `${me.user.name}（${me.user.id}，${me.user.role === "admin" ? "区域管理员 · admin"
      : "区域负责人 · supervisor"}）`,
    entered: me => { document.querySelector("#admin-link").hidden = me.user.role !== "admin"; },
  };

  // The live socket: `hall` updates name the halls that changed; the page asks for their rows.
  // `halls`: only these halls' updates (the drill-down's), else every hall the user may see.
  function live(me, handlers, halls) {
    const conn = document.querySelector("#conn");
    const auth = halls ? {token: me.token, halls: halls} : {token: me.token};
    const socket = io({auth: auth, transports: ["websocket", "polling"]});
    function status(text, ok) {
      conn.hidden = false;
      conn.textContent = text;
      conn.classList.toggle("offline", !ok);
    }
    socket.on("connect", () => {
      status("实时 · Live", true);
      handlers.changed(socket, null);  // the snapshot, once the rooms are joined
    });
    socket.on("disconnect", reason => {
      status("连接中断 · Reconnecting", false);
      // The server dropped us (logout, disabled, changed): is the session still alive?
      if (reason === "io server disconnect") {
        api("GET", "/api/me").then(() => socket.connect(), () => {});
      }
    });
    socket.on("connect_error", err => {
      status("连接中断 · Reconnecting", false);
      if (err && err.message === "unauthorized") forget();
    });
    let pending = new Set(), timer = null;
    socket.on("hall", update => {
      pending.add(update.hall_id);
      if (!timer) timer = setTimeout(() => {
        const ids = [...pending];
        pending = new Set();
        timer = null;
        handlers.changed(socket, ids);
      }, 250);
    });
    // Silence is the absence of updates: the whole view is asked for again now and then.
    setInterval(() => handlers.changed(socket, null), 30000);
    return socket;
  }

  function ask(socket, event, body) {
    return new Promise((resolve, reject) => socket.emit(event, body, answer => {
      if (answer && answer.status === 200) resolve(answer);
      else reject(answer && answer.error);
    }));
  }

  // -- the overview: every hall -------------------------------------------------------------
  function overviewPage(me) {
    const rows = new Map();
    const body = document.querySelector("#halls tbody");
    function badge(text, kind) { return el("span", {class: "badge " + kind}, text); }
    function services(status) {
      return (status ? status.services : []).map(s => el("span", {
        class: "svc" + (s.over_target ? " late" : "")}, `${s.name.zh} ${s.waiting}`));
    }
    function predicted(status) {
      return (status ? status.services : []).filter(s => s.estimated_wait_min !== null)
        .map(s => el("span", {class: "svc" + (s.predicted_over_target ? " late" : "")},
                     `${s.name.zh} ${s.estimated_wait_min}/${num(s.target_wait_minutes)}′`));
    }
    function linkCell(h) {
      const l = h.link;
      const kinds = new Set(h.alerts.map(a => a.kind));
      const health = l.diverged ? badge("回退 · diverged", "bad")
        : kinds.has("silent") ? badge("失联 · silent", "bad") : badge("正常 · OK", "ok");
      return el("td", {}, health, el("div", {class: "muted"},
        `最后事件 · last event ${time(l.last_event_at)}`),
        el("div", {class: "muted"}, `积压 · backlog ${l.backlog}`));
    }
    function draw(h) {
      const s = h.status;
      const w = s ? s.windows : null;
      const tr = el("tr", {id: "hall-" + h.id, class: (h.alerts.length ? "flag" : "") +
                           (h.disabled ? " disabled" : "")},
        el("td", {}, el("a", {href: "/halls/" + encodeURIComponent(h.id)}, h.name),
           el("div", {class: "muted"}, h.id + (h.disabled ? " · 已停用 disabled" : "") +
              (s && s.open === false ? " · 未营业 closed" : ""))),
        el("td", {class: "big"}, s ? s.waiting : "–"),
        el("td", {}, services(s)),
        el("td", {}, s ? num(s.longest_wait_min) + " 分 min" : "–"),
        el("td", {}, predicted(s)),
        el("td", {}, w ? `${w.open} / ${w.away} / ` : "–",
           w ? el("span", {class: w.overdue ? "late" : ""}, String(w.overdue)) : ""),
        el("td", {}, s ? (s.devices.offline.length
          ? el("span", {class: "late"}, s.devices.offline.join(", ")) : "0") : "–"),
        linkCell(h));
      const old = document.getElementById("hall-" + h.id);
      if (old) old.replaceWith(tr); else body.append(tr);
    }
    function drawAlerts() {
      const list = document.querySelector("#alerts");
      const all = [...rows.values()].flatMap(h => h.alerts);
      list.replaceChildren(...(all.length ? all.map(a => el("li", {class: "hall-alert " + a.kind},
        el("a", {href: "/halls/" + encodeURIComponent(a.hall_id)}, a.hall), " — ",
        el("b", {}, a.text), a.detail ? ` (${a.detail})` : ""))
        : [el("li", {class: "muted"}, "无告警 · No alerts")]));
      const n = rows.size, flagged = [...rows.values()].filter(h => h.alerts.length).length;
      document.querySelector("#counts").textContent =
        `${n} 个营业厅，${flagged} 个有告警 · ${n} halls, ${flagged} with alerts`;
    }
    function take(snapshot) {
      if (!snapshot.partial) {
        rows.clear();
        body.replaceChildren();
      }
      snapshot.halls.forEach(h => { rows.set(h.id, h); draw(h); });
      document.querySelector("#silent-rule").textContent =
        `失联：${snapshot.silent_minutes} 分钟无联系 · Silent: no contact for ` +
        `${snapshot.silent_minutes} min`;
      drawAlerts();
    }
    live(me, {
      changed: (socket, ids) => ask(socket, "overview", ids ? {halls: ids} : {}).then(take,
        () => {}),
    });
  }

  // -- one hall -----------------------------------------------------------------------------
  function hallPage(me) {
    const hallId = document.body.dataset.hall;
    function facts(target, pairs) {
      document.querySelector(target).replaceChildren(...pairs.flatMap(([k, v, bad]) =>
        [el("dt", {}, k), el("dd", {class: bad ? "late" : ""}, v)]));
    }
    function take(d) {
      const h = d.hall, s = h.status, l = h.link;
      document.querySelector("#hall-name").textContent = `${h.name}（${h.id}）`;
      document.title = `${h.name} — HallQ`;
      document.querySelector("#status-at").textContent = `更新于 · as of ${time(h.status_at)}`;
      document.querySelector("#alerts").replaceChildren(...(h.alerts.length
        ? h.alerts.map(a => el("li", {class: "hall-alert " + a.kind}, el("b", {}, a.text),
                                 a.detail ? ` (${a.detail})` : ""))
        : [el("li", {class: "muted"}, "无告警 · No alerts")]));
      document.querySelector("#services tbody").replaceChildren(...(s ? s.services : []).map(
        v => el("tr", {class: v.over_target || v.predicted_over_target ? "flag" : ""},
          el("td", {}, name(v.name)), el("td", {class: "big"}, v.waiting),
          el("td", {class: v.over_target ? "late" : ""}, num(v.longest_wait_min)),
          el("td", {class: v.predicted_over_target ? "late" : ""}, num(v.estimated_wait_min)),
          el("td", {}, num(v.target_wait_minutes)))));
      const w = s ? s.windows : {total: "–", open: "–", away: "–", overdue: 0};
      facts("#windows", [
        ["营业 · Open", s ? (s.open ? "是 · yes" : "否 · no") : "–"],
        ["取号 · Issuing", s ? (s.issuing ? "是 · yes" : "暂停 · paused") : "–"],
        ["窗口开放 · Windows open", `${w.open} / ${w.total}`],
        ["暂离 · Away", String(w.away)],
        ["暂离超时 · Away overdue", String(w.overdue), w.overdue > 0],
        ["离线设备 · Devices offline", s && s.devices.offline.length
          ? s.devices.offline.join(", ") : "0", s && s.devices.offline.length > 0]]);
      facts("#link", [
        ["最后事件 · Last event", time(l.last_event_at)],
        ["最后联系 · Last contact", time(l.last_contact_at), h.alerts.some(a => a.kind === "silent")],
        ["已确认 · Acked seq", String(l.acked_seq)],
        ["积压 · Backlog", String(l.backlog), l.backlog > 0],
        ["回退 · Diverged", l.diverged ? `seq ${l.diverged_at_seq}: ${l.diverged_detail || ""}`
          : "否 · no", l.diverged]]);
      document.querySelector("#day").textContent = d.day;
      document.querySelector("#today tbody").replaceChildren(...d.today.map(r => el("tr", {},
        el("td", {}, name(r.name)), el("td", {}, r.issued), el("td", {}, r.served),
        el("td", {}, r.no_show), el("td", {}, num(r.wait_mean_min)),
        el("td", {}, pct(r.within_target)), el("td", {}, pct(r.satisfaction)))));
    }
    const get = socket => ask(socket, "detail", {hall_id: hallId}).then(take, e => {
      document.querySelector("#hall-name").textContent = (e && e.message) || "–";
    });
    live(me, {
      changed: (s, ids) => { if (!ids || ids.includes(hallId)) get(s); },
    }, [hallId]);
  }

  // -- reports ------------------------------------------------------------------------------
  const COLUMNS = [
    ["issued", "取号 · Issued"], ["served", "办结 · Served"], ["no_show", "过号 · No-show"],
    ["wait_mean_min", "平均等候(分) · Wait mean"], ["wait_p90_min", "等候P90(分) · Wait P90"],
    ["within_target", "达标率 · Within target", pct],
    ["handling_mean_min", "平均办理(分) · Handling"], ["away_count", "暂离 · Away"],
    ["away_min", "暂离(分) · Away min"], ["rated", "评价 · Rated"],
    ["satisfaction", "满意率 · Satisfaction", pct],
    ["promise_within", "预计准确率 · Estimates held", pct],
    ["appointments_booked", "预约 · Booked"], ["appointments_checked_in", "签到 · Checked in"],
  ];

  function reportsPage() {
    const form = document.querySelector("#range");
    const today = new Date();
    const first = new Date(today.getFullYear(), today.getMonth(), 1);
    const iso = d => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-` +
      String(d.getDate()).padStart(2, "0");
    const params = new URLSearchParams(location.search);
    form.from.value = params.get("from") || iso(first);
    form.to.value = params.get("to") || iso(today);
    form.by.value = params.get("by") || "hall";
    const rankBy = document.querySelector("#rank-by");
    async function show() {
      const q = `from=${form.from.value}&to=${form.to.value}`;
      const started = performance.now();
      const r = await api("GET", `/api/reports?${q}&by=${form.by.value}`);
      document.querySelector("#took").textContent =
        `${r.from} – ${r.to}，${Math.round(performance.now() - started)} ms`;
      document.querySelector("#report thead").replaceChildren(el("tr", {},
        el("th", {}, ""), ...COLUMNS.map(c => el("th", {}, c[1]))));
      const line = (label, row) => el("tr", {}, el("th", {}, label),
        ...COLUMNS.map(([k, , f]) => el("td", {}, (f || num)(row[k]))));
      document.querySelector("#report tbody").replaceChildren(
        line("合计 · Total", r.total), ...r.rows.map(row => line(name(row.name), row)));
      const csv = await api("GET", `/api/reports.csv?${q}&by=${form.by.value}`);
      const link = document.querySelector("#csv");
      link.href = URL.createObjectURL(csv);
      link.download = `hallq-region-${r.by}-${r.from}-${r.to}.csv`;
      const k = await api("GET", `/api/ranking?${q}&rank_by=${rankBy.value}`);
      document.querySelector("#ranks-by").textContent = "排名依据 · Ranked by: " + k.ranks_by;
      document.querySelector("#ranking tbody").replaceChildren(...k.rows.map(row =>
        el("tr", {}, el("td", {}, row.rank ?? "–"), el("td", {}, name(row.name)),
           el("td", {}, pct(row.within_target)), el("td", {}, pct(row.satisfaction)),
           el("td", {}, num(row.wait_mean_min)), el("td", {}, num(row.wait_p90_min)),
           el("td", {}, row.served))));
    }
    const run = () => show().catch(e => {
      document.querySelector("#took").textContent = (e && e.message) || String(e);
    });
    form.addEventListener("submit", ev => { ev.preventDefault(); run(); });
    rankBy.addEventListener("change", run);
    run();
  }

  // -- admin --------------------------------------------------------------------------------
  // A form's field by name (form.id and form.name are the form's own attributes).
  const field = (form, n) => form.elements.namedItem(n).value.trim();

  function adminPage() {
    const error = document.querySelector("#admin-error");
    const fail = e => { error.textContent = (e && e.message) || String(e); };
    async function load() {
      const halls = (await api("GET", "/api/halls")).halls;
      document.querySelector("#hall-list tbody").replaceChildren(...halls.map(h => el("tr", {},
        el("td", {}, h.id), el("td", {}, h.name),
        el("td", {}, h.disabled ? "停用 · disabled" : "启用 · enabled"),
        el("td", {}, el("button", {type: "button", onclick: () => api("PATCH",
          "/api/halls/" + encodeURIComponent(h.id), {disabled: !h.disabled}).then(load, fail)},
          h.disabled ? "启用 · Enable" : "停用 · Disable"),
          el("button", {type: "button", onclick: () => {
            const named = prompt(`${h.id} 的新名称 · New name`, h.name);
            if (named && named.trim() !== h.name) {
              api("PATCH", "/api/halls/" + encodeURIComponent(h.id), {name: named.trim()})
                .then(load, fail);
            }
          }}, "改名 · Rename"),
          el("button", {type: "button", onclick: () => api("POST", "/api/halls/" +
            encodeURIComponent(h.id) + "/token").then(r => {
            document.querySelector("#hall-token").textContent =
              `${h.id} 新令牌（只显示一次）· New token, shown once: ${r.token}`;
          }, fail)}, "换令牌 · New token")))));
      const people = (await api("GET", "/api/users")).users;
      document.querySelector("#user-list tbody").replaceChildren(...people.map(u => el("tr", {},
        el("td", {}, u.id), el("td", {}, u.name),
        el("td", {}, u.role === "admin" ? "区域管理员 · admin" : "区域负责人 · supervisor"),
        el("td", {}, u.role === "admin" ? "全部 · all" : u.halls.join(", ")),
        el("td", {}, u.disabled ? "停用 · disabled" : "启用 · enabled"),
        el("td", {}, el("button", {type: "button", onclick: () => api("PATCH",
          "/api/users/" + encodeURIComponent(u.id), {disabled: !u.disabled}).then(load, fail)},
          u.disabled ? "启用 · Enable" : "停用 · Disable")))));
    }
    document.querySelector("#add-hall").addEventListener("submit", ev => {
      ev.preventDefault();
      const f = ev.target;
      api("POST", "/api/halls", {id: field(f, "id"), name: field(f, "name")}).then(r => {
        document.querySelector("#hall-token").textContent =
          `${r.hall.id} 的令牌（只显示一次）· Token, shown once: ${r.token}`;
        f.reset();
        return load();
      }, fail);
    });
    document.querySelector("#add-user").addEventListener("submit", ev => {
      ev.preventDefault();
      const f = ev.target;
      api("POST", "/api/users", {id: field(f, "id"), name: field(f, "name"),
        role: field(f, "role"), password: f.elements.namedItem("password").value,
        halls: field(f, "halls").split(",").map(s => s.trim()).filter(Boolean)})
        .then(() => { f.reset(); error.textContent = ""; return load(); }, fail);
    });
    load().catch(fail);
  }

  document.addEventListener("DOMContentLoaded", () => gate(me => {
    const page = document.body.classList;
    if (page.contains("overview")) overviewPage(me);
    else if (page.contains("hall")) hallPage(me);
    else if (page.contains("reports")) reportsPage(me);
    else if (page.contains("admin")) adminPage(me);
  }, REGION_LOGIN));
})();
