// What a stream view shares with the page: the stream as the dashboard knows it, and the page's clock, theme, window and link.

import type { Acknowledgements } from './acknowledgements';
import type { SharedClock } from './clock';
import type { Detection } from './detections';
import type { LabelledWindows } from './overlays';
import type { PageRole } from './permissions';
import type { ListedModel, ListedStream } from './protocol';
import type { StreamSeries } from './stream-series';
import type { Theme } from './theme';

/** A stream as the dashboard knows it. */
export interface StreamEntry {
  name: string;
  listed: ListedStream | undefined;
  model: ListedModel | undefined;
  series: StreamSeries;
  kind: 'values' | 'image' | 'tokens';
  /** [rows, columns] of an image stream's frames. */
  shape: [number, number] | undefined;
  /** A name per charted channel. */
  channels: string[];
  /** All channels of a frame, charted or not. */
  channelTotal: number;
  attentionModel: boolean;
  labelled: LabelledWindows | undefined;
}

/** What the view shares with the rest of the page; main.ts owns and changes it. */
export interface ViewContext {
  clock: SharedClock;
  theme: Theme;
  windowSeconds: number;
  /** The threshold detections are marked at, and its profile (from the server's `list`). */
  detection: Detection;
  /** Who answers the page's requests, in words: "the server", or "the local run" (a file run in this page). */
  peer: string;
  /** The page's role on the server (its `list` answers say it): which controls the page offers. */
  role: PageRole;
  /** This viewer's acknowledged detections. */
  acks: Acknowledgements;
  /** From metrics: whether the server can learn online (undefined until the first metrics). */
  learningAvailable: boolean | undefined;
  send(message: object): boolean;
  isPaused(stream: string): boolean;
  setPaused(stream: string, paused: boolean): void;
}
