// islr in the browser: webcam or video file -> MediaPipe Holistic -> the sign model -> top signs
// over a sliding window, and the signs spotted (islr-predict --spot's activity rule and
// segment classification, spotting.js), each with its frames, times and confidence.
//
// Holistic runs on the page (it needs a canvas); the sign model runs in model-worker.js.
// Everything is loaded from this folder: no request leaves the page's origin.
//
// Test hook (documented in docs/browser.md): window.islr = {
//   ready,                     Promise: resolves when Holistic and the model are loaded
//   status, error, errorCode,  "loading" | "ready" | "running" | "done" | "error", message, code
//   config,                    model.json
//   results,                   per processed frame: Float32Array [543*3], NaN = not detected
//   frameTimes,                per processed file frame: its media time (s)
//   predictions,               {frame, window, top: [[sign, index, probability], ...], final}
//   segments,                  spotted: {start_frame, end_frame, start_time, end_time, sign
//                              (null: no sign), confidence}
//   threshold,                 the probability below which a segment is no sign
//   timings,                   per frame: {frame, holisticMs, modelMs (null: no prediction)}
//   loadFile(urlOrFile, {maxFrames}), startCamera(), stop(),
//   predictFrames(values, count): the same window/model path on given landmarks -> predictions
//   spotFrames(values, count): spotting on given landmarks -> {activity: [[start, end]], segments}
//                              (the segments are also listed on the page)
// }
// URL parameters: ?video=<url> processes that file on load (&frames=N: its first N frames
// only); ?camera=1 starts the webcam.

import { drawFrame, frameFromResults, N_LANDMARKS } from "./landmarks.js";
import { SlidingWindow, topSigns } from "./sliding-window.js";
import { Spotter, spotThreshold } from "./spotting.js";
import { DecodeError, eachFrame, openVideo } from "./video-frames.js";

const FILE_STEP_MS = 1000 / 30; // islr-extract's MediaPipe stamps frames 33.333 ms apart
const KEPT_CAMERA_FRAMES = 300;
const $ = (id) => document.getElementById(id);
const ui = {
  video: $("video"),
  overlay: $("overlay"),
  stage: $("stage"),
  camera: $("camera"),
  file: $("file"),
  stop: $("stop"),
  top: $("top"),
  sign: $("sign"),
  segments: $("segments"),
  signing: $("signing"),
  timing: $("timing"),
  progress: $("progress"),
  message: $("message"),
  status: $("status"),
};
const ctx = ui.overlay.getContext("2d");

const islr = {
  status: "loading",
  error: null,
  errorCode: null,
  config: null,
  results: [],
  frameTimes: [],
  predictions: [],
  segments: [],
  threshold: null,
  timings: [],
  ready: null,
  loadFile,
  startCamera,
  stop,
  predictFrames,
  spotFrames,
};
window.islr = islr;

// --- messages -------------------------------------------------------------------------------
function setStatus(state, message = "", code = null) {
  islr.status = state;
  islr.error = state === "error" ? message : null;
  islr.errorCode = state === "error" ? code : null;
  ui.status.dataset.state = state;
  ui.status.dataset.code = code ?? "";
  ui.status.textContent = message;
  ui.message.textContent = message;
  ui.message.className = state === "error" ? "message error" : "message";
  const busy = state === "loading";
  const broken = state === "error" && ["model-failed", "landmarks-failed"].includes(code);
  ui.camera.disabled = busy || broken;
  ui.file.disabled = busy || broken;
  ui.stop.disabled = state !== "running";
}

function fail(code, message) {
  setStatus("error", message, code);
  return { ok: false, code, message };
}

// --- the sign model (in a worker) -----------------------------------------------------------
const worker = new Worker("model-worker.js");
const pending = new Map();
let nextRequest = 0;
let workerLoaded = null;

