// Makes demo/machine-temperature.safetensors: an LSTM trained by `seqcast train --delta` (BPTT and Adam in the
// kernel) on the first half of NAB machine temperature.
//
// Run: npx tsx scripts/make-demo-model.ts
//
// Only the first half of the file makes the model: `seqcast train` trains on its first 80% and validates on the
// rest (one stream from zero state, state carried), keeping the best epoch. The second half is touched once, at the
// end, to report the held-out error against persistence. Deterministic: --seed 0 (on one kernel build).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main as seqcast } from '../src/cli/main.js';
import { loadModel } from '../src/index.js';
import { DEMO_MODEL_URL, loadDemoData, NAB_FILE, trainRowCount } from '../src/demo/data.js';

/** `seqcast train`'s flags for the demo model, besides --data and --out. */
const FLAGS = ['--kind', 'lstm', '--hidden', '32', '--window', '32', '--stride', '4', '--delta', '--epochs', '20', '--patience', '5', '--val-split', '0.2', '--seed', '0', '--quiet'];

/** A writable that keeps the text written to it. */
class Collector extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/** The number after `label` in `text`. */
function numberAfter(text: string, label: string): number {
  const match = new RegExp(`${label} ([0-9.e+-]+)`).exec(text);
  if (!match) throw new Error(`no "${label}" in:\n${text}`);
  return Number(match[1]);
}

async function main(): Promise<void> {
  const { timestamps, values } = await loadDemoData();
  const rows = values.length;
  const trainRows = trainRowCount(rows);
  const dir = mkdtempSync(join(tmpdir(), 'seqcast-demo-model-'));
  const csv = join(dir, 'machine_temperature_first_half.csv');
  writeFileSync(csv, `timestamp,value\n${Array.from({ length: trainRows }, (_, t) => `${timestamps[t]},${values[t]}`).join('\n')}\n`);
  const trained = join(dir, 'trained.safetensors');
  const log = new Collector();
  const stderr = new Collector();
  const status = await seqcast(['train', '--data', csv, '--out', trained, ...FLAGS], { stdout: log, stderr });
  if (status !== 0) throw new Error(`seqcast train failed (${status}): ${stderr.text}`);
  process.stdout.write(log.text);
  const validation = numberAfter(log.text, 'best validation loss');
  const persistence = numberAfter(log.text, 'validation loss of persistence, for scale:');

  const model = await loadModel(trained);
  const fitRows = Math.floor(trainRows * 0.8);
  Object.assign(model.metadata, {
    demo: {
      description: `an LSTM (hidden ${model.arch.hiddenSize}) trained by seqcast train --delta (BPTT, Adam) to predict the change to the next reading`,
      data: `Numenta Anomaly Benchmark ${NAB_FILE} (MIT licence)`,
      fittedOnRows: [0, trainRows - 1],
      command: `seqcast train --data <rows 0..${trainRows - 1}> ${FLAGS.filter((f) => f !== '--quiet').join(' ')}`,
      selectedOn: `validation rows ${fitRows}..${trainRows - 1}, streamed from zero state (trained on rows 0..${fitRows - 1})`,
      validationMse: validation,
      validationPersistenceMse: persistence,
      units: 'MSE in normalized units (squared standard deviations of the first half)',
    },
    script: 'scripts/make-demo-model.ts',
  });
  const path = fileURLToPath(DEMO_MODEL_URL);
  await model.save(path);
  model.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(`saved ${path}`);

  // the whole file through the saved model from zero state, exactly as `seqcast demo` runs it
  const saved = await loadModel(path);
  const stream = saved.openStream();
  const predicted = new Float64Array(rows).fill(NaN);
  for (let t = 0; t < rows; t++) {
    const next = stream.step([values[t]])[0];
    if (t + 1 < rows) predicted[t + 1] = next;
  }
  saved.close();
  const mse = (from: number, to: number) => {
    let m = 0, p = 0;
    for (let t = from; t < to; t++) {
      m += (values[t] - predicted[t]) ** 2;
      p += (values[t] - values[t - 1]) ** 2;
    }
    return `model ${(m / (to - from)).toFixed(4)}, persistence ${(p / (to - from)).toFixed(4)} (model/persistence ${(m / p).toFixed(3)})`;
  };
  console.log(`first predictions: ${[1, 2, 3].map((t) => `row ${t} ${predicted[t].toFixed(2)} (actual ${values[t].toFixed(2)})`).join(', ')}`);
  console.log(`first half (rows 1..${trainRows - 1}), MSE in original units: ${mse(1, trainRows)}`);
  console.log(`held-out second half (rows ${trainRows}..${rows - 1}, ${rows - trainRows} one-step predictions), MSE in original units: ${mse(trainRows, rows)}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
