// Live view of the soundscape appliance: plain JS, no framework, no network but this device.
// State arrives as Server-Sent Events (/events, JSON, a few per second); images have their
// own URLs (/frame.jpg?n=<frame counter>, /keyframe/<corpus>/<k>.jpg).
"use strict";

const $ = (id) => document.getElementById(id);
const TOP_N = 5;
let last = null;          // the latest event
let shownFrame = null;    // frame counter of the picture asked for
let source = null;        // the EventSource
let summaryText = "";

// Scene colours: the server gives each scene a hue (golden-angle steps, as the thumbnails).
let hues = new Map();
const sceneColour = (name, light = 45, alpha = 1) =>
  `hsla(${hues.get(name) ?? 0}, 45%, ${light}%, ${alpha})`;

function fmtTime(s) {
  s = Math.max(0, Math.round(s));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

// Where a keyframe's grains are heard (the synthesizer's pan centre, -1 left … 1 right).
function sideOf(pan) {
  if (!(Math.abs(pan) >= 0.15)) return "centre";
  return pan < 0 ? "◀ left" : "right ▶";
}

function setText(id, text) {
  const el = $(id);
  if (el && el.textContent !== text) el.textContent = text;
}

// ------------------------------------------------------------------ connection
function connect() {
  source = new EventSource("/events");
  source.onopen = () => { $("conn").textContent = "live"; $("conn").className = "conn live"; };
  source.onmessage = (e) => {
    try { render(JSON.parse(e.data)); } catch (err) { console.error(err); }
  };
  source.onerror = () => {
    $("conn").textContent = "connection lost, reconnecting…";
    $("conn").className = "conn lost";
    if (source.readyState === EventSource.CLOSED) {  // refused or a server error: retry later
      source.close();
      setTimeout(connect, 2000);
    }                                                  // otherwise the browser retries by itself
  };
}

// ------------------------------------------------------------------ rendering
function render(ev) {
  last = ev;
  const c = ev.corpus;
  hues = new Map((c ? c.scenes : []).map((s) => [s.name, s.hue]));
  setText("corpus", c ? c.name : "–");
  const st = ev.state;
  let state = st.label;
  if (st.timer_min) state += ` · sleep timer ${st.timer_min} min`;
  setText("state", state);
  setText("volume", `${Math.round(st.volume * 100)} %`);
  setText("camera", ev.camera.ok ? "working" : "lost");
  $("camera").className = ev.camera.ok ? "" : "bad";
  $("camera").title = ev.camera.description || "";

  renderFrame(ev);
  renderThumbs(ev);
  drawPlot(ev);
  drawGrains(ev);
  renderLegend(ev);
  renderStats(ev.stats);
  renderSummary(ev);
  document.body.dataset.seq = String(ev.seq);
}

function renderFrame(ev) {
  const img = $("frame");
  if (ev.frame === null || ev.frame === undefined) return;
  if (ev.frame !== shownFrame) {
    shownFrame = ev.frame;
    img.src = `/frame.jpg?n=${ev.frame}`;
    img.dataset.n = String(ev.frame);
    const near = ev.top.length ? `; nearest reference: ${ev.top[0].scene}` : "";
    img.alt = `Camera frame ${ev.frame}${near}`;
    setText("frame-caption", `camera frame ${ev.frame}`);
  }
}

function renderThumbs(ev) {
  const list = $("thumbs");
  while (list.children.length < TOP_N) {
    const li = document.createElement("li");
    li.innerHTML = '<figure><img alt="" width="120" height="120">' +
      '<figcaption><span class="scene"></span><span class="dist"></span></figcaption></figure>';
    list.appendChild(li);
  }
  [...list.children].forEach((li, i) => {
    const t = ev.top[i];
    li.hidden = !t;
    if (!t) return;
    const img = li.querySelector("img");
    if (t.src && img.getAttribute("src") !== t.src) img.src = t.src;
    const side = sideOf(t.pan);
    img.alt = `${i + 1}: ${t.scene}, keyframe ${t.k} at ${fmtTime(t.t)}, distance ${t.distance.toFixed(2)}, heard ${side}`;
    img.style.setProperty("--scene", sceneColour(t.scene));
    li.querySelector(".scene").textContent = t.scene;
    li.querySelector(".dist").textContent = `d ${t.distance.toFixed(2)} · ${fmtTime(t.t)} · ${side}`;
    li.dataset.k = String(t.k);
  });
}

function sizeCanvas(cv) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(cv.clientWidth * dpr));
  const h = Math.max(1, Math.round(cv.clientHeight * dpr));
  if (cv.width !== w || cv.height !== h) { cv.width = w; cv.height = h; }
  const ctx = cv.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return [ctx, cv.clientWidth, cv.clientHeight];
}

