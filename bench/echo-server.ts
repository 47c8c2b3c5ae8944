// The floor for bench/server.ts: a WebSocket server that speaks just enough of docs/protocol.md for the load
// generator (open → opened, frame → prediction, binary frames → binary prediction records) and answers every frame
// at once with predicted = the frame's own value. No model, no pipeline, no scoring: what remains of its latency is
// loopback, ws framing, the generator's own encoding and decoding, and the machine's scheduling.
// It runs in the same process and on the same event loop the seqcast server would, so the two are comparable.
// Given `unitsPerFrame`, it becomes the *work* stand-in: before answering a message it does that much fixed
// arithmetic per frame, so that its cost per frame can be made equal to seqcast's.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

const HEADER_BYTES = 8;
const MAGIC = 0x4353; // "SC"
const KIND_FRAMES = 1;
const KIND_PREDICTIONS = 2;
const RECORD_HEAD = 36;

export interface EchoServer {
  url: string;
  /** Units of fixed work done per frame from now on (0: a plain echo). */
  setWork(unitsPerFrame: number): void;
  close(): Promise<void>;
}

interface Frame {
  type?: string;
  stream?: string;
  seq?: number;
  values?: number[];
}

/** The stand-in's unit of work: a fixed 64-term dot product. Unlike a wait for a wall-clock time, it takes longer whenever the machine runs slower, as a real server's work does. */
const TERMS = new Float64Array(64).map((_, i) => Math.sin(i + 1));
let sink = 0;
function work(units: number): void {
  let s = 0;
  for (let u = 0; u < units; u++) for (let i = 0; i < 64; i++) s += TERMS[i] * TERMS[63 - i] + u;
  sink += s;
}

/** Units of work done per µs, the mean over `ms` of doing nothing else (slowdowns of the machine included, as in a server's mean service time). */
export function calibrateWork(ms = 1000): number {
  work(10_000); // compiled before timing
  const start = performance.now();
  let units = 0;
  while (performance.now() - start < ms) {
    work(200);
    units += 200;
  }
  return units / ((performance.now() - start) * 1000);
}

export interface Steadiness {
  /** Median time of one slice of fixed work, µs. */
  medianSliceMicros: number;
  /** Share of 20 ms windows in which fixed work ran more than 2× slower than its median. */
  slowWindows: number;
  /** The slowest 20 ms window, as a multiple of the median. */
  worst: number;
}

/** How steady this machine runs: the same fixed work, sliced, over `seconds`; windows of 20 ms that ran slow. */
export function measureSteadiness(seconds: number): Steadiness {
  work(10_000);
  const start = performance.now();
  const slices: number[] = [];
  const windows = new Map<number, { sum: number; n: number }>();
  while (performance.now() - start < seconds * 1000) {
    const t = performance.now();
    work(50);
    const took = performance.now() - t;
    slices.push(took);
    const key = Math.floor((t - start) / 20);
    const w = windows.get(key) ?? { sum: 0, n: 0 };
    w.sum += took;
    w.n++;
    windows.set(key, w);
  }
  const median = Float64Array.from(slices).sort()[slices.length >> 1];
  const ratios = [...windows.values()].map((w) => w.sum / w.n / median);
  return { medianSliceMicros: median * 1000, slowWindows: ratios.filter((r) => r > 2).length / ratios.length, worst: Math.max(...ratios) };
}

function answerJson(ws: WebSocket, ids: Map<string, number>, text: string, unitsPerFrame: number): void {
  const parsed = JSON.parse(text) as Frame | Frame[];
  const answers: string[] = [];
  for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
    if (m.type === 'open' && typeof m.stream === 'string') {
      if (!ids.has(m.stream)) ids.set(m.stream, ids.size + 1);
      answers.push(JSON.stringify({ type: 'opened', stream: m.stream, id: ids.get(m.stream) }));
    } else if (m.type === 'frame') {
      answers.push(JSON.stringify({ type: 'prediction', stream: m.stream, seq: m.seq, predicted: m.values }));
      work(Math.round(unitsPerFrame));
    }
  }
  if (answers.length > 0) ws.send(answers.length === 1 ? answers[0] : `[${answers.join(',')}]`);
}

function answerBinary(ws: WebSocket, data: Buffer, unitsPerFrame: number): void {
  const input = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.byteLength < HEADER_BYTES || input.getUint16(0, true) !== MAGIC || input.getUint8(3) !== KIND_FRAMES) return;
  const count = input.getUint16(4, true);
  work(Math.round(count * unitsPerFrame));
  const width = input.getUint16(6, true);
  const inRecord = 16 + 4 * width;
  const outRecord = RECORD_HEAD + 4 * width;
  const out = new Uint8Array(HEADER_BYTES + count * outRecord);
  const view = new DataView(out.buffer);
  view.setUint16(0, MAGIC, true);
  view.setUint8(2, 1);
  view.setUint8(3, KIND_PREDICTIONS);
  view.setUint16(4, count, true);
  for (let r = 0; r < count; r++) {
    const from = HEADER_BYTES + r * inRecord;
    const to = HEADER_BYTES + r * outRecord;
    view.setUint32(to, input.getUint32(from, true), true);
    view.setUint32(to + 4, input.getUint32(from + 4, true), true);
    view.setFloat64(to + 8, input.getFloat64(from + 8, true), true);
    view.setUint16(to + 32, width, true);
    for (let i = 0; i < width; i++) view.setFloat32(to + RECORD_HEAD + 4 * i, input.getFloat32(from + 16 + 4 * i, true), true);
  }
  ws.send(out);
}

/** Starts the echo server on a free loopback port; with `unitsPerFrame` > 0, the work stand-in. */
export async function startEchoServer(maxPayload: number, unitsPerFrame = 0): Promise<EchoServer> {
  let units = unitsPerFrame;
  const http: Server = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server: http, path: '/ws', maxPayload, perMessageDeflate: false });
  wss.on('connection', (ws) => {
    const ids = new Map<string, number>();
    ws.on('message', (data, isBinary) => {
      if (isBinary) answerBinary(ws, data as Buffer, units);
      else answerJson(ws, ids, (data as Buffer).toString(), units);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    setWork: (unitsPerFrame) => {
      units = unitsPerFrame;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => http.close(() => resolve()));
      }),
  };
}
