// `seqcast serve --demo`: three streams produced inside the server — NAB machine temperature on the bundled model,
// a synthetic multi-channel sensor, and a bouncing ball on 16×16 video — each replayed at a set rate.

import { fileURLToPath } from 'node:url';
import { createModel, loadModel } from '../api/model.js';
import { DEMO_MODEL_URL, loadDemoData } from '../cli/demo.js';
import { seededRandom } from '../model/init.js';
import type { ServedModel } from '../stream/types.js';
import type { LocalProducer, SeqcastServer } from './server.js';

/** Ball video frames are BALL_SIZE × BALL_SIZE grayscale pixels, row-major, 0 (black) … 1 (white). */
export const BALL_SIZE = 16;
/** Channels of the synthetic sensor: what each one imitates. */
export const SENSOR_CHANNELS = ['temperature', 'pressure', 'vibration', 'flow'];

/**
 * The demo's models: the bundled echo-state LSTM for machine temperature, and
 * two freshly initialised LSTMs (sensors, ball). The fresh ones have never
 * been trained, so their predictions are poor; they become useful once
 * online learning lands (learn: true).
 */
export async function demoModels(): Promise<ServedModel[]> {
  return [
    { name: 'machine-temperature', model: await loadModel(fileURLToPath(DEMO_MODEL_URL)) },
    { name: 'sensors', model: await createModel({ cell: 'lstm', inputSize: SENSOR_CHANNELS.length, hiddenSize: 32, seed: 7, metadata: { channels: SENSOR_CHANNELS } }) },
    { name: 'ball', model: await createModel({ cell: 'lstm', inputSize: BALL_SIZE * BALL_SIZE, hiddenSize: 64, seed: 11 }) },
  ];
}

/**
 * A ball under gravity in a box, bouncing off the walls without losing energy,
 * drawn anti-aliased into a 16×16 frame each step.
 */
export class BouncingBall {
  private x: number;
  private y: number;
  private vx: number;
  private vy: number;
  readonly radius = 1.6;
  /** Pixels per step². */
  readonly gravity = 0.08;

  constructor(seed = 1) {
    const random = seededRandom(seed);
    this.x = 3 + random() * (BALL_SIZE - 6);
    this.y = 2 + random() * 4;
    this.vx = 0.35 + random() * 0.3;
    this.vy = 0;
  }

  /** Advances one step and returns the frame (BALL_SIZE² values, row-major, y down). */
  next(): Float32Array {
    this.vy += this.gravity;
    this.x += this.vx;
    this.y += this.vy;
    const low = this.radius;
    const high = BALL_SIZE - this.radius;
    if (this.x < low) [this.x, this.vx] = [2 * low - this.x, -this.vx];
    if (this.x > high) [this.x, this.vx] = [2 * high - this.x, -this.vx];
    if (this.y < low) [this.y, this.vy] = [2 * low - this.y, -this.vy];
    if (this.y > high) [this.y, this.vy] = [2 * high - this.y, -this.vy];
    const frame = new Float32Array(BALL_SIZE * BALL_SIZE);
    for (let row = 0; row < BALL_SIZE; row++) {
      for (let col = 0; col < BALL_SIZE; col++) {
        const distance = Math.hypot(col + 0.5 - this.x, row + 0.5 - this.y);
        frame[row * BALL_SIZE + col] = Math.min(1, Math.max(0, this.radius + 0.5 - distance));
      }
    }
    return frame;
  }
}

/**
 * A synthetic machine with four sensors: a temperature with a slow cycle, a
 * pressure following it with a lag, a noisy vibration, and a flow that
 * switches between two levels; every 600 steps a fault adds a spike to the
 * vibration and a drop to the flow for 20 steps, for the anomaly score to find.
 */
export class SyntheticSensors {
  private step = 0;
  private readonly random: () => number;

  constructor(seed = 2) {
    this.random = seededRandom(seed);
  }

  next(): number[] {
    const t = this.step++;
    const noise = () => (this.random() - 0.5) * 2;
    const fault = t % 600 >= 500 && t % 600 < 520;
    const temperature = 60 + 8 * Math.sin((2 * Math.PI * t) / 300) + 0.3 * noise();
    const pressure = 2.1 + 0.4 * Math.sin((2 * Math.PI * (t - 30)) / 300) + 0.02 * noise();
    const vibration = 0.5 + 0.1 * Math.abs(noise()) + (fault ? 2 + noise() : 0);
    const flow = (Math.floor(t / 150) % 2 === 0 ? 12 : 9) + 0.2 * noise() - (fault ? 4 : 0);
    return [temperature, pressure, vibration, flow];
  }
}

export interface DemoOptions {
  /** Frames per second of each demo stream. Default 10. */
  rate?: number;
}

/** The demo's producer, inside the server's process. */
class DemoProducer implements LocalProducer {
  readonly label = 'the built-in demo';
  onError(rejection: { code: string; message: string }): void {
    this.errors.push(`${rejection.code}: ${rejection.message}`);
  }
  readonly errors: string[] = [];
}

/**
 * Opens the three demo streams on `server` (which must hold demoModels()) and
 * feeds them at `rate` frames per second until stop(). Streams restored from a
 * state directory continue from their last seq. The machine-temperature file
 * loops, with a reset at each start over.
 */
export async function startDemo(server: SeqcastServer, options: DemoOptions = {}): Promise<{ stop(): void; producer: DemoProducer }> {
  const rate = options.rate ?? 10;
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`demo rate must be a positive number of frames per second, got ${rate}`);
  const producer = new DemoProducer();
  const data = await loadDemoData();
  const ball = new BouncingBall();
  const sensors = new SyntheticSensors();
  const streams = [
    { stream: 'machine-temperature', model: 'machine-temperature', horizon: 12 },
    { stream: 'sensors', model: 'sensors', horizon: 10 },
    { stream: 'ball', model: 'ball', horizon: 3 },
  ];
  const seqs = new Map<string, number>();
  for (const { stream, model, horizon } of streams) {
    const opened = server.openStream(producer, { type: 'open', stream, model, horizon, learn: false, normalize: 'auto' });
    if ('code' in opened) throw new Error(`demo stream ${stream}: ${opened.message}`);
    seqs.set(stream, opened.lastSeq + 1);
  }
  const send = (stream: string, values: ArrayLike<number>) => {
    const seq = seqs.get(stream)!;
    seqs.set(stream, seq + 1);
    server.pushFrame({ source: producer, stream, seq, t: Date.now(), values: Array.from(values) });
  };
  let row = seqs.get('machine-temperature')! % data.values.length;
  const timer = setInterval(() => {
    if (row === 0 && seqs.get('machine-temperature')! > 0) server.resetStream(producer, 'machine-temperature');
    send('machine-temperature', [data.values[row]]);
    row = (row + 1) % data.values.length;
    send('sensors', sensors.next());
    send('ball', ball.next());
  }, 1000 / rate);
  timer.unref();
  return { stop: () => clearInterval(timer), producer };
}
