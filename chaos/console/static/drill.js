// The drill page: /api/drill read every 2 s and drawn; the actions (start, hint, answer,
// deploy-fix, end, give-up) POSTed to /api/drill/ACTION with the admin token, which is
// kept in sessionStorage (this tab only) and sent as `Authorization: Bearer TOKEN`.
// Every text the API gives goes in through textContent: never as HTML.
(function () {
  "use strict";
  const POLL_MS = 2000;
  const TICK_MS = 1000;
  const TOKEN_KEY = "faultyard-admin-token";
  const ACTION_BUTTONS = ["start-button", "hint-button", "answer-submit", "deploy-fix-button",
                          "end-button", "give-up-button"];
  const STATUS_TEXT = {
    starting: "starting: the stack comes up and the shoppers start",
    ended: "ended",
    gave_up: "given up",
    expired: "expired: the drill ran out of time",
    failed: "failed",
  };
  const RUNNING = ["starting", "running"];
  const $ = (id) => document.getElementById(id);
  const running = (drill) => Boolean(drill && RUNNING.includes(drill.status));
  const view = { data: null, offset: 0, asked: 0, busy: null, choicesKey: null };

  // A new element with attributes and children (strings become text nodes).
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "className") node.className = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const pad = (n) => String(n).padStart(2, "0");
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
  }

  function showError(message) {
    const box = $("drill-error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  async function readJson(answer) {
    try {
      return await answer.json();
    } catch (exc) {
      return {};
    }
  }

  async function post(action, body) {
    const headers = { "Content-Type": "application/json" };
    const token = $("admin-token").value.trim();
    if (token) headers.Authorization = `Bearer ${token}`;
    const answer = await fetch(`/api/drill/${action}`, {
      method: "POST", headers, body: JSON.stringify(body || {}),
    });
    const data = await readJson(answer);
    if (!answer.ok) throw new Error(data.error || `${answer.status} ${answer.statusText}`);
    return data;
  }

  // ---- drawing
  function statusText(data) {
    const drill = data.drill;
    if (!drill) return "no drill yet";
    let text = STATUS_TEXT[drill.status] || drill.status;
    if (drill.status === "running") text = drill.page ? "PAGED: you are on call" : "running: waiting for the page";
    if (!running(drill) && !drill.grade && drill.status !== "failed") text += ", grading…";
    return `Drill ${drill.id}: ${text}`;
  }

  function tick() {
    const data = view.data;
    const box = $("drill-clock");
    if (!data || !data.clock) {
      box.textContent = "";
      return;
    }
    const clock = data.clock;
    const now = clock.ended_at || Date.now() / 1000 + view.offset;
    const parts = [`${duration(now - clock.started_at)} since the drill began`];
    if (clock.paged_at) {
      const at = new Date(clock.paged_at * 1000).toLocaleTimeString();
      parts.push(`${duration(now - clock.paged_at)} since the page (at ${at})`);
    }
    box.textContent = parts.join(" · ");
  }

  function drawHints(data) {
    const drill = data.drill;
    $("hints-used").textContent = drill.hints_used;
    $("hints-max").textContent = data.max_hints;
    // The hints taken, wherever they were taken (this tab, another, the CLI): the API's.
    const items = (data.hints || []).map((text) => el("li", {}, text));
    $("hints").replaceChildren(...items);
  }

  function drawChoices(drill) {
    const choices = drill.root_cause_choices || [];
    const key = `${drill.id} ${JSON.stringify(choices)}`;
    if (key === view.choicesKey) return; // keep what the person picked
    view.choicesKey = key;
    const box = $("cause-choices");
    box.className = choices.length ? "" : "muted";
    if (!choices.length) {
      box.replaceChildren("The choices come with the page.");
      return;
    }
    box.replaceChildren(...choices.map((text, i) => el("label", { className: "cause-choice" },
      el("input", { type: "radio", name: "cause-choice", id: `cause-choice-${i + 1}`, value: i + 1 }),
      ` ${i + 1}. `, text)));
  }

  function drawAnswers(drill) {
    const given = Object.entries(drill.answers || {});
    $("drill-answers").textContent = given.length
      ? "Your answers so far: " + given.map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join("; ")
      : "No answer yet.";
  }

  function drawGrade(drill) {
    const grade = drill.grade;
    $("grade").hidden = !grade;
    if (!grade) return;
    $("grade-total").textContent = `${grade.total} / ${grade.max_total} points`;
    $("grade-levels").querySelector("tbody").replaceChildren(...grade.levels.map((level) =>
      el("tr", {}, el("td", {}, level.level), el("td", { className: "points" },
         `${level.points} / ${level.max_points}`), el("td", {}, level.why))));
    $("grade-penalty").textContent = grade.hint_penalty
      ? `Hints: −${grade.hint_penalty} points` : "No hint taken.";
    $("grade-scenario").textContent = `It was: ${grade.scenario || "a quiet shift: nothing was injected"}`;
    $("grade-report").textContent = drill.report || "";
  }

  function drawButtons(data) {
    const drill = data.drill;
    const paged = Boolean(running(drill) && drill.page);
    const disabled = {
      "start-button": false,
      "hint-button": !paged || drill.hints_used >= data.max_hints,
      "answer-submit": !paged,
      "deploy-fix-button": !paged,
      "end-button": !running(drill),
      "give-up-button": !running(drill),
    };
    for (const id of ACTION_BUTTONS) $(id).disabled = Boolean(view.busy) || disabled[id];
  }

  function draw(data) {
    const drill = data.drill;
    const orphaned = Boolean(drill && drill.status === "running" && !data.supervisor_alive);
    $("drill-status").textContent = statusText(data) + (view.busy ? ` (${view.busy})` : "");
    $("drill-supervisor").hidden = !orphaned;
    $("drill-failure").hidden = !data.failure;
    $("drill-failure").textContent = data.failure ? `The drill failed: ${data.failure}` : "";
    $("drill-start").hidden = running(drill) && !orphaned;
    $("drill-running").hidden = !running(drill);
    if (running(drill)) {
      $("drill-page").textContent = drill.page || "The pager is quiet for now.";
      $("drill-page").classList.toggle("paged", Boolean(drill.page));
      $("drill-where").hidden = !drill.page;
      drawHints(data);
      drawChoices(drill);
      drawAnswers(drill);
    }
    if (drill) drawGrade(drill);
    else $("grade").hidden = true;
    drawButtons(data);
    tick();
  }

  async function refresh() {
    const mine = ++view.asked;
    let data;
    try {
      const answer = await fetch("/api/drill");
      data = await readJson(answer);
      if (!answer.ok) throw new Error(data.error || `${answer.status} ${answer.statusText}`);
    } catch (exc) {
      if (mine === view.asked) $("drill-status").textContent = `could not read the drill: ${exc.message}`;
      return;
    }
    if (mine !== view.asked) return; // an older answer arriving late
    if (data.clock) view.offset = data.clock.now - Date.now() / 1000;
    view.data = data;
    draw(data);
  }

  // ---- actions
  async function act(busy, action, body, done) {
    view.busy = busy;
    if (view.data) draw(view.data);
    try {
      const answer = await post(action, body);
      showError("");
      if (done) done(answer);
    } catch (exc) {
      showError(exc.message);
    } finally {
      view.busy = null;
      await refresh();
    }
  }

  function answerBody() {
    const wrong = document.querySelector('input[name="something-wrong"]:checked');
    if (wrong && wrong.value === "no") return { something_wrong: false };
    const choice = document.querySelector('input[name="cause-choice"]:checked');
    return {
      something_wrong: wrong ? true : null,
      component: $("answer-component").value || null,
      cause_choice: choice ? Number(choice.value) : null,
      cause_text: $("answer-cause-text").value.trim() || null,
    };
  }

  function startBody() {
    const seed = $("start-seed").value.trim();
    const quiet = $("start-quiet").value.split(",").map((v) => Number(v.trim()));
    const from = $("start-from").value.split(",").map((v) => v.trim()).filter(Boolean);
    return {
      difficulty: $("start-difficulty").value || null,
      seed: seed === "" ? null : Number(seed),
      quiet_delay_s: quiet.length === 2 ? quiet : [Number.NaN, Number.NaN],
      scenario_from: from.length ? from : null,
    };
  }

  const token = $("admin-token");
  token.value = sessionStorage.getItem(TOKEN_KEY) || "";
  token.addEventListener("input", () => sessionStorage.setItem(TOKEN_KEY, token.value.trim()));
  $("start-form").addEventListener("submit", (e) => {
    e.preventDefault();
    act("starting…", "start", startBody());
  });
  $("hint-button").addEventListener("click", () => act("taking a hint…", "hint", {}));
  $("answer-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const body = answerBody();
    act(body.something_wrong === false ? "ending, grading…" : "answering…", "answer", body);
  });
  $("deploy-fix-button").addEventListener("click", () => act("deploying the fix…", "deploy-fix"));
  $("end-button").addEventListener("click", () => act("ending, grading…", "end"));
  $("give-up-button").addEventListener("click", () => act("giving up, grading…", "give-up"));

  refresh();
  setInterval(refresh, POLL_MS);
  setInterval(tick, TICK_MS);
  window.faultyardDrill = { refresh, view };
})();
