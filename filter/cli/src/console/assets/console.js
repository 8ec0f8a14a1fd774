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