worker.onmessage = ({ data }) => {
  if (data.type === "loaded" || (data.type === "error" && data.id === undefined)) {
    workerLoaded?.(data);
    return;
  }
  const request = pending.get(data.id);
  pending.delete(data.id);
  if (data.type === "scores") request?.resolve(data);
  else request?.reject(new Error(data.message));
};
worker.onerror = (event) => {
  event.preventDefault();
  workerLoaded?.({ type: "error", message: event.message || "the model worker did not start" });
};

async function loadModel() {
  const url = (path) => new URL(path, document.baseURI).href;
  const reply = await new Promise((resolve) => {
    workerLoaded = resolve;
    worker.postMessage({
      type: "load",
      model: url("model.tflite"),
      litert: url("vendor/litert/index.js"),
      wasmUtils: url("vendor/wasm-utils/index.js"),
      wasmDir: url("vendor/litert/wasm/"),
    });
  });
  if (reply.type === "error") throw new Error(reply.message);
  const frames = reply.inputs.find((d) => d.name === "frames");
  if (frames.shape[0] !== islr.config.window) {
    throw new Error(`model.tflite takes ${frames.shape[0]} frames, model.json says ${islr.config.window}`);
  }
  return reply;
}

function runModel(input) {
  const id = nextRequest++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ type: "run", id, ...input }, [input.frames.buffer]);
  });
}

/** The prediction after the last pushed frame (`frame` = its number). */
async function predict(win, frame) {
  if (!win.anyHand()) return { frame, window: win.length, top: [], final: false, ms: null };
  const { scores, ms } = await runModel(win.input());
  const top = topSigns(scores, islr.config.signs, islr.config.top_k, temperature());
  return { frame, window: win.length, top, final: false, ms };
}

/** Push one frame; returns the prediction due after it, or null. */
async function step(win, frame, number) {
  return win.push(frame) ? predict(win, number) : null;
}

/** At the end of a clip: its prediction over the last `window` frames (marked final). */
async function finish(win, predictions, number) {
  if (win.length === 0) return null;
  const last = predictions.at(-1);
  const final = last && last.frame === number ? last : await predict(win, number);
  final.final = true;
  if (final !== last) predictions.push(final);
  return final;
}

/** The calibrated temperature of the scores (1: the model has no calibration). */
function temperature() {
  return islr.config.calibration?.temperature ?? 1;
}

/** Top-1 [sign, index, probability] of a clip of at most `window` frames (spotting). */
async function classifyClip(frames) {
  const win = new SlidingWindow(islr.config.window, 1);
  for (const frame of frames) win.push(frame);
  const { scores } = await runModel(win.input());
  return topSigns(scores, islr.config.signs, 1, temperature())[0];
}

function newSpotter() {
  return new Spotter(islr.config.spot, islr.threshold, classifyClip);
}

function unpack(values, count) {
  const data = Float32Array.from(values);
  const size = N_LANDMARKS * 3;
  if (data.length !== count * size) throw new Error(`expected ${count} x ${size} values, got ${data.length}`);
  return Array.from({ length: count }, (_, i) => data.subarray(i * size, (i + 1) * size));
}

/** Spotting on given landmarks (frames at 30 per second), shown in the list like a file's. */
async function spotFrames(values, count) {
  await islr.ready;
  const spotter = newSpotter();
  const segments = [];
  islr.segments = [];
  ui.segments.replaceChildren();
  let index = 0;
  for (const frame of unpack(values, count)) {
    const closed = await spotter.push(frame, (index++ * FILE_STEP_MS) / 1000);
    showSpotted(closed, spotter);
    segments.push(...closed);
  }
  const last = await spotter.finish();
  showSpotted(last, null);
  segments.push(...last);
  return { activity: spotter.spans, segments };
}

async function predictFrames(values, count) {
  await islr.ready;
  const data = Float32Array.from(values);
  const size = N_LANDMARKS * 3;
  if (data.length !== count * size) throw new Error(`expected ${count} x ${size} values, got ${data.length}`);
  const win = new SlidingWindow(islr.config.window, islr.config.every);
  const predictions = [];
  for (let i = 0; i < count; i++) {
    const p = await step(win, data.slice(i * size, (i + 1) * size), i);
    if (p) predictions.push(p);
  }
  await finish(win, predictions, count - 1);
  return predictions;
}

