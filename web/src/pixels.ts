// Frames and attention weights as pixels: grayscale video frames and a per-head attention heatmap on small canvases.

import type { ListedModel, ListedStream } from './protocol';

/** The smallest side for which a square frame without channel names is taken to be an image. */
const MIN_IMAGE_SIDE = 8;

/**
 * The [rows, columns] of a stream whose frames are images: the shape the
 * server declares (proposed `shape`, on the stream or its model), else — as
 * protocol v1 declares none — a frame of n² values whose model names no
 * channels (the demo's 16×16 ball). Undefined for everything else.
 */
export function imageShape(model: ListedModel | undefined, listed: ListedStream | undefined): [number, number] | undefined {
  const declared = listed?.shape ?? model?.shape;
  if (declared && declared.length >= 2 && declared[0] > 0 && declared[1] > 0) return [declared[0], declared[1]];
  if (!model || model.vocabSize !== undefined || model.channels) return undefined;
  const side = Math.round(Math.sqrt(model.inputSize));
  return side >= MIN_IMAGE_SIDE && side * side === model.inputSize ? [side, side] : undefined;
}

/** Draws `values` (row-major, `shape`) into `canvas`, one pixel per value: 0 black … 1 white, clamped. */
export function drawGrayscale(canvas: HTMLCanvasElement, values: ArrayLike<number>, shape: [number, number]): void {
  const [rows, cols] = shape;
  if (canvas.width !== cols || canvas.height !== rows) [canvas.width, canvas.height] = [cols, rows];
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const image = ctx.createImageData(cols, rows);
  for (let i = 0; i < rows * cols; i++) {
    const v = values[i];
    const level = Number.isFinite(v) ? Math.round(255 * Math.min(1, Math.max(0, v))) : 0;
    image.data[4 * i] = image.data[4 * i + 1] = image.data[4 * i + 2] = level;
    image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

/**
 * Draws attention weights, one row per head and one column per position
 * (oldest left), each row scaled to its own maximum: light is little weight,
 * dark `rgb` is the most.
 */
export function drawHeatmap(canvas: HTMLCanvasElement, heads: number[][], rgb: [number, number, number]): void {
  const cols = Math.max(1, ...heads.map((h) => h.length));
  const rows = Math.max(1, heads.length);
  if (canvas.width !== cols || canvas.height !== rows) [canvas.width, canvas.height] = [cols, rows];
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const image = ctx.createImageData(cols, rows);
  heads.forEach((weights, head) => {
    const top = Math.max(...weights, 1e-12);
    weights.forEach((w, position) => {
      const share = Math.min(1, Math.max(0, w / top));
      const o = 4 * (head * cols + position);
      for (let k = 0; k < 3; k++) image.data[o + k] = Math.round(255 + share * (rgb[k] - 255));
      image.data[o + 3] = 255;
    });
  });
  ctx.putImageData(image, 0, 0);
}