const PAD = { top: 20, bottom: 18, left: 4, right: 4 };

function drawPlot(ev) {
  const cv = $("plot");
  const [ctx, W, H] = sizeCanvas(cv);
  ctx.clearRect(0, 0, W, H);
  const c = ev.corpus;
  if (!c) return;
  const x0 = PAD.left, x1 = W - PAD.right, y0 = PAD.top, y1 = H - PAD.bottom;
  const xOf = (t) => x0 + (x1 - x0) * (t / c.duration_s);
  const dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;

  // scene bands, labelled
  ctx.font = "12px system-ui, sans-serif";
  ctx.textBaseline = "top";
  for (const s of c.scenes) {
    const a = xOf(s.start), b = xOf(s.end);
    ctx.fillStyle = sceneColour(s.name, dark ? 30 : 80, 0.9);
    ctx.fillRect(a, y0, b - a, y1 - y0);
    ctx.fillStyle = sceneColour(s.name, dark ? 60 : 35);
    ctx.fillRect(a, 0, b - a, 4);
    let label = s.name;
    if (s.mass !== null) label += ` ${Math.round(s.mass * 100)}%`;
    ctx.save();
    ctx.beginPath(); ctx.rect(a + 2, 0, Math.max(0, b - a - 4), y0); ctx.clip();
    ctx.fillStyle = dark ? "#ecebe6" : "#1d1d1b";
    ctx.fillText(ctx.measureText(label).width <= b - a - 4 ? label : s.name, a + 3, 5);
    ctx.restore();
    ctx.strokeStyle = dark ? "#55554f" : "#ffffff";
    ctx.beginPath(); ctx.moveTo(a + 0.5, y0); ctx.lineTo(a + 0.5, y1); ctx.stroke();
  }

  // time axis
  ctx.fillStyle = dark ? "#a9a8a1" : "#5b5b57";
  ctx.textBaseline = "bottom";
  const steps = [10, 15, 30, 60, 120, 300, 600, 900, 1800];
  const step = steps.find((s) => (x1 - x0) * s / c.duration_s >= 60) || 3600;
  for (let t = 0; t <= c.duration_s; t += step) {
    const x = xOf(t);
    ctx.fillRect(x, y1, 1, 4);
    if (x < x1 - 20) ctx.fillText(fmtTime(t), x + 2, H);
  }

  // p over the timeline: filled curve, normalised to its peak
  const p = ev.p;
  cv.dataset.peakScene = "";
  if (p && p.length) {
    const n = p.length, yOf = (v) => y1 - (y1 - y0 - 4) * v;
    ctx.beginPath();
    ctx.moveTo(x0, y1);
    for (let i = 0; i < n; i++) {
      const xa = x0 + (x1 - x0) * (i / n), xb = x0 + (x1 - x0) * ((i + 1) / n);
      ctx.lineTo(xa, yOf(p[i])); ctx.lineTo(xb, yOf(p[i]));
    }
    ctx.lineTo(x1, y1);
    ctx.closePath();
    ctx.fillStyle = dark ? "rgba(150, 190, 255, 0.45)" : "rgba(31, 78, 140, 0.35)";
    ctx.fill();
    ctx.strokeStyle = dark ? "#bcd4ff" : "#1f4e8c";
    ctx.lineWidth = 1.5;
    ctx.stroke();
    ctx.lineWidth = 1;
    const best = c.scenes.reduce((m, s) => (s.mass !== null && (!m || s.mass > m.mass) ? s : m), null);
    if (best) cv.dataset.peakScene = best.name;
  }

  // the nearest keyframe: a small triangle above the plot
  if (ev.top.length) {
    const x = xOf(ev.top[0].t);
    ctx.fillStyle = dark ? "#ecebe6" : "#1d1d1b";
    ctx.beginPath(); ctx.moveTo(x - 5, y0 - 2); ctx.lineTo(x + 5, y0 - 2); ctx.lineTo(x, y0 + 6);
    ctx.closePath(); ctx.fill();
  }

  // a text description for screen readers
  const shares = c.scenes.filter((s) => s.mass !== null)
    .sort((a, b) => b.mass - a.mass).slice(0, 3)
    .map((s) => `${s.name} ${Math.round(s.mass * 100)} percent`).join(", ");
  cv.setAttribute("aria-label", p
    ? `Probability over the ${fmtTime(c.duration_s)} timeline of ${c.name}: ${shares}; ` +
      `${ev.grains.length} grains sounding.`
    : `Timeline of ${c.name}: no camera match yet.`);
}

