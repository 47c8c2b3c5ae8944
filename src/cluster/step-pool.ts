// The library's opt-in pool for large batches: streams of one model spread over a few worker threads, each with
// its own copy of the weights, and one stepBatch split over them and run at the same time (issue 16).
//
//   const pool = await StepPool.start(model, { workers: 2 });
//   const streams = pool.open(4096);
//   const outputs = await pool.stepBatch(streams, inputs);   // what model.stepBatch gives, bit for bit
//
// The weights are copied when the pool starts: it serves the model as it was then (no online learning through it).

import { Worker } from 'node:worker_threads';
import { InputError, StateError } from '../errors.js';
import type { Model, StepInput } from '../api/model.js';
import { workerExecArgv } from './exec-argv.js';
import type { StepReply, StepRequest, StepSetup } from './step-messages.js';

/** A stream of the pool: its state lives in one worker's kernel slot. */
export interface PooledStream {
  readonly worker: number;
  /** Its index among that worker's streams. */
  readonly index: number;
  readonly label: string;
}

const STEP_WORKER = new URL(import.meta.url.endsWith('.js') ? './step-worker.js' : '../../dist/cluster/step-worker.js', import.meta.url);

/** Streams of one model on `workers` threads; stepBatch splits a batch by worker and runs the parts at once. */
export class StepPool {
  private nextIndex: number[];
  private nextId = 1;
  /** Streams opened so far (they are dealt round robin). */
  private opened = 0;
  private readonly waiting = new Map<number, { resolve: (reply: StepReply) => void; reject: (err: Error) => void }>();
  private closed = false;

  private constructor(
    private readonly model: Model,
    private readonly threads: Worker[],
  ) {
    this.nextIndex = threads.map(() => 0);
    for (const thread of threads) {
      thread.on('message', (reply: StepReply) => {
        const wait = this.waiting.get(reply.id);
        this.waiting.delete(reply.id);
        if (reply.type === 'failed') wait?.reject(new StateError(`a step worker failed: ${reply.message}`));
        else wait?.resolve(reply);
      });
      thread.on('error', (err) => {
        for (const wait of this.waiting.values()) wait.reject(err);
        this.waiting.clear();
      });
    }
  }

  /** Starts `workers` threads, each with a copy of `model`'s weights as they are now. */
  static async start(model: Model, options: { workers: number }): Promise<StepPool> {
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new InputError(`workers must be a positive integer, got ${options.workers}`);
    const setup: StepSetup = { bytes: model.toSafetensors(), batchCapacity: model.host.kernel.batchCapacity };
    const threads = Array.from({ length: options.workers }, () => new Worker(STEP_WORKER, { workerData: setup, execArgv: workerExecArgv() }));
    const pool = new StepPool(model, threads);
    await Promise.all(threads.map((_, worker) => pool.ask(worker, { type: 'ready', id: 0 })));
    return pool;
  }

  /** Opens `count` streams, dealt round robin over the workers. */
  open(count: number): PooledStream[] {
    this.assertOpen();
    const streams: PooledStream[] = [];
    for (let i = 0; i < count; i++) {
      const worker = this.opened++ % this.threads.length;
      const index = this.nextIndex[worker]++;
      streams.push({ worker, index, label: `pooled stream ${worker}.${index}` });
    }
    for (let worker = 0; worker < this.threads.length; worker++) this.threads[worker].postMessage({ type: 'open', id: 0, count: this.nextIndex[worker] } satisfies StepRequest);
    return streams;
  }

  /**
   * Steps `streams` by one position each, as model.stepBatch does (the same outputs, bit for bit): every input is
   * checked here first, so a bad one steps none; then each worker steps its part in one call.
   */
  async stepBatch(streams: readonly PooledStream[], inputs: readonly StepInput[]): Promise<Float32Array[]> {
    this.assertOpen();
    if (streams.length !== inputs.length) throw new InputError(`stepBatch got ${streams.length} streams but ${inputs.length} inputs`);
    const width = this.model.isTokenModel ? 1 : this.model.inputSize;
    const seen = new Set<PooledStream>();
    const parts = this.threads.map(() => ({ positions: [] as number[], indices: [] as number[] }));
    streams.forEach((stream, b) => {
      if (seen.has(stream)) throw new InputError(`stepBatch entry ${b}: ${stream.label} appears twice in one batch`);
      if (stream.worker >= this.threads.length || stream.index >= this.nextIndex[stream.worker]) throw new StateError(`stepBatch entry ${b}: ${stream.label} is not a stream of this pool`);
      seen.add(stream);
      this.model.host.checkInput(inputs[b], stream.label);
      parts[stream.worker].positions.push(b);
      parts[stream.worker].indices.push(stream.index);
    });
    const outputs: Float32Array[] = new Array(streams.length);
    await Promise.all(
      parts.map(async (part, worker) => {
        if (part.positions.length === 0) return;
        const values = new Float64Array(part.positions.length * width);
        part.positions.forEach((b, k) => {
          const input = inputs[b];
          if (typeof input === 'number') values[k] = input;
          else for (let i = 0; i < width; i++) values[k * width + i] = input[i];
        });
        const reply = await this.ask(worker, { type: 'step', id: 0, indices: Int32Array.from(part.indices), values, width, token: this.model.isTokenModel }, [values.buffer]);
        if (reply.type !== 'stepped') return;
        const rows = reply.outputs.length / part.positions.length;
        part.positions.forEach((b, k) => (outputs[b] = reply.outputs.slice(k * rows, (k + 1) * rows)));
      }),
    );
    return outputs;
  }

  /** Stops the threads; the model stays the caller's. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.map((t) => t.terminate()));
  }

  private ask(worker: number, request: StepRequest, transfer: ArrayBuffer[] = []): Promise<StepReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.threads[worker].postMessage({ ...request, id }, transfer);
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new StateError('this step pool is closed');
  }
}
