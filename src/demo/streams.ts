// `seqcast serve --demo`: four streams produced inside the server — NAB machine temperature, a synthetic
// multi-channel sensor (twice: through an LSTM, and through an LSTM with an attention block whose weights the
// dashboard draws), and a bouncing ball on 16×16 video — each replayed at a set rate, each learned online from
// scratch by its own model as it plays.

import { createModel, type Model } from '../api/model.js';
import { seededRandom } from '../model/init.js';
import { loadDemoData } from './data.js';

/** Ball video frames are BALL_SIZE × BALL_SIZE grayscale pixels, row-major, 0 (black) … 1 (white). */
export const BALL_SIZE = 16;
/** Channels of the synthetic sensor: what each one imitates. */
export const SENSOR_CHANNELS = ['temperature', 'pressure', 'vibration', 'flow'];

/** Hidden sizes of the demo's LSTMs: the online-learning recipe's 32, and 64 for the 256-pixel ball (light on 2 cores). */
export const DEMO_HIDDEN = { 'machine-temperature': 32, sensors: 32, 'sensors-attention': 32, ball: 64 } as const;

/** The attention block over the sensors' LSTM in the 'sensors-attention' stream: heads, window (steps), MLP width. */
export const DEMO_ATTENTION = { heads: 4, window: 64, mlpSize: 64 } as const;

/** A demo model and the name streams open it by (the server's ServedModel has this shape). */
export interface DemoModel {
  readonly name: string;
  readonly model: Model;
}

/**
 * The demo's models, freshly initialised, knowing nothing at start: LSTMs for
 * machine temperature, sensors and ball, and for 'sensors-attention' the same
 * LSTM with one pre-LN attention block over its last DEMO_ATTENTION.window
 * outputs (a hybrid), so the dashboard has attention weights to draw and the
 * two sensors streams show side by side what the block adds. The demo's streams learn them
 * online as they play (the recipe: every 8 frames, truncated BPTT over the last
 * 32, Adam 3e-3, clip 1, predicting the change from the last frame), so their
 * errors fall as the minutes go by. (`seqcast demo`, offline, uses the bundled
 * model, trained offline by seqcast train, instead.)
 */
export async function demoModels(): Promise<DemoModel[]> {
  return [
    { name: 'machine-temperature', model: await createModel({ cell: 'lstm', inputSize: 1, hiddenSize: DEMO_HIDDEN['machine-temperature'], seed: 5, metadata: { channels: ['temperature'] } }) },
    { name: 'sensors', model: await createModel({ cell: 'lstm', inputSize: SENSOR_CHANNELS.length, hiddenSize: DEMO_HIDDEN.sensors, seed: 7, metadata: { channels: SENSOR_CHANNELS } }) },
    {
      name: 'sensors-attention',
      model: await createModel({
        kind: 'hybrid', cell: 'lstm', inputSize: SENSOR_CHANNELS.length, hiddenSize: DEMO_HIDDEN['sensors-attention'], blocks: 1, ...DEMO_ATTENTION, seed: 7,
        metadata: { channels: SENSOR_CHANNELS },
      }),
    },
    { name: 'ball', model: await createModel({ cell: 'lstm', inputSize: BALL_SIZE * BALL_SIZE, hiddenSize: DEMO_HIDDEN.ball, seed: 11, metadata: { shape: [BALL_SIZE, BALL_SIZE] } }) },
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
 * A synthetic machine with four sensors: a temperature with a slow cycle; a
 * pressure following it with a lag, plus the pump's pulsation (period 25
 * steps); a vibration at an eighth of the sampling rate; and a flow ramping up
 * and down over 150 steps. Each carries a little noise. Every 600 steps a fault
 * triples the vibration (and makes it noisy) and drops the flow for 20 steps,
 * for the anomaly score to find. The periodic parts are what an online model
 * learns to predict better than persistence (repeating the last frame) does.
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
    const temperature = 60 + 8 * Math.sin((2 * Math.PI * t) / 300) + 0.1 * noise();
    const pressure = 2.1 + 0.4 * Math.sin((2 * Math.PI * (t - 30)) / 300) + 0.25 * Math.sin((2 * Math.PI * t) / 25) + 0.01 * noise();
    const vibration = 0.5 + (fault ? 1.2 : 0.4) * Math.sin((2 * Math.PI * t) / 8) + 0.03 * noise() + (fault ? 0.3 * noise() : 0);
    const phase = (t % 150) / 150;
    const flow = 9 + 3 * (phase < 0.5 ? 2 * phase : 2 - 2 * phase) + 0.1 * noise() - (fault ? 4 : 0);
    return [temperature, pressure, vibration, flow];
  }
}

/** Most frames of each stream one late timer tick sends to catch up. */
const MAX_CATCH_UP = 4;

/** Frames per second of each demo stream by default. */
export const DEMO_RATE = 30;

