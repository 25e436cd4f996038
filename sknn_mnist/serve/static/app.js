// The page of `sknn-mnist serve`: draw or drop an image, see every model's answer.
// It uses the same JSON API as any client: GET /api/models, POST /api/predict.
"use strict";

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const statusLine = document.getElementById("status");
const numberBox = document.getElementById("number");
const answersBox = document.getElementById("answers");
let models = [];
let inFlight = false;
let pending = null;   // the latest request waiting for the one in flight
let drawing = false;
let inked = false;
let encoding = 0;     // pad images being encoded, not yet sent

// data-busy is set while anything is on its way (a pad image being encoded, a request in
// flight or queued): a test, or a user, reads the answers once it is gone.
function updateBusy() {
  if (inFlight || pending || encoding > 0) document.body.dataset.busy = "1";
  else delete document.body.dataset.busy;
}

function clearPad() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  inked = false;
}

function card(model) {
  const div = document.createElement("div");
  div.className = "answer";
  div.dataset.model = model.name;
  const score = model.test_score != null ? `test accuracy ${(100 * model.test_score).toFixed(2)}%` : "";
  div.innerHTML = `<h2></h2><div class="meta"></div>
    <div class="top"><div class="label">&ndash;</div><div class="inputs"></div></div>
    <div class="bars"></div>`;
  div.querySelector("h2").textContent = model.name;
  div.querySelector(".meta").textContent = [model.input, score].filter(Boolean).join(" · ");
  const bars = div.querySelector(".bars");
  for (const label of model.classes) {
    const name = document.createElement("span");
    name.textContent = label;
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.innerHTML = "<span></span>";
    bar.dataset.label = String(label);
    const pct = document.createElement("span");
    pct.className = "pct";
    pct.dataset.label = String(label);
    pct.textContent = "";
    bars.append(name, bar, pct);
  }
  return div;
}

function resetAnswers() {
  for (const div of answersBox.querySelectorAll(".answer")) {
    div.querySelector(".label").textContent = "–";
    div.querySelector(".inputs").replaceChildren();
    for (const bar of div.querySelectorAll(".bar span")) bar.style.width = "0";
    for (const pct of div.querySelectorAll(".pct")) pct.textContent = "";
  }
}

function png(b64) {
  const img = document.createElement("img");
  img.src = "data:image/png;base64," + b64;
  img.alt = "what the model saw";
  return img;
}

function show(answer) {
  const div = answersBox.querySelector(`.answer[data-model="${CSS.escape(answer.model)}"]`);
  if (!div) return;
  div.querySelector(".label").textContent = answer.label;
  const digits = answer.digits || [answer];
  div.querySelector(".inputs").replaceChildren(...digits.map((d) => png(d.input_png)));
  const probabilities = digits.length === 1 ? digits[0].probabilities : null;
  for (const bar of div.querySelectorAll(".bar")) {
    const p = probabilities ? probabilities[bar.dataset.label] || 0 : 0;
    bar.firstChild.style.width = (100 * p).toFixed(1) + "%";
  }
  for (const pct of div.querySelectorAll(".pct")) {
    const p = probabilities ? probabilities[pct.dataset.label] || 0 : null;
    pct.textContent = p == null ? "" : (100 * p).toFixed(1) + "%";
    pct.classList.toggle("best", p != null && pct.dataset.label === String(answer.label));
  }
}

async function send(body, contentType) {
  if (inFlight) { pending = [body, contentType]; updateBusy(); return; }
  inFlight = true;
  updateBusy();
  try {
    const mode = numberBox.checked ? "number" : "digit";
    const options = { method: "POST", body };
    if (contentType) options.headers = { "Content-Type": contentType };
    const response = await fetch(`/api/predict?mode=${mode}`, options);
    const data = await response.json();
    if (!response.ok) {
      statusLine.textContent = data.error || `error ${response.status}`;
      resetAnswers();
    } else {
      statusLine.textContent = "";
      for (const answer of Array.isArray(data) ? data : [data]) show(answer);
    }
    document.body.dataset.answers = String(Number(document.body.dataset.answers) + 1);
  } catch (err) {
    statusLine.textContent = "the server did not answer: " + err;
  } finally {
    inFlight = false;
    if (pending) { const next = pending; pending = null; send(...next); }
    updateBusy();
  }
}

function sendPad() {
  if (!inked) return;
  encoding += 1;
  updateBusy();
  pad.toBlob((blob) => {
    encoding -= 1;
    send(blob, "image/png");
    updateBusy();
  }, "image/png");
}

let lastSent = 0;
function point(event) {
  const rect = pad.getBoundingClientRect();
  return [(event.clientX - rect.left) * pad.width / rect.width,
          (event.clientY - rect.top) * pad.height / rect.height];
}

pad.addEventListener("pointerdown", (event) => {
  drawing = true;
  pad.setPointerCapture(event.pointerId);
  const [x, y] = point(event);
  ctx.beginPath();
  ctx.moveTo(x, y);
  ctx.lineTo(x + 0.01, y);
  ctx.stroke();
  inked = true;
});
pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const [x, y] = point(event);
  ctx.lineTo(x, y);
  ctx.stroke();
  // Answers as you draw: at most one request in flight, a few per second.
  const now = performance.now();
  if (now - lastSent > 150) { lastSent = now; sendPad(); }
});
function endStroke() {
  if (!drawing) return;
  drawing = false;
  sendPad();
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

function sendFile(file) {
  if (!file) return;
  const form = new FormData();
  form.append("image", file, file.name || "image");
  send(form, null);
  // Show the picture on the pad: drawing on it afterwards sends the pad.
  const url = URL.createObjectURL(file);
  const img = new Image();
  img.onload = () => {
    clearPad();
    const s = Math.min(pad.width / img.width, pad.height / img.height);
    const w = img.width * s, h = img.height * s;
    ctx.drawImage(img, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
    inked = true;
    URL.revokeObjectURL(url);
    setupPen();
  };
  img.src = url;
}

document.getElementById("file").addEventListener("change", (event) => {
  sendFile(event.target.files[0]);
  event.target.value = "";
});
pad.addEventListener("dragover", (event) => { event.preventDefault(); pad.classList.add("dragover"); });
pad.addEventListener("dragleave", () => pad.classList.remove("dragover"));
pad.addEventListener("drop", (event) => {
  event.preventDefault();
  pad.classList.remove("dragover");
  sendFile(event.dataTransfer.files[0]);
});
document.getElementById("clear").addEventListener("click", () => {
  clearPad();
  resetAnswers();
  statusLine.textContent = "";
});
numberBox.addEventListener("change", sendPad);

function setupPen() {
  ctx.strokeStyle = "#000";
  ctx.lineWidth = 18;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
}

async function start() {
  clearPad();
  setupPen();
  try {
    const response = await fetch("/api/models");
    models = await response.json();
    answersBox.replaceChildren(...models.map(card));
    document.body.dataset.ready = "1";
  } catch (err) {
    statusLine.textContent = "cannot list the models: " + err;
  }
}
start();
