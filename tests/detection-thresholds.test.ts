// The thresholds the server and the dashboard detect with are the ones the NAB benchmark chose: src/stream/detection-thresholds.ts
// is what bench/nab writes for the thresholds bench/RESULTS.md reports.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { THRESHOLDS_MODULE, thresholdsModule } from '../bench/nab/thresholds.js';
import { DEFAULT_DETECTION_PROFILE, DETECTION_PROFILES, detectionThreshold } from '../src/stream/detection-thresholds.js';

const ROOT = new URL('../', import.meta.url);

/** The thresholds table of the NAB section of bench/RESULTS.md, by NAB's profile name, as written there. */
function reportedThresholds(): Record<string, string> {
  const results = readFileSync(new URL('bench/RESULTS.md', ROOT), 'utf8');
  const section = results.slice(results.indexOf('<!-- nab:start -->'), results.indexOf('<!-- nab:end -->'));
  const found: Record<string, string> = {};
  for (const match of section.matchAll(/^\| (standard|reward_low_FP_rate|reward_low_FN_rate) \| ([0-9.e-]+) \|/gm)) found[match[1]] = match[2];
  return found;
}

describe('detection thresholds', () => {
  it('are the three thresholds bench/RESULTS.md reports for the NAB run, digit for digit', () => {
    const reported = reportedThresholds();
    expect(Object.keys(reported).sort()).toEqual(['reward_low_FN_rate', 'reward_low_FP_rate', 'standard']);
    for (const { nab, threshold } of DETECTION_PROFILES) expect(String(threshold)).toBe(reported[nab]);
  });

  it('are the module bench/nab writes for those thresholds, byte for byte', () => {
    const reported = Object.fromEntries(Object.entries(reportedThresholds()).map(([nab, text]) => [nab, Number(text)]));
    expect(readFileSync(new URL(THRESHOLDS_MODULE, ROOT), 'utf8')).toBe(thresholdsModule(reported));
  });

  it("default to NAB's standard profile, and name the profiles serve takes when asked for another", () => {
    expect(DEFAULT_DETECTION_PROFILE).toBe('standard');
    expect(detectionThreshold('standard')).toBe(0.4994084244596537);
    expect(detectionThreshold('low-fp')).toBe(0.5519205200117364);
    expect(detectionThreshold('low-fn')).toBe(0.4930601355851647);
    expect(() => detectionThreshold('lenient' as never)).toThrow('unknown detection profile "lenient"; use standard, low-fp, low-fn');
  });

  it('refuses to write a module with a profile missing', () => {
    expect(() => thresholdsModule({ standard: 0.5, reward_low_FP_rate: 0.55 })).toThrow('no threshold for NAB profile reward_low_FN_rate');
  });
});
