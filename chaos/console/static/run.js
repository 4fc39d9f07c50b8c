// A run followed live from its journal: phases as they pass, every probe's last reading,
// the faults in and out; the report linked once written. The key series are dashboard.js's.
(function () {
  "use strict";
  const REFRESH_MS = 2000;
  const section = document.getElementById("run");
  const clock = (t) => (t ? new Date(t * 1000).toLocaleTimeString() : "-");
  const seconds = (s) => (s === null || s === undefined ? "" : `${s.toFixed(1)} s`);
  let followed = false; // the range was moved to the run's span once it ended

  function item(list, text, className) {
    const li = document.createElement("li");
    li.textContent = text;
    if (className) li.className = className;
    list.append(li);
    return li;
  }

  function showPhases(journal) {
    const list = document.getElementById("phases");
    list.replaceChildren();
    for (const phase of journal.phases) {
      const took = phase.duration_s === null ? "" : `, ${seconds(phase.duration_s)}`;
      const error = phase.error ? `: ${phase.error}` : "";
      const li = item(list, `${phase.name} (${phase.status}${took})${error}`, `phase-${phase.status}`);
      li.dataset.phase = phase.name;
    }
  }

  function showProbes(journal) {
    const body = document.querySelector("#probes tbody");
    body.replaceChildren();
    for (const probe of Object.values(journal.probes)) {
      const last = probe.readings[probe.readings.length - 1];
      const row = body.insertRow();
      row.dataset.probe = probe.name;
      const value = !last ? "-" : last.error ? `error: ${last.error}` : last.no_data ? "no data" : String(last.value);
      const holds = !last ? "" : last.holds ? "yes" : "no";
      for (const text of [probe.name, probe.role, probe.condition, value, holds, last ? last.phase : ""]) {
        row.insertCell().textContent = text;
      }
      row.className = !last ? "" : last.holds === (probe.role === "slo") ? "ok" : "bad";
    }
  }

  function showFaults(journal) {
    const list = document.getElementById("faults");
    list.replaceChildren();
    for (const fault of journal.faults) {
      const error = fault.error ? ` (error: ${fault.error})` : "";
      item(list, `${fault.description}: in ${clock(fault.applied_at)}, out ${clock(fault.reverted_at)}${error}`);
    }
  }

  async function refresh() {
    const answer = await fetch(section.dataset.api);
    if (answer.status === 404) return false; // gone from the index (its folder removed)
    if (!answer.ok) return true;
    const run = await answer.json();
    const journal = run.journal;
    const verdict = document.getElementById("run-verdict");
    verdict.textContent = run.verdict ? `${run.verdict} (exit ${run.exit_code})`
      : run.stopped ? `stopped in ${run.phase}: its process is gone (killed?); \`faultyard reset\` undoes its faults`
      : `running: ${run.phase || "starting"}`;
    verdict.className = `verdict ${run.exit_code === 0 ? "ok" : run.exit_code || run.stopped ? "bad" : ""}`;
    showPhases(journal);
    showProbes(journal);
    showFaults(journal);
    const link = document.getElementById("report-link");
    if (run.report) { link.href = run.report; link.hidden = false; }
    const ended = run.ended_at !== null && run.ended_at !== undefined;
    const view = window.faultyardConsole;
    if (ended && !followed && view && view.isLive()) {
      followed = true;
      view.zoomTo(run.started_at - 30, run.ended_at + 30);
    }
    return !run.stopped && (!ended || !run.report);
  }

  async function follow() {
    const more = await refresh().catch(() => true);
    if (more) setTimeout(follow, REFRESH_MS);
  }
  follow();
})();
