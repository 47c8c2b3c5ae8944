// Load generator for bench/server.ts, run in its own process (child_process.fork): producers on loopback sockets,
// JSON or binary frames (docs/protocol.md, encoded here independently of the server's code), client-observed latency.
//
// Messages from the parent: { type: 'setup', url, streams, connections, mode }, then { type: 'run', rate, seconds, warmup }
// (rate 0 = as fast as the server answers, a window of frames in flight), and { type: 'exit' }.
// Answers: { type: 'ready' }, { type: 'result', framesPerSecond, p50, p99, frames, allFrames, errors, unanswered },
// { type: 'drained', unanswered } (to `drain`: every frame still in flight, waited for up to `seconds`).

import WebSocket from 'ws';

const HEADER_BYTES = 8;
const FRAME_RECORD_BYTES = 16 + 4; // u32 stream id, u32 seq, f64 t, one f32 value
/** Frames in flight per connection when running flat out. */
const WINDOW_PER_CONNECTION = 4096;
/** Frames per message. */
const FRAMES_PER_MESSAGE = 256;
/** ms between sends when pacing a rate. */
const TICK_MS = 2;

let producers = [];
let mode = 'json';
/** Send time (performance.now()) of each frame in flight, by stream index and seq. */
let sentAt = [];
/** Latencies (ms) of the frames answered while measuring. */
let latencies = [];
let measuring = false;
let answered = 0;
let errors = 0;
let onAnswer = () => {};
const RING = 1 << 14;

function encodeBinary(records) {
  const bytes = Buffer.allocUnsafe(HEADER_BYTES + records.length * FRAME_RECORD_BYTES);
  bytes.writeUInt16LE(0x4353, 0); // "SC"
  bytes.writeUInt8(1, 2); // version
  bytes.writeUInt8(1, 3); // kind: frames
  bytes.writeUInt16LE(records.length, 4);
  bytes.writeUInt16LE(1, 6); // values per frame
  let at = HEADER_BYTES;
  for (const { id, seq, value } of records) {
    bytes.writeUInt32LE(id, at);
    bytes.writeUInt32LE(seq, at + 4);
    bytes.writeDoubleLE(NaN, at + 8);
    bytes.writeFloatLE(value, at + 16);
    at += FRAME_RECORD_BYTES;
  }
  return bytes;
}

/** Stream ids and seqs of a binary predictions message (kind 2). */
function* decodeBinary(bytes) {
  const count = bytes.readUInt16LE(4);
  let at = HEADER_BYTES;
  for (let r = 0; r < count; r++) {
    const outputs = bytes.readUInt16LE(at + 32);
    const horizon = bytes.readUInt16LE(at + 34);
    yield [bytes.readUInt32LE(at), bytes.readUInt32LE(at + 4)];
    at += 36 + 4 * outputs * (1 + horizon);
  }
}

function answer(streamIndex, seq) {
  const now = performance.now();
  if (measuring) latencies.push(now - sentAt[streamIndex][seq % RING]);
  answered++;
  onAnswer();
}

class Producer {
  constructor(ws, first, count) {
    this.ws = ws;
    this.first = first; // index of its first stream
    this.count = count;
    this.ids = new Array(count);
    this.nextSeq = new Array(count).fill(0);
    this.cursor = 0;
    this.inFlight = 0;
    this.idToIndex = new Map();
  }

  /** Sends n frames, round robin over its streams. */
  send(n) {
    while (n > 0) {
      const size = Math.min(n, FRAMES_PER_MESSAGE);
      const now = performance.now();
      const records = new Array(size);
      for (let i = 0; i < size; i++) {
        const local = this.cursor;
        this.cursor = (this.cursor + 1) % this.count;
        const seq = this.nextSeq[local]++;
        const index = this.first + local;
        sentAt[index][seq % RING] = now;
        records[i] = { local, id: this.ids[local], seq, value: Math.sin(seq * 0.1 + index) };
      }
      if (mode === 'binary') this.ws.send(encodeBinary(records));
      else this.ws.send(JSON.stringify(records.map((r) => ({ type: 'frame', stream: `s${this.first + r.local}`, seq: r.seq, values: [r.value] }))));
      this.inFlight += size;
      n -= size;
    }
  }

