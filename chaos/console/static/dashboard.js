// A provisioned Grafana dashboard (or a run's key series) drawn with uPlot from
// SOURCE/data, SOURCE being the grid's data-source (/api/dashboards/NAME, /api/runs/ID/board):
// live (every 5 s) or a fixed range, drag-to-zoom, fault windows shaded red, run phases marked.
(function () {
  "use strict";
  const REFRESH_MS = 5000; // the dashboards' own "refresh": at most every 5 s
  const ROW_PX = 30; // Grafana's grid unit
  const GAP_PX = 8;
  const COLORS = ["#73bf69", "#f2cc0c", "#5794f2", "#ff9830", "#f2495c", "#b877d9",
                  "#8ab8ff", "#ca95e5", "#fade2a", "#96d98d"];
  const THRESHOLD_COLORS = { green: "#73bf69", red: "#f2495c", orange: "#ff9830",
                             yellow: "#fade2a", blue: "#5794f2" };
  const formatValue = window.faultyardUnits.formatValue;
  const grid = document.getElementById("grid");
  const source = grid.dataset.source;
  const params = new URLSearchParams(location.search);
  // The page's own range (a finished run's span) unless the address names one.
  const named = params.has("from") || params.has("range");
  const firstFrom = named ? params.get("from") : grid.dataset.from;
  const firstTo = named ? params.get("to") : grid.dataset.to;
  const state = {
    rangeS: Number(params.get("range")) || Number(grid.dataset.range) || 900,
    from: firstFrom ? Number(firstFrom) : null,
    to: firstFrom && firstTo ? Number(firstTo) : null,
    panels: {}, // id -> {def, el, plot}
    annotations: [],
    marks: [], // run phases: {at, label}
    lastData: null,
    fetches: 0,
    errors: [],
    asked: 0, // the newest request: an older answer arriving late is dropped
  };
  const live = () => state.from === null;
  const rangeListeners = []; // called when the user picks another range (not on live ticks)
  let rangeKey = null;

  function currentRange() {
    if (!live()) return [state.from, state.to];
    const now = Date.now() / 1000;
    return [now - state.rangeS, now];
  }

  function setUrl() {
    const p = new URLSearchParams();
    if (live()) p.set("range", state.rangeS);
    else { p.set("from", state.from.toFixed(3)); p.set("to", state.to.toFixed(3)); }
    history.replaceState(null, "", `${location.pathname}?${p}`);
  }

  function notifyRangeChange() {
    const key = live() ? `live ${state.rangeS}` : `${state.from} ${state.to}`;
    if (key === rangeKey) return;
    rangeKey = key;
    for (const listener of rangeListeners) listener(currentRange(), live());
  }

  function showRange() {
    const [from, to] = currentRange();
    const fmt = (t) => new Date(t * 1000).toLocaleTimeString();
    document.getElementById("range-text").textContent =
      live() ? `live, last ${state.rangeS / 60} min` : `${fmt(from)} – ${fmt(to)}`;
    document.getElementById("live").disabled = live();
  }

  function shadeFaults(u) {
    const ctx = u.ctx;
    ctx.save();
    ctx.fillStyle = "rgba(242, 73, 92, 0.15)";
    for (const a of state.annotations) {
      const left = u.valToPos(a.from, "x", true);
      const right = u.valToPos(a.to, "x", true);
      const x0 = Math.max(left, u.bbox.left);
      const x1 = Math.min(right, u.bbox.left + u.bbox.width);
      if (x1 > x0) ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
    }
    ctx.restore();
  }

  function markPhases(u) {
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = "rgba(87, 148, 242, 0.8)";
    ctx.fillStyle = "rgba(87, 148, 242, 0.9)";
    ctx.setLineDash([4, 4]);
    ctx.font = `${10 * devicePixelRatio}px sans-serif`;
    for (const m of state.marks) {
      const x = u.valToPos(m.at, "x", true);
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
      ctx.fillText(m.phase || m.label, x + 3, u.bbox.top + 12 * devicePixelRatio);
    }
    ctx.restore();
  }

  function zoomTo(from, to) {
    if (!(to - from >= 1)) return;
    state.from = from;
    state.to = to;
    refresh();
  }

  function makePanel(def) {
    const el = document.createElement("section");
    el.style.gridColumn = `${def.grid.x + 1} / span ${def.grid.w}`;
    el.style.gridRow = `${def.grid.y + 1} / span ${def.grid.h}`;
    if (def.type === "row") {
      el.className = "row-title";
      el.textContent = def.title;
      grid.appendChild(el);
      return;
    }
    el.className = `panel ${def.type}`;
    el.dataset.panelId = def.id;
    el.innerHTML = "<h2><span class='title'></span>" +
      "<a class='panel-logs' href='#evidence' title='The log lines and traces of the range shown'>logs</a>" +
      "</h2><div class='error'></div><div class='body'></div>";
    el.querySelector("h2 .title").textContent = def.title;
    el.querySelector("h2").title = def.description || "";
    grid.appendChild(el);
    state.panels[def.id] = { def, el, plot: null };
  }

  function plotOptions(entry, labels, width, height) {
    const unit = entry.def.unit;
    return {
      width, height,
      cursor: { drag: { x: true, y: false } },
      scales: {
        // Every panel spans the range asked for, not just where its own data is: panels
        // line up, and a series that starts late shows as starting late.
        x: { time: true, range: (u, min, max) => (state.lastData ? [state.lastData.from, state.lastData.to] : [min, max]) },
        y: { range: (u, min, max) => [entry.def.min ?? Math.min(min, 0), max > min ? max : min + 1] },
      },
      axes: [
        { stroke: "#8e8e8e", grid: { stroke: "#2c3235" } },
        { stroke: "#8e8e8e", grid: { stroke: "#2c3235" }, size: 70,
          values: (u, ticks) => ticks.map((v) => formatValue(v, unit)) },
      ],
      series: [{}, ...labels.map((label, i) => ({
        label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false,
        value: (u, v) => formatValue(v, unit),
      }))],
      hooks: {
        drawClear: [shadeFaults],
        draw: [markPhases],
        setSelect: [(u) => {
          if (u.select.width < 5) return;
          const from = u.posToVal(u.select.left, "x");
          const to = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, width: 0 }, false);
          zoomTo(from, to);
        }],
      },
    };
  }

  function drawTimeseries(entry, data) {
    const body = entry.el.querySelector(".body");
    const tables = data.series.map((s) => [s.times, s.values]);
    const labels = data.series.map((s) => s.label);
    let nodata = body.querySelector(".nodata");
    if (!tables.length) {
      if (entry.plot) { entry.plot.destroy(); entry.plot = null; }
      if (!nodata) { nodata = document.createElement("div"); nodata.className = "nodata"; body.appendChild(nodata); }
      nodata.textContent = "No data";
      return;
    }
    if (nodata) nodata.remove();
    const aligned = uPlot.join(tables);
    const sameSeries = entry.plot && entry.labels && entry.labels.join("\n") === labels.join("\n");
    if (sameSeries) {
      entry.plot.setData(aligned);
      return;
    }
    if (entry.plot) entry.plot.destroy();
    const width = Math.max(body.clientWidth, 100);
    const height = Math.max(entry.el.clientHeight - 70, 60);
    entry.plot = new uPlot(plotOptions(entry, labels, width, height), aligned, body);
    entry.labels = labels;
  }

  function drawStat(entry, data) {
    const body = entry.el.querySelector(".body");
    let last = null;
    for (const s of data.series) {
      for (let i = s.values.length - 1; i >= 0; i--) {
        if (s.values[i] !== null) { last = s.values[i]; break; }
      }
      if (last !== null) break;
    }
    let color = THRESHOLD_COLORS.green;
    for (const step of entry.def.thresholds) {
      if (step.value === null || (last !== null && last >= step.value)) color = THRESHOLD_COLORS[step.color] || step.color;
    }
    body.innerHTML = "<div class='value'></div>";
    const value = body.querySelector(".value");
    value.textContent = last === null ? "No data" : formatValue(last, entry.def.unit);
    value.style.color = last === null ? "#8e8e8e" : color;
  }

  async function refresh() {
    setUrl();
    showRange();
    notifyRangeChange();
    const [from, to] = currentRange();
    const status = document.getElementById("status");
    const asked = ++state.asked;
    let data;
    try {
      const answer = await fetch(`${source}/data?from=${from}&to=${to}`);
      data = await answer.json();
      if (!answer.ok) throw new Error(data.error || answer.statusText);
    } catch (exc) {
      status.textContent = `could not load the data: ${exc.message}`;
      state.errors.push(String(exc.message));
      return;
    }
    if (asked !== state.asked) return; // a newer range was asked for meanwhile
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
    state.annotations = data.annotations;
    state.marks = data.marks || [];
    state.lastData = data;
    for (const [id, entry] of Object.entries(state.panels)) {
      const panel = data.panels[id] || { series: [], error: "no data" };
      entry.el.querySelector(".error").textContent = panel.error || "";
      if (entry.def.type === "stat") drawStat(entry, panel);
      else drawTimeseries(entry, panel);
    }
    state.fetches += 1;
  }

  async function start() {
    const answer = await fetch(source);
    const board = await answer.json();
    for (const def of board.panels) makePanel(def);
    const select = document.getElementById("range");
    select.value = String(state.rangeS);
    select.addEventListener("change", () => { state.rangeS = Number(select.value); state.from = state.to = null; refresh(); });
    document.getElementById("live").addEventListener("click", () => { state.from = state.to = null; refresh(); });
    document.getElementById("zoom-out").addEventListener("click", () => {
      const [from, to] = currentRange();
      const half = to - from;
      zoomTo(from - half / 2, Math.min(to + half / 2, Date.now() / 1000));
    });
    window.addEventListener("resize", () => {
      for (const entry of Object.values(state.panels)) {
        if (!entry.plot) continue;
        const body = entry.el.querySelector(".body");
        entry.plot.setSize({ width: Math.max(body.clientWidth, 100), height: Math.max(entry.el.clientHeight - 70, 60) });
      }
    });
    await refresh();
    setInterval(() => { if (live() && !document.hidden) refresh(); }, REFRESH_MS);
  }

  // evidence.js reads the range through these: the range logic lives here only.
  window.faultyardConsole = {
    state, zoomTo, refresh, formatValue, currentRange, isLive: live,
    onRangeChange: (listener) => { rangeListeners.push(listener); },
  };
  start();
})();