// --- MediaPipe Holistic ---------------------------------------------------------------------
let holistic = null;
let latest = null;
let lastStamp = 0;
const edges = { hand: window.HAND_CONNECTIONS, pose: window.POSE_CONNECTIONS };

async function loadHolistic() {
  if (typeof window.Holistic !== "function") throw new Error("vendor/holistic/holistic.js did not load");
  holistic = new window.Holistic({ locateFile: (file) => `vendor/holistic/${file}` });
  // islr-extract's settings (holistic_worker.py): model complexity 1, 468 face points,
  // MediaPipe's default smoothing, no segmentation, no mirroring. useCpuInference is an
  // option of holistic.js missing from its .d.ts: on machines without a GPU the default WebGL
  // path runs through a software renderer and takes seconds per frame.
  holistic.setOptions({
    modelComplexity: 1,
    smoothLandmarks: true,
    enableSegmentation: false,
    refineFaceLandmarks: false,
    minDetectionConfidence: 0.5,
    minTrackingConfidence: 0.5,
    selfieMode: false,
    useCpuInference: true,
  });
  holistic.onResults((results) => {
    latest = results;
  });
  await holistic.initialize();
}

async function landmarks(image, stamp) {
  lastStamp = Math.max(stamp, lastStamp + 1);
  const started = performance.now();
  await holistic.send({ image }, lastStamp);
  return { frame: frameFromResults(latest), ms: performance.now() - started };
}

// --- display --------------------------------------------------------------------------------
function showPrediction(prediction) {
  ui.top.replaceChildren();
  if (!prediction.top.length) {
    ui.sign.textContent = "No hand in view";
    ui.sign.className = "sign idle";
    return;
  }
  const [best] = prediction.top;
  ui.sign.textContent = best[0];
  ui.sign.className = "sign";
  for (const [sign, , prob] of prediction.top) {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = sign;
    const bar = document.createElement("meter");
    bar.min = 0;
    bar.max = 1;
    bar.value = prob;
    const value = document.createElement("span");
    value.className = "prob";
    value.textContent = `${(100 * prob).toFixed(1)} %`;
    item.append(name, bar, value);
    ui.top.append(item);
  }
}

function formatTime(seconds) {
  return seconds === null || seconds === undefined ? "" : `${seconds.toFixed(2)} s`;
}

function showSegment(segment) {
  const item = document.createElement("li");
  item.className = segment.sign === null ? "no-sign" : "";
  const name = document.createElement("span");
  name.className = "segment-sign";
  name.textContent = segment.sign ?? "no sign";
  const where = document.createElement("span");
  where.className = "small";
  const times = segment.start_time === null ? "" : ` (${formatTime(segment.start_time)}–${formatTime(segment.end_time)})`;
  where.textContent = `frames ${segment.start_frame}–${segment.end_frame}${times}`;
  const value = document.createElement("span");
  value.className = "prob";
  value.textContent = `${(100 * segment.confidence).toFixed(1)} %`;
  item.append(name, where, value);
  ui.segments.append(item);
}

function showSpotted(segments, spotter) {
  for (const segment of segments) {
    islr.segments.push(segment);
    showSegment(segment);
  }
  ui.signing.textContent = spotter?.signing ? "Signing…" : "";
}

let lastModelMs = null;
function showTiming({ holisticMs, modelMs }) {
  lastModelMs = modelMs ?? lastModelMs;
  const model = lastModelMs === null ? "" : ` · model ${lastModelMs.toFixed(1)} ms/window`;
  ui.timing.textContent = `Holistic ${holisticMs.toFixed(0)} ms/frame${model}`;
}

function fitOverlay() {
  ui.overlay.width = ui.video.videoWidth || 640;
  ui.overlay.height = ui.video.videoHeight || 480;
}

