// The names seqcast uses on NATS (docs/cluster.md "Subjects"): the JetStream stream of frames, its subjects by
// partition and stream, the core NATS subjects of answers, predictions and errors, and the buckets of leases and state.

import { placeByName } from '../directory.js';

/** The JetStream stream every stream-changing message goes through. */
export const FRAMES_STREAM = 'SEQCAST_FRAMES';
/** KV bucket of partition leases and worker heartbeats. */
export const LEASES_BUCKET = 'seqcast-leases';
/** KV bucket of each partition's committed checkpoint (and the cluster's partition count). */
export const STATE_BUCKET = 'seqcast-state';
/** Object store of checkpoint files, one object per partition and generation. */
export const CHECKPOINTS_STORE = 'seqcast-checkpoints';
/** The subject token of a partition's control messages (a stream's token never starts with `_`: it is escaped). */
export const CONTROL_TOKEN = '_control';
export const LIST_SUBJECT = 'seqcast.list';
export const REPORTS_SUBJECT = 'seqcast.reports';

/** The partition of stream `name` among `partitions`: the hash `--workers N` places by. */
export function partitionOf(name: string, partitions: number): number {
  return placeByName(name, partitions);
}

/** A stream name as one subject token: letters, digits and `-` as they are, every other UTF-8 byte as %XX. */
export function streamToken(name: string): string {
  let token = '';
  for (const byte of new TextEncoder().encode(name)) {
    const c = String.fromCharCode(byte);
    token += /[A-Za-z0-9-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return token;
}

/** The stream name of a subject token (streamToken's inverse); undefined when the token is not one streamToken makes. */
export function tokenStream(token: string): string | undefined {
  if (!/^(?:[A-Za-z0-9-]|%[0-9A-F]{2})+$/.test(token)) return undefined;
  try {
    return decodeURIComponent(token);
  } catch {
    return undefined;
  }
}

/** Where every message about stream `name` goes. */
export function framesSubject(partition: number, name: string): string {
  return `seqcast.frames.${partition}.${streamToken(name)}`;
}

/** Where a partition's control messages (a connection left) go. */
export function controlSubject(partition: number): string {
  return `seqcast.frames.${partition}.${CONTROL_TOKEN}`;
}

/** Every message of partition `partition` (a consumer's filter). */
export function partitionFilter(partition: number): string {
  return `seqcast.frames.${partition}.>`;
}

/** The partition and stream token of a frames subject, or undefined. */
export function parseFramesSubject(subject: string): { partition: number; token: string } | undefined {
  const parts = subject.split('.');
  if (parts.length !== 4 || parts[0] !== 'seqcast' || parts[1] !== 'frames' || !/^\d+$/.test(parts[2])) return undefined;
  return { partition: Number(parts[2]), token: parts[3] };
}

export function errorsSubject(partition: number, token: string): string {
  return `seqcast.errors.${partition}.${token}`;
}

export function answersSubject(front: string): string {
  return `seqcast.answers.${front}`;
}

export function predictionsSubject(front: string): string {
  return `seqcast.predictions.${front}`;
}

/** A connection's cluster-wide name: its front end's id and its id there. */
export function sourceKey(front: string, id: number): string {
  return `${front}.${id}`;
}

/** The front end and id of a source key, or undefined when it is not one. */
export function parseSourceKey(key: string): { front: string; id: number } | undefined {
  const match = /^([A-Za-z0-9]+)\.(\d+)$/.exec(key);
  return match ? { front: match[1], id: Number(match[2]) } : undefined;
}
