// The console page: weights with a slider per route, preview/apply through the console's API,
// a live chart from Envoy's counters, and the "which subset" box. No library: the chart is a
// few SVG polylines.
"use strict";

const $ = (selector) => document.querySelector(selector);
const COLORS = ["#2f6fdf", "#e8731a", "#2a9d4b", "#9b4dca", "#c9302c", "#16a2b8"];
const HISTORY = 60;

let loaded = null; // GET /api/config as last read: its etag is what an apply is checked against

function setStatus(state, text) {
  const status = $("#status");
  status.dataset.state = state;
  status.textContent = text;
}

async function api(method, path, body, headers) {
  const response = await fetch(path, {
    method,
    headers: Object.assign({ "content-type": "application/json" }, headers || {}),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = {};
  try { data = await response.json(); } catch (e) { data = { error: String(e) }; }
  return { status: response.status, data };
}

async function loadConfig() {
  const { status, data } = await api("GET", "/api/config");
  if (status !== 200) { setStatus("error", data.error || "cannot read the config"); return; }
  loaded = data;
  $("#source").textContent =
    `${data.file} · filter ${data.filter} · version ${data.version} · admin ${data.admin}`;
  renderRoutes(data);
  renderSchedules(data);
  if (data.problem) setStatus("error", `the file's config is invalid: ${data.problem}`);
}

function weightInput(r, s) { return $(`#w-${r}-${s}`); }

function renderRoutes(data) {
  const box = $("#routes");
  box.textContent = "";
  data.routes.forEach((route, r) => {
    const card = document.createElement("div");
    card.className = "route";
    card.innerHTML = `<h3></h3>`;
    card.querySelector("h3").textContent = `route ${route.name}`;
    route.subsets.forEach((subset, s) => {
      const row = document.createElement("div");
      row.className = "subset";
      row.innerHTML = `<label for="w-${r}-${s}"></label><input type="number" id="w-${r}-${s}" min="0" max="100" step="0.01"> %`;
      row.querySelector("label").textContent = subset.name;
      row.querySelector("input").value = subset.weight;
      row.querySelector("input").dataset.subset = subset.name;
      card.appendChild(row);
    });
    if (route.subsets.length >= 2) {
      // The article's slider: the newest subset's share; the stable (first) takes the rest.
      const last = route.subsets.length - 1;
      const slider = document.createElement("input");
      slider.type = "range"; slider.min = "0"; slider.max = "100"; slider.step = "1";
      slider.className = "slider"; slider.id = `slider-${r}`;
      slider.value = route.subsets[last].weight;
      slider.setAttribute("aria-label", `${route.subsets[last].name} weight`);
      slider.addEventListener("input", () => {
        weightInput(r, last).value = slider.value;
        let others = 0;
        for (let s = 1; s < route.subsets.length; s++) others += Number(weightInput(r, s).value);
        weightInput(r, 0).value = Math.max(0, Math.round((100 - others) * 100) / 100);
      });
      card.appendChild(slider);
    }
    box.appendChild(card);
  });
}

// The loaded pluginConfig with the weights as edited.
function edited() {
  const config = JSON.parse(JSON.stringify(loaded.pluginConfig));
  loaded.routes.forEach((route, r) => {
    const target = config.routes.find((x) => x.name === route.name);
    route.subsets.forEach((subset, s) => {
      const entry = target.subsets.find((x) => x.name === subset.name);
      entry.weight = Number(weightInput(r, s).value);
    });
  });
  return config;
}

async function preview() {
  const { status, data } = await api("POST", "/api/preview", edited());
  if (status === 200) {
    setStatus("previewed", "valid; who moves where if applied:");
    $("#diff").textContent = data.preview.text;
  } else {
    setStatus("refused", `refused, nothing written: ${data.error}`);
    $("#diff").textContent = "";
  }
}

async function apply() {
  setStatus("applying", "writing the ECDS file and waiting for Envoy's verdict…");
  const { status, data } = await api("POST", "/api/apply", edited(), { "if-match": loaded.etag });
  if (status === 412) {
    setStatus("conflict", `not applied: ${data.error}`);
    return;
  }
  if (status !== 200) {
    setStatus(status === 422 ? "refused" : "error", `refused, nothing written: ${data.error}`);
    return;
  }
  const envoy = data.envoy;
  const reason = envoy.reason ? ` Envoy said: ${envoy.reason}` : "";
  setStatus(envoy.verdict, `version ${data.version}: ${envoy.verdict}. ${envoy.detail}.${reason}`);
  $("#diff").textContent = "";
  const state = $("#status").dataset.state;
  const text = $("#status").textContent;
  await loadConfig();
  setStatus(state, text);
}

// ---- schedule ----
// A scheduled route's steps as /api/config gives them, the step in force marked. "Now" is where
// Envoy's clock is (its schedule_elapsed_seconds gauge: time a tripped guard held it is left out)
// once the stats show it, else this browser's clock.
function weightsText(weights) {
  return Object.entries(weights).map(([name, w]) => `${name}=${w}`).join(" ");
}

function secondsOf(after) {
  const unit = { s: 1, m: 60, h: 3600 }[after.slice(-1)];
  return Number(after.slice(0, -1)) * unit;
}

function renderSchedules(data) {
  const box = $("#schedules");
  box.textContent = "";
  const scheduled = data.routes.filter((route) => route.schedule);
  $("#schedule-section").hidden = scheduled.length === 0;
  for (const route of scheduled) {
    const s = route.schedule;
    const card = document.createElement("div");
    card.className = "route";
    card.dataset.route = route.name;
    card.innerHTML = `<h3></h3><svg class="timeline-bar" viewBox="0 0 600 36"></svg>` +
      `<table class="timeline"><thead><tr><th></th><th>after</th><th>at</th><th>weights</th></tr></thead><tbody></tbody></table>` +
      `<p class="schedule-now"></p>`;
    card.querySelector("h3").textContent =
      `route ${route.name}: from ${s.start}${s.linear ? ", linear between steps" : ""}`;
    const body = card.querySelector("tbody");
    const rows = [{ after: "before", at: `until ${s.start}`, weights: s.own }].concat(s.steps);
    rows.forEach((step, i) => {
      const row = document.createElement("tr");
      row.dataset.step = String(i - 1);
      row.innerHTML = "<td class=marker></td><td></td><td></td><td></td>";
      row.cells[1].textContent = step.after;
      row.cells[2].textContent = step.at;
      row.cells[3].textContent = weightsText(step.weights);
      body.appendChild(row);
    });
    box.appendChild(card);
    placeNow(route.name, s.now.elapsed_seconds, `${weightsText(s.now.weights)}: ${s.now.text} (console clock, ${s.now.at})`);
  }
}

// Marks the step in force `elapsed` seconds into the route's schedule (null: before start).
function placeNow(routeName, elapsed, text) {
  const route = (loaded && loaded.routes || []).find((r) => r.name === routeName && r.schedule);
  const card = [...document.querySelectorAll("#schedules .route")].find((c) => c.dataset.route === routeName);
  if (!route || !card) return;
  const steps = route.schedule.steps;
  let step = -1;
  if (elapsed !== null) steps.forEach((s, i) => { if (secondsOf(s.after) <= elapsed) step = i; });
  for (const row of card.querySelectorAll("tbody tr")) {
    const now = Number(row.dataset.step) === step;
    row.classList.toggle("now", now);
    row.cells[0].textContent = now ? "▶ now" : "";
  }
  const end = Math.max(1, secondsOf(steps[steps.length - 1].after));
  const x = (seconds) => 10 + (Math.min(seconds, end) / end) * 580;
  let svg = `<line x1="10" y1="18" x2="590" y2="18" stroke="#99a" stroke-width="2"/>`;
  for (const s of steps) svg += `<line x1="${x(secondsOf(s.after))}" y1="10" x2="${x(secondsOf(s.after))}" y2="26" stroke="#2f6fdf" stroke-width="2"/>`;
  if (elapsed !== null) svg += `<circle class="now-marker" cx="${x(elapsed).toFixed(1)}" cy="18" r="6" fill="#e8731a"/>`;
  card.querySelector(".timeline-bar").innerHTML = svg;
  card.querySelector(".schedule-now").textContent = `now: ${text}`;
  card.dataset.step = String(step);
}

// From the stats: each scheduled route's clock and weights in Envoy.
function scheduleFromStats(counters) {
  const byRoute = {};
  for (const c of counters) {
    if (!c.route) continue;
    const entry = (byRoute[c.route] = byRoute[c.route] || { weights: {} });
    if (c.metric === "schedule_elapsed_seconds") entry.elapsed = c.value;
    if (c.metric === "weight" && c.subset) entry.weights[c.subset] = c.value / 100;
  }
  for (const [name, entry] of Object.entries(byRoute)) {
    if (entry.elapsed === undefined) continue;
    const route = (loaded && loaded.routes || []).find((r) => r.name === name && r.schedule);
    // The gauge reads 0 before the start as at it: the start tells them apart.
    const started = route && Date.now() >= Date.parse(route.schedule.start);
    const elapsed = entry.elapsed === 0 && !started ? null : entry.elapsed;
    const where = elapsed === null ? "before its start" : `${elapsed} s into the schedule`;
    placeNow(name, elapsed, `${weightsText(entry.weights)} in Envoy, ${where}`);
  }
}

// ---- live chart ----
let previous = null; // the last /api/stats read
const history = {}; // series name -> [req/s, ...]

function colorOf(name) {
  const names = Object.keys(history).sort();
  return COLORS[Math.max(0, names.indexOf(name)) % COLORS.length];
}

function sums(counters) {
  const out = { subsets: {}, reasons: {}, classes: {} };
  const many = new Set(counters.filter((c) => c.route).map((c) => c.route)).size > 1;
  for (const c of counters) {
    if (!c.subset) continue;
    const series = many ? `${c.route}/${c.subset}` : c.subset;
    if (c.metric === "requests_total") {
      out.subsets[series] = (out.subsets[series] || 0) + c.value;
      const reason = c.labels.reason || "?";
      out.reasons[reason] = (out.reasons[reason] || 0) + c.value;
    }
    // Per-subset health counters: any filter counter labelled with a response class.
    for (const value of Object.values(c.labels)) {
      if (/^[1-5]xx$/.test(value)) {
        const classes = (out.classes[series] = out.classes[series] || {});
        classes[value] = (classes[value] || 0) + c.value;
      }
    }
  }
  return out;
}

function drawChart() {
  const svg = $("#chart");
  const names = Object.keys(history).sort();
  let max = 1;
  for (const name of names) for (const v of history[name]) max = Math.max(max, v);
  const x = (i) => 40 + (i * 550) / (HISTORY - 1);
  const y = (v) => 180 - (v / max) * 165;
  let out = `<line x1="40" y1="180" x2="595" y2="180" stroke="#99a"/>` +
    `<text x="4" y="20" font-size="11" fill="#667">${max.toFixed(0)}/s</text>` +
    `<text x="4" y="183" font-size="11" fill="#667">0</text>` +
    `<text x="40" y="198" font-size="10" fill="#667">${HISTORY} s ago</text>` +
    `<text x="575" y="198" font-size="10" fill="#667">now</text>`;
  for (const name of names) {
    const points = history[name];
    const offset = HISTORY - points.length;
    const coords = points.map((v, i) => `${x(offset + i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    out += `<polyline fill="none" stroke-width="2.5" stroke="${colorOf(name)}" points="${coords}" data-series="${name}"/>`;
  }
  svg.innerHTML = out;
}

function renderLive(rates, shares, errors, reasons) {
  const body = $("#subsets tbody");
  body.textContent = "";
  for (const name of Object.keys(rates).sort()) {
    const row = document.createElement("tr");
    const share = shares[name];
    const shareText = share === null ? "–" : `${share.toFixed(1)}%`;
    const errorText = errors[name] === null ? "n/a" : `${(errors[name] * 100).toFixed(2)}%`;
    row.innerHTML = `<td><span class="swatch"></span></td><td></td><td></td><td></td>`;
    row.querySelector(".swatch").style.background = colorOf(name);
    row.cells[0].append(name);
    row.cells[1].textContent = rates[name].toFixed(1);
    row.cells[2].textContent = shareText;
    row.cells[2].id = `share-${name}`;
    row.cells[2].dataset.share = share === null ? "" : share.toFixed(2);
    row.cells[3].textContent = errorText;
    row.cells[3].id = `errors-${name}`;
    body.appendChild(row);
  }
  const reasonBody = $("#reasons tbody");
  reasonBody.textContent = "";
  for (const reason of Object.keys(reasons).sort()) {
    const row = document.createElement("tr");
    row.innerHTML = "<td></td><td></td>";
    row.cells[0].textContent = reason;
    row.cells[1].textContent = reasons[reason].toFixed(1);
    row.cells[1].id = `reason-${reason}`;
    reasonBody.appendChild(row);
  }
}

async function poll() {
  try {
    const { status, data } = await api("GET", "/api/stats");
    if (status !== 200) { $("#live-status").textContent = data.error; return; }
    const now = sums(data.counters);
    scheduleFromStats(data.counters);
    if (previous) {
      const seconds = Math.max(0.001, (data.time - previous.time) / 1000);
      const rates = {}, shares = {}, errors = {}, reasons = {};
      let total = 0;
      for (const name of Object.keys(now.subsets)) {
        rates[name] = Math.max(0, now.subsets[name] - (previous.sums.subsets[name] || 0)) / seconds;
        total += rates[name];
      }
      for (const name of Object.keys(rates)) {
        shares[name] = total > 0 ? (100 * rates[name]) / total : null;
        const was = previous.sums.classes[name] || {};
        const is = now.classes[name];
        if (!is) { errors[name] = null; continue; }
        let all = 0, bad = 0;
        for (const cls of Object.keys(is)) {
          const delta = is[cls] - (was[cls] || 0);
          all += delta;
          if (cls === "5xx") bad += delta;
        }
        errors[name] = all > 0 ? bad / all : 0;
      }
      for (const name of Object.keys(rates)) {
        const series = (history[name] = history[name] || []);
        series.push(rates[name]);
        if (series.length > HISTORY) series.shift();
      }
      for (const reason of Object.keys(now.reasons)) {
        reasons[reason] = Math.max(0, now.reasons[reason] - (previous.sums.reasons[reason] || 0)) / seconds;
      }
      drawChart();
      renderLive(rates, shares, errors, reasons);
      $("#live-status").textContent = `updated ${new Date(data.time).toLocaleTimeString()}`;
    }
    previous = { time: data.time, sums: now };
  } catch (e) {
    $("#live-status").textContent = `cannot read the stats: ${e}`;
  } finally {
    setTimeout(poll, 1000);
  }
}

async function which(event) {
  event.preventDefault();
  const user = $("#which-user").value;
  const { status, data } = await api("POST", "/api/which", { user });
  $("#which-out").textContent = status === 200 ? data.text : data.error;
  $("#which-out").dataset.subset = status === 200 ? data.subset || "" : "";
}

$("#preview").addEventListener("click", preview);
$("#apply").addEventListener("click", apply);
$("#reload").addEventListener("click", async () => { await loadConfig(); setStatus("idle", "reloaded"); $("#diff").textContent = ""; });
$("#which-form").addEventListener("submit", which);
loadConfig();
poll();
