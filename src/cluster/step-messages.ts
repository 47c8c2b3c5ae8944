// The messages between a StepPool (step-pool.ts) and its worker threads (step-worker.ts).

/** What a step worker is started with: the model's weights and its batch capacity. */
export interface StepSetup {
  bytes: Uint8Array;
  batchCapacity: number;
}

export type StepRequest =
  | { type: 'ready'; id: number }
  /** Have `count` streams open in all (more are opened, in order). */
  | { type: 'open'; id: number; count: number }
  /** Step streams `indices` with `values` (width per row; a token model's rows are one token id). */
  | { type: 'step'; id: number; indices: Int32Array; values: Float64Array; width: number; token: boolean };

export type StepReply = { type: 'ready'; id: number } | { type: 'stepped'; id: number; outputs: Float32Array } | { type: 'failed'; id: number; message: string };
