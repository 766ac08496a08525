// HallQ live client for the pages: keeps a copy of the hall's state current over Socket.IO.
// The same rules as client/live.py: take the snapshot sent on every connect, apply events in
// seq order, wait briefly when one arrives early, and fetch the snapshot again on a real gap.
(function () {
  "use strict";
  const RECENT_CALLS = 10;
  const GAP_WAIT_MS = 1000;
  const EVENTS = ["ticket_issued", "called", "window", "queue", "ticket", "away_overdue", "hall",
                  "notice", "rating", "device", "callback", "staff", "seq"];

  function applyEvent(state, name, p) {
    const replace = (list, key, item) => {
      const i = list.findIndex(x => x[key] === item[key]);
      if (i >= 0) list[i] = item; else list.push(item);
    };
    if (name === "window") replace(state.windows, "number", p.window);
    else if (name === "queue") {
      const s = state.services.find(x => x.id === p.service);
      if (s) Object.assign(s, {waiting: p.waiting, estimated_wait_min: p.estimated_wait_min,
                               longest_wait_min: p.longest_wait_min});
    } else if (name === "called") {
      const call = Object.assign({}, p); delete call.seq;
      state.recent_calls = [call].concat(state.recent_calls).slice(0, RECENT_CALLS);
    } else if (name === "hall") state.hall = p.hall;
    else if (name === "notice") state.hall.notice = p.text;
    else if (name === "device") replace(state.devices || (state.devices = []), "id", p.device);
  }

  // live({token, onState(state), onEvent(name, payload, state), onConnection(bool)})
  function live(options) {
    const opts = options || {};
    const socket = io({auth: opts.token ? {token: opts.token} : undefined,
                       transports: ["websocket"], reconnectionDelayMax: 3000});
    const client = {socket: socket, state: null, lastSeq: 0, connected: false};
    let pending = [];
    let gapTimer = null;

    function deliver(name, p) { if (opts.onEvent) opts.onEvent(name, p, client.state); }

    // Each command's events carry its seq and how many `parts` it sent: a seq is done when all
    // have come, and a later one waits for it (events can cross on the way).
    let partsSeen = 0;
    function drain() {
      for (;;) {
        const following = pending.filter(e => e[1].seq === client.lastSeq + 1);
        pending = pending.filter(e => !following.includes(e));
        following.forEach(e => { applyEvent(client.state, e[0], e[1]); partsSeen += 1;
                                 deliver(e[0], e[1]); });
        if (!following.length || partsSeen < (following[0][1].parts || 1)) break;
        client.state.seq = client.lastSeq = client.lastSeq + 1;
        partsSeen = 0;
      }
      if (!pending.length && gapTimer) { clearTimeout(gapTimer); gapTimer = null; }
    }

    function takeState(state) {
      client.state = state;
      client.lastSeq = state.seq;
      partsSeen = 0;
      pending = pending.filter(e => e[1].seq > state.seq);
      if (opts.onState) opts.onState(state);
      drain();
    }

    function resync() {
      socket.timeout(5000).emit("state", null, (err, state) => {
        if (!err && state.seq >= client.lastSeq) takeState(state);
      });
    }

    socket.on("state", takeState);
    EVENTS.forEach(name => socket.on(name, p => {
      if (!client.state || p.seq <= client.lastSeq) return;
      pending.push([name, p]);
      drain();
      if (pending.length && !gapTimer) {
        gapTimer = setTimeout(() => { gapTimer = null; pending = []; resync(); }, GAP_WAIT_MS);
      }
    }));
    socket.on("connect", () => { client.connected = true;
                                 if (opts.onConnection) opts.onConnection(true); });
    socket.on("disconnect", () => { client.connected = false;
                                    if (opts.onConnection) opts.onConnection(false); });
    socket.on("connect_error", err => {
      client.connected = false;
      if (opts.onConnection) opts.onConnection(false, err && err.message);
    });

    // command(name, body) -> Promise of the answer; rejects with {code, message} on refusal.
    client.command = function (name, body) {
      return new Promise((resolve, reject) => {
        if (!socket.connected) {
          reject({code: "offline", message: "未连接服务器 · Not connected to the server"});
          return;
        }
        socket.timeout(8000).emit("command", Object.assign({name: name}, body || {}),
          (err, answer) => {
            if (err) reject({code: "timeout", message: "服务器无响应 · The server did not answer"});
            else if (answer.error) reject(answer.error);
            else resolve(answer);
          });
      });
    };
    return client;
  }

  function row(cells, className) {
    const tr = document.createElement("tr");
    if (className) tr.className = className;
    cells.forEach(c => { const td = document.createElement("td"); td.textContent = c;
                         tr.appendChild(td); });
    return tr;
  }

  function showConnection(el, ok) {
    el.textContent = ok ? "在线 · online" : "离线，正在重连… · offline, reconnecting";
    el.className = "conn " + (ok ? "online" : "offline");
  }

  // Server times carry the hall's offset; the page's clock may be off, so countdowns use the
  // server's `now` from the last snapshot plus the time elapsed locally since it arrived.
  function serverClock(state) {
    const offset = Date.parse(state.now) - Date.now();
    return () => Date.now() + offset;
  }

  window.HallQ = {live: live, applyEvent: applyEvent, row: row, showConnection: showConnection,
                  serverClock: serverClock};
})();
