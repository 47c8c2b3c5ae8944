// A state directory written with one worker count, read with another: before any worker restores, its streams are
// moved to the folders the hash now puts them in (docs/workers.md "Checkpoints"). The single-threaded server keeps
// DIR/streams.json + DIR/models/; N workers keep DIR/worker-k/{streams.json,models/}. A checkpoint is per stream
// (streams.json's records) plus per folder weights (models/), so a move is: split or merge the records, renumber
// their binary ids to the new scheme, and give each new folder the weights of the old folder most of its streams
// came from.
//
// The move is staged in DIR/.relayout/ and committed by renames; DIR/.relayout/DONE marks a staging that is whole,
// so a crash during the commit is finished by the next start, and a crash before it leaves the old layout as it was.

import { cp, mkdir, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-file.js';
import { checkStateDirWritable, CheckpointError, type StreamsFile } from '../server/checkpoint.js';
import { placeByName } from './directory.js';

/** Where the streams are to live: this thread (the in-thread server, DIR itself) or N worker folders. */
export type StateLayout = 'single' | { workers: number };

const STAGING = '.relayout';
const DONE = 'DONE';

/** What was moved (for the log), or undefined when the directory already had this layout (or held nothing). */
export interface Relayout {
  streams: number;
  from: string[];
  to: string[];
}

/** The folders (relative to DIR, '' for DIR itself) a layout keeps its checkpoints in. */
function foldersOf(layout: StateLayout): string[] {
  return layout === 'single' ? [''] : Array.from({ length: layout.workers }, (_, k) => `worker-${k}`);
}

/** Which of the target folders a stream named `name` belongs in. */
function placeOf(name: unknown, layout: StateLayout): number {
  return layout === 'single' || typeof name !== 'string' ? 0 : placeByName(name, layout.workers);
}

/**
 * Before a server restores `stateDir` in `layout`: refuses a directory it cannot write (checkStateDirWritable, the
 * single-thread server's words), then moves streams another worker count wrote (arrangeStateDir), logging what moved.
 */
export async function prepareStateDir(stateDir: string, layout: StateLayout, log: (line: string) => void): Promise<void> {
  await checkStateDirWritable(stateDir);
  // the check makes DIR/models, which only the single-thread layout uses: workers keep DIR/worker-k/models
  if (layout !== 'single') await rmdir(join(stateDir, 'models')).catch(() => undefined);
  const moved = await arrangeStateDir(stateDir, layout);
  if (moved) log(`moved ${moved.streams} checkpointed streams of ${stateDir} from ${describeFolders(moved.from)} to ${describeFolders(moved.to)}, where ${layout === 'single' ? 'one thread keeps them' : `${layout.workers} workers place them`}`);
}

/** "the single-thread checkpoint" or "worker-0, worker-1" (a log line's words). */
function describeFolders(folders: string[]): string {
  return folders.map((f) => (f === '' ? 'the single-thread checkpoint' : f)).join(', ');
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** The folders of `stateDir` that hold a checkpoint: DIR itself and any DIR/worker-k, in that order. */
async function checkpointFolders(stateDir: string): Promise<string[]> {
  const found: string[] = [];
  if (await exists(join(stateDir, 'streams.json'))) found.push('');
  const names = await readdir(stateDir).catch(() => [] as string[]);
  const workers = names.filter((n) => /^worker-\d+$/.test(n)).sort((a, b) => Number(a.slice(7)) - Number(b.slice(7)));
  for (const name of workers) if (await exists(join(stateDir, name, 'streams.json'))) found.push(name);
  return found;
}

async function readStreamsFile(stateDir: string, folder: string): Promise<StreamsFile> {
  const path = join(stateDir, folder, 'streams.json');
  try {
    const file = JSON.parse(await readFile(path, 'utf8')) as StreamsFile;
    if (typeof file !== 'object' || file === null || !Array.isArray(file.streams)) throw new Error('it lists no streams');
    return file;
  } catch (err) {
    throw new CheckpointError(`cannot move the streams of ${path} to this worker count's folders: ${(err as Error).message}; start with the worker count that wrote it, or move the state directory away`);
  }
}

/**
 * Makes `stateDir` hold its checkpoint in `layout`'s folders, moving streams written under another worker count
 * (or by the single-threaded server) to where `layout` places them. Idempotent; finishes a move a crash interrupted.
 * Throws CheckpointError naming the file it cannot read; nothing is changed then.
 */
export async function arrangeStateDir(stateDir: string, layout: StateLayout): Promise<Relayout | undefined> {
  const staging = join(stateDir, STAGING);
  // a move a crash interrupted after it was staged whole: finish it (to the layout it was for), then look again
  if (await exists(join(staging, DONE))) await commit(stateDir, (JSON.parse(await readFile(join(staging, DONE), 'utf8')) as Relayout).to);
  await rm(staging, { recursive: true, force: true });
  const sources = await checkpointFolders(stateDir);
  if (sources.length === 0) return undefined;
  const targets = foldersOf(layout);
  const files = await Promise.all(sources.map((folder) => readStreamsFile(stateDir, folder)));
  const fits = sources.every((folder, s) => targets.includes(folder) && files[s].streams.every((r) => targets[placeOf((r as { name?: unknown }).name, layout)] === folder));
  if (fits) return undefined;

  // each target's records, in the order of their old ids (close to the order they were opened in), with the source they came from
  const records: { record: Record<string, unknown>; source: number }[][] = targets.map(() => []);
  files.forEach((file, source) => {
    for (const record of file.streams as unknown as Record<string, unknown>[]) records[placeOf(record?.name, layout)].push({ record, source });
  });
  let moved = 0;
  await mkdir(staging, { recursive: true });
  for (let k = 0; k < targets.length; k++) {
    const mine = records[k].sort((a, b) => Number(a.record?.id) - Number(b.record?.id));
    moved += mine.length;
    // the weights of the old folder most of these streams learned on (a tie: the folder of the same name, else the first)
    const counts = sources.map((_, s) => mine.filter((r) => r.source === s).length);
    const same = sources.indexOf(targets[k]);
    let from = same >= 0 ? same : 0;
    counts.forEach((count, s) => (count > counts[from] ? (from = s) : undefined));
    // binary ids in the new scheme: folder k of N hands out k+1, k+1+N, … (src/cluster/shard.ts)
    const step = targets.length;
    const streams = mine.map(({ record }, i) => (record && typeof record === 'object' ? { ...record, id: k + 1 + i * step } : record));
    const folder = join(staging, targets[k] === '' ? 'single' : targets[k]);
    await mkdir(folder, { recursive: true });
    const models = join(stateDir, sources[from], 'models');
    if (await exists(models)) await cp(models, join(folder, 'models'), { recursive: true });
    await writeFileAtomic(join(folder, 'streams.json'), JSON.stringify({ ...files[from], streams }));
  }
  await writeFileAtomic(join(staging, DONE), JSON.stringify({ from: sources, to: targets, streams: moved }));
  await commit(stateDir, targets);
  return { streams: moved, from: sources, to: targets };
}

/** Renames the staged folders into place, then removes the old layout's folders the new one does not use. */
async function commit(stateDir: string, targets: string[]): Promise<void> {
  const staging = join(stateDir, STAGING);
  for (const name of await readdir(staging)) {
    if (name === DONE) continue;
    if (name === 'single') {
      // DIR's own files: models/ first, streams.json (the commit of a single-thread checkpoint) last
      for (const part of ['models', 'streams.json']) {
        if (!(await exists(join(staging, name, part)))) continue;
        await rm(join(stateDir, part), { recursive: true, force: true });
        await rename(join(staging, name, part), join(stateDir, part));
      }
      await rm(join(staging, name), { recursive: true, force: true });
    } else {
      await rm(join(stateDir, name), { recursive: true, force: true });
      await rename(join(staging, name), join(stateDir, name));
    }
  }
  if (!targets.includes('')) {
    await rm(join(stateDir, 'streams.json'), { force: true });
    await rm(join(stateDir, 'models'), { recursive: true, force: true });
  }
  for (const name of await readdir(stateDir)) if (/^worker-\d+$/.test(name) && !targets.includes(name)) await rm(join(stateDir, name), { recursive: true, force: true });
  await rm(staging, { recursive: true, force: true });
}
