// The epoch loop: Adam steps through the kernel's fused trainBatch, a
// validation loss after every epoch, the best checkpoint handed out as it
// improves, early stopping when the monitored loss stops improving.

import type { Model } from '../api/model.js';
import { TrainingError } from '../api/train.js';
import { seededRandom } from '../model/init.js';
import type { TrainTask } from './tasks.js';

export interface LoopOptions {
  epochs: number;
  /** Stop after this many epochs without improvement; 0 = never stop early. */
  patience: number;
  /** Stop after this many optimizer steps in all (validation and checkpoint still follow). */
  maxSteps?: number;
  /** Seeds the window order (the model's initialisation is seeded separately). */
  seed: number;
  lr: number;
  /** Global-norm clipping; 0 = off. */
  clip: number;
}

export interface StepEvent {
  /** Steps taken so far, this one included. */
  step: number;
  epoch: number;
  loss: number;
  /** Inputs (tokens or frames) trained on so far, and the seconds spent in training steps. */
  units: number;
  trainSeconds: number;
}

export interface EpochEvent {
  epoch: number;
  steps: number;
  /** Mean training loss over the epoch's steps. */
  trainLoss: number;
  valLoss?: number;
  /** The loss that picks the best checkpoint: validation, or training without a validation part. */
  monitored: number;
  improved: boolean;
  best: number;
  bestEpoch: number;
  valSeconds: number;
  refused: number;
}

export interface LoopEvents {
  onStep?(event: StepEvent): void;
  onEpoch?(event: EpochEvent): void;
  /** Called when the monitored loss improves: save the model now (the weights are the best so far). */
  onBest?(model: Model, event: EpochEvent): Promise<void>;
  /** Polled after every step: true ends the run at once (no validation of the partial epoch). */
  shouldStop?(): boolean;
}

export interface LoopSummary {
  epochs: number;
  steps: number;
  best: number;
  bestEpoch: number;
  stoppedEarly: boolean;
  /** shouldStop ended the run. */
  interrupted: boolean;
  units: number;
  trainSeconds: number;
  refused: number;
}

/** Steps refused in a row (non-finite loss or gradient) before the run gives up. */
const MAX_REFUSED_IN_A_ROW = 20;
/** The monitored loss must fall by this fraction to count as an improvement. */
const MIN_IMPROVEMENT = 1e-4;

const yieldNow = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function runTraining(model: Model, task: TrainTask, options: LoopOptions, events: LoopEvents = {}): Promise<LoopSummary> {
  model.optimizer({ kind: 'adam', lr: options.lr, clipNorm: options.clip });
  const random = seededRandom((options.seed ^ 0x5eed5eed) >>> 0);
  let step = 0, units = 0, trainSeconds = 0, refusedTotal = 0, refusedInARow = 0;
  let best = Infinity, bestEpoch = 0, sinceBest = 0, epoch = 0;
  let stoppedEarly = false;
  const maxSteps = options.maxSteps ?? Infinity;

  while (epoch < options.epochs && step < maxSteps) {
    epoch++;
    task.startEpoch(random);
    let lossSum = 0, stepsThisEpoch = 0, refused = 0;
    for (let k = 0; k < task.stepsPerEpoch && step < maxSteps; k++) {
      const windows = task.windows(k);
      const started = performance.now();
      let loss: number;
      try {
        const result = model.trainBatch(windows, { loss: task.loss });
        task.afterStep(result);
        loss = result.loss;
        refusedInARow = 0;
      } catch (err) {
        if (!(err instanceof TrainingError)) throw err;
        refused++;
        refusedTotal++;
        if (++refusedInARow >= MAX_REFUSED_IN_A_ROW) {
          throw new TrainingError(`${MAX_REFUSED_IN_A_ROW} training steps in a row were refused (${err.message}); try a lower --lr or a --clip`);
        }
        continue;
      } finally {
        trainSeconds += (performance.now() - started) / 1000;
      }
      step++;
      stepsThisEpoch++;
      units += task.unitsAt(k);
      lossSum += loss;
      events.onStep?.({ step, epoch, loss, units, trainSeconds });
      await yieldNow(); // lets the progress bar draw and signals through
      if (events.shouldStop?.()) return { epochs: epoch, steps: step, best, bestEpoch, stoppedEarly, interrupted: true, units, trainSeconds, refused: refusedTotal };
    }
    const trainLoss = lossSum / Math.max(1, stepsThisEpoch);
    const valStarted = performance.now();
    const valLoss = task.hasValidation ? task.validate(model) : undefined;
    const valSeconds = (performance.now() - valStarted) / 1000;
    const monitored = valLoss ?? trainLoss;
    const improved = Number.isFinite(monitored) && (best === Infinity || monitored < best - MIN_IMPROVEMENT * Math.abs(best));
    if (improved) {
      best = monitored;
      bestEpoch = epoch;
      sinceBest = 0;
    } else {
      sinceBest++;
    }
    const event: EpochEvent = { epoch, steps: stepsThisEpoch, trainLoss, valLoss, monitored, improved, best, bestEpoch, valSeconds, refused };
    if (improved) await events.onBest?.(model, event);
    events.onEpoch?.(event);
    if (options.patience > 0 && sinceBest >= options.patience && epoch < options.epochs && step < maxSteps) {
      stoppedEarly = true;
      break;
    }
  }
  return { epochs: epoch, steps: step, best, bestEpoch, stoppedEarly, interrupted: false, units, trainSeconds, refused: refusedTotal };
}
