// The signing-activity rule of src/islr/export/activity.py (ActivitySegmenter), for the page.
//
// The rule's numbers are not here: they come from the export's model.json ("spot.activity",
// written from conf/spot/default.yaml). The arithmetic is Python's, operation for operation
// (float64, sums in frame and point order), so the page finds the same segments as
// islr.export.active_segments on the same landmarks.
//
// 1. A frame is raw-active when a hand is in view (min_hand_points of its 21 points) and the
//    mean hand speed (body widths per frame) over the frames with a hand in view among the last
//    motion_window frames is at least min_speed; a hand that just came into view counts as moving.
// 2. The activity score is a moving average of raw activity (time constant `smoothing`);
//    a segment opens when it reaches on_threshold and closes below off_threshold.
// 3. A segment spans its first to last raw-active frame; segments at most max_gap frames apart
//    merge; segments shorter than min_length frames are dropped.

import { N_LANDMARKS } from "./landmarks.js";

const HANDS = [468, 522]; // first rows of the left and the right hand (21 points each)
const HAND_POINTS = 21;
const SHOULDERS = [489 + 11, 489 + 12];
const FACE_SIDES = [234, 454];
const RULE_KEYS = [
  "min_hand_points",
  "min_speed",
  "motion_window",
  "smoothing",
  "on_threshold",
  "off_threshold",
  "min_length",
  "max_gap",
];

/** Check a rule object (model.json's spot.activity); returns it. */
export function checkRule(rule) {
  const missing = RULE_KEYS.filter((key) => typeof rule?.[key] !== "number");
  if (missing.length) throw new Error(`the activity rule lacks ${missing.join(", ")}`);
  return rule;
}

function bodyWidth(frame) {
  for (const [a, b] of [SHOULDERS, FACE_SIDES]) {
    const dx = frame[a * 3] - frame[b * 3];
    const dy = frame[a * 3 + 1] - frame[b * 3 + 1];
    const width = Math.sqrt(dx * dx + dy * dy);
    if (Number.isFinite(width) && width > 1e-6) return width;
  }
  return NaN;
}

/** The centre [x, y] of the seen points of the hand starting at `first`, or null. */
function handCentre(frame, first, minPoints) {
  let x = 0;
  let y = 0;
  let seen = 0;
  for (let p = first; p < first + HAND_POINTS; p++) {
    const px = frame[p * 3];
    const py = frame[p * 3 + 1];
    if (Number.isFinite(px) && Number.isFinite(py)) {
      x += px;
      y += py;
      seen += 1;
    }
  }
  return seen >= minPoints ? [x / seen, y / seen] : null;
}

function meanSeen(speeds) {
  let total = 0;
  let count = 0;
  for (const v of speeds) {
    if (!Number.isNaN(v)) {
      total += v;
      count += 1;
    }
  }
  return total / count;
}

/** The rule frame by frame: push() each frame (Float32Array [543*3]), finish() at the end. */
export class ActivitySegmenter {
  constructor(rule) {
    this.rule = checkRule(rule);
    this.alpha = 1 / rule.smoothing;
    this.frame = -1;
    this.score = 0;
    this.width = NaN;
    this.centres = [null, null];
    this.speeds = [];
    this.runStart = -1;
    this.lastActive = -1e9;
    this.openStart = null;
    this.pending = null; // [start, end]: closed, but a merge is still possible
  }

  /** Add one frame; returns {active, done: segments [start, end] now certain}. */
  push(frame) {
    if (frame.length !== N_LANDMARKS * 3) throw new Error(`a frame has ${N_LANDMARKS * 3} values, got ${frame.length}`);
    const rule = this.rule;
    this.frame += 1;
    const t = this.frame;
    const width = bodyWidth(frame);
    if (Number.isFinite(width)) this.width = width;
    let inView = false;
    let speed = 0;
    HANDS.forEach((first, h) => {
      const centre = handCentre(frame, first, rule.min_hand_points);
      if (centre === null) {
        this.centres[h] = null;
        return;
      }
      inView = true;
      const previous = this.centres[h];
      if (previous === null) {
        speed = Math.max(speed, rule.min_speed); // just came into view
      } else if (Number.isFinite(this.width)) {
        const dx = centre[0] - previous[0];
        const dy = centre[1] - previous[1];
        speed = Math.max(speed, Math.sqrt(dx * dx + dy * dy) / this.width);
      }
      this.centres[h] = centre;
    });
    this.speeds.push(inView ? speed : NaN);
    if (this.speeds.length > rule.motion_window) this.speeds.shift();
    const active = inView && meanSeen(this.speeds) >= rule.min_speed;
    this.score += this.alpha * (Number(active) - this.score);
    if (active) {
      if (t - this.lastActive - 1 > rule.max_gap) this.runStart = t;
      this.lastActive = t;
    }

    const done = [];
    if (this.openStart === null && this.score >= rule.on_threshold) {
      let start = this.runStart;
      if (this.pending !== null && start - this.pending[1] - 1 <= rule.max_gap) {
        start = Math.min(start, this.pending[0]); // resumes the pending segment
      } else {
        done.push(...this.flush());
      }
      this.pending = null;
      this.openStart = start;
    } else if (this.openStart !== null && this.score < rule.off_threshold) {
      this.pending = [this.openStart, this.lastActive];
      this.openStart = null;
    }
    if (this.pending !== null && t - this.lastActive > rule.max_gap) done.push(...this.flush());
    return { active, done };
  }

  /** End of the stream: the segments still open or pending. */
  finish() {
    if (this.openStart !== null) {
      this.pending = [this.openStart, this.lastActive];
      this.openStart = null;
    }
    return this.flush();
  }

  /** Whether a segment is open now. */
  get signing() {
    return this.score >= this.rule.off_threshold;
  }

  /** The first frame a segment not yet reported can start at (frames before it can go). */
  get earliestNeeded() {
    const candidates = [this.frame + 1];
    if (this.runStart >= 0 && this.frame - this.lastActive <= this.rule.max_gap) candidates.push(this.runStart);
    if (this.openStart !== null) candidates.push(this.openStart);
    if (this.pending !== null) candidates.push(this.pending[0]);
    return Math.max(0, Math.min(...candidates));
  }

  flush() {
    const pending = this.pending;
    this.pending = null;
    if (pending === null || pending[1] - pending[0] + 1 < this.rule.min_length) return [];
    return [pending];
  }
}

/** The segments [start, end] (inclusive) of signing in `frames` (an array of frames). */
export function activeSegments(frames, rule) {
  const segmenter = new ActivitySegmenter(rule);
  const segments = [];
  for (const frame of frames) segments.push(...segmenter.push(frame).done);
  return segments.concat(segmenter.finish());
}