function clearOutputs() {
  islr.results = [];
  islr.frameTimes = [];
  islr.predictions = [];
  islr.segments = [];
  islr.timings = [];
  ui.top.replaceChildren();
  ui.segments.replaceChildren();
  ui.signing.textContent = "";
  ui.sign.textContent = "";
  ui.timing.textContent = "";
  ui.progress.textContent = "";
  ctx.clearRect(0, 0, ui.overlay.width, ui.overlay.height);
}

/** One frame through Holistic, the drawing, the window and the spotter; returns its timing. */
async function processFrame(win, spotter, image, stamp, number, time) {
  const { frame, ms: holisticMs } = await landmarks(image, stamp);
  islr.results.push(frame);
  drawFrame(ctx, frame, edges);
  const prediction = await step(win, frame, number);
  if (prediction) {
    islr.predictions.push(prediction);
    showPrediction(prediction);
  }
  showSpotted(await spotter.push(frame, time), spotter);
  const timing = { frame: number, holisticMs, modelMs: prediction?.ms ?? null };
  islr.timings.push(timing);
  showTiming(timing);
}

// --- sources --------------------------------------------------------------------------------
let session = null;

async function stop() {
  const current = session;
  if (!current) return;
  current.stopped = true;
  current.halt();
  current.stream?.getTracks().forEach((t) => t.stop());
  await current.done;
  if (session === current) session = null;
}

async function begin(kind) {
  await islr.ready;
  if (islr.status === "error" && ["model-failed", "landmarks-failed"].includes(islr.errorCode)) {
    return null;
  }
  await stop();
  clearOutputs();
  holistic.reset();
  const current = { kind, stopped: false, stream: null, done: null, halt: null };
  current.halted = new Promise((resolve) => {
    current.halt = resolve;
  });
  session = current;
  ui.stage.classList.toggle("mirrored", kind === "camera");
  return current;
}

async function loadFile(source, { maxFrames = Infinity } = {}) {
  const current = await begin("file");
  if (!current) return { ok: false, code: islr.errorCode, message: islr.error };
  const isFile = typeof source !== "string";
  const name = isFile ? source.name : decodeURIComponent(source.split("/").pop().split("?")[0]);
  const src = isFile ? URL.createObjectURL(source) : source;
  let finish_ = null;
  current.done = new Promise((resolve) => {
    finish_ = resolve;
  });
  try {
    setStatus("running", `Reading ${name}…`);
    const { broken } = await openVideo(ui.video, src);
    fitOverlay();
    const win = new SlidingWindow(islr.config.window, islr.config.every);
    const spotter = newSpotter();
    const base = lastStamp;
    let count = 0;
    const enough = () => current.stopped || count >= maxFrames;
    for await (const { index, mediaTime } of eachFrame(ui.video, broken, enough)) {
      islr.frameTimes.push(mediaTime);
      await processFrame(win, spotter, ui.video, base + (index + 1) * FILE_STEP_MS, index, mediaTime);
      ui.progress.textContent = `${name}: frame ${index + 1}`;
      count = index + 1;
    }
    if (count === 0) throw new DecodeError("it holds no video frame");
    const final = await finish(win, islr.predictions, count - 1);
    if (final) showPrediction(final);
    showSpotted(await spotter.finish(), null);
    const verdict = final?.top.length ? `${final.top[0][0]} (${(100 * final.top[0][2]).toFixed(1)} %)` : "no hand in view";
    setStatus("done", `${name}: ${count} frames — ${verdict}`);
    return { ok: true, frames: count, prediction: final };
  } catch (error) {
    if (error instanceof DecodeError) {
      return fail("decode-failed", `${name}: this browser cannot decode the video (${error.message}).`);
    }
    return fail("landmarks-failed", `${name}: ${error.message || error}`);
  } finally {
    if (isFile) URL.revokeObjectURL(src);
    finish_();
  }
}

const CAMERA_ERRORS = {
  NotAllowedError: ["camera-denied", "Camera permission was denied. Allow the camera for this page in the browser's site settings, or open a video file."],
  SecurityError: ["camera-denied", "Camera permission was denied. Allow the camera for this page in the browser's site settings, or open a video file."],
  NotFoundError: ["no-camera", "No camera was found. Connect a camera, or open a video file."],
  OverconstrainedError: ["no-camera", "No camera was found that can be used here. Open a video file instead."],
  NotReadableError: ["camera-busy", "The camera is in use by another program or could not be started."],
};

