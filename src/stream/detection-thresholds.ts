// The anomaly-score thresholds NAB's optimiser chose for seqcast's detector (src/stream/error-scorer.ts), per profile.
// Written by `npm run bench:nab` (bench/nab/thresholds.ts) with the NAB section of bench/RESULTS.md: edit neither by hand.
// `seqcast serve --detection-profile` picks one and lists it to dashboards; the page marks a detection where the score
// rises to the threshold (NAB: a row detects when its score >= threshold).

/** A profile as `seqcast serve --detection-profile` names it. */
export type DetectionProfile = 'standard' | 'low-fp' | 'low-fn';

/** Each profile: its name, NAB's name for it, words for a legend, and the threshold chosen on the NAB corpus. */
export const DETECTION_PROFILES: readonly { profile: DetectionProfile; nab: string; label: string; threshold: number }[] = [
  { profile: 'standard', nab: 'standard', label: 'standard', threshold: 0.4994084244596537 },
  { profile: 'low-fp', nab: 'reward_low_FP_rate', label: 'reward low FP', threshold: 0.5519205200117364 },
  { profile: 'low-fn', nab: 'reward_low_FN_rate', label: 'reward low FN', threshold: 0.4930601355851647 },
];

/** The profile a server uses unless told otherwise: NAB's standard profile. */
export const DEFAULT_DETECTION_PROFILE: DetectionProfile = 'standard';

/** The threshold of `profile`. */
export function detectionThreshold(profile: DetectionProfile): number {
  const found = DETECTION_PROFILES.find((p) => p.profile === profile);
  if (!found) throw new Error(`unknown detection profile "${String(profile)}"; use ${DETECTION_PROFILES.map((p) => p.profile).join(', ')}`);
  return found.threshold;
}
