// Every frame of a video file, one at a time, the same frames OpenCV decodes for islr-extract.
//
// A <video> element has no "next frame" call and does not say its frame rate. The frame
// duration is measured from a short muted playback (the smallest step between the media
// times of presented frames), then the video is sought to the middle of each frame in turn;
// requestVideoFrameCallback names the frame actually shown, so a frame is never used twice.
// A broken file may fire `loadeddata` and then never finish a seek: every wait has a timeout.

export class DecodeError extends Error {}

const LOAD_TIMEOUT_MS = 15000;
const FRAME_TIMEOUT_MS = 8000;
const PROBE_FRAMES = 12;
const MAX_REPEATS = 5; // seeks in a row that show no new frame: the video track has ended

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new DecodeError(what)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function once(target, name) {
  return new Promise((resolve) => target.addEventListener(name, resolve, { once: true }));
}

function failure(video) {
  return new Promise((_, reject) =>
    video.addEventListener(
      "error",
      () => {
        const err = video.error;
        reject(new DecodeError(err?.message || `media error ${err?.code ?? "unknown"}`));
      },
      { once: true },
    ),
  );
}

function nextFrame(video) {
  return new Promise((resolve) => video.requestVideoFrameCallback((_, meta) => resolve(meta)));
}

/**
 * Load `src` into `video`; resolves once the first frame is decodable, with `{broken}`: a
 * promise that rejects if the media element later reports an error.
 */
export async function openVideo(video, src) {
  const broken = failure(video);
  broken.catch(() => {});
  const loaded = once(video, "loadeddata");
  video.srcObject = null;
  video.muted = true;
  video.src = src;
  video.load();
  await withTimeout(Promise.race([loaded, broken]), LOAD_TIMEOUT_MS, "no frame within 15 s");
  return { broken };
}

async function frameDuration(video, broken) {
  const times = [];
  let pending = nextFrame(video);
  const ended = once(video, "ended").then(() => "ended");
  await video.play();
  try {
    while (times.length < PROBE_FRAMES) {
      const got = await withTimeout(
        Promise.race([pending, ended, broken]),
        FRAME_TIMEOUT_MS,
        "playback shows no frame",
      );
      if (got === "ended") break;
      times.push(got.mediaTime);
      pending = nextFrame(video);
    }
  } finally {
    video.pause();
  }
  let step = Infinity;
  for (let i = 1; i < times.length; i++) {
    const d = times[i] - times[i - 1];
    if (d > 1e-4) step = Math.min(step, d);
  }
  return { start: times[0] ?? 0, step: Number.isFinite(step) ? step : 1 / 30 };
}

/**
 * Yield {index, mediaTime} for each frame of the opened `video`, with the frame on screen.
 * `shouldStop()` ends the walk early.
 */
export async function* eachFrame(video, broken, shouldStop = () => false) {
  const { start, step } = await frameDuration(video, broken);
  let last = -1;
  let repeats = 0;
  let index = 0;
  for (let i = 0; start + (i + 0.5) * step < video.duration && !shouldStop(); i++) {
    const shown = nextFrame(video);
    const sought = once(video, "seeked");
    video.currentTime = start + (i + 0.5) * step;
    const meta = await withTimeout(
      Promise.race([Promise.all([shown, sought]).then(([m]) => m), broken]),
      FRAME_TIMEOUT_MS,
      `decoding stalled at frame ${i}`,
    ).catch((error) => {
      throw error instanceof DecodeError ? error : new DecodeError(String(error));
    });
    if (meta.mediaTime <= last) {
      if (++repeats >= MAX_REPEATS) break;
      continue;
    }
    repeats = 0;
    last = meta.mediaTime;
    yield { index: index++, mediaTime: meta.mediaTime };
  }
}
