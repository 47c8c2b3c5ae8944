// The detection thresholds NAB's optimiser chose, as the module the server and the dashboard read
// (src/stream/detection-thresholds.ts): bench/nab.ts writes it beside the NAB section of bench/RESULTS.md.

/** The profiles as `seqcast serve --detection-profile` names them, each with NAB's name for it and words for a legend. */
export const DETECTION_PROFILE_NAMES = [
  { profile: 'standard', nab: 'standard', label: 'standard' },
  { profile: 'low-fp', nab: 'reward_low_FP_rate', label: 'reward low FP' },
  { profile: 'low-fn', nab: 'reward_low_FN_rate', label: 'reward low FN' },
] as const;

/** Where the module lives, from the repository's root. */
export const THRESHOLDS_MODULE = 'src/stream/detection-thresholds.ts';

/**
 * The text of src/stream/detection-thresholds.ts for `thresholds` (by NAB's profile name: standard,
 * reward_low_FP_rate, reward_low_FN_rate). Numbers are written as JavaScript prints them, so they
 * read back exactly and match the thresholds table of bench/RESULTS.md digit for digit.
 */
export function thresholdsModule(thresholds: Readonly<Record<string, number>>): string {
  const rows = DETECTION_PROFILE_NAMES.map(({ profile, nab, label }) => {
    const threshold = thresholds[nab];
    if (typeof threshold !== 'number' || !Number.isFinite(threshold)) throw new Error(`no threshold for NAB profile ${nab}`);
    return `  { profile: '${profile}', nab: '${nab}', label: '${label}', threshold: ${threshold} },`;
  });
  return [
    "// The anomaly-score thresholds NAB's optimiser chose for seqcast's detector (src/stream/error-scorer.ts), per profile.",
    '// Written by `npm run bench:nab` (bench/nab/thresholds.ts) with the NAB section of bench/RESULTS.md: edit neither by hand.',
    '// `seqcast serve --detection-profile` picks one and lists it to dashboards; the page marks a detection where the score',
    '// rises to the threshold (NAB: a row detects when its score >= threshold).',
    '',
    "/** A profile as `seqcast serve --detection-profile` names it. */",
    "export type DetectionProfile = 'standard' | 'low-fp' | 'low-fn';",
    '',
    '/** Each profile: its name, NAB\'s name for it, words for a legend, and the threshold chosen on the NAB corpus. */',
    'export const DETECTION_PROFILES: readonly { profile: DetectionProfile; nab: string; label: string; threshold: number }[] = [',
    ...rows,
    '];',
    '',
    "/** The profile a server uses unless told otherwise: NAB's standard profile. */",
    "export const DEFAULT_DETECTION_PROFILE: DetectionProfile = 'standard';",
    '',
    '/** The threshold of `profile`. */',
    'export function detectionThreshold(profile: DetectionProfile): number {',
    '  const found = DETECTION_PROFILES.find((p) => p.profile === profile);',
    "  if (!found) throw new Error(`unknown detection profile \"${String(profile)}\"; use ${DETECTION_PROFILES.map((p) => p.profile).join(', ')}`);",
    '  return found.threshold;',
    '}',
    '',
  ].join('\n');
}
