// The optimizer state format: Adam's step count, hyperparameters and moments as versioned bytes, for checkpoints.

import { InputError, KernelError } from '../errors.js';
import { ByteReader, ByteWriter } from '../model/bytes.js';
import type { Model } from './model.js';
import type { Trainer } from './train.js';

const OPTIMIZER_MAGIC = 0x534f4353; // "SCOS": SeqCast Optimizer State
const OPTIMIZER_VERSION = 1;
/** Adam's betas as learners configure them (the library's defaults). */
const ADAM_BETAS: [number, number] = [0.9, 0.999];

/**
 * The optimizer state of `trainer`'s model as bytes: u32 magic, version, parameter
 * count P, step count; f64 lr, clipNorm, beta1, beta2; f32[P] m; f32[P] v. Undefined
 * when the model has no Adam optimizer.
 */
export function encodeOptimizerState(trainer: Trainer): Uint8Array | undefined {
  const settings = trainer.settings;
  if (!settings || settings.kind !== 'adam') return undefined;
  const kernel = trainer.kernel;
  const e = kernel.exports;
  const length = e.getParamsLength();
  const f32 = kernel.f32;
  const m = e.optimizerMomentPtr(0) >>> 2, v = e.optimizerMomentPtr(1) >>> 2;
  const w = new ByteWriter();
  w.u32(OPTIMIZER_MAGIC, OPTIMIZER_VERSION, length, e.getOptimizerSteps());
  w.f64(settings.lr, settings.clipNorm, settings.betas[0], settings.betas[1]);
  w.f32s(f32.subarray(m, m + length));
  w.f32s(f32.subarray(v, v + length));
  return w.bytes();
}

/**
 * Why encodeOptimizerState() bytes could not be restored into any model, or undefined when they could: bad magic,
 * version or length, hyperparameters or moments that are not finite. Checkpoints call it before they write them.
 */
export function optimizerStateProblem(bytes: Uint8Array): string | undefined {
  try {
    const r = new ByteReader(bytes, 'optimizer state');
    const [magic, version, length] = r.u32(4);
    if (magic !== OPTIMIZER_MAGIC) throw new InputError('not a seqcast optimizer state (bad magic)');
    if (version !== OPTIMIZER_VERSION) throw new InputError(`optimizer state version ${version} is not supported (this version reads ${OPTIMIZER_VERSION})`);
    if (bytes.byteLength !== 48 + 8 * length) throw new InputError(`optimizer state is ${bytes.byteLength} bytes; its header implies ${48 + 8 * length}`);
    const settings = r.f64(4);
    if (!settings.every(Number.isFinite)) throw new InputError(`optimizer state: hyperparameters ${Array.from(settings)} are not finite`);
    for (const name of ['m', 'v']) {
      const moment = r.f32(length);
      const bad = moment.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new InputError(`optimizer state: moment ${name}[${bad}] is ${moment[bad]}`);
    }
    return undefined;
  } catch (err) {
    if (err instanceof InputError) return err.message;
    throw err;
  }
}

/**
 * Restores encodeOptimizerState() bytes: a fresh Adam with the saved hyperparameters,
 * then its moments and step count as they were. Everything is checked first.
 */
export function decodeOptimizerState(trainer: Trainer, bytes: Uint8Array): void {
  const r = new ByteReader(bytes, 'optimizer state');
  const [magic, version, length, steps] = r.u32(4);
  if (magic !== OPTIMIZER_MAGIC) throw new InputError('not a seqcast optimizer state (bad magic)');
  if (version !== OPTIMIZER_VERSION) throw new InputError(`optimizer state version ${version} is not supported (this version reads ${OPTIMIZER_VERSION})`);
  const kernel = trainer.kernel;
  const e = kernel.exports;
  if (length !== e.getParamsLength()) throw new InputError(`optimizer state is for ${length} parameters; ${trainer.model.describe()} has ${e.getParamsLength()}`);
  const [lr, clipNorm, b1, b2] = r.f64(4);
  if (b1 !== ADAM_BETAS[0] || b2 !== ADAM_BETAS[1]) throw new InputError(`optimizer state has betas ${b1}, ${b2}; learners use ${ADAM_BETAS.join(', ')}`);
  const m = r.f32(length);
  const v = r.f32(length);
  r.end();
  for (const [name, values] of [['m', m], ['v', v]] as const) {
    for (let i = 0; i < length; i++) if (!Number.isFinite(values[i])) throw new InputError(`optimizer state: moment ${name}[${i}] is ${values[i]}`);
  }
  trainer.configureOptimizer({ kind: 'adam', lr, clipNorm, betas: [b1, b2] });
  const code = e.optimizerSetSteps(steps);
  if (code < 0) throw new KernelError(code, `cannot restore the optimizer's step count (kernel error ${code})`);
  const f32 = kernel.f32;
  f32.set(m, e.optimizerMomentPtr(0) >>> 2);
  f32.set(v, e.optimizerMomentPtr(1) >>> 2);
}

/**
 * The model's optimizer state as bytes (Adam's step count, hyperparameters and
 * both moments), for a checkpoint that continues learning bit for bit; or
 * undefined when the model has no Adam optimizer.
 */
export function exportOptimizerState(model: Model): Uint8Array | undefined {
  return encodeOptimizerState(model.trainer);
}

/**
 * Restores exportOptimizerState() bytes into the model's optimizer: Adam with the
 * saved hyperparameters, moments and step count. Call it after the weights are
 * restored and before any learner of the model trains.
 */
export function importOptimizerState(model: Model, bytes: Uint8Array): void {
  decodeOptimizerState(model.trainer, bytes);
}
