// Training through the kernel: backward (BPTT gradients by PyTorch name), an
// optimizer (Adam or SGD with momentum, with clipping), and the fused trainWindow.
// Inputs and targets are in the model's own units (no normalizer applied).

import { InputError, KernelError, SeqcastError, StateError } from '../errors.js';
import type { Kernel } from '../kernel/kernel.js';
import type { ModelHost } from './host.js';

/** Loss functions, numbered as in the kernel. */
const LOSS_CODES = { mse: 0, ce: 1 } as const;
export type LossKind = keyof typeof LOSS_CODES;

/** A training step was refused (non-finite loss or gradient); the weights are unchanged. */
export class TrainingError extends SeqcastError {
  constructor(message: string) {
    super('TRAINING', message);
  }
}

/** One training window: T frames (or T token ids), T targets, optional per-step mask and initial state. */
export interface TrainingWindow {
  /** Frames [T][X], or token ids [T] for token models. */
  inputs: ArrayLike<ArrayLike<number>> | ArrayLike<number>;
  /** MSE: [T][O] values; cross-entropy: [T] target ids. */
  targets: ArrayLike<ArrayLike<number>> | ArrayLike<number>;
  /** [T], 1 where the step counts in the loss and 0 where it has no target; default all 1. */
  mask?: ArrayLike<number>;
  /** Initial h, (layers, H); default zeros. */
  h0?: ArrayLike<number>;
  /** Initial c for LSTM, (layers, H); default zeros. */
  c0?: ArrayLike<number>;
}

export interface BackwardOptions {
  loss?: LossKind;
  h0?: ArrayLike<number>;
  c0?: ArrayLike<number>;
  mask?: ArrayLike<number>;
}

export interface BackwardResult {
  /** The mean loss (MSE over every counted element; cross-entropy over counted steps). */
  loss: number;
  /** dLoss/d parameter, by PyTorch name; plus `grad/h0`, `grad/c0` (LSTM) and `grad/x` (frame models). */
  gradients: Record<string, Float32Array>;
  /** The head's outputs per step, [T][O] (for a batch: window-major, [B·T]). */
  outputs: Float32Array[];
  /** Final state, (layers, H) per window. */
  hN: Float32Array[];
  cN?: Float32Array[];
}

export interface OptimizerOptions {
  kind?: 'adam' | 'sgd';
  /** Learning rate, > 0. */
  lr: number;
  /** Adam's betas; default [0.9, 0.999]. */
  betas?: [number, number];
  /** Adam's eps, added after the bias-corrected sqrt(v); default 1e-8. */
  eps?: number;
  /** SGD momentum; default 0. */
  momentum?: number;
  /** Clip by global L2 norm (torch.nn.utils.clip_grad_norm_); 0 or absent = off. */
  clipNorm?: number;
  /** Clamp each gradient to [−clipValue, clipValue] before the norm; 0 or absent = off. */
  clipValue?: number;
}

export interface StepReport {
  /** Global L2 norm of the gradients before norm clipping. */
  totalNorm: number;
  /** The factor norm clipping applied (1 = no clipping). */
  clipCoef: number;
}

/** The optimizer of one model; its moments live in the kernel's memory. */
export class Optimizer {
  /** @internal */
  constructor(private readonly trainer: Trainer) {}

  /**
   * Applies one update: `grads` (by PyTorch name, as backward returns them) if
   * given, else the gradients of the last backward. Clipping first. A
   * non-finite gradient throws TrainingError and changes nothing.
   */
  step(grads?: Record<string, ArrayLike<number>>): StepReport {
    return this.trainer.optimizerStep(grads);
  }

  /** Updates applied so far. */
  get steps(): number {
    return this.trainer.kernel.exports.getOptimizerSteps();
  }
}

/** @internal The model's training state: kernel buffers sized for the largest window seen, and its optimizer. */
export class Trainer {
  optimizer?: Optimizer;
  /** The options the optimizer was configured with, defaults filled in. */
  settings?: Required<OptimizerOptions>;
  readonly kernel: Kernel;

