// Sign spotting on the page: src/islr/export/spot.py's Spotter over the activity rule.
//
// Each signing segment (activity.js) is classified with the sign model; a segment longer than
// `window` frames in windows every `stride` frames, runs of windows naming the same sign merged.
// A segment whose probability is below `threshold` is "no sign" (sign null). The settings are
// model.json's "spot" (conf/spot/default.yaml) and the threshold spotThreshold() picks.

import { ActivitySegmenter } from "./activity.js";

/** The rejection threshold: spot.min_confidence, else the calibrated one, else the fallback. */
export function spotThreshold(config) {
  const { spot, calibration } = config;
  if (spot.min_confidence !== null && spot.min_confidence !== undefined) return spot.min_confidence;
  if (calibration && typeof calibration.threshold === "number") return calibration.threshold;
  return spot.uncalibrated_min_confidence;
}

export class Spotter {
  /**
   * @param {object} spot model.json's spot settings ({activity, window, stride, ...})
   * @param {number} threshold probability below which a segment is no sign
   * @param {(frames: Float32Array[]) => Promise<[string, number, number]>} classify top-1 of a clip
   */
  constructor(spot, threshold, classify) {
    this.window = spot.window;
    this.stride = spot.stride;
    this.threshold = threshold;
    this.classify = classify;
    this.segmenter = new ActivitySegmenter(spot.activity);
    this.frames = [];
    this.times = [];
    this.first = 0; // stream index of this.frames[0]
    this.spans = []; // every activity segment [start, end], for the record
    this.rejected = 0;
  }

  get signing() {
    return this.segmenter.signing;
  }

  /** Add the next frame (and its time in seconds); resolves to the segments it closed. */
  async push(frame, time = null) {
    this.frames.push(frame);
    this.times.push(time);
    const { done } = this.segmenter.push(frame);
    const out = await this.classifySpans(done);
    const drop = this.segmenter.earliestNeeded - this.first;
    if (drop > 0) {
      this.frames.splice(0, drop);
      this.times.splice(0, drop);
      this.first += drop;
    }
    return out;
  }

  /** End of the stream: the segments still open. */
  async finish() {
    return this.classifySpans(this.segmenter.finish());
  }

  async classifySpans(spans) {
    const out = [];
    for (const [start, end] of spans) {
      this.spans.push([start, end]);
      const clip = this.frames.slice(start - this.first, end - this.first + 1);
      for (const segment of await this.windows(clip, start)) {
        if (segment.confidence < this.threshold) {
          this.rejected += 1;
          segment.sign = null;
        }
        segment.start_time = this.times[segment.start_frame - this.first];
        segment.end_time = this.times[segment.end_frame - this.first];
        out.push(segment);
      }
    }
    return out;
  }

  /** Classify `clip` (whole, or in windows merged by sign); frames counted from `offset`. */
  async windows(clip, offset) {
    const { window, stride } = this;
    const starts = [];
    for (let s = 0; s <= Math.max(clip.length - window, 0); s += stride) starts.push(s);
    if (starts.at(-1) + window < clip.length) starts.push(clip.length - window);
    const runs = []; // {start, end, sign, probs}
    for (let s of starts) {
      const e = Math.min(s + window, clip.length) - 1;
      const [sign, , prob] = await this.classify(clip.slice(s, e + 1));
      const last = runs.at(-1);
      if (last && last.sign === sign) {
        last.end = e;
        last.probs.push(prob);
        continue;
      }
      if (last) {
        // two signs: the overlap of their windows is split in the middle
        const middle = Math.floor((s + last.end) / 2);
        last.end = middle;
        s = middle + 1;
      }
      runs.push({ start: s, end: e, sign, probs: [prob] });
    }
    return runs.map(({ start, end, sign, probs }) => ({
      start_frame: offset + start,
      end_frame: offset + end,
      sign,
      confidence: probs.reduce((a, b) => a + b, 0) / probs.length,
    }));
  }
}
