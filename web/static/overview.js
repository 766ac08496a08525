// The hall overview at /: windows, waiting counts and recent calls, live.
(function () {
  "use strict";
  const STATUS = {closed: "关闭 · closed", idle: "空闲 · idle", calling: "呼叫中 · calling",
                  serving: "办理中 · serving", away: "暂时离开 · away"};
  function render(state) {
    const services = Object.fromEntries(state.services.map(s => [s.id, s]));
    document.querySelector("#windows tbody").replaceChildren(...state.windows.map(w => HallQ.row([
      w.name.zh,
      w.status === "away" ? `${STATUS.away}（${HallQ.awayReason(w.away)}${w.away.overdue ? "，已超时" : ""}）` : STATUS[w.status],
      w.ticket ? w.ticket.number : "—",
      w.staff ? w.staff.name : "—",
    ], "status-" + w.status + (w.away && w.away.overdue ? " overdue" : ""))));
    document.querySelector("#services tbody").replaceChildren(...state.services.map(s => HallQ.row([
      `${s.prefix} ${s.name.zh} · ${s.name.en}`, s.waiting,
      s.estimate_note ? s.estimate_note.split(" · ")[0] : `${s.estimated_wait_min} 分钟`])));
    // Newest first: a recalled number is listed once, at its latest call, with its count.
    const listed = new Set();
    const calls = state.recent_calls.filter(c => {
      const key = c.number + "@" + c.window;
      return listed.has(key) ? false : listed.add(key);
    });
    document.querySelector("#calls").replaceChildren(...calls.map(c => {
      const li = document.createElement("li");
      li.textContent = `${c.number} → ${c.window_name.zh}` + (c.recalls ? `（重呼 ${c.recalls}）` : "");
      return li;
    }));
    const h = state.hall;
    document.querySelector("#hours").textContent =
      `营业时间 ${h.hours.open}–${h.hours.close}，${h.issuing ? "正在取号 · issuing" : "停止取号 · not issuing"}`;
  }
  HallQ.live({onState: render, onEvent: (_, __, state) => render(state),
              onConnection: ok => HallQ.showConnection(document.querySelector("#conn"), ok)});
})();
