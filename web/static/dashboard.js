// The supervisor's live dashboard: windows (with away countdowns and the overdue alarm),
// queues, waiting tickets, devices, callbacks, staff; and the supervisor's actions.
(function () {
  "use strict";
  const {api, gate, el} = Supervisor;
  const STATUS = {closed: ["关闭 · closed", ""], idle: ["空闲 · idle", "ok"],
                  calling: ["呼叫中 · calling", "warn"], serving: ["办理中 · serving", "ok"],
                  away: ["暂时离开 · away", "warn"]};
  const ROLES = {clerk: "窗口人员", supervisor: "负责人", admin: "管理员"};
  const BEEP_EVERY_MS = 15000;
  const DEVICES_EVERY_MS = 10000;
  let live = null;
  let state = null;
  let extra = {waiting: [], callbacks: [], staff: [], lockouts: []};
  let now = () => Date.now();
  let refreshTimer = null;
  let appointmentsTimer = null;
  let appointmentsWired = false;
  let audio = null;
  let lastBeep = 0;
  const acknowledged = new Set();
  const pairingCodes = new Map();  // evaluator device id -> {code, expires_at}, while valid
  const $ = sel => document.querySelector(sel);

  gate(start);

  function start(me) {
    live = HallQ.live({
      token: me.token,
      onState: s => {
        state = s; now = HallQ.serverClock(s); render(); refresh();
        if (!appointmentsWired) { appointmentsWired = true; wireAppointments(); }
        else appointmentsSoon();
      },
      onEvent: (name, p, s) => {
        state = s;
        if (["ticket_issued", "ticket", "queue", "window", "callback", "staff", "lockouts"].includes(name)) {
          refreshSoon();
        }
        if (name === "appointment") appointmentsSoon();
        render();
      },
      onConnection: (ok, why) => {
        // A dead session (logged out elsewhere, disabled, expired): back to the login.
        if (!ok && why === "unauthorized") { sessionStorage.clear(); location.reload(); return; }
        HallQ.showConnection($("#conn"), ok);
      },
    });
    wireActions();
    setInterval(tick, 1000);
    // Devices coming and going send no event (they change no queue): look every few seconds.
    setInterval(() => {
      if (extra && extra.region_link) refresh();  // the region link changes without events
      if (!live.socket.connected || !state) return;
      live.socket.timeout(5000).emit("state", null, (err, fresh) => {
        if (!err && fresh && state) {
          state.devices = fresh.devices; renderDevices();
          // the model's suggestions come with the snapshot only (they try every closed window)
          const found = new Map(fresh.services.map(x => [x.id, x]));
          state.services.forEach(x => {
            const f = found.get(x.id) || {};
            x.suggestion = f.suggestion; x.outlook = f.outlook;
          });
          renderServices();
        }
      });
    }, DEVICES_EVERY_MS);
    // Browsers start sound only after a gesture: any click on the page unlocks it.
    document.addEventListener("click", unlockAudio);
    unlockAudio();
  }

  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 250);
  }

  async function refresh() {
    try { extra = await api("GET", "/api/v1/supervisor"); renderLists(); }
    catch (e) { showError(e); }
  }

  function showError(e) { $("#action-error").textContent = e ? (e.message || String(e)) : ""; }

  async function run(name, body) {
    showError(null);
    try { const answer = await live.command(name, body); refreshSoon(); return answer; }
    catch (e) {
      if (e.code === "unauthorized") { sessionStorage.clear(); location.reload(); }  // ended
      showError(e);
      throw e;
    }
  }

  // -- times -------------------------------------------------------------------------------
  function mmss(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
    const two = n => String(n).padStart(2, "0");
    return (h ? h + ":" + two(m) : String(m)) + ":" + two(sec);
  }
  function hhmm(iso) { return iso ? iso.slice(11, 16) : "—"; }
  function isOverdue(w) {
    return w.status === "away" && w.away &&
      (w.away.overdue || now() >= Date.parse(w.away.limit_at));
  }
  function awayKey(w) { return w.number + "|" + w.away.since; }

  // -- rendering ---------------------------------------------------------------------------
  function render() {
    if (!state) return;
    const h = state.hall;
    $("#limit").textContent = h.away_limit_minutes;
    $("#issuing").hidden = false;
    $("#issuing").textContent = h.issuing ? "取号中 · issuing" : "停止取号 · not issuing";
    $("#issuing-state").textContent = h.issuing ? "正在取号 · issuing"
      : (h.issuing_reason === "paused" ? "已暂停 · paused" : "未取号 · not issuing (" + h.issuing_reason + ")");
    $("#pause").disabled = h.issuing_reason === "paused";
    $("#resume").disabled = h.issuing_reason !== "paused";
    const notice = $("#notice-form").text;
    if (document.activeElement !== notice) notice.value = h.notice || "";
    renderWindows();
    renderServices();
    renderDevices();
    renderAlerts();
  }

  function renderWindows() {
    $("#windows tbody").replaceChildren(...state.windows.map(w => {
      const [label, tone] = STATUS[w.status];
      const overdue = isOverdue(w);
      let away = "—";
      if (w.status === "away") {
        const limit = Date.parse(w.away.limit_at);
        away = el("span", {}, HallQ.awayReason(w.away), " ",
                  el("span", {class: "countdown", "data-limit": limit}, ""));
      }
      const ticket = w.ticket ? el("span", {}, el("b", {}, w.ticket.number), " ",
        el("span", {class: "countdown muted", "data-since": Date.parse(w.ticket.called_at)}, ""))
        : "—";
      const close = w.status === "closed" ? "" : el("button", {class: "danger", onclick: () => {
        if (confirm(`强制关闭${w.name.zh}？当前客户回到等候队列。 · Force-close ${w.name.en}?`)) {
          run("force-close", {window: w.number}).catch(() => {});
        }
      }}, "强制关闭 · Close");
      const cls = "status-" + w.status + (overdue ? " overdue" : "") +
        (overdue && !acknowledged.has(awayKey(w)) ? " alerting" : "");
      return el("tr", {class: cls, "data-window": w.number},
        el("td", {}, w.name.zh), el("td", {}, el("span", {class: "badge " + (overdue ? "bad" : tone)},
          overdue ? "暂离超时 · overdue" : label)),
        el("td", {}, w.staff ? `${w.staff.name}（${w.staff.id}）` : "—"),
        el("td", {}, ticket), el("td", {class: "away"}, away), el("td", {}, close));
    }));
    tick();
  }

  // The wait a ticket taken now is predicted to have; past the target, said before the
  // customers feel it.
  function predicted(s) {
    if (s.estimate_note) return el("span", {}, el("span", {class: "badge bad"}, s.estimate_note), suggestion(s));
    if (s.estimated_wait_min === null || s.estimated_wait_min === undefined) return "—";
    const over = s.estimated_wait_min > s.target_wait_minutes;
    return el("span", {}, `${s.estimated_wait_min} 分`,
              over ? el("span", {class: "badge bad"}, " 将超目标 · will pass target") : "",
              outlook(s), suggestion(s));
  }

  // The coming hour, with arrivals at the last hour's rate: "30 分钟后取号 约 18 分".
  function outlook(s) {
    const parts = (s.outlook || []).filter(o => o.wait_min !== null)
      .map(o => `${o.in_min} 分钟后取号约 ${o.wait_min} 分` +
                (o.wait_min > s.target_wait_minutes ? "（超目标）" : ""));
    return parts.length ? el("div", {class: "outlook"}, parts.join(" · ")) : "";
  }

  function suggestion(s) {
    return s.suggestion ? el("div", {class: "suggestion"}, `建议 · Suggestion: ${s.suggestion.text}`) : "";
  }

  function renderServices() {
    $("#services tbody").replaceChildren(...state.services.map(s => {
      const flag = s.waiting && s.longest_wait_min > s.target_wait_minutes;
      return el("tr", {class: flag ? "flag" : "", "data-service": s.id},
        el("td", {}, `${s.prefix} ${s.name.zh} · ${s.name.en}`), el("td", {}, s.waiting),
        el("td", {}, s.waiting ? `${s.longest_wait_min} 分` : "—",
           flag ? el("span", {class: "badge bad"}, " 超目标 · over target") : ""),
        el("td", {}, predicted(s)), el("td", {}, `${s.target_wait_minutes} 分`));
    }));
  }

  function renderDevices() {
    $("#devices tbody").replaceChildren(...(state.devices || []).map(d => {
      const paper = d.role !== "kiosk" ? "" : d.printer === "ok" ? el("span", {class: "badge ok"}, "正常 · ok")
        : d.printer ? el("span", {class: "badge bad"}, d.printer + (d.printer_detail ? ` (${d.printer_detail})` : ""))
          : el("span", {class: "badge"}, "未知 · unknown");
      return el("tr", {"data-device": d.id}, el("td", {}, d.id), el("td", {}, d.role),
        el("td", {}, d.window ?? "—"),
        el("td", {}, el("span", {class: "badge " + (d.online ? "ok" : "bad")}, d.online ? "在线 · online" : "离线 · offline")),
        el("td", {}, d.last_seen ? d.last_seen.slice(5, 16).replace("T", " ") : "—"), el("td", {}, paper),
        el("td", {}, d.role === "evaluator" ? pairingCell(d) : ""));
    }));
  }

  // An evaluator page is set up with a short-lived code instead of its token (hall/pairing.py).
  function pairingCell(d) {
    const pairing = pairingCodes.get(d.id);
    if (pairing && Date.parse(pairing.expires_at) > now()) {
      return el("span", {class: "pairing"}, el("b", {class: "pairing-code"}, pairing.code),
                ` 有效至 ${hhmm(pairing.expires_at)} · valid until ${hhmm(pairing.expires_at)}`);
    }
    return el("button", {onclick: async () => {
      const answer = await run("pairing-code", {device: d.id});
      pairingCodes.set(d.id, answer);
      renderDevices();
    }}, "配对码 · Pairing code");
  }

  function renderAlerts() {
    const overdue = state.windows.filter(isOverdue);
    $("#alerts").replaceChildren(...overdue.map(w => el("div", {class: "alert", "data-window": w.number},
      el("span", {}, `⚠ ${w.name.zh} ${w.staff ? w.staff.name : ""} 暂离超时（${w.away.reason}），请安排顶岗 · `,
         `${w.name.en} away past the limit (${w.away.reason_en || w.away.reason}): arrange a stand-in`),
      acknowledged.has(awayKey(w)) ? el("span", {}, "已知悉 · acknowledged")
        : el("button", {onclick: () => { acknowledged.add(awayKey(w)); render(); }}, "知道了 · Acknowledge"))));
  }

  // The link to the company's region server ([region] in the hall config), if there is one.
  function renderRegionLink() {
    const link = extra.region_link, p = $("#region-link");
    p.hidden = !link;
    if (!link) return;
    const at = t => t ? new Date(t * 1000).toISOString().slice(5, 16).replace("T", " ") : "—";
    const [cls, text] = link.diverged ? ["bad", "已停止 · stopped: 本厅数据库与区域不一致 · this hall's database went back"]
      : link.last_error ? ["bad", "未连接 · not reached"] : ["ok", "正常 · ok"];
    p.replaceChildren(el("b", {}, "区域上报 · Region link "), el("span", {class: "badge " + cls}, text),
      ` 已确认 · acked #${link.acked_seq ?? "—"}，待发 · backlog ${link.backlog ?? "—"}，` +
      `最近确认 · last ack ${at(link.last_ack_at)}` + (link.last_error ? `，${link.last_error}` : ""));
  }

  function renderLists() {
    renderRegionLink();
    const waitingRows = extra.waiting.map(t => {
      const service = state && state.services.find(s => s.id === t.service);
      const target = service ? service.target_wait_minutes * 60000 : Infinity;
      return el("tr", {class: t.over_target ? "flag" : "", "data-ticket": t.number,
                       "data-over-at": Date.parse(t.issued_at) + target},
        el("td", {}, el("b", {}, t.number), t.target_window ? ` → ${t.target_window}号窗口` : ""),
        el("td", {}, service ? service.name.zh : t.service),
        el("td", {}, hhmm(t.issued_at)),
        el("td", {}, el("span", {class: "countdown", "data-since": Date.parse(t.issued_at)}, ""),
           el("span", {class: "badge bad over"}, " 超目标")),
        el("td", {}, el("button", {onclick: () => ticketDialog(t)}, "转移/取消 · Act")));
    });
    $("#waiting tbody").replaceChildren(...waitingRows);
    $("#waiting-count").textContent = `${extra.waiting.length} 人`;
    $("#callbacks tbody").replaceChildren(...extra.callbacks.map(c => {
      const phone = el("span", {class: "phone"}, c.phone);
      return el("tr", {"data-callback": c.id}, el("td", {}, phone), el("td", {}, c.name || "—"),
        el("td", {}, c.note || ""), el("td", {}, c.window ?? "—"), el("td", {}, hhmm(c.created_at)),
        el("td", {},
          el("button", {onclick: async () => {
            try {
              const full = await api("GET", `/api/v1/callbacks/${c.id}/phone`);
              phone.textContent = full.phone;
              setTimeout(() => { phone.textContent = c.phone; }, 30000);
            } catch (e) { showError(e); }
          }}, "显示 · Show"), " ",
          el("button", {class: "primary", onclick: () => run("callback-done", {id: c.id}).catch(() => {})},
             "已回访 · Done"), " ",
          el("button", {onclick: () => bookCallback(c)}, "预约 · Book")));
    }));
    $("#callback-count").textContent = `${extra.callbacks.length} 条`;
    $("#staff tbody").replaceChildren(...extra.staff.map(s => el("tr", {"data-staff": s.id},
      el("td", {}, s.id), el("td", {}, s.name), el("td", {}, ROLES[s.role] || s.role),
      el("td", {}, el("span", {class: "badge " + (s.active ? "ok" : "bad")}, s.active ? "启用" : "停用")),
      el("td", {},
        el("button", {onclick: () => run(s.active ? "staff-disable" : "staff-enable", {id: s.id}).catch(() => {})},
           s.active ? "停用 · Disable" : "启用 · Enable"), " ",
        el("button", {onclick: () => {
          const pin = prompt(`${s.name} 的新密码（4–12 位数字） · New PIN`);
          if (pin) run("staff-reset-pin", {id: s.id, pin: pin}).catch(() => {});
        }}, "重置密码 · PIN")))));
    renderLockouts();
    tick();
  }

  // A staff id locked for one address (wrong PINs from there), or a whole address blocked
  // (too many failures a minute). Lifting one lets that address try again now.
  function renderLockouts() {
    const lockouts = extra.lockouts || [];
    $("#lockouts tbody").replaceChildren(...lockouts.map(x => el("tr", {
        "data-lockout": (x.staff_id || "*") + "@" + (x.address || "*")},
      el("td", {}, x.staff_id || "（全部 · all ids）"),
      el("td", {}, x.address || "（新地址 · new addresses）"),
      el("td", {}, hhmm(x.until)),
      el("td", {}, el("button", {onclick: () => {
        const body = {};
        if (x.address) body.address = x.address;
        if (x.staff_id) body.staff_id = x.staff_id;
        run("unlock", body).catch(() => {});
      }}, "解除 · Lift")))));
    $("#lockout-count").textContent = lockouts.length ? `${lockouts.length} 项` : "无 · none";
  }

  // Countdowns and waits move every second without rebuilding the tables.
  function tick() {
    const t = now();
    const tz = state ? state.hall.timezone : undefined;
    $("#clock").hidden = false;
    $("#clock").textContent = new Date(t).toLocaleTimeString("zh-CN", {hour12: false, timeZone: tz});
    document.querySelectorAll("[data-since]").forEach(node => {
      node.textContent = mmss(t - Number(node.dataset.since));
    });
    // a waiting ticket passes its service's target while the page looks on
    document.querySelectorAll("tr[data-over-at]").forEach(row => {
      row.classList.toggle("flag", t >= Number(row.dataset.overAt));
    });
    let changed = false;
    document.querySelectorAll("[data-limit]").forEach(node => {
      const left = Number(node.dataset.limit) - t;
      const marked = node.closest("tr").classList.contains("overdue");  // the server said so
      node.textContent = left > 0 && !marked ? `剩 ${mmss(left)}` : `超时 ${mmss(-left)}`;
      if (left <= 0 && !marked) changed = true;
    });
    if (changed) { render(); return; }
    alarm();
  }

  // -- the overdue alarm: a beep made here (WebAudio), no sound file ------------------------
  function unlockAudio() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    if (!audio) audio = new Ctx();
    if (audio.state === "suspended") audio.resume().catch(() => {});
  }

  function beep() {
    document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
    if (!audio) return;
    const start = audio.currentTime + 0.02;
    [0, 0.3, 0.6].forEach(offset => {
      const osc = audio.createOscillator(), gain = audio.createGain();
      osc.type = "square";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, start + offset);
      gain.gain.exponentialRampToValueAtTime(0.2, start + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.18);
      osc.connect(gain).connect(audio.destination);
      osc.start(start + offset);
      osc.stop(start + offset + 0.2);
    });
  }

  function alarm() {
    if (!state) return;
    const pending = state.windows.filter(w => isOverdue(w) && !acknowledged.has(awayKey(w)));
    document.body.classList.toggle("alarm", pending.length > 0);
    if (pending.length && Date.now() - lastBeep >= BEEP_EVERY_MS) {
      lastBeep = Date.now();
      beep();
    }
  }

  // -- actions -----------------------------------------------------------------------------
  function wireActions() {
    $("#notice-form").addEventListener("submit", ev => {
      ev.preventDefault();
      run("notice", {text: ev.target.text.value}).catch(() => {});
    });
    $("#pause").addEventListener("click", () => run("pause-issuing", {}).catch(() => {}));
    $("#resume").addEventListener("click", () => run("resume-issuing", {}).catch(() => {}));
    $("#staff-form").addEventListener("submit", ev => {
      ev.preventDefault();
      const f = ev.target;
      const v = k => f.elements[k].value.trim();
      run("staff-add", {id: v("id"), staff_name: v("name"), role: v("role"), pin: v("pin")}).then(() => f.reset()).catch(() => {});
    });
  }

  // -- appointments (预约) ----------------------------------------------------------------------
  const SOURCES = {external: "线上 · online", counter: "窗口 · counter", dashboard: "看板 · dashboard"};
  const APPT_STATUS = {booked: ["已预约 · booked", ""], checked_in: ["已签到 · checked in", "ok"],
                       cancelled: ["已取消 · cancelled", ""], no_show: ["未到 · no-show", "bad"]};

  function wireAppointments() {
    const form = $("#appt-form");
    const bookable = state.services.filter(s => s.bookable);
    form.service.replaceChildren(...bookable.map(s =>
      el("option", {value: s.id}, `${s.name.zh} · ${s.name.en}`)));
    form.date.value = $("#appt-date").value = state.hall.day;
    form.service.addEventListener("change", loadSlots);
    form.date.addEventListener("change", loadSlots);
    $("#appt-date").addEventListener("change", loadAppointments);
    form.addEventListener("submit", async ev => {
      ev.preventDefault();
      $("#appt-error").textContent = "";
      const body = {service: form.service.value, slot_start: form.slot.value};
      if (form.phone.value.trim()) body.phone = form.phone.value.trim();
      if (form.name.value.trim()) body.name = form.name.value.trim();
      if (form.callback.value) body.callback = Number(form.callback.value);
      try {
        const a = (await api("POST", "/api/v1/appointments", body)).appointment;
        $("#appt-result").textContent =
          `预约码 ${a.code} · ${a.date} ${hhmm(a.slot_start)}–${hhmm(a.slot_end)}`;
        form.phone.value = form.name.value = form.callback.value = "";
        $("#appt-from-callback").textContent = "";
        loadSlots();
        appointmentsSoon();
      } catch (e) { $("#appt-error").textContent = e.message || String(e); }
    });
    loadSlots();
    loadAppointments();
  }

  // A callback answered with a booking: its own number is booked (the list shows it masked).
  function bookCallback(c) {
    const form = $("#appt-form");
    form.callback.value = c.id;
    form.phone.value = "";
    form.name.value = "";
    $("#appt-from-callback").textContent = `回访 ${c.phone} ${c.name || ""} · 用登记的电话预约 · booking the callback's phone`;
    form.scrollIntoView({block: "center"});
    form.slot.focus();
  }

  async function loadSlots() {
    const form = $("#appt-form");
    if (!form.service.value) return;
    try {
      const day = await api("GET", `/api/v1/appointments/slots?service=${encodeURIComponent(form.service.value)}` +
                                   `&date=${encodeURIComponent(form.date.value)}`);
      const open = day.slots.filter(s => !s.past);
      form.slot.replaceChildren(...(open.length ? open.map(s => el("option",
        {value: s.start, disabled: s.free <= 0},
        `${hhmm(s.start)}–${hhmm(s.end)} · ${s.free > 0 ? "余 " + s.free : "已满 full"}`))
        : [el("option", {value: "", disabled: true}, "无可约时段 · no slots")]));
      const first = open.find(s => s.free > 0);
      if (first) form.slot.value = first.start;
    } catch (e) { $("#appt-error").textContent = e.message || String(e); }
  }

  function appointmentsSoon() {
    clearTimeout(appointmentsTimer);
    appointmentsTimer = setTimeout(() => { loadAppointments(); loadSlots(); }, 250);
  }

  async function loadAppointments() {
    try {
      const list = await api("GET", `/api/v1/appointments?date=${encodeURIComponent($("#appt-date").value)}`);
      $("#appointments tbody").replaceChildren(...list.appointments.map(a => {
        const service = state.services.find(s => s.id === a.service);
        const [label, kind] = APPT_STATUS[a.status] || [a.status, ""];
        return el("tr", {"data-appointment": a.code},
          el("td", {}, `${hhmm(a.slot_start)}–${hhmm(a.slot_end)}`),
          el("td", {}, service ? service.name.zh : a.service), el("td", {}, el("b", {}, a.code)),
          el("td", {}, a.phone || "—"), el("td", {}, a.name || "—"),
          el("td", {}, SOURCES[a.source] || a.source),
          el("td", {}, el("span", {class: "badge " + kind}, label)), el("td", {}, a.ticket || ""),
          el("td", {}, a.status === "booked" ? el("button", {onclick: () => cancelAppointment(a)},
                                                    "取消 · Cancel") : ""));
      }));
      $("#appt-count").textContent = `${list.appointments.filter(a => a.status !== "cancelled").length} 个`;
    } catch (e) { $("#appt-error").textContent = e.message || String(e); }
  }

  async function cancelAppointment(a) {
    if (!confirm(`取消预约 ${a.code}？ · Cancel booking ${a.code}?`)) return;
    try {
      await api("DELETE", `/api/v1/appointments/${a.code}?date=${a.date}`);
      appointmentsSoon();
    } catch (e) { $("#appt-error").textContent = e.message || String(e); }
  }

  function ticketDialog(t) {
    const dialog = $("#ticket-dialog");
    const form = dialog.querySelector("form");
    $("#ticket-title").textContent = `${t.number} · 等候 ${mmss(now() - Date.parse(t.issued_at))}`;
    form.service.replaceChildren(el("option", {value: ""}, "—"),
      ...state.services.filter(s => s.id !== t.service)
        .map(s => el("option", {value: s.id}, `${s.name.zh} · ${s.name.en}`)));
    form.window.replaceChildren(el("option", {value: ""}, "—"),
      ...state.windows.filter(w => w.status !== "closed")
        .map(w => el("option", {value: w.number}, w.name.zh)));
    form.reason.value = "";
    form.elements.kind.value = "transfer";
    form.querySelector(".error").textContent = "";
    const sync = () => dialog.querySelectorAll(".for-transfer").forEach(n =>
      n.classList.toggle("hidden", form.elements.kind.value !== "transfer"));
    form.elements.kind.onchange = sync;
    sync();
    form.onsubmit = async ev => {
      if (ev.submitter && ev.submitter.value === "cancel") return;
      ev.preventDefault();
      const body = {ticket: t.id, reason: form.reason.value};
      if (form.elements.kind.value === "transfer") {
        if (form.service.value) body.service = form.service.value;
        if (form.window.value) body.window = Number(form.window.value);
      }
      try {
        await live.command(form.elements.kind.value + "-ticket", body);
        dialog.close();
        refreshSoon();
      } catch (e) { form.querySelector(".error").textContent = e.message; }
    };
    dialog.showModal();
  }
})();
