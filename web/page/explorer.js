// keras-vae latent explorer: decodes latent vectors in the browser with LiteRT.js (WebAssembly).
//
// Reads, from the folder it is served from:
//   decoder_metadata.json   written by the TFLite export: inputs, data shape, prior, variants
//   explorer.json           written by `keras-vae export --web`: latent ranges, map plane, classes
//   decoder_<variant>_batch1.tflite   the decoders with batch 1 fixed (LiteRT.js does not resize)
//   litertjs/               the LiteRT.js runtime (JS and WebAssembly), copied from web/node_modules
//
// For tests and benchmarks the page exposes `window.explorer` (see the bottom of this file):
// `show(z, {label, condition, variant})` decodes one latent vector exactly as the controls do and
// resolves to `lastDecode` ({variant, z, condition, pixels, ms}); `imageBytes()` reads the drawn
// image back (RGBA, native resolution); `timeDecodes(variant, count)` times single decodes.
// `document.body.dataset.state` is "loading", "ready" or "error"; errors are shown in #status.

import {loadLiteRt, loadAndCompile, Tensor} from "./litertjs/core/index.js";

const WASM_DIR = "./litertjs/wasm/";
const MAP_SPAN = 3; // the map and the sliders cover center +- MAP_SPAN * scale per dimension

const $ = (id) => document.getElementById(id);
const state = {
  meta: null, web: null, variant: null, z: null, label: 0, condition: null,
  models: {}, lastDecode: null, error: null, times: [],
};

function setStatus(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.className = isError ? "error" : "";
  if (isError) {
    state.error = text;
    document.body.dataset.state = "error";
  }
}

async function fetchJson(file) {
  let response;
  try {
    response = await fetch(file, {cache: "no-store"});
  } catch (error) {
    throw new Error(`${file}: could not be fetched (${error.message}). Serve this folder with ` +
                    "`python -m http.server` and open it over http://, not file://.");
  }
  if (!response.ok) {
    throw new Error(`${file}: the server answered HTTP ${response.status}; it is missing from the export folder.`);
  }
  try {
    return await response.json();
  } catch (error) {
    throw new Error(`${file}: not valid JSON (${error.message}); export again with --web.`);
  }
}

