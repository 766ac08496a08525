// The ticket's status page: shows one ticket and keeps it current over Socket.IO (anonymous,
// read-only). Its own `ticket` events change it at once; while it waits, queue movement refetches
// GET /api/v1/tickets/<id> (how many are ahead changes when others are called).
(function () {
  "use strict";
  const initial = JSON.parse(document.getElementById("initial").textContent);
  const id = initial.ticket.public_id;
  let ticket = initial.ticket;
  let lang = localStorage.getItem("hallq-lang") === "en" ? "en" : "zh";
  let lastCall = callKey(ticket);
  let audio = null;
  let refreshTimer = null;
  // The predicted call time as first shown; when a later estimate moves it a lot the page
  // says so (a figure that only counts down needs no word).
  let promisedAt = callAt(ticket);
  let moved = null;
  const $ = sel => document.querySelector(sel);

  const PRIORITY = {priority: ["绿色通道", "Priority"], vip: ["贵宾", "VIP"],
                    appointment: ["预约", "Appointment"]};

  function callAt(t) {
    return t.status === "waiting" && t.estimated_call_at ? Date.parse(t.estimated_call_at) : null;
  }

  // Moved a lot: by 5 minutes, or a quarter of the wait still to come if that is more.
  function noteMove(t) {
    const next = callAt(t);
    if (next === null || promisedAt === null) { promisedAt = next; moved = null; return; }
    if (Math.abs(next - promisedAt) >= Math.max(5 * 60e3, 0.25 * (next - Date.now()))) {
      // the hall's clock time, as the ISO text carries it (the phone's zone may differ)
      moved = {later: next > promisedAt, at: t.estimated_call_at.slice(11, 16)};
      promisedAt = next;
    }
  }

  function callKey(t) {
    return t.status === "called" ? `${t.window}-${t.recalls}` : null;
  }

  function windowWords(t) {
    const name = t.window_name;
    return name ? [name.zh, name.en] : [`${t.window} 号窗口`, `window ${t.window}`];
  }

  // Both languages always; the chosen one first and larger.
  function pair(el, zh, en) {
    const [first, second] = lang === "zh" ? [zh, en] : [en, zh];
    const a = document.createElement("span"); a.className = "primary"; a.textContent = first;
    const b = document.createElement("span"); b.className = "secondary"; b.textContent = second;
    el.replaceChildren(a, b);
  }

  // One figure while the estimate is sure of it, else the range the server scores
  // (ahead_low–ahead_high): "约 26–34 人", "about 26–34 people".
  function aheadWords(t) {
    const low = t.ahead_low ?? t.ahead, high = t.ahead_high ?? low;
    const small = text => {
      const el = document.createElement("small"); el.textContent = text; return el;
    };
    const unit = small(lang === "zh" ? "人" : "people");
    if (low === null || low === undefined) return ["— ", unit];
    if (high === low) return [`${low} `, unit];
    // "ahead of you" above already says who: in English "people" would not fit beside it
    return lang === "zh" ? [small("约 "), `${low}–${high} `, unit]
                         : [small("about "), `${low}–${high}`];
  }

  function render() {
    const t = ticket;
    const service = t.service_name || {zh: t.service, en: t.service};
    $("#service").textContent = lang === "zh" ? `${service.zh} · ${service.en}`
                                              : `${service.en} · ${service.zh}`;
    $("#number").textContent = t.number;
    const mark = PRIORITY[t.priority];
    $("#mark").innerHTML = "";
    if (mark) {
      const span = document.createElement("span");
      span.className = "mark"; span.textContent = `${mark[0]} · ${mark[1]}`;
      $("#mark").appendChild(span);
    }
    const status = $("#status");
    const [wzh, wen] = t.window ? windowWords(t) : ["", ""];
    let kind = t.status;
    $("#detail").textContent = "";
    if (t.status === "waiting") {
      if (t.target_window) {
        const [tzh, ten] = windowWords({window: t.target_window, window_name: t.target_name});
        pair($("#headline"), `已转至 ${tzh}，请等候叫号`, `Moved to ${ten}: wait to be called`);
      } else {
        pair($("#headline"), "请等候叫号", "Please wait to be called");
      }
      if (t.estimate_note) {  // no window serves the service now: from when one will
        const [zh, en] = t.estimate_note.split(" · ");
        pair($("#detail"), zh, en || zh);
      } else if (moved) {
        const at = moved.at;
        pair($("#detail"), `${moved.later ? "排队变慢" : "排队变快"}，预计 ${at} 左右叫号`,
             `The queue ${moved.later ? "slowed" : "sped up"}: called about ${at}`);
      }
    } else if (t.status === "called") {
      pair($("#headline"), `请到 ${wzh}`, `Please go to ${wen}`);
      if (t.recalls) pair($("#detail"), `第 ${t.recalls + 1} 次呼叫`, `called ${t.recalls + 1} times`);
    } else if (t.status === "serving") {
      pair($("#headline"), `正在 ${wzh} 办理`, `Being served at ${wen}`);
    } else if (t.status === "done") {
      pair($("#headline"), "办理完毕，谢谢光临", "Served. Thank you!");
    } else if (t.status === "no_show") {
      kind = "gone";
      pair($("#headline"), "已过号", "Your number was missed");
      pair($("#detail"), "请咨询工作人员", "Please ask the staff");
    } else {
      kind = "gone";
      pair($("#headline"), "号票已失效", "This ticket is no longer valid");
    }
    status.className = "card " + kind;
    const waiting = t.status === "waiting";
    $("#queue").hidden = !waiting;
    if (waiting) {
      pair($("#ahead-label"), "前面还有", "ahead of you");
      $("#ahead").replaceChildren(...aheadWords(t));
      $("#ahead").classList.toggle("range", (t.ahead_high ?? t.ahead) !== (t.ahead_low ?? t.ahead));
      pair($("#wait-label"), "预计等候", "estimated wait");
      $("#wait").innerHTML = `${t.estimated_wait_min ?? "—"} <small>${lang === "zh" ? "分钟" : "min"}</small>`;
    }
    $("#lang").textContent = lang === "zh" ? "English" : "中文";
    const alerts = $("#alerts");
    alerts.hidden = !["waiting", "called"].includes(t.status);
    alerts.className = audio ? "on" : "";
    pair(alerts, audio ? "叫号提醒已开启" : "开启叫号提醒音", audio ? "Call alert on" : "Turn on call alert");
    document.title = (t.status === "called" ? `▶ ${wzh} · ` : "") + `${t.number} · ${document.title.split(" · ").pop()}`;
  }

  // A vibration and a chime when the number is called (and on every recall); browsers allow
  // sound only after a tap on the page, hence the button.
  function alertCalled() {
    if (navigator.vibrate) navigator.vibrate([400, 150, 400, 150, 400]);
    if (!audio) return;
    const start = audio.currentTime;
    [660, 880, 660].forEach((hz, i) => {
      const osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = hz;
      gain.gain.setValueAtTime(0.25, start + i * 0.35);
      gain.gain.exponentialRampToValueAtTime(0.001, start + i * 0.35 + 0.3);
      osc.connect(gain).connect(audio.destination);
      osc.start(start + i * 0.35); osc.stop(start + i * 0.35 + 0.32);
    });
  }

  function update(next) {
    noteMove(next);
    ticket = next;
    const key = callKey(next);
    if (key && key !== lastCall) alertCalled();
    lastCall = key;
    render();
  }

  function refresh() {
    fetch(`/api/v1/tickets/${encodeURIComponent(id)}`, {cache: "no-store"})
      .then(r => (r.ok ? r.json() : null))
      .then(answer => { if (answer) update(answer.ticket); })
      .catch(() => {});
  }

  function refreshSoon() {
    if (!refreshTimer) refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, 250);
  }

  function windowName(state, number) {
    const w = state && number ? state.windows.find(x => x.number === number) : null;
    return w ? w.name : null;
  }

  HallQ.live({
    onState: refresh,  // every (re)connect: the page may have missed changes
    onEvent: (name, p, state) => {
      if (name === "ticket" && p.ticket.public_id === id) {
        update(Object.assign({}, p.ticket, {
          service_name: ticket.service_name,
          window_name: windowName(state, p.ticket.window),
          target_name: windowName(state, p.ticket.target_window),
        }));
        refreshSoon();
      } else if (ticket.status === "waiting" && ["queue", "called"].includes(name)) {
        refreshSoon();  // only a waiting ticket's "ahead" and estimate move with the queue
      }
    },
    onConnection: ok => {
      const el = $("#conn");
      el.textContent = ok ? "" : "连接中断，正在重连… · Reconnecting…";
      el.className = ok ? "" : "offline";
    },
  });

  $("#lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("hallq-lang", lang);
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    render();
  });
  $("#alerts").addEventListener("click", () => {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    audio = audio || new Ctx();
    audio.resume().then(() => { render(); alertCalled(); });
  });
  render();
})();
