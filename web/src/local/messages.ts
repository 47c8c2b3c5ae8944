// What the page and its detector worker (worker.ts) say to each other: the page hands over a dropped CSV (and a model file,
// or none for a new model); the worker answers with the stream and model it runs, then predictions in the wire's shape.

import type { ListedModel, ListedStream, PredictionMessage } from '../protocol';

/** Page → worker. */
export type ToWorker =
  | {
      type: 'start';
      /** The stream's name on the page: the CSV file's name. */
      stream: string;
      /** The CSV as text, and its file name for messages. */
      csv: string;
      csvName: string;
      /** A .safetensors model's bytes and file name; absent: a new model (seqcast detect's LSTM), learnt from scratch. */
      model?: { name: string; bytes: ArrayBuffer };
      /** Rows replayed per second; 0: as fast as the kernel computes them. */
      rowsPerSecond: number;
      /** Forecast rows per prediction (0: none). */
      horizon: number;
      /** The kernel build: `auto` (relaxed SIMD where the browser has it), `baseline` or `relaxed`. */
      kernel: 'auto' | 'baseline' | 'relaxed';
    }
  | { type: 'configure'; horizon?: number; learn?: boolean }
  | { type: 'pause'; paused: boolean };

/** Worker → page. */
export type FromWorker =
  | { type: 'ready'; stream: ListedStream; model: ListedModel; rows: number; kernel: string }
  | { type: 'predictions'; predictions: PredictionMessage[] }
  | { type: 'configured'; horizon: number; learn: boolean; lastSeq: number }
  /** Every row stepped; `computeSeconds`: the time spent stepping, scoring and forecasting them (pauses and posting left out). */
  | { type: 'done'; rows: number; computeSeconds: number }
  /** Bad input (a line of the CSV, a model that does not fit it) or a failure: what and where, as the CLI would say it. */
  | { type: 'failed'; message: string };