// Loads and compiles one decoder variant; every failure becomes an Error with a sentence for a person.
async function loadVariant(variant) {
  if (state.models[variant]) return state.models[variant];
  const entry = state.web.files[variant];
  if (!entry) throw new Error(`This export has no ${variant} decoder.`);
  const file = entry.file;
  const response = await fetch(file, {cache: "no-store"});
  if (!response.ok) {
    throw new Error(`Decoder ${file} could not be loaded: the server answered HTTP ${response.status} ` +
                    "(the file is missing from the export folder). Export the run again.");
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  // A TFLite flatbuffer carries the file identifier "TFL3" at bytes 4..7.
  const identifier = String.fromCharCode(...bytes.slice(4, 8));
  if (bytes.length < 16 || identifier !== "TFL3") {
    throw new Error(`Decoder ${file} is corrupt: it is not a TFLite model (${bytes.length} bytes, ` +
                    "no TFL3 identifier). Export the run again.");
  }
  if (entry.bytes !== undefined && entry.bytes !== bytes.length) {
    throw new Error(`Decoder ${file} is corrupt: ${bytes.length} bytes where the export wrote ` +
                    `${entry.bytes}. Export the run again.`);
  }
  let model;
  try {
    model = await loadAndCompile(bytes, {accelerator: "wasm"});
  } catch (error) {
    throw new Error(`Decoder ${file} is corrupt: LiteRT.js could not load it (${error.message || error}).`);
  }
  const signature = model.signatures.decode;
  if (!signature) throw new Error(`Decoder ${file} has no "decode" signature; it is not a keras-vae decoder.`);
  const names = signature.getInputDetails().map((d) => d.name).sort();
  const wanted = state.meta.inputs.map((i) => i.name).sort();
  if (names.join() !== wanted.join()) {
    throw new Error(`Decoder ${file} takes inputs [${names}] but decoder_metadata.json says [${wanted}].`);
  }
  state.models[variant] = model;
  return model;
}

function conditionVector() {
  const c = state.meta.condition;
  if (!c) return null;
  if (c.num_classes) {
    const onehot = new Float32Array(c.num_classes);
    onehot[state.label] = 1;
    return onehot;
  }
  return Float32Array.from(state.condition);
}

// One decode of the current state: run the decoder, read its output, draw it. Returns lastDecode.
async function decodeCurrent() {
  const variant = state.variant;
  const model = await loadVariant(variant);
  const z = Float32Array.from(state.z);
  const condition = conditionVector();
  const start = performance.now();
  const inputs = {z: new Tensor(z, [1, z.length])};
  if (condition) inputs.condition = new Tensor(condition, [1, condition.length]);
  let outputs;
  try {
    outputs = await model.run("decode", inputs);
  } finally {
    for (const tensor of Object.values(inputs)) tensor.delete();
  }
  const name = state.meta.output.name;
  const pixels = Float32Array.from(await outputs[name].data());
  for (const tensor of Object.values(outputs)) tensor.delete();
  const ms = performance.now() - start;
  draw(pixels);
  state.times.push(ms);
  if (state.times.length > 50) state.times.shift();
  const sorted = [...state.times].sort((a, b) => a - b);
  $("timing").textContent = `decode ${ms.toFixed(2)} ms (median of last ${sorted.length}: ` +
    `${sorted[Math.floor(sorted.length / 2)].toFixed(2)} ms), ${variant}, LiteRT.js WebAssembly`;
  state.lastDecode = {variant, z: Array.from(z), condition: condition && Array.from(condition),
                      pixels: Array.from(pixels), ms};
  return state.lastDecode;
}

// Draws the decoded E[x|z] at native resolution into #image (uint8 = round(clip(v, 0, 1) * 255)),
// then scaled up, without smoothing, into #view.
function draw(pixels) {
  const [height, width, channels] = state.meta.data_shape;
  const canvas = $("image");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d", {willReadFrequently: true});
  const image = context.createImageData(width, height);
  const byte = (v) => Math.round(Math.min(1, Math.max(0, v)) * 255);
  for (let p = 0; p < width * height; p++) {
    const grey = channels === 1;
    for (let k = 0; k < 3; k++) image.data[4 * p + k] = byte(pixels[p * channels + (grey ? 0 : k)]);
    image.data[4 * p + 3] = 255;
  }
  context.putImageData(image, 0, 0);
  const view = $("view").getContext("2d");
  view.imageSmoothingEnabled = false;
  view.clearRect(0, 0, $("view").width, $("view").height);
  view.drawImage(canvas, 0, 0, $("view").width, $("view").height);
}

// Decode requests from the controls: one decode runs at a time, the newest waiting request wins.
let running = null;
let queued = false;
function requestDecode() {
  if (running) {
    queued = true;
    return running;
  }
  running = (async () => {
    try {
      do {
        queued = false;
        await decodeCurrent();
      } while (queued);
      if (!state.error) setStatus("Ready: drag on the map, move the sliders or press random z.");
    } catch (error) {
      setStatus(error.message || String(error), true);
      throw error;
    } finally {
      running = null;
    }
  })();
  return running;
}

// The map: the plane of latent dimensions web.map.dims, center +- MAP_SPAN * scale on each axis.
function mapRange(axis) {
  const dim = state.web.map.dims[axis];
  if (dim === null || dim === undefined) return null;
  const c = state.web.center[dim], s = state.web.scale[dim];
  return {dim, lo: c - MAP_SPAN * s, hi: c + MAP_SPAN * s};
}

function drawMap() {
  const canvas = $("map");
  const context = canvas.getContext("2d");
  const {width, height} = canvas;
  context.fillStyle = "#f4f4f4";
  context.fillRect(0, 0, width, height);
  context.strokeStyle = "#ccc";
  for (let i = 1; i < 6; i++) {
    context.beginPath(); context.moveTo((i * width) / 6, 0); context.lineTo((i * width) / 6, height); context.stroke();
    context.beginPath(); context.moveTo(0, (i * height) / 6); context.lineTo(width, (i * height) / 6); context.stroke();
  }
  const x = mapRange(0), y = mapRange(1);
  const px = ((state.z[x.dim] - x.lo) / (x.hi - x.lo)) * width;
  const py = y ? (1 - (state.z[y.dim] - y.lo) / (y.hi - y.lo)) * height : height / 2;
  context.fillStyle = "#b00020";
  context.beginPath(); context.arc(px, py, 5, 0, 2 * Math.PI); context.fill();
}

function onMapPointer(event) {
  if (event.type === "pointermove" && !(event.buttons & 1)) return;
  const canvas = $("map");
  const rect = canvas.getBoundingClientRect();
  const fx = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
  const fy = Math.min(1, Math.max(0, (event.clientY - rect.top) / rect.height));
  const x = mapRange(0), y = mapRange(1);
  state.z[x.dim] = x.lo + fx * (x.hi - x.lo);
  if (y) state.z[y.dim] = y.lo + (1 - fy) * (y.hi - y.lo);
  syncControls();
  requestDecode().catch(() => {});
}

function addSlider(parent, label, value, lo, hi, onInput) {
  const row = document.createElement("div");
  row.className = "slider";
  const name = document.createElement("span");
  name.textContent = label;
  const input = document.createElement("input");
  Object.assign(input, {type: "range", min: lo, max: hi, step: (hi - lo) / 200, value});
  input.setAttribute("aria-label", label);
  const shown = document.createElement("span");
  shown.textContent = Number(value).toFixed(2);
  input.addEventListener("input", () => {
    shown.textContent = Number(input.value).toFixed(2);
    onInput(Number(input.value));
  });
  row.append(name, input, shown);
  parent.append(row);
  return {input, shown};
}

const sliders = [];
function buildControls() {
  const meta = state.meta, web = state.web;
  const select = $("variant");
  for (const variant of web.variants) {
    const option = document.createElement("option");
    option.value = option.textContent = variant;
    select.append(option);
  }
  select.value = state.variant;
  select.addEventListener("change", () => {
    state.variant = select.value;
    state.error = null;
    document.body.dataset.state = "ready";
    setStatus(`Loading the ${state.variant} decoder…`);
    requestDecode().catch(() => {});
  });
  if (meta.condition && meta.condition.num_classes) {
    $("class-row").hidden = false;
    const names = web.class_names || [];
    for (let k = 0; k < meta.condition.num_classes; k++) {
      const option = document.createElement("option");
      option.value = k;
      option.textContent = names[k] !== undefined ? `${k}: ${names[k]}` : String(k);
      $("class").append(option);
    }
    $("class").addEventListener("change", () => {
      state.label = Number($("class").value);
      requestDecode().catch(() => {});
    });
  }
  const mapped = new Set(web.map.dims.filter((d) => d !== null));
  const box = $("sliders");
  for (let d = 0; d < meta.latent_dim; d++) {
    if (mapped.has(d)) continue;
    const lo = web.center[d] - MAP_SPAN * web.scale[d], hi = web.center[d] + MAP_SPAN * web.scale[d];
    sliders[d] = addSlider(box, `z[${d}]`, state.z[d], lo, hi, (v) => {
      state.z[d] = v;
      requestDecode().catch(() => {});
    });
  }
  if (state.condition) {
    state.condition.forEach((value, i) => addSlider(box, `c[${i}]`, value, -3, 3, (v) => {
      state.condition[i] = v;
      requestDecode().catch(() => {});
    }));
  }
  $("random").addEventListener("click", () => {
    state.z = randomZ();
    syncControls();
    requestDecode().catch(() => {});
  });
  const map = $("map");
  map.addEventListener("pointerdown", (e) => { map.setPointerCapture(e.pointerId); onMapPointer(e); });
  map.addEventListener("pointermove", onMapPointer);
  $("map-note").textContent = web.map.description;
  $("about").textContent = `${meta.kind} with a ${meta.likelihood} likelihood, latent dimension ` +
    `${meta.latent_dim}, images ${meta.data_shape.join("×")}. Decoded in this browser by LiteRT.js; ` +
    "no request leaves this folder.";
}

function syncControls() {
  sliders.forEach((slider, d) => {
    if (!slider) return;
    slider.input.value = state.z[d];
    slider.shown.textContent = state.z[d].toFixed(2);
  });
  if ($("class-row").hidden === false) $("class").value = String(state.label);
  $("variant").value = state.variant;
  drawMap();
}

function gaussian() {
  const u = 1 - Math.random(), v = Math.random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

// A draw from the model's own prior when decoder_metadata.json describes it, else at the codes' scale.
function randomZ() {
  const prior = state.meta.prior || {};
  const n = state.meta.latent_dim;
  if (prior.weights && prior.means && prior.scales) {
    let u = Math.random(), k = 0;
    while (k < prior.weights.length - 1 && u > prior.weights[k]) u -= prior.weights[k++];
    return Array.from({length: n}, (_, d) => prior.means[k][d] + prior.scales[k][d] * gaussian());
  }
  return Array.from({length: n}, (_, d) => state.web.center[d] + state.web.scale[d] * gaussian());
}

async function main() {
  document.body.dataset.state = "loading";
  try {
    state.meta = await fetchJson("decoder_metadata.json");
    state.web = await fetchJson("explorer.json");
  } catch (error) {
    setStatus(error.message, true);
    return;
  }
  state.variant = state.web.default_variant;
  state.z = [...state.web.center];
  if (state.meta.condition && !state.meta.condition.num_classes) {
    state.condition = new Array(state.meta.condition.condition_dim).fill(0);
  }
  buildControls();
  syncControls();
  try {
    await loadLiteRt(WASM_DIR);
  } catch (error) {
    setStatus(`The LiteRT.js runtime could not be loaded from ${WASM_DIR} (${error.message || error}); ` +
              "the export folder is incomplete: export again with --web.", true);
    return;
  }
  setStatus(`Loading the ${state.variant} decoder…`);
  try {
    await requestDecode();
    document.body.dataset.state = "ready";
  } catch (error) {
    // requestDecode has shown the message.
  }
}

window.explorer = {
  state,
  ready: null,
  // Decodes one latent vector through the same path as the controls; resolves to lastDecode.
  async show(z, {label, condition, variant} = {}) {
    if (z.length !== state.meta.latent_dim) {
      throw new Error(`z must have ${state.meta.latent_dim} values, got ${z.length}`);
    }
    state.z = Array.from(z, Number);
    if (label !== undefined) state.label = label;
    if (condition !== undefined) state.condition = Array.from(condition, Number);
    if (variant !== undefined) {
      state.variant = variant;
      state.error = null;
      document.body.dataset.state = "ready";
    }
    syncControls();
    await requestDecode();
    return state.lastDecode;
  },
  // The drawn image at native resolution, RGBA bytes, as read back from the canvas.
  imageBytes() {
    const canvas = $("image");
    return Array.from(canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data);
  },
  // Times `count` single decodes of random z with `variant` after `warmup` untimed ones: `times`,
  // each decode's ms (run + read back; performance.now() ticks in 0.1 ms steps here), and
  // `loop_ms`, the whole loop's ms (decodes, drawing and the controls' update) for a mean.
  async timeDecodes(variant, count = 200, warmup = 20) {
    const times = [];
    for (let i = 0; i < warmup; i++) await this.show(randomZ(), {variant});
    const start = performance.now();
    for (let i = 0; i < count; i++) times.push((await this.show(randomZ(), {variant})).ms);
    return {times, loop_ms: performance.now() - start};
  },
};
window.explorer.ready = main();
