// Makes demo/machine-temperature.safetensors: an echo-state network (seeded random LSTM reservoir, ridge-regression head) on NAB machine temperature.
//
// Run: npx tsx scripts/make-demo-model.ts
//
// Only the first half of the file is used to make the model: rows [0, 40%) fit
// the head, rows [40%, 50%) choose the reservoir and the ridge penalty, then the
// head is refitted on the whole first half. The second half is touched once, at
// the end, to report the held-out error against persistence.

import { fileURLToPath } from 'node:url';
import { createModel, loadModel, type Model } from '../src/index.js';
import { DEMO_MODEL_URL, loadDemoData, NAB_FILE, trainRowCount, WARMUP } from '../src/demo/data.js';

/** Steps dropped from the start of the fit while the zero initial state fades: the demo's warm-up. */
const WASHOUT = WARMUP;

/** The recurrent weights are random; what we choose is how the reservoir is scaled and how hard the head is regularised. */
interface ReservoirConfig {
  seed: number;
  hiddenSize: number;
  /** Multiplies weight_ih: how hard the input drives the gates (small keeps the LSTM near its linear range). */
  inputScale: number;
  /** Multiplies weight_hh: how long the reservoir remembers. */
  recurrentScale: number;
}

const SEEDS = [1, 2, 3];
const HIDDEN_SIZES = [16, 32];
const INPUT_SCALES = [0.25, 1, 4];
const RECURRENT_SCALES = [0.5, 1, 2];
const LAMBDAS = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1];
/** The first half's share, from the start of the file, that fits the head while searching; the rest of the first half validates. */
const FIT_FRACTION = 0.4;

/** The reservoir for `config`, with a zero head and the first half's normalizer. */
async function makeReservoir(config: ReservoirConfig, normalizer: { mean: number[]; std: number[] }, extra: Record<string, unknown> = {}): Promise<Model> {
  const model = await createModel({
    cell: 'lstm',
    inputSize: 1,
    hiddenSize: config.hiddenSize,
    outputSize: 1,
    seed: config.seed,
    metadata: { normalizer, channels: ['value'], ...extra },
  });
  const scale = (name: string, by: number) => model.setParameter(name, model.getParameter(name).map((w) => w * by));
  scale('lstm.weight_ih_l0', config.inputScale);
  scale('lstm.weight_hh_l0', config.recurrentScale);
  return model;
}

/** Top-layer h after stepping each of the first `rows` values, row-major [rows, H], in float64 for the normal equations. */
function collectStates(model: Model, values: Float64Array, rows: number): Float64Array {
  const hidden = model.arch.hiddenSize;
  const states = new Float64Array(rows * hidden);
  const stream = model.openStream();
  const frame = new Float64Array(1);
  for (let t = 0; t < rows; t++) {
    frame[0] = values[t];
    stream.step(frame);
    states.set(stream.state().h, t * hidden);
  }
  stream.close();
  return states;
}

/** Zᵀ Z and Zᵀ y for features z_t = [h_t, 1] and targets y_t = next normalized value, over steps t in [from, to). */
function normalEquations(states: Float64Array, targets: Float64Array, hidden: number, from: number, to: number): { gram: Float64Array; moment: Float64Array } {
  const n = hidden + 1;
  const gram = new Float64Array(n * n);
  const moment = new Float64Array(n);
  const z = new Float64Array(n);
  z[hidden] = 1;
  for (let t = from; t < to; t++) {
    z.set(states.subarray(t * hidden, (t + 1) * hidden));
    for (let i = 0; i < n; i++) {
      moment[i] += z[i] * targets[t];
      for (let j = 0; j <= i; j++) gram[i * n + j] += z[i] * z[j];
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) gram[j * n + i] = gram[i * n + j];
  return { gram, moment };
}

/**
 * Ridge regression: solves (ZᵀZ + λ·diag(1…1, 0)) w = Zᵀy by Cholesky. The bias
 * (last feature) is not penalised, so λ shrinks only the reservoir's weights.
 */
function solveRidge(gram: Float64Array, moment: Float64Array, lambda: number): Float64Array {
  const n = moment.length;
  const a = Float64Array.from(gram);
  for (let i = 0; i < n - 1; i++) a[i * n + i] += lambda;
  // in place: the lower triangle becomes L with A = L Lᵀ
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= a[j * n + k] ** 2;
    if (!(d > 0)) throw new Error(`normal equations are not positive definite at column ${j} (λ = ${lambda})`);
    const l = Math.sqrt(d);
    a[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / l;
    }
  }
  const w = Float64Array.from(moment);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < i; k++) w[i] -= a[i * n + k] * w[k];
    w[i] /= a[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let k = i + 1; k < n; k++) w[i] -= a[k * n + i] * w[k];
    w[i] /= a[i * n + i];
  }
  return w;
}

/** Mean squared error of the head `w` over steps t in [from, to), in normalized units. */
function headMse(w: Float64Array, states: Float64Array, targets: Float64Array, hidden: number, from: number, to: number): number {
  let sum = 0;
  for (let t = from; t < to; t++) {
    let y = w[hidden];
    for (let i = 0; i < hidden; i++) y += w[i] * states[t * hidden + i];
    sum += (y - targets[t]) ** 2;
  }
  return sum / (to - from);
}

function setHead(model: Model, w: Float64Array): void {
  const hidden = model.arch.hiddenSize;
  model.setParameter('head.weight', w.subarray(0, hidden));
  model.setParameter('head.bias', [w[hidden]]);
}

function describeConfig(c: ReservoirConfig): string {
  return `seed ${c.seed}, hidden ${c.hiddenSize}, weight_ih ×${c.inputScale}, weight_hh ×${c.recurrentScale}`;
}

