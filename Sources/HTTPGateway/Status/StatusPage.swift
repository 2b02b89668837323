/// The status page at `/`: one self-contained HTML file (no build step, no external assets) that
/// polls `/v1/status` every two seconds. Images are fetched with the API key and shown from blob
/// URLs, since an `<img src>` cannot carry an `Authorization` header. ETAs come from the rate at
/// which each batch's finished count grows between polls; workers' evaluations/s from the
/// gateway (`WorkerRates`).
enum StatusPage {
    static let html = #"""
<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sdcluster</title>
<style>
body{font:15px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 16px;display:flex;gap:12px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0}header span{opacity:.8}
main{padding:12px 16px;max-width:1100px;margin:auto}
section{background:#fff;border-radius:8px;padding:10px 14px;margin-bottom:12px;box-shadow:0 1px 2px #0001}
h2{font-size:15px;margin:2px 0 8px}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:4px 6px;border-bottom:1px solid #eee;font-size:14px}
.scroll{overflow-x:auto}.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:5px}
.busy{background:#2a9d4b}.idle{background:#aab}.retired{background:#d33}
.bar{background:#e7e9ee;border-radius:4px;height:10px;overflow:hidden;min-width:120px}
.bar div{height:100%;background:#3b6fd8}.bar .failed{background:#d33}
.thumbs{display:grid;grid-template-columns:repeat(auto-fill,minmax(96px,1fr));gap:8px}
.thumbs img{width:100%;aspect-ratio:1;object-fit:cover;border-radius:4px;background:#e7e9ee;image-rendering:pixelated}
.thumbs .muted{grid-column:1/-1}.problem{color:#b00;font-weight:600}.muted{color:#667}code{font-size:12px}
@media (max-width:600px){.wide{display:none}main{padding:8px}section{padding:8px}}
#key{display:none}input{font:inherit;padding:4px;width:260px;max-width:100%}
</style></head>
<body>
<header><h1>sdcluster</h1><span id="summary">connecting…</span></header>
<main>
<section id="key"><h2>API key</h2><p>This gateway needs an API key.</p>
<input id="keyInput" type="password" placeholder="key from --http-keys"> <button id="keySave">Use key</button></section>
<section id="problems" hidden><h2>Problems</h2><div id="problemList"></div></section>
<section><h2>Workers</h2><div class="scroll"><table><thead><tr><th>Worker</th><th>Model</th><th class="wide">Engine</th><th>State</th><th>Evaluations/s</th><th class="wide">Evaluations</th></tr></thead><tbody id="workers"></tbody></table></div></section>
<section><h2>Batches</h2><div class="scroll"><table><thead><tr><th>Batch</th><th>Progress</th><th>Done</th><th>ETA</th><th>State</th></tr></thead><tbody id="batches"></tbody></table></div></section>
<section><h2>Latest images</h2><div class="thumbs" id="thumbs"></div></section>
</main>
<script>
"use strict";
const history = {}, blobs = {};
let key = localStorage.getItem("sdclusterKey") || "";
const $ = id => document.getElementById(id);
const esc = s => String(s).replace(/[&<>"']/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));
const auth = () => key ? {Authorization: "Bearer " + key} : {};
$("keySave").onclick = () => { key = $("keyInput").value.trim(); localStorage.setItem("sdclusterKey", key); poll(); };
function rate(store, id, value, now) {
  const h = store[id] = (store[id] || []).concat([[now, value]]).filter(p => now - p[0] < 60000);
  if (h.length < 2 || h[h.length - 1][0] === h[0][0]) return null;
  return (h[h.length - 1][1] - h[0][1]) / ((h[h.length - 1][0] - h[0][0]) / 1000);
}
function eta(seconds) {
  if (seconds === null || !isFinite(seconds)) return "…";
  if (seconds < 90) return Math.round(seconds) + " s";
  if (seconds < 5400) return Math.round(seconds / 60) + " min";
  return (seconds / 3600).toFixed(1) + " h";
}
async function thumb(image) {
  if (blobs[image.url]) return blobs[image.url];
  const r = await fetch(image.url, {headers: auth()});
  if (!r.ok) return "";
  return blobs[image.url] = URL.createObjectURL(await r.blob());
}
async function poll() {
  let s;
  try {
    const r = await fetch("/v1/status", {headers: auth()});
    if (r.status === 401) { $("key").style.display = "block"; $("summary").textContent = "needs an API key"; return; }
    $("key").style.display = "none";
    s = await r.json();
    if (!r.ok) { $("summary").textContent = (s.error && s.error.message) || r.statusText; return; }
  } catch (e) { $("summary").textContent = "no answer: " + e; return; }
  const now = Date.now();
  const busy = s.workers.filter(w => w.busy).length;
  $("summary").textContent = `${s.workers.length} worker(s), ${busy} busy · ${s.evaluations_per_second.toFixed(2)} evaluations/s`;
  $("problems").hidden = s.problems.length === 0;
  $("problemList").innerHTML = s.problems.map(p => `<p class="problem">${esc(p)}</p>`).join("");
  $("workers").innerHTML = s.workers.map(w => {
    const r = w.evaluations_per_second;
    const state = w.retired ? "retired" : w.busy ? "busy" : "idle";
    return `<tr><td>${esc(w.name)}</td><td>${esc(w.models.join(", "))}</td><td class="wide"><code>${esc(w.engine)}</code></td>
      <td><span class="dot ${state}"></span>${state}</td><td>${r === null ? "…" : r.toFixed(2)}</td><td class="wide">${w.evaluations_done}</td></tr>`;
  }).join("") || `<tr><td colspan="6" class="muted">no worker connected</td></tr>`;
  $("batches").innerHTML = s.batches.map(b => {
    const c = b.counts, finished = c.done + c.failed + c.cancelled, left = c.queued + c.running;
    const r = rate(history, b.id, finished, now);
    const when = left === 0 ? "" : eta(r ? left / r : null);
    return `<tr><td>${esc(b.name)}<br><code class="muted wide">${esc(b.id)}</code></td>
      <td><div class="bar"><div style="width:${100 * c.done / Math.max(1, c.total)}%"></div></div></td>
      <td>${c.done}/${c.total}${c.failed ? ` <span class="problem">${c.failed} failed</span>` : ""}</td><td>${when}</td><td>${esc(b.state)}</td></tr>`;
  }).join("") || `<tr><td colspan="5" class="muted">no batch yet</td></tr>`;
  const urls = await Promise.all(s.latest_images.map(thumb));
  $("thumbs").innerHTML = s.latest_images.map((im, i) => `<a href="${urls[i]}" target="_blank"><img alt="${esc(im.file)}" title="${esc(im.file)}" src="${urls[i]}"></a>`).join("")
    || `<span class="muted">no image yet</span>`;
}
poll();
setInterval(poll, 2000);
</script>
</body></html>
"""#
}
