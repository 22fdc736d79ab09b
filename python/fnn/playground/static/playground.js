// The playground's page: controls → JSON requests to fnn's server (fnn/playground/server.py) →
// pictures. No library: the canvas draws maps, weights and curves; the server trains.
"use strict";

const page = {
  session: null,
  choices: null,
  settings: null,
  state: null,
  points: null,
  playing: false,
  busy: false,
  updateTimes: [],
};
const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------ requests

async function api(path, body) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ session: page.session, ...body }),
    });
  } catch (error) {
    showStatus(`the playground's server does not answer (${error.message}); is "fnn playground" still running?`, true);
    pause();
    return null;
  }
  let answer;
  try {
    answer = await response.json();
  } catch (error) {
    showStatus(`the server answered ${response.status} without JSON`, true);
    pause();
    return null;
  }
  if (!response.ok || answer.error) {
    showStatus(answer.error || `the server answered ${response.status}`, true);
    pause();
    return null;
  }
  return answer;
}

function showStatus(text, isError = false) {
  const status = $("status");
  status.textContent = text || "";
  status.classList.toggle("error", Boolean(isError));
}

// ------------------------------------------------------------------ settings from the controls

function currentSettings() {
  const s = { ...page.settings };
  const data = document.querySelector("#data-sets input:checked");
  if (data) s.data = data.value;
  s.noise = Number($("noise").value) / 100;
  s.train_fraction = Number($("train-share").value) / 100;
  s.points = Number($("points").value);
  s.learning_rate = Number($("learning-rate").value);
  s.optimiser = $("optimiser").value;
  s.batch_size = Math.max(1, Math.round(Number($("batch-size").value) || 1));
  s.l2 = Number($("l2").value);
  s.output = $("output").value;
  s.features = [...document.querySelectorAll("#features input:checked")].map((box) => box.value);
  s.widths = [...document.querySelectorAll("#layers input.width")].map((box) => Number(box.value));
  s.activations = [...document.querySelectorAll("#layers select.activation")].map((box) => box.value);
  return s;
}

async function configure(reset) {
  pause();
  const answer = await api("/api/configure", { settings: currentSettings(), reset });
  if (answer) {
    showStatus(reset ? "a new network, from new random weights" : "the new settings steer training from here");
    showControls(answer.settings);
    accept(answer);
  } else {
    showControls(page.settings);  // the refused settings are undone on the page too
  }
}

function showControls(s) {
  page.settings = s;
  $("noise").value = Math.round(s.noise * 100);
  $("noise-value").textContent = Math.round(s.noise * 100);
  $("train-share").value = Math.round(s.train_fraction * 100);
  $("train-share-value").textContent = Math.round(s.train_fraction * 100);
  $("points").value = String(s.points);
  setSelect($("learning-rate"), String(s.learning_rate));
  $("optimiser").value = s.optimiser;
  $("batch-size").value = s.batch_size;
  setSelect($("l2"), String(s.l2));
  $("output").value = s.output;
  for (const box of document.querySelectorAll("#data-sets input")) box.checked = box.value === s.data;
  for (const box of document.querySelectorAll("#features input")) box.checked = s.features.includes(box.value);
  const layers = $("layers");
  layers.textContent = "";
  s.widths.forEach((width, i) => {
    const row = document.createElement("div");
    row.className = "layer";
    row.innerHTML = `<span>hidden layer ${i + 1}</span>`;
    const less = button("−", () => { widthOf(i, -1); });
    const more = button("+", () => { widthOf(i, +1); });
    const box = document.createElement("input");
    box.type = "number"; box.className = "width"; box.min = 1; box.value = width; box.dataset.layer = i;
    box.addEventListener("change", () => configure(true));
    const select = document.createElement("select");
    select.className = "activation"; select.dataset.layer = i;
    for (const name of page.choices.activations) select.add(new Option(name.replace("_", " "), name));
    select.value = s.activations[i];
    select.addEventListener("change", () => configure(true));
    row.append(less, box, more, select);
    layers.append(row);
  });
}

function setSelect(select, value) {
  if (![...select.options].some((option) => option.value === value)) select.add(new Option(value, value));
  select.value = value;
}

