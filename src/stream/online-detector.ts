// seqcast detect's anomaly detector, one row at a time: a learning stream predicts each next row and trains the model as it
// goes, and the ErrorScorer (what `serve` reports as each stream's `anomaly`) turns its errors into a score. `seqcast detect`
// runs it over a file; the dashboard's local mode runs it in a Web Worker, row by row as the page replays a dropped file.

import type { LearningOptions, LearningStream } from '../api/learning-stream.js';
import type { Model } from '../api/model.js';
import { ErrorScorer, nabProbation, type ScorerOptions } from './error-scorer.js';

/** The model detect learns from scratch: the online-learning recipe's LSTM (H = 32, as the demo's streams). */
export const DETECT_MODEL = { cell: 'lstm', hiddenSize: 32, seed: 1 } as const;

/** What a detector may be told besides its defaults (the bench's variants). */
export interface DetectorOptions {
  /** The learning stream's options (LearningStream defaults otherwise). */
  learning?: LearningOptions;
  /** The ErrorScorer's options; its probation defaults to nabProbation(rows). */
  scorer?: ScorerOptions;
}

/** What one row gave: the prediction of the next row, this row's error, rolling RMSE and anomaly score, and any training. */
export interface DetectedRow {
  /** The prediction of the next row, in the rows' units. */
  predicted: Float32Array;
  /** RMS over channels of this row − its prediction; undefined for the first row. */
  error: number | undefined;
  rmse: number | undefined;
  /** In [0, 1]; 0.5 during the probation. */
  anomaly: number;
  /** 'trained', 'skipped-spike', 'rolled-back' or 'refused' when this row ran a training step, and its window's loss. */
  event?: string;
  loss?: number;
}

/**
 * One series' detector over `rows` rows (the probation is nabProbation(rows),
 * as NAB's). Row t's score depends on rows 0 … t only. It trains `model`'s
 * weights and holds one of its stream slots (and the fork slot while it forecasts).
 */
export class OnlineDetector {
  private readonly learner: LearningStream;
  private readonly scorer: ErrorScorer;

  constructor(model: Model, rows: number, settings: DetectorOptions = {}) {
    this.learner = model.openLearningStream({ name: 'detect', ...settings.learning });
    this.scorer = new ErrorScorer({ probation: nabProbation(rows), ...settings.scorer });
  }

  /** Takes the next row (and its time, ms since the epoch, when the series has dates: the seasonal memory uses it). */
  step(values: Float64Array, t: number | undefined): DetectedRow {
    const report = this.learner.observe(values);
    const { error, rmse, anomaly } = this.scorer.score(values, report.predicted, t);
    return { predicted: report.predicted, error, rmse, anomaly, event: report.event, loss: report.loss };
  }

  /** The next `horizon` predicted rows from the last one stepped (row 0 is its prediction); the detector's state does not move. */
  forecast(horizon: number): Float32Array[] {
    return this.learner.forecast(horizon);
  }

  /** How the learner trains: every K rows, over the last N, predicting the change or the value. */
  get learning(): { every: number; window: number; target: 'delta' | 'value' } {
    const { every, window, predict } = this.learner.options;
    return { every, window, target: predict };
  }

  /** Turns training on or off (predicting and scoring go on). */
  setLearning(on: boolean): void {
    this.learner.setLearning(on);
  }

  close(): void {
    this.learner.close();
  }
}