async function startCamera() {
  const current = await begin("camera");
  if (!current) return { ok: false, code: islr.errorCode, message: islr.error };
  if (!navigator.mediaDevices?.getUserMedia) {
    return fail("camera-unavailable", "The camera needs a secure page: open the app from http://127.0.0.1 or https://.");
  }
  try {
    current.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: false });
  } catch (error) {
    const [code, message] = CAMERA_ERRORS[error.name] ?? ["camera-failed", `The camera could not be started (${error.name}: ${error.message}).`];
    return fail(code, message);
  }
  ui.video.removeAttribute("src");
  ui.video.srcObject = current.stream;
  await ui.video.play();
  fitOverlay();
  setStatus("running", "Camera on: sign in front of it.");
  const win = new SlidingWindow(islr.config.window, islr.config.every);
  const spotter = newSpotter();
  const started = performance.now();
  const offset = Math.max(0, lastStamp + FILE_STEP_MS - performance.now());
  current.done = (async () => {
    let number = 0;
    try {
      while (!current.stopped) {
        // A stopped camera shows no more frames: stop() must not wait for one.
        await Promise.race([
          new Promise((resolve) => ui.video.requestVideoFrameCallback(resolve)),
          current.halted,
        ]);
        if (current.stopped) break;
        const now = performance.now();
        await processFrame(win, spotter, ui.video, offset + now, number++, (now - started) / 1000);
        if (islr.results.length > KEPT_CAMERA_FRAMES) islr.results.shift();
        if (islr.timings.length > KEPT_CAMERA_FRAMES) islr.timings.shift();
      }
      showSpotted(await spotter.finish(), null);
      setStatus("ready", "Camera off.");
    } catch (error) {
      fail("landmarks-failed", `Landmarks failed: ${error.message || error}`);
    }
  })();
  return { ok: true };
}

// --- start-up -------------------------------------------------------------------------------
async function start() {
  setStatus("loading", "Loading the landmark and sign models…");
  try {
    const response = await fetch("model.json");
    if (!response.ok) throw new Error(`model.json: HTTP ${response.status}`);
    islr.config = await response.json();
    islr.threshold = spotThreshold(islr.config);
  } catch (error) {
    fail("model-failed", `The sign model could not be loaded (${error.message}).`);
    return;
  }
  const [model, marks] = await Promise.allSettled([loadModel(), loadHolistic()]);
  if (model.status === "rejected") {
    fail("model-failed", `The sign model could not be loaded (model.tflite: ${model.reason.message || model.reason}).`);
  } else if (marks.status === "rejected") {
    fail("landmarks-failed", `MediaPipe Holistic could not be loaded (${marks.reason.message || marks.reason}).`);
  } else {
    const { window: w, every } = islr.config;
    setStatus("ready", `Ready: ${islr.config.signs.length} signs; a prediction every ${every} frames over the last ${w}.`);
  }
}

islr.ready = start();

ui.camera.addEventListener("click", () => startCamera());
ui.stop.addEventListener("click", () => stop());
ui.file.addEventListener("change", () => {
  if (ui.file.files[0]) loadFile(ui.file.files[0]);
});
ui.stage.addEventListener("dragover", (event) => {
  event.preventDefault();
  ui.stage.classList.add("dragging");
});
ui.stage.addEventListener("dragleave", () => ui.stage.classList.remove("dragging"));
ui.stage.addEventListener("drop", (event) => {
  event.preventDefault();
  ui.stage.classList.remove("dragging");
  const file = event.dataTransfer.files[0];
  if (file) loadFile(file);
});

const params = new URLSearchParams(location.search);
if (params.get("video")) loadFile(params.get("video"), { maxFrames: Number(params.get("frames")) || Infinity });
else if (params.get("camera")) startCamera();
