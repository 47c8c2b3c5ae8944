// The detector's ablation variants: each is seqcast detect's default with one change undone, scored like it, for the table of
// what each change did (bench/RESULTS.md, NAB section).

import { createModel } from '../../src/api/model.js';
import { DETECT_MODEL, detectAnomalies, readDetectInput, type DetectorSettings } from '../../src/cli/detect.js';

/** A variant: its name in the table, what it changes, and the settings that make it. */
export interface Variant {
  name: string;
  change: string;
  settings: Omit<DetectorSettings, 'onRow'>;
  /** The fresh model's seed (DETECT_MODEL's otherwise): how much of a score is the luck of one initialisation. */
  seed?: number;
}

/** Per variant name, the anomaly score of every row of one file. */
export type VariantScores = Record<string, Float64Array>;

/** From HTM's likelihood on the prediction error to today's default, one change at a time (the last is seqcast detect's default). */
export const VARIANTS: readonly Variant[] = [
  {
    name: 'likelihood',
    change: "HTM's anomaly likelihood of the prediction error (mean of 10 against a sliding 4000), red zone detects once, ¾ of probation as warm-up",
    settings: { scorer: { seasonDays: 0, rangeTolerance: 0, suppress: 0 } },
  },
  { name: '+ range', change: 'a value 5% beyond the range seen so far scores 1', settings: { scorer: { seasonDays: 0, suppress: 0 } } },
  { name: '+ season 1 day', change: "the seasonal deviation's likelihood: distance to yesterday's frames at the same time (±4)", settings: { scorer: { seasonDays: 1, suppress: 0 } } },
  { name: '+ season 14 days', change: 'the same, the nearest of the last 14 days', settings: { scorer: { suppress: 0 } } },
  { name: '+ suppression', change: 'no second detection within 300 frames', settings: { scorer: { strongerBy: 0 } } },
  { name: '+ unless stronger', change: 'unless 1.5 times as strong as the last (the default)', settings: {} },
  { name: 'default, no warm-up', change: 'ablation: every error after the first joins the history', settings: { scorer: { warmup: 0 } } },
  { name: 'default, ±0 neighbours', change: 'ablation: the seasonal memory compares the nearest frame only', settings: { scorer: { seasonNeighbours: 0 } } },
  { name: 'default, history 8640', change: "ablation: HTM's history length (8640) instead of 4000", settings: { scorer: { longWindow: 8640 } } },
  { name: 'default, model seed 2', change: 'robustness: the same detector, another initialisation of the LSTM', settings: {}, seed: 2 },
  { name: 'default, model seed 3', change: 'robustness: and a third', settings: {}, seed: 3 },
];

/** The variant that is seqcast detect's default. */
export const DEFAULT_VARIANT = '+ unless stronger';

/** Scores one file (a NAB data CSV) with every variant, each learning from scratch. */
export async function runVariants(input: string): Promise<VariantScores> {
  const { values, timestamps, dates } = await readDetectInput(input);
  const scores: VariantScores = {};
  for (const variant of VARIANTS) {
    const model = await createModel({ ...DETECT_MODEL, inputSize: values[0].length, ...(variant.seed !== undefined ? { seed: variant.seed } : {}) });
    try {
      scores[variant.name] = detectAnomalies(model, values, dates ? timestamps : undefined, variant.settings);
    } finally {
      model.close();
    }
  }
  return scores;
}
