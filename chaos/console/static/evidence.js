// The log lines and the slowest traces of the range the dashboard shows, from /api/logs
// and /api/traces: read when the section is opened, again when the range changes while
// it is open (not on the 5 s live refresh). The range is dashboard.js's (faultyardConsole).
// Every text of a log or a span goes in through textContent: never as HTML.
(function () {
  "use strict";
  const board = window.faultyardConsole;
  const section = document.getElementById("evidence");
  if (!board || !section) return;
  const $ = (id) => document.getElementById(id);
  const TYPING_MS = 400; // the text box asks again once typing pauses
  const asked = { logs: 0, traces: 0, picked: 0 }; // an older answer arriving late is dropped
  let servicesListed = false;
  let typing = null;

  // A new element with attributes and children (strings become text nodes).
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined) continue;
      if (key === "className") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const pad = (n, width = 2) => String(n).padStart(width, "0");
  function clock(t) {
    const d = new Date(Math.round(t * 1000));
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }
  const ms = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

  async function getJson(url) {
    const answer = await fetch(url);
    const data = await answer.json();
    if (!answer.ok) throw new Error(data.error || answer.statusText);
    return data;
  }

  function rangeQuery() {
    const [from, to] = board.currentRange();
    $("evidence-range").textContent = `${new Date(from * 1000).toLocaleString()} – ${new Date(to * 1000).toLocaleTimeString()}`;
    return new URLSearchParams({ from: from.toFixed(3), to: to.toFixed(3) });
  }

  // ---- log lines
  const QUIET_FIELDS = new Set(["service", "span_id", "logger", "exc_info", "stack_info"]);

  function fieldsText(fields) {
    return Object.entries(fields)
      .filter(([key]) => !QUIET_FIELDS.has(key))
      .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
      .join("  ");
  }

  function logRow(line) {
    const message = el("td", { className: "message" }, el("span", {}, line.message));
    const extra = fieldsText(line.fields);
    if (extra) message.append(el("div", { className: "fields muted" }, extra));
    for (const key of ["exc_info", "stack_info"]) {
      if (line.fields[key]) message.append(el("pre", { className: "exc" }, String(line.fields[key])));
    }
    // A trace the sampler left out (trace_sampled: false) has no spans to show: no link.
    const recorded = line.fields.trace_sampled !== false;
    const trace = !line.trace_id ? ""
      : recorded
        ? el("a", { href: `#trace-${line.trace_id}`, className: "trace-link", title: `trace ${line.trace_id}`,
                    onclick: (e) => { e.preventDefault(); showTrace(line.trace_id); } },
             line.trace_id.slice(0, 12) + "…")
        : el("span", { className: "muted unsampled",
                       title: `trace ${line.trace_id}: not sampled, so no spans were kept` },
             line.trace_id.slice(0, 12) + "…");
    return el("tr", { className: `level-${line.level}` },
      el("td", { className: "time", title: new Date(line.time * 1000).toISOString() }, clock(line.time)),
      el("td", { className: "service" }, line.service),
      el("td", { className: "level" }, line.level),
      message,
      el("td", {}, trace));
  }

  function listServices(names) {
    if (servicesListed) return;
    const select = $("evidence-service");
    for (const name of names) select.append(el("option", { value: name }, name));
    servicesListed = true;
  }

  async function loadLogs() {
    const query = rangeQuery();
    const service = $("evidence-service").value;
    const text = $("evidence-text").value.trim();
    if (service) query.set("service", service);
    query.set("level", $("evidence-level").value);
    if (text) query.set("q", text);
    const mine = ++asked.logs;
    const note = $("logs-note");
    note.textContent = "reading…";
    let data;
    try {
      data = await getJson(`/api/logs?${query}`);
    } catch (exc) {
      if (mine === asked.logs) note.textContent = `could not read the logs: ${exc.message}`;
      return;
    }
    if (mine !== asked.logs) return;
    listServices(data.services);
    const body = $("logs").querySelector("tbody");
    body.replaceChildren(...data.lines.map(logRow));
    const parts = [`${data.lines.length} line${data.lines.length === 1 ? "" : "s"}`];
    if (data.truncated) parts.push("the newest only: narrow the range or filter");
    if (data.clipped.length) parts.push(`only the end of ${data.clipped.join(", ")} read`);
    note.textContent = `(${parts.join("; ")})`;
    const box = body.closest(".scroll");
    box.scrollTop = box.scrollHeight; // newest last: start at the newest
  }

  // ---- traces
  function spanRows(trace, span, depth, parentService, into) {
    const scale = trace.duration_ms || 1;
    const left = (100 * span.offset_ms) / scale;
    const width = Math.max((100 * span.duration_ms) / scale, 0.5);
    const service = span.service !== parentService ? el("span", { className: "muted" }, ` (${span.service})`) : null;
    const error = span.error ? el("span", { className: "span-error" }, ` ${span.error}`) : null;
    into.append(el("div", { className: "span-row", title: span.name },
      el("span", { className: "offset muted" }, `+${ms(span.offset_ms)}`),
      el("span", { className: "took" }, `${ms(span.duration_ms)} ms`),
      el("span", { className: "bar" }, el("span", { style: `left:${left}%;width:${Math.min(width, 100 - left)}%`,
                                                     className: span.error ? "failed" : "" })),
      el("span", { className: "label", style: `padding-left:${depth * 1.1}em` },
         depth ? "└ " : "", span.label, service, error)));
    for (const child of span.children) spanRows(trace, child, depth + 1, span.service, into);
  }

  function spanTree(trace) {
    const tree = el("div", { className: "span-tree" });
    for (const root of trace.spans) spanRows(trace, root, 0, null, tree);
    return tree;
  }

  function traceSummary(trace) {
    return [
      trace.error ? el("span", { className: "span-error", title: "a span failed" }, "✖ ") : "",
      el("span", { className: "took" }, `${ms(trace.root_duration_ms)} ms`), " ",
      el("span", { className: "root" }, trace.root), " ",
      el("span", { className: "muted" },
         `${clock(trace.start_time)} · ${trace.services.join(", ")} · whole trace ${ms(trace.duration_ms)} ms`),
    ];
  }

  function logsOfTrace(traceId) {
    $("evidence-text").value = traceId;
    loadLogs();
  }

  function traceItem(trace, open) {
    const details = el("details", { className: "trace", "data-trace-id": trace.trace_id },
      el("summary", {}, ...traceSummary(trace)));
    details.addEventListener("toggle", () => {
      if (!details.open || details.querySelector(".span-tree")) return;
      details.append(el("div", { className: "trace-id muted" }, `trace ${trace.trace_id} `,
        el("a", { href: "#evidence", onclick: (e) => { e.preventDefault(); logsOfTrace(trace.trace_id); } },
           "its log lines")), spanTree(trace));
    });
    details.open = open;
    return details;
  }

  async function loadTraces() {
    const query = rangeQuery();
    const mine = ++asked.traces;
    const note = $("traces-note");
    note.textContent = "reading…";
    let data;
    try {
      data = await getJson(`/api/traces?${query}`);
    } catch (exc) {
      if (mine === asked.traces) note.textContent = `could not read the traces: ${exc.message}`;
      return;
    }
    if (mine !== asked.traces) return;
    $("traces").replaceChildren(...data.traces.map((t) => el("li", {}, traceItem(t, false))));
    note.textContent = data.note ? `(${data.note})`
      : `(${data.traces.length} of ${data.begun} begun in the range, by the first span's time)`;
  }

  async function showTrace(traceId) {
    const box = $("picked-trace");
    const mine = ++asked.picked;
    box.replaceChildren(el("div", { className: "muted" }, `reading trace ${traceId}…`));
    box.scrollIntoView({ block: "nearest" });
    let trace;
    try {
      trace = await getJson(`/api/traces/${encodeURIComponent(traceId)}`);
    } catch (exc) {
      if (mine === asked.picked) box.replaceChildren(el("div", { className: "span-error" }, exc.message));
      return;
    }
    if (mine !== asked.picked) return;
    box.replaceChildren(el("h2", {}, "Trace of the log line ",
      el("button", { type: "button", onclick: () => box.replaceChildren() }, "close")), traceItem(trace, true));
  }

  // ---- when to read
  function loadAll() {
    loadLogs();
    loadTraces();
  }

  section.addEventListener("toggle", () => { if (section.open) loadAll(); });
  board.onRangeChange(() => { if (section.open) loadAll(); });
  $("evidence-filters").addEventListener("submit", (e) => { e.preventDefault(); loadAll(); });
  $("evidence-service").addEventListener("change", loadLogs);
  $("evidence-level").addEventListener("change", loadLogs);
  $("evidence-text").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(loadLogs, TYPING_MS);
  });
  // A panel's "logs" link: this section, for the range shown, scrolled to.
  document.addEventListener("click", (e) => {
    const link = e.target.closest && e.target.closest("a.panel-logs");
    if (!link) return;
    e.preventDefault();
    if (section.open) loadAll();
    else section.open = true; // its toggle event reads
    section.scrollIntoView({ behavior: "smooth", block: "start" });
  });
  window.faultyardEvidence = { loadAll, showTrace, asked };
})();
