// A partition's checkpoints in JetStream (docs/cluster.md "State"): the files src/server/checkpoint.ts writes for
// the partition's shard, bundled into one object of seqcast-checkpoints, committed by a put of seqcast-state p<k>
// naming that object, the last applied stream sequence and which connection held each stream.

import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { isAtomicTempName } from '../../io/atomic-file.js';
import type { Cluster } from './connect.js';

/** Who held a stream at the checkpoint: it is given back to that connection on restore. */
export interface HeldBy {
  source: string;
  label: string;
  role: string | undefined;
}

/** seqcast-state p<k>: a partition's last commit. */
export interface PartitionState {
  generation: number;
  /** The JetStream sequence of the last message the checkpoint includes (0: none). */
  applied: number;
  /** The object of seqcast-checkpoints holding its files. */
  object: string;
  /** Stream name → its holder (streams nobody held are left out). */
  owners: Record<string, HeldBy>;
}

export function stateKey(partition: number): string {
  return `p${partition}`;
}

/** The last commit of `partition`, or undefined for a partition never checkpointed. */
export async function readPartitionState(cluster: Cluster, partition: number): Promise<PartitionState | undefined> {
  const entry = await cluster.state.get(stateKey(partition));
  return entry && entry.operation === 'PUT' ? (entry.json() as PartitionState) : undefined;
}

/** Writes the object of `state` with the files under `dir` (the shard's state directory). */
export async function storeFiles(cluster: Cluster, object: string, dir: string): Promise<void> {
  await cluster.checkpoints.putBlob({ name: object }, await bundle(dir));
}

/** Commits `state` (its object already stored), then deletes the object of the commit it replaces. */
export async function commitPartitionState(cluster: Cluster, partition: number, state: PartitionState, previous: string | undefined): Promise<void> {
  await cluster.state.put(stateKey(partition), new TextEncoder().encode(JSON.stringify(state)));
  if (previous !== undefined && previous !== state.object) await cluster.checkpoints.delete(previous).catch(() => undefined);
}

/** Writes the files of `state`'s object into `dir` (a fresh folder), for the shard to restore from. */
export async function fetchFiles(cluster: Cluster, state: PartitionState, dir: string): Promise<void> {
  const bytes = await cluster.checkpoints.getBlob(state.object);
  if (!bytes) throw new Error(`seqcast-checkpoints has no object "${state.object}", which seqcast-state ${state.object.split('.')[0]} names`);
  await unbundle(bytes, dir);
}

/** Every file under `dir` (temporary files of an atomic write left out) as [u32 manifest length][manifest JSON][bytes…]. */
export async function bundle(dir: string): Promise<Uint8Array> {
  const files: { path: string; bytes: Uint8Array }[] = [];
  for (const path of await walk(dir)) {
    const name = relative(dir, path).split('\\').join('/');
    if (isAtomicTempName(basename(path))) continue;
    files.push({ path: name, bytes: await readFile(path) });
  }
  const manifest = new TextEncoder().encode(JSON.stringify(files.map((f) => ({ path: f.path, size: f.bytes.length }))));
  const total = 4 + manifest.length + files.reduce((n, f) => n + f.bytes.length, 0);
  const out = new Uint8Array(total);
  new DataView(out.buffer).setUint32(0, manifest.length, true);
  out.set(manifest, 4);
  let at = 4 + manifest.length;
  for (const f of files) {
    out.set(f.bytes, at);
    at += f.bytes.length;
  }
  return out;
}

/** bundle's inverse: writes its files under `dir`. */
export async function unbundle(bytes: Uint8Array, dir: string): Promise<void> {
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  const manifest = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + length))) as { path: string; size: number }[];
  let at = 4 + length;
  for (const { path, size } of manifest) {
    if (path.split('/').includes('..')) throw new Error(`a checkpoint object names a file outside its folder: ${path}`);
    const target = join(dir, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, bytes.subarray(at, at + size));
    at += size;
  }
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, name);
    if ((await stat(path)).isDirectory()) out.push(...(await walk(path)));
    else out.push(path);
  }
  return out;
}
