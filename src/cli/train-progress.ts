// `seqcast train`'s progress on the terminal: a cli-progress bar with the loss, speed and ETA, or plain lines when not on a TTY.

import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { EpochEvent, StepEvent } from '../train/loop.js';

/** Where `seqcast train` writes: the command's standard output and error (or a test's collectors). */
export interface TrainIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Non-TTY progress: a line at most this often, ms. */
const LINE_EVERY_MS = 30_000;

/** A loss as printed: 4 decimals, or 3 significant digits below 0.01. */
export function fmtLoss(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 0.01 ? v.toFixed(4) : v.toPrecision(3);
}

function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * Progress: on a terminal a cli-progress bar on stderr (loss, tokens or frames
 * per second, ETA) with the epoch lines above it; otherwise the epoch lines on
 * stdout and a progress line every 30 s.
 */
export class Progress {
  private multibar?: MultiBar;
  private bar?: SingleBar;
  private lastLine = 0;
  private smoothed = NaN;
  private lastValSeconds = 0;
  private epochs = 0;

  constructor(
    private readonly io: TrainIo,
    private readonly quiet: boolean,
    private readonly total: number,
    private readonly plannedEpochs: number,
    private readonly unit: string,
  ) {}

  start(): void {
    this.lastLine = performance.now();
    if (this.quiet || !this.io.stderr.isTTY) return;
    this.multibar = new MultiBar(
      {
        format: `epoch {epoch} |{bar}| {value}/{total} steps | loss {loss} | {rate} ${this.unit}/s | ETA {eta_text}`,
        stream: this.io.stderr,
        hideCursor: true,
        barsize: 24,
        fps: 5,
      },
      Presets.shades_classic,
    );
    this.bar = this.multibar.create(this.total, 0, { epoch: `1/${this.plannedEpochs}`, loss: '…', rate: '…', eta_text: '…' });
  }

  log(line: string): void {
    if (this.multibar && this.io.stdout.isTTY) {
      this.multibar.log(`${line}\n`);
      this.multibar.update(); // draws the line now, above the bar
    }
    else this.io.stdout.write(`${line}\n`);
  }

  step(event: StepEvent): void {
    // the mean of the steps so far, then an exponential average over about the last 20
    const weight = Math.max(0.05, 1 / event.step);
    this.smoothed = Number.isNaN(this.smoothed) ? event.loss : (1 - weight) * this.smoothed + weight * event.loss;
    const rate = event.units / Math.max(event.trainSeconds, 1e-9);
    const perStep = event.trainSeconds / event.step;
    const remainingSteps = this.total - event.step;
    const eta = remainingSteps * perStep + Math.max(0, this.plannedEpochs - this.epochs - 1) * this.lastValSeconds;
    const payload = { epoch: `${event.epoch}/${this.plannedEpochs}`, loss: fmtLoss(this.smoothed), rate: Math.round(rate).toLocaleString('en-US'), eta_text: fmtDuration(eta) };
    if (this.bar) {
      this.bar.update(event.step, payload);
    } else if (!this.quiet && performance.now() - this.lastLine >= LINE_EVERY_MS) {
      this.lastLine = performance.now();
      this.log(`  step ${event.step.toLocaleString('en-US')}/${this.total.toLocaleString('en-US')} (epoch ${payload.epoch}): loss ${payload.loss}, ${payload.rate} ${this.unit}/s, ETA ${payload.eta_text}`);
    }
  }

  epoch(event: EpochEvent, out: string): void {
    this.epochs = event.epoch;
    this.lastValSeconds = event.valSeconds;
    const val = event.valLoss !== undefined ? `, validation ${fmtLoss(event.valLoss)}` : '';
    const best = event.improved ? ` (best; saved ${out})` : ` (best ${fmtLoss(event.best)} at epoch ${event.bestEpoch})`;
    const refused = event.refused ? `, ${event.refused} steps refused` : '';
    if (!this.quiet) this.log(`epoch ${event.epoch}: training ${fmtLoss(event.trainLoss)}${val}${best}${refused}`);
  }

  stop(): void {
    this.multibar?.stop();
    this.multibar = undefined;
    this.bar = undefined;
  }
}