function button(text, onClick) {
  const b = document.createElement("button");
  b.textContent = text;
  b.addEventListener("click", onClick);
  return b;
}

function widthOf(layer, change) {
  const box = document.querySelector(`#layers input.width[data-layer="${layer}"]`);
  box.value = Math.max(1, Number(box.value) + change);
  configure(true);
}

// ------------------------------------------------------------------ training

function accept(state) {
  page.state = state;
  if (state.points) page.points = state.points;
  if (state.settings) page.settings = state.settings;
  draw();
  if (state.message) showStatus(state.message, state.diverged);
  if (state.diverged) pause();
}

async function stepEpoch() {
  if (page.busy) return null;
  page.busy = true;
  try {
    const state = await api("/api/step", { epochs: 1 });
    if (state) {
      accept(state);
      markAlgorithm([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      countUpdate();
    }
    return state;
  } finally {
    page.busy = false;
  }
}

async function play() {
  if (page.playing) {
    pause();
    showStatus("paused: ▶ Play goes on from here");
    return;
  }
  page.playing = true;
  $("play").textContent = "❚❚ Pause";
  $("play").classList.add("playing");
  showStatus("training: one epoch per picture");
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  while (page.playing) {
    if (page.busy) { await frame(); continue; }  // a step asked for by hand is still on its way
    if (!await stepEpoch()) break;  // refused or failed: api() has said why and paused
    await frame();
  }
}

function pause() {
  page.playing = false;
  $("play").textContent = "▶ Play";
  $("play").classList.remove("playing");
}

function countUpdate() {
  const now = performance.now();
  page.updateTimes.push(now);
  while (page.updateTimes.length && now - page.updateTimes[0] > 2000) page.updateTimes.shift();
  if (page.updateTimes.length >= 2) {
    const span = (now - page.updateTimes[0]) / 1000;
    $("rate").textContent = ((page.updateTimes.length - 1) / span).toFixed(1);
  }
}

async function stepSample() {
  pause();
  const state = await api("/api/sample", {});
  if (!state) return;
  accept(state);
  markAlgorithm([5, 6, 7, 8, 9, 10, 11]);
  showTrace(state.trace);
}

async function gradientCheck() {
  pause();
  $("gradient-result").textContent = "checking…";
  const result = await api("/api/gradient-check", {});
  if (!result) { $("gradient-result").textContent = ""; return; }
  const rows = Object.entries(result.errors).map(([name, error]) =>
    `<tr><td>${name}</td><td class="${error < 1e-4 ? "ok" : "bad"}">${error.toExponential(2)}</td></tr>`).join("");
  const verdict = result.agrees
    ? `<p class="ok">Backpropagation agrees with central differences (4.64): the largest relative error is
       ${result.worst.toExponential(2)} on ${result.rows} training samples, in float64.</p>`
    : `<p class="bad">The largest relative error is ${result.worst.toExponential(2)}: a kink of ReLU, hard-tanh or
       maxout crossed by ±ε gives such an error for that entry (section 4.5.1).</p>`;
  $("gradient-result").innerHTML = `${verdict}<table><tr><th>parameter</th><th>max relative error</th></tr>${rows}</table>`;
}

// ------------------------------------------------------------------ pictures

const ORANGE = [245, 147, 34];
const BLUE = [8, 119, 189];
const WHITE = [250, 250, 250];

function colour(value) {  // value in [−1, 1]: orange … white … blue
  const v = Math.max(-1, Math.min(1, Number.isFinite(value) ? value : 0));
  const end = v < 0 ? ORANGE : BLUE;
  const t = Math.abs(v);
  return WHITE.map((w, k) => Math.round(w + (end[k] - w) * t));
}

function mapImage(values, side, scale) {
  const image = new ImageData(side, side);
  for (let i = 0; i < side * side; i += 1) {
    const [r, g, b] = colour(values[i] / scale);
    image.data.set([r, g, b, 255], 4 * i);
  }
  const canvas = document.createElement("canvas");
  canvas.width = side; canvas.height = side;
  canvas.getContext("2d").putImageData(image, 0, 0);
  return canvas;
}

function largest(values) {
  let m = 0;
  for (const v of values) if (Number.isFinite(v) && Math.abs(v) > m) m = Math.abs(v);
  return m || 1;
}

function targetScale() {
  if (page.state.classification) return 1;
  return largest(page.points.train.map((p) => p[2]));
}

function draw() {
  const s = page.state;
  if (!s || s.error) return;
  $("epoch").textContent = s.epoch.toLocaleString();
  $("updates").textContent = s.updates.toLocaleString();
  const last = (list) => (list.length ? list[list.length - 1] : null);
  const shown = (v) => (v === null || v === undefined ? "–" : v.toFixed(3));
  $("train-loss").textContent = shown(last(s.losses.train));
  $("test-loss").textContent = shown(last(s.losses.test));
  $("train-accuracy").textContent = s.accuracy ? s.accuracy.train.toFixed(3) : "–";
  $("test-accuracy").textContent = s.accuracy ? s.accuracy.test.toFixed(3) : "–";
  for (const option of $("output").options) {
    option.disabled = (option.value === "identity") === s.classification;
  }
  drawSurface();
  drawNetwork();
  drawLosses();
  showChapter(s.chapter);
}

function drawSurface() {
  const s = page.state;
  const canvas = $("surface");
  const context = canvas.getContext("2d");
  const scale = targetScale();
  // Classification: p(class 1) in [0, 1] → [−1, 1]; regression: ŷ over the targets' range.
  const values = s.classification ? s.surface.map((p) => 2 * p - 1) : s.surface;
  context.imageSmoothingEnabled = true;
  context.drawImage(mapImage(values, s.surface_grid, scale), 0, 0, canvas.width, canvas.height);
  const toPixel = (x) => ((x + 6) / 12) * canvas.width;
  const groups = [["train", "#fff"]];
  if ($("show-test").checked) groups.push(["test", "#000"]);
  for (const [name, stroke] of groups) {
    for (const [x1, x2, y] of page.points[name]) {
      const [r, g, b] = colour(s.classification ? 2 * y - 1 : y / scale);
      context.beginPath();
      context.arc(toPixel(x1), canvas.height - toPixel(x2), 3, 0, 2 * Math.PI);
      context.fillStyle = `rgb(${r},${g},${b})`;
      context.fill();
      context.strokeStyle = stroke;
      context.lineWidth = 1;
      context.stroke();
    }
  }
}

function drawNetwork() {
  const s = page.state;
  const widths = s.widths;
  const canvas = $("network");
  const node = 34; const gap = 8; const top = 24;
  const tallest = Math.max(...widths);
  canvas.height = Math.max(200, top + tallest * (node + gap) + 10);
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, canvas.width, canvas.height);
  const columnGap = (canvas.width - node - 20) / (widths.length - 1);
  const position = (layer, i) => {
    const x = 10 + layer * columnGap;
    const offset = (tallest - widths[layer]) * (node + gap) / 2;
    return [x, top + offset + i * (node + gap)];
  };
  // The weights first, under the maps: W⁽ˡ⁾ᵢⱼ joins neuron j of layer l−1 to neuron i of layer l.
  s.weights.forEach((W, index) => {
    const l = index + 1;
    W.forEach((row, i) => row.forEach((w, j) => {
      const [x0, y0] = position(l - 1, j);
      const [x1, y1] = position(l, i);
      const [r, g, b] = colour(w >= 0 ? 1 : -1);
      context.strokeStyle = `rgba(${r},${g},${b},0.8)`;
      context.lineWidth = Math.min(6, 0.4 + 1.5 * Math.abs(w));
      context.beginPath();
      context.moveTo(x0 + node, y0 + node / 2);
      context.lineTo(x1, y1 + node / 2);
      context.stroke();
    }));
  });
  context.fillStyle = "#444";
  context.font = "11px system-ui";
  s.maps.forEach((layer, l) => {
    const label = l === 0 ? "inputs a⁽⁰⁾" : l === widths.length - 1 ? "output" : `layer ${l}`;
    context.fillText(label, position(l, 0)[0], 12);
    layer.forEach((values, i) => {
      const [x, y] = position(l, i);
      const output = l === widths.length - 1;
      const shown = output && s.classification ? values.map((p) => 2 * p - 1) : values;
      const scale = output ? targetScale() : largest(shown);
      context.drawImage(mapImage(shown, s.neuron_grid, output && s.classification ? 1 : scale), x, y, node, node);
      context.strokeStyle = "#888";
      context.lineWidth = 1;
      context.strokeRect(x, y, node, node);
      if (l === 0) context.fillText(page.choices.features[s.settings.features[i]], x - 2, y + node + 7);
    });
  });
}

function drawLosses() {
  const s = page.state;
  const canvas = $("loss-chart");
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, canvas.width, canvas.height);
  const all = [...s.losses.train, ...s.losses.test].filter(Number.isFinite);
  const top = Math.max(...all, 1e-9);
  const n = s.losses.train.length;
  for (const [name, style] of [["train", "#888"], ["test", "#000"]]) {
    context.strokeStyle = style;
    context.lineWidth = 1.5;
    context.beginPath();
    s.losses[name].forEach((loss, epoch) => {
      const x = n > 1 ? (epoch / (n - 1)) * (canvas.width - 10) + 5 : 5;
      const y = canvas.height - 5 - (Number.isFinite(loss) ? loss / top : 1) * (canvas.height - 20);
      if (epoch === 0) context.moveTo(x, y); else context.lineTo(x, y);
    });
    context.stroke();
  }
  context.fillStyle = "#444";
  context.font = "11px system-ui";
  context.fillText(`loss (grey: training, black: test); top ${top.toPrecision(3)}`, 5, 11);
}

