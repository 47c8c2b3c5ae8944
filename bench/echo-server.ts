// The floor for bench/server.ts: a WebSocket server that speaks just enough of docs/protocol.md for the load
// generator (open → opened, frame → prediction, binary frames → binary prediction records) and answers every frame
// at once with predicted = the frame's own value. No model, no pipeline, no scoring: what remains of its latency is
// loopback, ws framing, the generator's own encoding and decoding, and the machine's scheduling.
// It runs in the same process and on the same event loop the seqcast server would, so the two are comparable.

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
  close(): Promise<void>;
}

interface Frame {
  type?: string;
  stream?: string;
  seq?: number;
  values?: number[];
}

/** Busy-waits `micros` µs: the service time of a server that does real work per frame. */
function spin(micros: number): void {
  if (micros <= 0) return;
  const until = performance.now() + micros / 1000;
  while (performance.now() < until);
}

function answerJson(ws: WebSocket, ids: Map<string, number>, text: string, spinMicros: number): void {
  const parsed = JSON.parse(text) as Frame | Frame[];
  const answers: string[] = [];
  for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
    if (m.type === 'open' && typeof m.stream === 'string') {
      if (!ids.has(m.stream)) ids.set(m.stream, ids.size + 1);
      answers.push(JSON.stringify({ type: 'opened', stream: m.stream, id: ids.get(m.stream) }));
    } else if (m.type === 'frame') {
      answers.push(JSON.stringify({ type: 'prediction', stream: m.stream, seq: m.seq, predicted: m.values }));
      spin(spinMicros);
    }
  }
  if (answers.length > 0) ws.send(answers.length === 1 ? answers[0] : `[${answers.join(',')}]`);
}

function answerBinary(ws: WebSocket, data: Buffer, spinMicros: number): void {
  const input = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.byteLength < HEADER_BYTES || input.getUint16(0, true) !== MAGIC || input.getUint8(3) !== KIND_FRAMES) return;
  const count = input.getUint16(4, true);
  spin(count * spinMicros);
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

/** Starts the echo server on a free loopback port. */
export async function startEchoServer(maxPayload: number, spinMicros = 0): Promise<EchoServer> {
  const http: Server = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server: http, path: '/ws', maxPayload, perMessageDeflate: false });
  wss.on('connection', (ws) => {
    const ids = new Map<string, number>();
    ws.on('message', (data, isBinary) => {
      if (isBinary) answerBinary(ws, data as Buffer, spinMicros);
      else answerJson(ws, ids, (data as Buffer).toString(), spinMicros);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => http.close(() => resolve()));
      }),
  };
}
