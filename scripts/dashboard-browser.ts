// Shared by the dashboard's browser test and `npm run screenshots`: builds what is missing, starts `seqcast serve --demo`, drives Debian's chromium with playwright-core.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The system's chromium (Debian package `chromium`); no browser is ever downloaded. */
export const CHROMIUM = '/usr/bin/chromium';
/** Flags for a quiet, self-contained headless chromium (playwright adds --headless). */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Builds the CLI (dist/) and the dashboard (web/dist/) when they are not there yet. */
export function buildIfMissing(): void {
  const run = (command: string, args: string[]) => {
    const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit' });
    if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed with exit code ${result.status}`);
  };
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) run('npx', ['tsc', '-p', 'tsconfig.json']);
  if (!existsSync(join(ROOT, 'web/dist/index.html'))) run('npm', ['run', 'build:web', '--silent']);
}

export interface RunningServer {
  child: ChildProcess;
  /** http://127.0.0.1:PORT/ as the server printed it. */
  url: string;
  port: number;
  /** Kills it (SIGKILL: no goodbye to clients) and resolves once it has exited. */
  kill(): Promise<void>;
}

/** Starts `node bin/seqcast.js serve --demo --port PORT ...extra` (`demo: false`: without the demo's streams) and resolves with the URL it prints. */
export function startDemoServer(options: { port?: number; rate?: number; extra?: string[]; demo?: boolean } = {}): Promise<RunningServer> {
  const demo = options.demo === false ? [] : ['--demo', '--demo-rate', String(options.rate ?? 20)];
  const args = ['bin/seqcast.js', 'serve', ...demo, '--port', String(options.port ?? 0), ...(options.extra ?? [])];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let errors = '';
  child.stderr!.on('data', (chunk) => (errors += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`seqcast serve printed no URL within 20 s; stdout: ${output} stderr: ${errors}`));
    }, 20_000);
    const exitedEarly = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`seqcast serve exited with ${code} before printing its URL; stderr: ${errors}`));
    };
    child.once('exit', exitedEarly);
    child.stdout!.on('data', (chunk) => {
      output += chunk;
      const match = /serving on (http:\/\/[^\s]+\/)/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      child.off('exit', exitedEarly);
      const url = match[1];
      resolve({
        child,
        url,
        port: Number(new URL(url).port),
        kill: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          await exited;
        },
      });
    });
  });
}

/** A headless chromium with a fresh profile (deleted on close). */
export async function launchChromium(viewport = { width: 1280, height: 900 }): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing; install Debian's chromium: apt-get update && apt-get install -y chromium`);
  const profile = mkdtempSync(join(tmpdir(), 'seqcast-chromium-'));
  // launchPersistentContext passes the fresh profile as --user-data-dir
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