  constructor(readonly model: ModelHost) {
    this.kernel = model.kernel;
  }

  private ensure(steps: number, windows: number): void {
    const code = this.kernel.exports.trainConfigure(steps, windows);
    if (code < 0) throw new KernelError(code, `cannot set up training for ${windows} windows of ${steps} steps (kernel error ${code})`);
  }

  /** Writes the windows into the kernel's training buffers (time-major), validating as it goes. */
  private load(windows: TrainingWindow[], loss: LossKind): number {
    const model = this.model;
    const { layers, hiddenSize: H, cell } = model.arch;
    if (windows.length === 0) throw new InputError('training needs at least one window');
    const T = windows[0].inputs.length;
    if (T < 1) throw new InputError('a training window needs at least one step');
    const B = windows.length;
    windows.forEach((w, b) => {
      if (w.inputs.length !== T) throw new InputError(`window ${b} has ${w.inputs.length} steps; window 0 has ${T}`);
      if (w.targets.length !== T) throw new InputError(`window ${b} has ${w.inputs.length} inputs but ${w.targets.length} targets`);
      if (w.mask && w.mask.length !== T) throw new InputError(`window ${b}: mask has ${w.mask.length} entries for ${T} steps`);
    });
    this.ensure(T, B);
    const e = this.kernel.exports;
    const f32 = this.kernel.f32, i32 = this.kernel.i32;
    const X = model.inputSize, O = model.outputSize;
    const inputAt = e.trainInputPtr() >>> 2, tokensAt = e.trainTokensPtr() >>> 2;
    const targetAt = e.trainTargetPtr() >>> 2, targetTokensAt = e.trainTargetTokensPtr() >>> 2, maskAt = e.trainMaskPtr() >>> 2;
    windows.forEach((w, b) => {
      for (let t = 0; t < T; t++) {
        const n = t * B + b;
        const x = w.inputs[t];
        const where = `window ${b} step ${t}`;
        if (model.isTokenModel) {
          if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= model.arch.vocabSize) {
            throw new InputError(`${where}: input token ${String(x)} is outside the vocabulary (0..${model.arch.vocabSize - 1})`);
          }
          i32[tokensAt + n] = x;
        } else {
          const frame = x as ArrayLike<number>;
          if (typeof x === 'number' || frame.length !== X) throw new InputError(`${where}: input has ${typeof x === 'number' ? 1 : frame.length} values, the model takes ${X}`);
          for (let j = 0; j < X; j++) {
            if (!Number.isFinite(frame[j])) throw new InputError(`${where}: input value ${j} is ${frame[j]}`);
            f32[inputAt + n * X + j] = frame[j];
          }
        }
        const m = w.mask ? w.mask[t] : 1;
        if (!Number.isFinite(m)) throw new InputError(`${where}: mask is ${m}`);
        f32[maskAt + n] = m;
        const y = w.targets[t];
        if (loss === 'ce') {
          const valid = typeof y === 'number' && Number.isInteger(y) && y >= 0 && y < O;
          if (!valid && m !== 0) throw new InputError(`${where}: target ${String(y)} is not a class id in 0..${O - 1}`);
          i32[targetTokensAt + n] = valid ? (y as number) : 0;
        } else {
          const row = y as ArrayLike<number>;
          if (typeof y === 'number' || row.length !== O) {
            throw new InputError(`${where}: target has ${typeof y === 'number' ? 1 : row.length} values, the model outputs ${O}`);
          }
          for (let j = 0; j < O; j++) {
            const v = m === 0 ? 0 : row[j];
            if (!Number.isFinite(v)) throw new InputError(`${where}: target value ${j} is ${row[j]}`);
            f32[targetAt + n * O + j] = v;
          }
        }
      }
      for (const [part, values, at] of [['h0', w.h0, e.trainH0Ptr()], ['c0', w.c0, e.trainC0Ptr()]] as const) {
        if (part === 'c0' && cell !== 'lstm') {
          if (values !== undefined) throw new InputError(`window ${b}: a ${cell} has no c0`);
          continue;
        }
        for (let l = 0; l < layers; l++) {
          for (let j = 0; j < H; j++) {
            const v = values ? values[l * H + j] : 0;
            if (values && (values.length !== layers * H || !Number.isFinite(v))) {
              throw new InputError(`window ${b}: ${part} must hold layers × hidden = ${layers * H} finite values`);
            }
            f32[(at >>> 2) + (l * B + b) * H + j] = v;
          }
        }
      }
    });
    return T;
  }

  /** Runs forward + backward; gradients stay in the kernel (and are returned by name). */
  backward(windows: TrainingWindow[], loss: LossKind, accumulate: boolean, copyOut: boolean): BackwardResult {
    const T = this.load(windows, loss);
    const B = windows.length;
    this.kernel.commitIfChanged();
    const e = this.kernel.exports;
    const code = e.trainForwardBackward(T, B, LOSS_CODES[loss], accumulate ? 1 : 0);
    if (code === -11) throw new TrainingError(`the loss is not finite (${e.trainLoss()}); nothing was updated`);
    if (code < 0) throw new KernelError(code, `training forward/backward refused (kernel error ${code})`);
    return this.collect(T, B, copyOut);
  }

  private collect(T: number, B: number, withGradients: boolean): BackwardResult {
    const model = this.model;
    const e = this.kernel.exports;
    const f32 = this.kernel.f32;
    const { layers, hiddenSize: H, cell } = model.arch;
    const O = model.outputSize, X = model.inputSize;
    const outAt = e.trainOutputPtr() >>> 2;
    const outputs: Float32Array[] = [];
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) outputs.push(f32.slice(outAt + (t * B + b) * O, outAt + (t * B + b + 1) * O));
    const perWindow = (ptr: number) => Array.from({ length: B }, (_, b) => {
      const out = new Float32Array(layers * H);
      for (let l = 0; l < layers; l++) out.set(f32.subarray((ptr >>> 2) + (l * B + b) * H, (ptr >>> 2) + (l * B + b + 1) * H), l * H);
      return out;
    });
    const result: BackwardResult = { loss: e.trainLoss(), gradients: {}, outputs, hN: perWindow(e.trainHNPtr()) };
    if (cell === 'lstm') result.cN = perWindow(e.trainCNPtr());
    if (withGradients) {
      const gradsAt = e.gradsPtr() >>> 2, paramsAt = e.getParamsPtr() >>> 2;
      model.layout.forEach((tensor, i) => {
        const offset = (e.getParamPtr(i) >>> 2) - paramsAt;
        result.gradients[tensor.name] = f32.slice(gradsAt + offset, gradsAt + offset + e.getParamLength(i));
      });
      const join = (parts: Float32Array[]) => (B === 1 ? parts[0] : Float32Array.from(parts.flatMap((p) => Array.from(p))));
      if (layers > 0) result.gradients['grad/h0'] = join(perWindow(e.trainDH0Ptr()));
      if (cell === 'lstm') result.gradients['grad/c0'] = join(perWindow(e.trainDC0Ptr()));
      if (!model.isTokenModel) {
        const dx = new Float32Array(B * T * X);
        const at = e.trainDXPtr() >>> 2;
        for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) dx.set(f32.subarray(at + (t * B + b) * X, at + (t * B + b + 1) * X), (b * T + t) * X);
        result.gradients['grad/x'] = dx;
      }
    }
    return result;
  }

  configureOptimizer(options: OptimizerOptions): Optimizer {
    const kind = options.kind ?? 'adam';
    if (kind !== 'adam' && kind !== 'sgd') throw new InputError(`optimizer kind must be "adam" or "sgd", got ${JSON.stringify(kind)}`);
    const lr = options.lr;
    if (!(typeof lr === 'number' && lr > 0 && Number.isFinite(lr))) throw new InputError(`lr must be a number above 0, got ${lr}`);
    const [b1, b2] = options.betas ?? [0.9, 0.999];
    for (const [name, v] of [['betas[0]', b1], ['betas[1]', b2]] as const) {
      if (!(v >= 0 && v < 1)) throw new InputError(`${name} must be in [0, 1), got ${v}`);
    }
    const eps = options.eps ?? 1e-8, momentum = options.momentum ?? 0;
    const clipNorm = options.clipNorm ?? 0, clipValue = options.clipValue ?? 0;
    if (!(eps >= 0)) throw new InputError(`eps must be ≥ 0, got ${eps}`);
    if (!(momentum >= 0 && momentum < 1)) throw new InputError(`momentum must be in [0, 1), got ${momentum}`);
    if (!(clipNorm >= 0) || !(clipValue >= 0)) throw new InputError(`clipNorm and clipValue must be ≥ 0 (0 = off), got ${clipNorm} and ${clipValue}`);
    this.ensure(1, 1);
    const code = this.kernel.exports.optimizerConfigure(kind === 'adam' ? 0 : 1, lr, b1, b2, eps, momentum, clipNorm, clipValue);
    if (code < 0) throw new KernelError(code, `optimizer refused (kernel error ${code})`);
    this.settings = { kind, lr, betas: [b1, b2], eps, momentum, clipNorm, clipValue };
    this.optimizer = new Optimizer(this);
    return this.optimizer;
  }

  optimizerStep(grads?: Record<string, ArrayLike<number>>): StepReport {
    const e = this.kernel.exports;
    if (grads) {
      const f32 = this.kernel.f32;
      const gradsAt = e.gradsPtr() >>> 2, paramsAt = e.getParamsPtr() >>> 2;
      // check everything before writing anything
      this.model.layout.forEach((tensor, i) => {
        const g = grads[tensor.name];
        if (!g) throw new InputError(`gradients are missing "${tensor.name}"`);
        if (g.length !== e.getParamLength(i)) throw new InputError(`gradient "${tensor.name}" has ${g.length} values, expected ${e.getParamLength(i)}`);
      });
      this.model.layout.forEach((tensor, i) => f32.set(grads[tensor.name], gradsAt + (e.getParamPtr(i) >>> 2) - paramsAt));
    }
    this.kernel.commitIfChanged();
    const code = e.optimizerStep();
    if (code === -12) throw new TrainingError(`a gradient is not finite (norm ${e.trainTotalNorm()}); the weights are unchanged`);
    if (code < 0) throw new KernelError(code, `optimizer step refused (kernel error ${code})`);
    return { totalNorm: e.trainTotalNorm(), clipCoef: e.trainClipCoef() };
  }

  /** forward, backward and one optimizer step in one kernel call. */
  trainWindows(windows: TrainingWindow[], loss: LossKind): StepReport & { loss: number; hN: Float32Array[]; cN?: Float32Array[] } {
    if (!this.optimizer) throw new StateError('call model.optimizer({...}) before trainWindow');
    const T = this.load(windows, loss);
    const B = windows.length;
    this.kernel.commitIfChanged();
    const e = this.kernel.exports;
    const code = e.trainStep(T, B, LOSS_CODES[loss]);
    if (code === -11) throw new TrainingError(`the loss is not finite (${e.trainLoss()}); the weights are unchanged`);
    if (code === -12) throw new TrainingError(`a gradient is not finite (norm ${e.trainTotalNorm()}); the weights are unchanged`);
    if (code < 0) throw new KernelError(code, `training step refused (kernel error ${code})`);
    const { hN, cN } = this.collect(T, B, false);
    return { loss: e.trainLoss(), totalNorm: e.trainTotalNorm(), clipCoef: e.trainClipCoef(), hN, cN };
  }

  /** Configures the optimizer unless one exists (online learners share the model's). */
  ensureOptimizer(options: OptimizerOptions): Optimizer {
    return this.optimizer ?? this.configureOptimizer(options);
  }

  /**
   * One guarded update: forward and backward over `window` (MSE); the optimizer
   * step is applied only if the loss is at most `maxLoss`.
   */
  guardedTrainWindow(window: TrainingWindow, maxLoss: number): { loss: number; applied: boolean } {
    const { loss } = this.backward([window], 'mse', false, false);
    if (!(loss <= maxLoss)) return { loss, applied: false };
    this.optimizerStep();
    return { loss, applied: true };
  }
}