// ------------------------------------------------------------------ the chapter

function showChapter(chapter) {
  const rows = (list) => list.map(([formula, number, remark]) =>
    `<tr><td>${escape(formula)}</td><td>${escape(number)}</td><td>${escape(remark)}</td></tr>`).join("");
  $("forward").innerHTML = rows(chapter.forward);
  $("backward").innerHTML = rows(chapter.backward);
  const algorithm = $("algorithm");
  if (algorithm.children.length !== chapter.algorithm.length) {
    algorithm.innerHTML = chapter.algorithm.map(([line, text]) =>
      `<li value="${line}" data-line="${line}">${escape(text)}</li>`).join("");
  }
  $("update-rule").textContent = `Here: ${chapter.update_rule}.`;
}

function markAlgorithm(lines) {
  for (const item of $("algorithm").children) {
    item.classList.toggle("active", lines.includes(Number(item.dataset.line)));
  }
}

function showTrace(trace) {
  if (!trace) return;
  const vector = (values) => `[${values.slice(0, 8).map((v) => v.toFixed(3)).join(", ")}${values.length > 8 ? ", …" : ""}]`;
  const lines = [`line 5: sample n = ${trace.sample}, x = ${vector(trace.x)}, y = ${trace.target}`,
    `line 6: a⁽⁰⁾ = ${vector(trace.input)}`];
  trace.layers.forEach((layer, index) => {
    const l = index + 1;
    lines.push(`        z⁽${sup(l)}⁾ = ${vector(layer.z)}   a⁽${sup(l)}⁾ = ${vector(layer.a)}`);
  });
  lines.push(`        loss L = ${trace.loss.toFixed(4)}`);
  [...trace.layers].reverse().forEach((layer, back) => {
    const l = trace.layers.length - back;
    lines.push(`line 7: δ⁽${sup(l)}⁾ = ${vector(layer.delta)}   lines 8–9: ‖∂L/∂W⁽${sup(l)}⁾‖ = ${layer.weight_gradient_norm.toFixed(4)}`);
  });
  lines.push("lines 10–11: W and b updated (the pictures above show the network after this step)");
  $("trace").textContent = lines.join("\n");
}

const SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹";
const sup = (n) => String(n).replace(/[0-9]/g, (d) => SUPERSCRIPTS[Number(d)]);

function escape(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
}

// ------------------------------------------------------------------ files

async function upload(file) {
  if (!file) return;
  if (file.size > 2_000_000) {
    showStatus(`${file.name} is ${file.size.toLocaleString()} bytes; the playground takes up to 2,000,000`, true);
    return;
  }
  pause();
  const state = await api("/api/upload", { csv: await file.text() });
  $("upload").value = "";
  if (!state) return;
  showControls(state.settings);
  accept(state);
  showStatus(`${file.name}: ${state.points.train.length + state.points.test.length} points, ` +
    `${state.classification ? "two classes" : "a regression"}; inputs rescaled to fill the plot`);
}

function exportPicture() {
  const parts = [$("network"), $("surface"), $("loss-chart")];
  const picture = document.createElement("canvas");
  picture.width = parts[0].width + parts[1].width + 30;
  picture.height = Math.max(parts[0].height, parts[1].height + parts[2].height + 10) + 20;
  const context = picture.getContext("2d");
  context.fillStyle = "#fff";
  context.fillRect(0, 0, picture.width, picture.height);
  context.drawImage(parts[0], 10, 10);
  context.drawImage(parts[1], parts[0].width + 20, 10);
  context.drawImage(parts[2], parts[0].width + 20, parts[1].height + 20);
  const link = document.createElement("a");
  link.download = "playground.png";
  link.href = picture.toDataURL("image/png");
  document.body.append(link);
  link.click();
  link.remove();
}

