// The live-prediction window, with islr-predict --stream's semantics
// (src/islr/export/stream.py): after every `every`-th frame, predict over the last `window`
// frames; when no hand was seen in any of them there is no sign (an empty top list).

import { N_LANDMARKS, hasHand } from "./landmarks.js";

const FRAME_VALUES = N_LANDMARKS * 3;

export class SlidingWindow {
  /** @param {number} window frames the model sees; @param {number} every frames between predictions */
  constructor(window, every) {
    if (!(window >= 1 && every >= 1)) throw new Error(`window and every must be >= 1, got ${window}, ${every}`);
    this.window = window;
    this.every = every;
    this.reset();
  }

  reset() {
    this.frames = [];
    this.hands = [];
    this.seen = 0;
  }

  /** Add one frame (Float32Array [543*3]); true when a prediction is due after it. */
  push(frame) {
    this.frames.push(frame);
    this.hands.push(hasHand(frame));
    if (this.frames.length > this.window) {
      this.frames.shift();
      this.hands.shift();
    }
    this.seen += 1;
    return this.seen % this.every === 0;
  }

  get length() {
    return this.frames.length;
  }

  /** Whether any frame in the window shows a hand. */
  anyHand() {
    return this.hands.some(Boolean);
  }

  /** The model input: the window's frames, padded at the end with NaN to `window` frames. */
  input() {
    const data = new Float32Array(this.window * FRAME_VALUES).fill(NaN);
    this.frames.forEach((frame, i) => data.set(frame, i * FRAME_VALUES));
    return { frames: data, length: this.frames.length };
  }
}

/**
 * Softmax of logits / temperature. Scores that already form a distribution (an export with
 * output "probabilities") are their own softmax's logits up to a constant: with temperature 1
 * they are returned as they are, else their logs are scaled.
 */
export function probabilities(scores, temperature = 1) {
  let sum = 0;
  let inUnit = true;
  for (const s of scores) {
    sum += s;
    if (s < 0 || s > 1) inUnit = false;
  }
  const isDistribution = inUnit && Math.abs(sum - 1) < 1e-3;
  if (isDistribution && temperature === 1) return Float64Array.from(scores);
  const logits = isDistribution ? Array.from(scores, (s) => Math.log(s)) : Array.from(scores);
  const scaled = logits.map((s) => s / temperature);
  const max = Math.max(...scaled);
  const exp = Float64Array.from(scaled, (s) => Math.exp(s - max));
  const total = exp.reduce((a, b) => a + b, 0);
  return exp.map((e) => e / total);
}

/** The `k` best [sign, class index, probability], best first (ties: lower index first). */
export function topSigns(scores, signs, k, temperature = 1) {
  const probs = probabilities(scores, temperature);
  const order = [...probs.keys()].sort((a, b) => probs[b] - probs[a] || a - b);
  return order.slice(0, k).map((i) => [signs[i] ?? `class_${i}`, i, probs[i]]);
}