  received(data, isBinary) {
    if (isBinary) {
      for (const [id, seq] of decodeBinary(data)) {
        this.inFlight--;
        answer(this.idToIndex.get(id), seq);
      }
      return;
    }
    const parsed = JSON.parse(data.toString());
    for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
      if (m.type === 'prediction') {
        this.inFlight--;
        answer(Number(m.stream.slice(1)), m.seq);
      } else if (m.type === 'error') {
        // a rate_limited error answers `count` frames
        errors += m.count ?? 1;
        this.inFlight -= m.count ?? 1;
        if (errors < 5) process.stderr.write(`load generator: server error ${m.code}: ${m.message}\n`);
      } else if (m.type === 'opened') {
        const local = Number(m.stream.slice(1)) - this.first;
        this.ids[local] = m.id;
        this.idToIndex.set(m.id, this.first + local);
        this.opened++;
        this.onOpened?.();
      }
    }
  }
}

async function setup({ url, streams, connections }) {
  sentAt = Array.from({ length: streams }, () => new Float64Array(RING));
  const perConnection = Math.ceil(streams / connections);
  for (let c = 0; c < connections; c++) {
    const first = c * perConnection;
    const count = Math.min(perConnection, streams - first);
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const producer = new Producer(ws, first, count);
    ws.on('message', (data, isBinary) => producer.received(data, isBinary));
    producer.opened = 0;
    await new Promise((resolve) => {
      producer.onOpened = () => producer.opened === count && resolve();
      ws.send(JSON.stringify(Array.from({ length: count }, (_, i) => ({ type: 'open', stream: `s${first + i}`, normalize: 'none' }))));
    });
    producers.push(producer);
  }
}

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Runs one load level: `rate` frames/s (0 = flat out) for warmup + seconds; measures during `seconds`. */
async function run({ rate, seconds, warmup }) {
  latencies = [];
  errors = 0;
  const started = performance.now();
  const measureFrom = started + warmup * 1000;
  const end = measureFrom + seconds * 1000;
  let answeredAtStart = 0;
  const answeredBefore = answered;
  let sent = 0;
  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      if (!measuring && now >= measureFrom && now < end) {
        measuring = true;
        answeredAtStart = answered;
      }
      if (now >= end) {
        measuring = false;
        clearInterval(pacer);
        onAnswer = () => {};
        resolve();
        return;
      }
      if (rate > 0) {
        const due = Math.floor(((now - started) / 1000) * rate) - sent;
        if (due <= 0) return;
        // spread over the connections
        const share = Math.ceil(due / producers.length);
        let left = due;
        for (const producer of producers) {
          const n = Math.min(share, left);
          producer.send(n);
          left -= n;
        }
        sent += due;
      }
    };
    const pacer = setInterval(tick, rate > 0 ? TICK_MS : 5);
    if (rate === 0) {
      // closed loop: refill each connection's window as answers come back
      onAnswer = () => {
        for (const producer of producers) if (producer.inFlight <= WINDOW_PER_CONNECTION - FRAMES_PER_MESSAGE) producer.send(FRAMES_PER_MESSAGE);
      };
      for (const producer of producers) producer.send(WINDOW_PER_CONNECTION);
    }
  });
  const measuredFrames = answered - answeredAtStart;
  // let the frames still in flight come back before the next level
  const drainUntil = performance.now() + 3000;
  while (producers.some((p) => p.inFlight > 0) && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 10));
  const sorted = Float64Array.from(latencies).sort();
  // allFrames: every frame answered in this run, warm-up and drain included (the parent divides its server CPU time by it);
  // unanswered: frames still in flight after the drain (bench/soak.ts checks every frame was answered)
  const unanswered = producers.reduce((sum, p) => sum + p.inFlight, 0);
  return { framesPerSecond: measuredFrames / seconds, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), frames: measuredFrames, allFrames: answered - answeredBefore, errors, unanswered };
}

process.on('message', async (message) => {
  try {
    if (message.type === 'setup') {
      mode = message.mode;
      await setup(message);
      process.send({ type: 'ready' });
    } else if (message.type === 'run') {
      process.send({ type: 'result', ...(await run(message)) });
    } else if (message.type === 'drain') {
      // wait up to `seconds` for every frame still in flight; answers how many never came back
      const until = performance.now() + message.seconds * 1000;
      while (producers.some((p) => p.inFlight > 0) && performance.now() < until) await new Promise((r) => setTimeout(r, 10));
      process.send({ type: 'drained', unanswered: producers.reduce((sum, p) => sum + p.inFlight, 0) });
    } else if (message.type === 'exit') {
      for (const producer of producers) producer.ws.terminate();
      process.exit(0);
    }
  } catch (err) {
    process.send({ type: 'failed', message: String(err?.stack ?? err) });
  }
});