// ------------------------------------------------------------------ start

async function start() {
  const response = await fetch("/api/session", { method: "POST", body: "{}" });
  const answer = await response.json();
  page.session = answer.session;
  page.choices = answer.choices;
  for (const name of page.choices.optimisers) $("optimiser").add(new Option(name, name));
  for (const [name, label] of Object.entries(page.choices.data)) {
    const choice = document.createElement("label");
    choice.innerHTML = `<input type="radio" name="data" value="${name}"> ${escape(label)}`;
    choice.querySelector("input").addEventListener("change", () => configure(true));
    $("data-sets").append(choice);
  }
  for (const [name, label] of Object.entries(page.choices.features)) {
    const choice = document.createElement("label");
    choice.innerHTML = `<input type="checkbox" value="${name}"> ${escape(label)}`;
    choice.querySelector("input").addEventListener("change", () => configure(true));
    $("features").append(choice);
  }
  showControls(answer.state.settings);
  accept(answer.state);
  $("export-model").href = `/api/model?session=${encodeURIComponent(page.session)}`;

  $("play").addEventListener("click", play);
  $("step").addEventListener("click", () => { pause(); stepEpoch(); });
  $("sample").addEventListener("click", stepSample);
  $("reset").addEventListener("click", () => configure(true));
  $("regenerate").addEventListener("click", () => { page.settings.seed += 1; configure(true); });
  $("gradient-check").addEventListener("click", gradientCheck);
  $("export-png").addEventListener("click", exportPicture);
  $("upload").addEventListener("change", (event) => upload(event.target.files[0]));
  $("show-test").addEventListener("change", drawSurface);
  for (const id of ["learning-rate", "optimiser", "batch-size", "l2"]) {
    $(id).addEventListener("change", () => configure(false));
  }
  for (const id of ["noise", "train-share", "points", "output"]) {
    $(id).addEventListener("change", () => configure(true));
  }
  $("noise").addEventListener("input", () => { $("noise-value").textContent = $("noise").value; });
  $("train-share").addEventListener("input", () => { $("train-share-value").textContent = $("train-share").value; });
  $("add-layer").addEventListener("click", () => {
    if (page.settings.widths.length >= page.choices.limits.hidden_layers) {
      showStatus(`the playground draws up to ${page.choices.limits.hidden_layers} hidden layers`, true);
      return;
    }
    page.settings.widths.push(4);
    page.settings.activations.push(page.settings.activations.at(-1) || "tanh");
    showControls(page.settings);
    configure(true);
  });
  $("remove-layer").addEventListener("click", () => {
    if (!page.settings.widths.length) return;
    page.settings.widths.pop();
    page.settings.activations.pop();
    showControls(page.settings);
    configure(true);
  });
  showStatus("press ▶ Play to train, or Step sample to follow Algorithm 4.1 one sample at a time");
}

start().catch((error) => showStatus(`the page could not start: ${error.message}`, true));
