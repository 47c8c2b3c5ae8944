// A CPU profile of the socket thread with --workers N under flat-out frames (the workload of bench/workers.ts):
// where its time per frame goes. Run: npx tsx --cpu-prof --cpu-prof-dir=/tmp/prof bench/workers-profile.ts [binary|json] [N]
// then read the .cpuprofile of the main thread (the workers write their own) in Chrome devtools, or with
// `node bench/workers-profile-top.mjs FILE` for the top self-time functions.

import { workerPool } from '../src/cluster/pool.js';
import { createModel } from '../src/index.js';
import { SeqcastServer } from '../src/server/server.js';
import { drainGenerator, runGenerator, startGenerator } from './load-generator.js';

const mode = (process.argv[2] ?? 'binary') as 'binary' | 'json';
const workers = Number(process.argv[3] ?? 2);
const model = await createModel({ cell: 'lstm', inputSize: 1, hiddenSize: 64, outputSize: 1, seed: 1 }, { batchCapacity: 256 });
const server = await SeqcastServer.start({
  models: [{ name: 'bench', model }],
  port: 0,
  webRoot: null,
  rateLimit: 10_000_000,
  maxStreamsPerConnection: 1000,
  maxPayload: 16 * 1024 * 1024,
  engine: workers > 0 ? workerPool({ workers }) : undefined,
});
const child = await startGenerator(server.url, mode, 1000, 4);
const run = await runGenerator(child, 0, Number(process.env.PROFILE_SECONDS ?? 6), 1);
process.stdout.write(`${mode}, workers ${workers}: ${Math.round(run.framesPerSecond)} frames/s flat out\n`);
await drainGenerator(child, 2);
child.send({ type: 'exit' });
await server.close();
model.close();
process.exit(0);
