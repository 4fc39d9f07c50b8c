// The runs page: the stack's runs (refreshed every 3 s) and the form that starts one.
(function () {
  "use strict";
  const REFRESH_MS = 3000;
  const body = document.querySelector("#runs tbody");
  const time = (t) => new Date(t * 1000).toLocaleString();
  let starting = false; // a start is on its way: one click, one run

  function cell(row, text, className) {
    const td = row.insertCell();
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  async function refresh() {
    const answer = await fetch("/api/runs");
    if (!answer.ok) return;
    const data = await answer.json();
    body.replaceChildren();
    for (const run of data.runs) {
      const row = body.insertRow();
      row.id = `run-${run.id}`;
      const link = document.createElement("a");
      link.href = `/runs/${encodeURIComponent(run.id)}`;
      link.textContent = run.id;
      row.insertCell().append(link);
      cell(row, run.mode);
      cell(row, time(run.started_at));
      cell(row, run.ended_at ? "ended" : run.phase || "starting");
      const verdict = run.verdict || (run.stopped ? "stopped (its process is gone)" : run.ended_at ? "-" : "running");
      cell(row, verdict, run.exit_code === 0 ? "ok" : run.exit_code || run.stopped ? "bad" : "");
    }
    document.getElementById("runs-empty").hidden = data.runs.length > 0;
    document.getElementById("run-start").disabled = Boolean(data.running) || starting;
    document.getElementById("run-start").title = data.running ? `${data.running} is running` : "";
  }

  document.getElementById("start-run").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("run-error");
    const button = document.getElementById("run-start");
    if (starting) return;
    starting = true;
    button.disabled = true;
    error.textContent = "starting ...";
    try {
      const run = await window.faultyardAdmin.post("/api/runs", {
        scenario: document.getElementById("run-scenario").value,
        fixed: document.getElementById("run-fixed").checked,
      });
      location.href = run.url;
    } catch (exc) {
      error.textContent = exc.message;
      starting = false;
      button.disabled = false;
    }
  });

  const wanted = new URLSearchParams(location.search).get("scenario");
  if (wanted) document.getElementById("run-scenario").value = wanted;
  refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
})();