async function main(): Promise<void> {
  const data = await loadDemoData();
  const { values } = data;
  const rows = values.length;
  const trainRows = trainRowCount(rows);
  const fitRows = Math.floor(rows * FIT_FRACTION);

  let mean = 0;
  for (let t = 0; t < trainRows; t++) mean += values[t];
  mean /= trainRows;
  let variance = 0;
  for (let t = 0; t < trainRows; t++) variance += (values[t] - mean) ** 2;
  const std = Math.sqrt(variance / trainRows);
  const normalizer = { mean: [mean], std: [std] };

  // step t sees row t and is asked for row t + 1, so the first half gives targets for steps [0, trainRows − 1)
  const targets = new Float64Array(trainRows);
  for (let t = 0; t + 1 < trainRows; t++) targets[t] = (values[t + 1] - mean) / std;
  const lastStep = trainRows - 1;
  const fitEnd = fitRows - 1;

  let persistenceVal = 0;
  for (let t = fitEnd; t < lastStep; t++) persistenceVal += (values[t + 1] - values[t]) ** 2;
  persistenceVal /= lastStep - fitEnd;
  console.log(`${NAB_FILE}: ${rows} rows; first half ${trainRows} rows (normalizer mean ${mean.toFixed(4)}, std ${std.toFixed(4)})`);
  console.log(`search: fit on steps [${WASHOUT}, ${fitEnd}), validate on steps [${fitEnd}, ${lastStep}); persistence validation MSE ${persistenceVal.toFixed(4)}`);

  type Trial = { config: ReservoirConfig; lambda: number; valMse: number };
  let best: Trial | undefined;
  const started = Date.now();
  for (const hiddenSize of HIDDEN_SIZES) {
    for (const seed of SEEDS) {
      for (const inputScale of INPUT_SCALES) {
        for (const recurrentScale of RECURRENT_SCALES) {
          const config = { seed, hiddenSize, inputScale, recurrentScale };
          const model = await makeReservoir(config, normalizer);
          const states = collectStates(model, values, trainRows);
          model.close();
          const { gram, moment } = normalEquations(states, targets, hiddenSize, WASHOUT, fitEnd);
          let trialBest: Trial | undefined;
          for (const lambda of LAMBDAS) {
            let w: Float64Array;
            try {
              w = solveRidge(gram, moment, lambda);
            } catch {
              continue; // too little regularisation for a near-singular reservoir; larger λ will do
            }
            const valMse = headMse(w, states, targets, hiddenSize, fitEnd, lastStep) * std * std;
            if (!trialBest || valMse < trialBest.valMse) trialBest = { config, lambda, valMse };
          }
          if (!trialBest) continue;
          console.log(`  ${describeConfig(config).padEnd(52)} best λ ${trialBest.lambda.toExponential(0).padEnd(6)} validation MSE ${trialBest.valMse.toFixed(4)}`);
          if (!best || trialBest.valMse < best.valMse) best = trialBest;
        }
      }
    }
  }
  if (!best) throw new Error('no reservoir gave a solvable fit');
  console.log(`searched in ${((Date.now() - started) / 1000).toFixed(1)} s; chose ${describeConfig(best.config)}, λ ${best.lambda} (validation MSE ${best.valMse.toFixed(4)} vs persistence ${persistenceVal.toFixed(4)})`);

  // refit the chosen head on the whole first half
  const demo = {
    description:
      `echo-state network: a seeded random LSTM reservoir (seed ${best.config.seed}, weight_ih ×${best.config.inputScale}, weight_hh ×${best.config.recurrentScale}; ` +
      `recurrent weights never trained) with a dense head fitted in closed form by ridge regression (λ ${best.lambda}) to predict the next reading`,
    data: `Numenta Anomaly Benchmark ${NAB_FILE} (MIT licence)`,
    fittedOnRows: [0, trainRows - 1],
    method: {
      reservoir: best.config,
      ridgeLambda: best.lambda,
      washout: WASHOUT,
      selectedOn: `validation rows ${fitRows}..${trainRows - 1} (head fitted on rows 0..${fitRows - 1} while searching, then refitted on rows 0..${trainRows - 1})`,
      validationMse: best.valMse,
      validationPersistenceMse: persistenceVal,
    },
    script: 'scripts/make-demo-model.ts',
  };
  const model = await makeReservoir(best.config, normalizer, { demo });
  const states = collectStates(model, values, trainRows);
  const { gram, moment } = normalEquations(states, targets, best.config.hiddenSize, WASHOUT, lastStep);
  setHead(model, solveRidge(gram, moment, best.lambda));
  const path = fileURLToPath(DEMO_MODEL_URL);
  await model.save(path);
  model.close();
  console.log(`saved ${path}`);

  // the held-out half, read back through the saved file exactly as the demo runs it
  const saved = await loadModel(path);
  const stream = saved.openStream();
  let modelTest = 0;
  let persistenceTest = 0;
  let previousPrediction = NaN;
  for (let t = 0; t < rows; t++) {
    if (t >= trainRows) {
      modelTest += (values[t] - previousPrediction) ** 2;
      persistenceTest += (values[t] - values[t - 1]) ** 2;
    }
    previousPrediction = stream.step([values[t]])[0];
  }
  saved.close();
  const testCount = rows - trainRows;
  modelTest /= testCount;
  persistenceTest /= testCount;
  console.log(
    `held-out second half (rows ${trainRows}..${rows - 1}, ${testCount} one-step predictions), MSE in original units: ` +
      `model ${modelTest.toFixed(4)}, persistence ${persistenceTest.toFixed(4)} (model/persistence ${(modelTest / persistenceTest).toFixed(3)})`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
