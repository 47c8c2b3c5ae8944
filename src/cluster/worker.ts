// A worker thread's entry (built to dist/cluster/worker.js): loads its own copy of every model, restores its
// checkpoint folder, then serves the socket thread's messages with a Shard until it is terminated.

import { parentPort, workerData } from 'node:worker_threads';
import { loadModel } from '../api/model.js';
import type { ServedModel } from '../stream/types.js';
import type { FromWorker, ToWorker, WorkerSetup } from './messages.js';
import { Shard } from './shard.js';

const port = parentPort;
if (!port) throw new Error('src/cluster/worker.ts runs as a worker thread (new Worker), not on its own');
const setup = workerData as WorkerSetup;
const post = (message: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer);
try {
  const models: ServedModel[] = [];
  for (const { name, bytes, batchCapacity } of setup.models) models.push({ name, model: await loadModel(bytes, { batchCapacity }) });
  const shard = new Shard(models, setup, post);
  // messages wait in the port until this listener is attached: none is handled before the restore is done
  await shard.start();
  port.on('message', (message: ToWorker) => shard.handle(message));
} catch (err) {
  post({ type: 'failed', message: (err as Error).message });
}
