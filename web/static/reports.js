// The reports page: a date range, the figures as tables, three charts drawn here as SVG
// (no chart library, no internet), and the CSV download.
(function () {
  "use strict";
  const {api, gate, el} = Supervisor;
  const $ = sel => document.querySelector(sel);
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = {a: "#0b5cad", b: "#7fb2e5", c: "#1f7a3a", bad: "#b3261e"};
  const COLUMNS = [
    ["issued", "取号"], ["served", "办结"], ["no_show", "过号"], ["transferred", "转移"],
    ["cancelled", "取消"], ["expired", "过期"], ["wait_mean_min", "平均等候"],
    ["wait_p90_min", "等候P90"], ["wait_max_min", "最长等候"], ["within_target", "达标率", "pct"],
    ["handling_mean_min", "平均办理"], ["handling_p90_min", "办理P90"], ["away_count", "暂离次数"],
    ["away_min", "暂离分钟"], ["away_overdue", "暂离超时"], ["rated", "评价"],
    ["rating_5", "非常满意"], ["rating_4", "满意"], ["rating_3", "基本满意"], ["rating_2", "不满意"],
    ["rating_1", "非常不满意"], ["satisfaction", "满意率", "pct"],
  ];
  const APPOINTMENT_COLUMNS = [
    ["booked", "预约 · booked"], ["checked_in", "签到 · checked in"], ["on_time", "准时 · on time"],
    ["no_show", "未到 · no-show"], ["appointment_wait_mean_min", "预约等候(分) · appointment wait"],
    ["walk_in_wait_mean_min", "现场等候(分) · walk-in wait"],
  ];
  let report = null;

  let today = null;  // the hall's day (its time zone), from the first answer

  gate(() => {
    const form = $("#range");
    form.addEventListener("submit", ev => { ev.preventDefault(); load(); });
    form.querySelectorAll("[data-days]").forEach(b => b.addEventListener("click", () => {
      form.elements.from.value = dayBefore(today, Number(b.dataset.days) - 1);
      form.elements.to.value = today;
      load();
    }));
    $("#csv").addEventListener("click", downloadCsv);
    load();
  });

  function dayBefore(day, days) {
    const d = new Date(Date.parse(day + "T00:00:00Z") - days * 86400000);
    return d.toISOString().slice(0, 10);
  }

  function query() {
    const f = $("#range").elements;
    if (!f.from.value) return "";  // the server's today
    return `from=${encodeURIComponent(f.from.value)}&to=${encodeURIComponent(f.to.value || f.from.value)}`;
  }

  async function load() {
    $("#error").textContent = "";
    $("#status").textContent = "计算中… · working";
    const t0 = performance.now();
    try {
      report = await api("GET", "/api/v1/stats?" + query());
      if (!today) today = report.to;
      $("#range").elements.from.value = report.from;
      $("#range").elements.to.value = report.to;
      render();
      $("#status").textContent = `${report.from} – ${report.to} · ${Math.round(performance.now() - t0)} ms`;
    } catch (e) {
      $("#status").textContent = "";
      $("#error").textContent = e.message || String(e);
    }
  }

  async function downloadCsv() {
    try {
      const blob = await api("GET", "/api/v1/stats.csv?" + query());
      const a = el("a", {href: URL.createObjectURL(blob),
                         download: `hallq-report-${$("#range").elements.from.value}-${$("#range").elements.to.value}.csv`});
      document.body.append(a);
      a.click();
      a.remove();
    } catch (e) { $("#error").textContent = e.message || String(e); }
  }

  function fmt(value, kind) {
    if (value === null || value === undefined) return "—";
    if (kind === "pct") return (value * 100).toFixed(1) + "%";
    return typeof value === "number" && !Number.isInteger(value) ? value.toFixed(2) : String(value);
  }

  function render() {
    const t = report.total;
    const cards = [
      [t.issued, "取号 · issued"], [t.served, "办结 · served"], [t.no_show, "过号 · no-show"],
      [fmt(t.wait_mean_min), "平均等候(分) · mean wait"], [fmt(t.wait_p90_min), "等候P90(分) · p90 wait"],
      [fmt(t.within_target, "pct"), "等候达标率 · within target"],
      [fmt(t.handling_mean_min), "平均办理(分) · mean handling"],
      [t.away_overdue, "暂离超时 · away overdue"], [fmt(t.satisfaction, "pct"), "满意率 · satisfaction"],
    ];
    $("#cards").replaceChildren(...cards.map(([v, label]) =>
      el("div", {class: "card"}, el("b", {}, v), el("span", {}, label))));
    table("#t-services", "业务 · Service", report.services.map(r => [`${r.name.zh} · ${r.name.en}`, r]));
    appointmentsTable();
    table("#t-windows", "窗口 · Window", report.windows.map(r => [r.name.zh, r]));
    table("#t-clerks", "工作人员 · Clerk", report.clerks.map(r => [`${r.name}（${r.staff_id}）`, r]));
    table("#t-hours", "时段 · Hour", report.hours.map(r => [`${String(r.hour).padStart(2, "0")}:00`, r]));
    $("#logins tbody").replaceChildren(...report.first_logins.map(x =>
      el("tr", {}, el("td", {}, x.day), el("td", {}, `${x.name}（${x.staff_id}）`),
         el("td", {}, x.window ?? "—"), el("td", {}, x.at))));
    const hours = report.hours;
    bars("#chart-wait", hours.map(h => String(h.hour).padStart(2, "0")),
         [["平均 · mean", COLORS.a, hours.map(h => h.wait_mean_min)],
          ["P90", COLORS.b, hours.map(h => h.wait_p90_min)]], "分");
    bars("#chart-tickets", hours.map(h => String(h.hour).padStart(2, "0")),
         [["取号 · issued", COLORS.a, hours.map(h => h.issued)],
          ["办结 · served", COLORS.c, hours.map(h => h.served)]], "", true);
    satisfaction("#chart-satisfaction", report.clerks.filter(c => c.rated));
  }

  function table(sel, first, rows) {
    const head = el("tr", {}, el("th", {}, first), ...COLUMNS.map(c => el("th", {}, c[1])));
    $(sel).replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows.map(([label, r]) =>
      el("tr", {}, el("td", {}, label), ...COLUMNS.map(c => el("td", {}, fmt(r[c[0]], c[2])))))));
  }

  // Bookings per service and per day, beside the total; a hall without any shows the total only.
  function appointmentsTable() {
    const booked = r => r.appointments && (r.appointments.booked || r.appointments.no_show);
    const rows = [["合计 · total", report.total],
                  ...report.services.filter(booked).map(r => [`${r.name.zh} · ${r.name.en}`, r]),
                  ...report.days.filter(booked).map(r => [r.day, r])];
    const head = el("tr", {}, el("th", {}, ""), ...APPOINTMENT_COLUMNS.map(c => el("th", {}, c[1])));
    $("#t-appointments").replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows.map(
      ([label, r]) => el("tr", {}, el("td", {}, label), ...APPOINTMENT_COLUMNS.map(c =>
        el("td", {}, fmt((r.appointments || {})[c[0]])))))));
  }

  // -- SVG charts ----------------------------------------------------------------------------
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The axis top: four equal steps of a round size (whole steps for counts).
  function niceMax(v, whole) {
    const raw = Math.max(v, whole ? 1 : 0.1) / 4;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const steps = (whole ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10]).map(m => m * p)
      .filter(s => !whole || s >= 1);
    return 4 * steps.find(s => s >= raw);
  }

  // Grouped vertical bars: labels on x, one bar per series in each group.
  function bars(sel, labels, series, unit, whole) {
    const W = 640, H = 260, L = 44, B = 28, T = 10, R = 10;
    const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
                             "aria-labelledby": sel.slice(1) + "-title"});
    const max = niceMax(Math.max(0, ...series.flatMap(s => s[2].map(v => v || 0))), whole);
    const y = v => T + (H - T - B) * (1 - v / max);
    for (let i = 0; i <= 4; i++) {
      const v = max * i / 4;
      root.append(svg("line", {x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid"}));
      root.append(svg("text", {x: L - 6, y: y(v) + 4, "text-anchor": "end"}, fmtTick(v) + unit));
    }
    const group = (W - L - R) / Math.max(1, labels.length);
    const barW = Math.min(28, group * 0.8 / series.length);
    labels.forEach((label, i) => {
      const x0 = L + i * group + (group - barW * series.length) / 2;
      series.forEach(([name, color, values], j) => {
        const v = values[i] || 0;
        const bar = svg("rect", {x: x0 + j * barW, y: y(v), width: barW - 1,
                                 height: Math.max(0, y(0) - y(v)), fill: color});
        bar.append(svg("title", {}, `${label}:00 ${name} ${fmt(values[i])}`));
        root.append(bar);
      });
      root.append(svg("text", {x: L + i * group + group / 2, y: H - B + 16, "text-anchor": "middle"}, label));
    });
    root.append(svg("line", {x1: L, x2: W - R, y1: y(0), y2: y(0), class: "axis"}));
    const legend = el("div", {class: "legend"}, ...series.map(([name, color]) =>
      [el("i", {style: `background:${color}`}), name]));
    if (!labels.length) legend.append(" — 无数据 · no data");
    $(sel).replaceChildren(root, legend);
  }

  function fmtTick(v) { return Number.isInteger(v) ? String(v) : v.toFixed(1); }

  // Horizontal bars, one per clerk, 0–100 %.
  function satisfaction(sel, clerks) {
    const rowH = 30, L = 120, R = 60, W = 640, T = 6;
    const H = Math.max(60, T * 2 + rowH * clerks.length + 20);
    const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
                             "aria-labelledby": sel.slice(1) + "-title"});
    const x = v => L + (W - L - R) * v;
    [0, 0.25, 0.5, 0.75, 1].forEach(v => {
      root.append(svg("line", {x1: x(v), x2: x(v), y1: T, y2: H - 20, class: "grid"}));
      root.append(svg("text", {x: x(v), y: H - 6, "text-anchor": "middle"}, `${v * 100}%`));
    });
    clerks.forEach((c, i) => {
      const top = T + i * rowH;
      const v = c.satisfaction || 0;
      root.append(svg("text", {x: L - 8, y: top + rowH / 2 + 4, "text-anchor": "end"}, c.name));
      const bar = svg("rect", {x: L, y: top + 5, width: Math.max(1, x(v) - L), height: rowH - 10,
                               fill: v >= 0.9 ? COLORS.c : v >= 0.7 ? COLORS.a : COLORS.bad});
      bar.append(svg("title", {}, `${c.name} ${fmt(c.satisfaction, "pct")} (${c.rated})`));
      root.append(bar);
      root.append(svg("text", {x: x(v) + 6, y: top + rowH / 2 + 4},
                      `${fmt(c.satisfaction, "pct")} · ${c.rated}`));
    });
    const out = [root];
    if (!clerks.length) out.push(el("div", {class: "legend"}, "无评价 · no ratings"));
    $(sel).replaceChildren(...out);
  }
})();
