// HallQ live client for the pages: keeps a copy of the hall's state current over Socket.IO.
// The same rules as client/live.py: take the snapshot sent on every connect, apply events in
// seq order, wait briefly when one arrives early, and fetch the snapshot again on a real gap.
(function () {
  "use strict";
  const RECENT_CALLS = 10;
  const GAP_WAIT_MS = 1000;

  function applyEvent(state, name, p) {
    const replace = (list, key, item) => {
      const i = list.findIndex(x => x[key] === item[key]);
      if (i >= 0) list[i] = item; else list.push(item);
    };
    if (name === "window") replace(state.windows, "number", p.window);
    else if (name === "queue") {
      const s = state.services.find(x => x.id === p.service);
      if (s) Object.assign(s, {waiting: p.waiting, estimated_wait_min: p.estimated_wait_min,
                               longest_wait_min: p.longest_wait_min,
                               serving_from: p.serving_from, estimate_note: p.estimate_note});
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
    // `changes`: each commit's events come as one message (docs/protocol.md).
    const socket = io({auth: {token: opts.token, changes: true},
                       transports: ["websocket"], reconnectionDelayMax: 3000});
    const client = {socket: socket, state: null, lastSeq: 0, connected: false};
    let pending = new Map();  // seq -> the events of a command that came early
    let gapTimer = null;

    function deliver(name, p) { if (opts.onEvent) opts.onEvent(name, p, client.state); }

    // Commands are applied in seq order; a later one that comes first (commands can cross on
    // the way) waits for the one before.
    function drain() {
      for (let events; (events = pending.get(client.lastSeq + 1));) {
        pending.delete(client.lastSeq + 1);
        client.state.seq = client.lastSeq = client.lastSeq + 1;
        events.forEach(e => { applyEvent(client.state, e[0], e[1]); deliver(e[0], e[1]); });
      }
      if (!pending.size && gapTimer) { clearTimeout(gapTimer); gapTimer = null; }
    }

    function takeState(state) {
      client.state = state;
      client.lastSeq = state.seq;
      pending = new Map([...pending].filter(([seq]) => seq > state.seq));
      if (opts.onState) opts.onState(state);
      drain();
    }

    function resync() {
      socket.timeout(5000).emit("state", null, (err, state) => {
        if (!err && state.seq >= client.lastSeq) takeState(state);
      });
    }

    socket.on("state", takeState);
    socket.on("changes", message => {
      // One or more commands' events, each carrying its command's seq. Events that come
      // before the first snapshot wait for it.
      const commands = new Map();
      (message.events || []).forEach(e => {
        const seq = e[1].seq;
        if (!Number.isInteger(seq)) return;
        if (!commands.has(seq)) commands.set(seq, []);
        commands.get(seq).push(e);
      });
      commands.forEach((events, seq) => { if (seq > client.lastSeq) pending.set(seq, events); });
      if (!client.state) return;
      drain();
      if (pending.size && !gapTimer) {
        gapTimer = setTimeout(() => { gapTimer = null; pending.clear(); resync(); }, GAP_WAIT_MS);
      }
    });
    socket.on("connect", () => { client.connected = true;
                                 if (opts.onConnection) opts.onConnection(true); });
    socket.on("disconnect", reason => {
      client.connected = false;
      if (opts.onConnection) opts.onConnection(false);
      // socket.io does not come back by itself after the server hung up on us (an ended
      // session): ask again, and the server says "unauthorized" if that is why.
      if (reason === "io server disconnect") setTimeout(() => socket.connect(), 1000);
    });
    // A refusal ("unauthorized": a dead token) ends the socket.io client's reconnecting; the
    // page drops the token and shows its login.
    socket.on("connect_error", err => {
      client.connected = false;
      if (opts.onConnection) opts.onConnection(false, err && err.message);
    });
    function refused() {
      socket.disconnect();
      client.connected = false;
      if (opts.onConnection) opts.onConnection(false, "unauthorized");
    }

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
            else if (answer.error && answer.error.code === "unauthorized" && opts.token) {
              reject(answer.error); refused();
            } else if (answer.error) reject(answer.error);
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
    el.hidden = false;  // the pages that need a login show no pill before it
  }

  // An away reason for the bilingual pages: "午休 · Lunch"; a clerk's own words once.
  function awayReason(away) {
    return away.reason_en && away.reason_en !== away.reason
      ? `${away.reason} · ${away.reason_en}` : away.reason;
  }

  // Server times carry the hall's offset; the page's clock may be off, so countdowns use the
  // server's `now` from the last snapshot plus the time elapsed locally since it arrived.
  function serverClock(state) {
    const offset = Date.parse(state.now) - Date.now();
    return () => Date.now() + offset;
  }

  window.HallQ = {live: live, applyEvent: applyEvent, row: row, showConnection: showConnection,
                  serverClock: serverClock, awayReason: awayReason};
})();
