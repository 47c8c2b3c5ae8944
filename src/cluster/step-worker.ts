// A StepPool's worker thread (built to dist/cluster/step-worker.js): its copy of the model and its streams' slots.

import { parentPort, workerData } from 'node:worker_threads';
import { loadModel } from '../api/model.js';
import type { Stream } from '../api/stream.js';
import type { StepReply, StepRequest, StepSetup } from './step-messages.js';

const port = parentPort;
if (!port) throw new Error('src/cluster/step-worker.ts runs as a worker thread (new Worker), not on its own');
const setup = workerData as StepSetup;
const model = await loadModel(setup.bytes, { batchCapacity: setup.batchCapacity });
const streams: Stream[] = [];

port.on('message', (request: StepRequest) => {
  let reply: StepReply;
  try {
    if (request.type === 'ready') reply = { type: 'ready', id: request.id };
    else if (request.type === 'open') {
      while (streams.length < request.count) streams.push(model.openStream());
      return;
    } else {
      const { indices, values, width, token } = request;
      const inputs = Array.from(indices, (_, k) => (token ? values[k] : values.subarray(k * width, (k + 1) * width)));
      const rows = model.stepBatch(Array.from(indices, (i) => streams[i]), inputs);
      const outputs = new Float32Array(rows.length * (rows[0]?.length ?? 0));
      rows.forEach((row, k) => outputs.set(row, k * row.length));
      reply = { type: 'stepped', id: request.id, outputs };
      return port.postMessage(reply, [outputs.buffer]);
    }
  } catch (err) {
    reply = { type: 'failed', id: request.id, message: (err as Error).message };
  }
  port.postMessage(reply);
});