function drawGrains(ev) {
  const cv = $("grains");
  const [ctx, W, H] = sizeCanvas(cv);
  ctx.clearRect(0, 0, W, H);
  const c = ev.corpus;
  if (!c) return;
  const x0 = PAD.left, x1 = W - PAD.right, y1 = H - PAD.bottom;
  ctx.fillStyle = "rgba(210, 30, 30, 0.85)";
  for (const g of ev.grains) {
    const x = x0 + (x1 - x0) * (g / c.duration_s);
    ctx.fillRect(Math.round(x) - 1, y1 - 18, 2, 18);
  }
}

function renderLegend(ev) {
  const list = $("legend");
  const scenes = ev.corpus ? ev.corpus.scenes : [];
  // one entry per scene name (a scene may have several stretches)
  const total = new Map();
  for (const s of scenes) total.set(s.name, (total.get(s.name) || 0) + (s.mass || 0));
  const names = [...total.keys()];
  if (list.dataset.names !== names.join("\n")) {
    list.textContent = "";
    for (const name of names) {
      const li = document.createElement("li");
      li.innerHTML = '<span class="sw" aria-hidden="true"></span><span class="n"></span> ' +
        '<span class="v"></span>';
      li.querySelector(".sw").style.setProperty("--scene", sceneColour(name));
      li.querySelector(".n").textContent = name;
      list.appendChild(li);
    }
    list.dataset.names = names.join("\n");
  }
  [...list.children].forEach((li, i) => {
    li.querySelector(".v").textContent = ev.p ? `${Math.round(total.get(names[i]) * 100)} %` : "";
  });
}

function renderStats(s) {
  setText("fps", s.vision_fps.toFixed(1));
  setText("inference", s.inference_ms.toFixed(0));
  // Vision that rests: the share of the camera frames worth an embedding.
  setText("frames", s.frames_read
    ? `${s.frames_embedded} of ${s.frames_read} (${Math.round(s.embedded_share * 100)} %)`
    : String(s.frames_seen));
  setText("xruns", String(s.xruns));
  $("xruns").className = s.xruns ? "bad" : "";
  setText("blockms", s.max_block_render_ms.toFixed(2));
  setText("blockratio", `${Math.round(s.max_block_render_ratio * 100)} %`);
  $("blockratio").className = s.max_block_render_ratio > 0.8 ? "bad" : "";
  setText("dropped", String(s.grains_dropped));
}

// Spoken (aria-live) only when something a listener cares about changes.
function renderSummary(ev) {
  const parts = [];
  if (ev.corpus) parts.push(`Sound world ${ev.corpus.name}`);
  parts.push(ev.state.label);
  if (!ev.camera.ok) parts.push("camera lost");
  if (ev.top.length) parts.push(`nearest scene: ${ev.top[0].scene}`);
  const text = parts.join(", ") + ".";
  if (text !== summaryText) { summaryText = text; $("summary").textContent = text; }
}

window.addEventListener("resize", () => { if (last) { drawPlot(last); drawGrains(last); } });
connect();
