// MediaPipe Holistic results -> one frame of 543 landmarks in the Kaggle order, and drawing.
//
// The order and the NaN convention are islr-extract's (src/islr/data/video/holistic_worker.py):
// face 0-467, left hand 468-488, pose 489-521, right hand 522-542; x, y, z as Holistic gives
// them (normalised to the image), NaN for every point of a part that was not detected.

export const N_LANDMARKS = 543;
export const PARTS = [
  { name: "face", key: "faceLandmarks", offset: 0, count: 468 },
  { name: "left_hand", key: "leftHandLandmarks", offset: 468, count: 21 },
  { name: "pose", key: "poseLandmarks", offset: 489, count: 33 },
  { name: "right_hand", key: "rightHandLandmarks", offset: 522, count: 21 },
];
const HAND_ROWS = [...Array(21).keys()].flatMap((i) => [468 + i, 522 + i]);

export const COLOURS = {
  face: "#d9d9d9",
  left_hand: "#ff2d95",
  pose: "#ffb000",
  right_hand: "#00c8ff",
};

/** Float32Array [543 * 3] of one Holistic result (NaN where a part is missing). */
export function frameFromResults(results) {
  const frame = new Float32Array(N_LANDMARKS * 3).fill(NaN);
  for (const part of PARTS) {
    const points = results[part.key];
    if (!points || points.length < part.count) continue;
    for (let i = 0; i < part.count; i++) {
      const row = (part.offset + i) * 3;
      frame[row] = points[i].x;
      frame[row + 1] = points[i].y;
      frame[row + 2] = points[i].z;
    }
  }
  return frame;
}

/** True when either hand has a detected point in this frame. */
export function hasHand(frame) {
  return HAND_ROWS.some((row) => !Number.isNaN(frame[row * 3]));
}

function drawEdges(ctx, frame, offset, edges, colour, width) {
  if (!edges) return;
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.beginPath();
  for (const [a, b] of edges) {
    const ra = (offset + a) * 3;
    const rb = (offset + b) * 3;
    if (Number.isNaN(frame[ra]) || Number.isNaN(frame[rb])) continue;
    ctx.moveTo(frame[ra] * ctx.canvas.width, frame[ra + 1] * ctx.canvas.height);
    ctx.lineTo(frame[rb] * ctx.canvas.width, frame[rb + 1] * ctx.canvas.height);
  }
  ctx.stroke();
}

function drawPoints(ctx, frame, part, radius, step = 1) {
  ctx.fillStyle = COLOURS[part.name];
  for (let i = 0; i < part.count; i += step) {
    const row = (part.offset + i) * 3;
    if (Number.isNaN(frame[row])) continue;
    ctx.beginPath();
    ctx.arc(frame[row] * ctx.canvas.width, frame[row + 1] * ctx.canvas.height, radius, 0, 2 * Math.PI);
    ctx.fill();
  }
}

/**
 * Draw one frame's landmarks on a canvas the size of the video.
 * `edges` = {hand, pose}: Holistic's HAND_CONNECTIONS / POSE_CONNECTIONS (may be missing).
 */
export function drawFrame(ctx, frame, edges) {
  const { width, height } = ctx.canvas;
  ctx.clearRect(0, 0, width, height);
  if (!frame) return;
  const scale = Math.max(1, Math.min(width, height) / 360);
  const [face, left, pose, right] = PARTS;
  drawPoints(ctx, frame, face, 1.2 * scale, 2);
  drawEdges(ctx, frame, pose.offset, edges.pose, COLOURS.pose, 2 * scale);
  drawPoints(ctx, frame, pose, 2.5 * scale);
  for (const hand of [left, right]) {
    drawEdges(ctx, frame, hand.offset, edges.hand, COLOURS[hand.name], 2 * scale);
    drawPoints(ctx, frame, hand, 3 * scale);
  }
}
