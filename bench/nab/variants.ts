// The detector's ablation variants: each is seqcast detect's default with one change undone, scored like it, for the table of
// what each change did (bench/RESULTS.md, NAB section).

import { createModel } from '../../src/api/model.js';
import { DETECT_MODEL, detectAnomalies, readDetectInput, type DetectorSettings } from '../../src/cli/detect.js';

/** A variant: its name in the table, what it changes, and the settings that make it. */
export interface Variant {
  name: string;
  change: string;
  settings: Omit<DetectorSettings, 'onRow'>;
}

/** Per variant name, the anomaly score of every row of one file. */
export type VariantScores = Record<string, Float64Array>;

/** From the first detector to today's default, one change at a time (the last entry is seqcast detect's default). */
export const VARIANTS: readonly Variant[] = [{ name: 'default', change: "seqcast detect's default", settings: {} }];

/** Scores one file (a NAB data CSV) with every variant, each learning from scratch. */
export async function runVariants(input: string): Promise<VariantScores> {
  const { values } = await readDetectInput(input);
  const scores: VariantScores = {};
  for (const variant of VARIANTS) {
    const model = await createModel({ ...DETECT_MODEL, inputSize: values[0].length });
    try {
      scores[variant.name] = detectAnomalies(model, values, variant.settings);
    } finally {
      model.close();
    }
  }
  return scores;
}