export interface DemoOptions {
  /** Frames per second of each demo stream. Default DEMO_RATE. */
  rate?: number;
  /** Train the models online as the streams play. Default true. */
  learn?: boolean;
}

/** A refusal the server answers the demo with, e.g. `{ code: 'bad_seq', message: … }`. */
export interface DemoRejection {
  code: string;
  message: string;
}

/** The demo's producer, inside the server's process: how the server names it, and where it reports the demo's refused frames. */
export interface DemoProducer {
  readonly label: string;
  onError(rejection: DemoRejection): void;
}

/**
 * What the demo needs of the streaming server: open a learning stream, push a
 * frame, reset a stream. SeqcastServer (src/server/) has these methods;
 * src/cli/serve.ts hands it in, so this module knows nothing of the server.
 */
export interface DemoSink {
  /** Opens (or takes over, after a restore) `request.stream` for `source`; answers its last seq, or why not (at once, or later: worker threads). */
  openStream(
    source: DemoProducer,
    request: { type: 'open'; stream: string; model: string; horizon: number; learn: boolean; normalize: 'auto' },
  ): { lastSeq: number } | DemoRejection | Promise<{ lastSeq: number } | DemoRejection>;
  /** Hands one frame of `frame.stream` to the pipeline. */
  pushFrame(frame: { source: DemoProducer; stream: string; seq: number; t: number; values: number[] }): void;
  /** Clears the stream's state (the model keeps what it learned). */
  resetStream(source: DemoProducer, stream: string): unknown;
}

/** The demo's producer: it keeps the refusals the server reported, for tests and logs. */
class DemoFrameProducer implements DemoProducer {
  readonly label = 'the built-in demo';
  onError(rejection: DemoRejection): void {
    this.errors.push(`${rejection.code}: ${rejection.message}`);
  }
  readonly errors: string[] = [];
}

/**
 * Opens the four demo streams on `server` (the streaming server, which must hold demoModels()) as
 * learning streams and feeds them at `rate` frames per second until stop().
 * Streams restored from a state directory continue from their last seq, with
 * what their models learned. The machine-temperature file loops, with a reset
 * at each start over (the model keeps what it learned), so the frame with seq
 * s is row s mod rows of the file.
 */
export async function startDemo(server: DemoSink, options: DemoOptions = {}): Promise<{ stop(): void; producer: DemoFrameProducer }> {
  const rate = options.rate ?? DEMO_RATE;
  const learn = options.learn ?? true;
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`demo rate must be a positive number of frames per second, got ${rate}`);
  const producer = new DemoFrameProducer();
  const data = await loadDemoData();
  const ball = new BouncingBall();
  // the two sensors streams see the same frames (two generators with the same seed, each at its own stream's seq)
  const sensors = new SyntheticSensors();
  const sensorsAttention = new SyntheticSensors();
  const streams = [
    { stream: 'machine-temperature', model: 'machine-temperature', horizon: 12 },
    { stream: 'sensors', model: 'sensors', horizon: 10 },
    { stream: 'sensors-attention', model: 'sensors-attention', horizon: 10 },
    { stream: 'ball', model: 'ball', horizon: 3 },
  ];
  const seqs = new Map<string, number>();
  for (const { stream, model, horizon } of streams) {
    const opened = await server.openStream(producer, { type: 'open', stream, model, horizon, learn, normalize: 'auto' });
    if ('code' in opened) throw new Error(`demo stream ${stream}: ${opened.message}`);
    seqs.set(stream, opened.lastSeq + 1);
  }
  const send = (stream: string, values: ArrayLike<number>) => {
    const seq = seqs.get(stream)!;
    seqs.set(stream, seq + 1);
    server.pushFrame({ source: producer, stream, seq, t: Date.now(), values: Array.from(values) });
  };
  // streams that came back from a state directory go on where they stopped: the generators catch up to their seq
  for (let i = 0; i < seqs.get('sensors')!; i++) sensors.next();
  for (let i = 0; i < seqs.get('sensors-attention')!; i++) sensorsAttention.next();
  for (let i = 0; i < seqs.get('ball')!; i++) ball.next();
  let row = seqs.get('machine-temperature')! % data.values.length;
  const tick = () => {
    if (row === 0 && seqs.get('machine-temperature')! > 0) server.resetStream(producer, 'machine-temperature');
    send('machine-temperature', [data.values[row]]);
    row = (row + 1) % data.values.length;
    send('sensors', sensors.next());
    send('sensors-attention', sensorsAttention.next());
    send('ball', ball.next());
  };
  // frames are due at `rate` per second from the start; a timer that fires late (a busy machine) catches up, a few
  // frames at a time, so the streams keep their rate, and gives up on what is more than a second behind
  const started = performance.now();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) * rate) / 1000);
    if (due - sent > rate) sent = due - Math.ceil(rate);
    for (let i = 0; i < MAX_CATCH_UP && sent < due; i++, sent++) tick();
  }, 1000 / rate);
  timer.unref();
  return { stop: () => clearInterval(timer), producer };
}
