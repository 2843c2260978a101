// The sign model, run with LiteRT.js in a classic Web Worker.
//
// Why a worker: MediaPipe Holistic leaves a global `Module` on the page that breaks LiteRT's
// Emscripten loader. Why a *classic* worker: LiteRT's loader runs its wasm glue with
// importScripts(), which module workers refuse. LiteRT's ES module imports the bare name
// `@litertjs/wasm-utils` and workers have no import maps, so the worker resolves that one
// specifier to the vendored file itself before importing the module (what an import map or a
// bundler would do; nothing else in the library is touched).
//
// Messages in:  {type: "load", model, litert, wasmUtils, wasmDir}  (absolute URLs)
//               {type: "run", id, frames: Float32Array [W*543*3], length}
// Messages out: {type: "loaded", inputs: [{name, shape, dtype}], outputs: [...]}
//               {type: "scores", id, scores: Float32Array, ms}
//               {type: "error", id?, message}

let litert = null;
let model = null;
let lengthType = Int32Array;
let windowFrames = 0;

async function importLiteRt(coreUrl, wasmUtilsUrl) {
  const response = await fetch(coreUrl);
  if (!response.ok) throw new Error(`${coreUrl}: HTTP ${response.status}`);
  const source = (await response.text())
    .replace(/from\s*["']@litertjs\/wasm-utils["']/g, `from ${JSON.stringify(wasmUtilsUrl)}`)
    .replace(/\/\/# sourceMappingURL=.*$/m, "");
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  try {
    return await import(url);
  } finally {
    URL.revokeObjectURL(url);
  }
}

function describe(details) {
  return details.map((d) => ({ name: d.name, shape: Array.from(d.shape), dtype: d.dtype }));
}

async function load({ model: modelUrl, litert: coreUrl, wasmUtils, wasmDir }) {
  litert = await importLiteRt(coreUrl, wasmUtils);
  // Emscripten finds its .wasm next to the *worker* script unless told otherwise; the loader
  // hands a global `Module` to the factory, where locateFile is Emscripten's documented hook.
  self.Module = { locateFile: (file) => new URL(file, wasmDir).href };
  await litert.loadLiteRt(wasmDir);
  const response = await fetch(modelUrl);
  if (!response.ok) throw new Error(`${modelUrl}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  model = await litert.loadAndCompile(bytes, { accelerator: "wasm" });
  const inputs = describe(model.getInputDetails());
  const frames = inputs.find((d) => d.name === "frames");
  const length = inputs.find((d) => d.name === "length");
  if (!frames || !length) {
    throw new Error(
      `expected inputs "frames" and "length", the model has ${inputs.map((d) => d.name).join(", ")}`,
    );
  }
  windowFrames = frames.shape[0];
  lengthType = length.dtype === "float32" ? Float32Array : Int32Array;
  return { inputs, outputs: describe(model.getOutputDetails()) };
}

async function run({ frames, length }) {
  const started = performance.now();
  const inputs = {
    frames: new litert.Tensor(frames, [windowFrames, 543, 3]),
    length: new litert.Tensor(new lengthType([length]), [1]),
  };
  let outputs = null;
  try {
    outputs = await model.run(inputs);
    const first = Object.values(outputs)[0];
    const scores = new Float32Array(await first.data());
    return { scores, ms: performance.now() - started };
  } finally {
    for (const t of Object.values(inputs)) t.delete();
    if (outputs) for (const t of Object.values(outputs)) t.delete();
  }
}

self.onmessage = async (event) => {
  const message = event.data;
  try {
    if (message.type === "load") {
      self.postMessage({ type: "loaded", ...(await load(message)) });
    } else if (message.type === "run") {
      const { scores, ms } = await run(message);
      self.postMessage({ type: "scores", id: message.id, scores, ms }, [scores.buffer]);
    }
  } catch (error) {
    self.postMessage({ type: "error", id: message.id, message: String(error?.message || error) });
  }
};
