// The detections of the open stream's window, listed under its anomaly chart with their times, each acknowledgeable.

import type { Acknowledgements } from './acknowledgements';

import { button, card, element, setText } from './dom';
import { formatScore, type Crossing } from './detections';
import { formatClock } from './format';

/** A detection as the list shows it: a crossing and the frame seq that made it. */
export interface ListedDetection extends Crossing {
  seq: number;
}

/**
 * The seq of each crossing (the row whose x it is, searched from the end: crossings are few and recent), with its
 * acknowledgement from `acks`. `x` and `seq` are the window's columns, oldest first.
 *
 * @example
 * listDetections('pump', [{ x: 2, value: 0.9 }], [0, 1, 2], [40, 41, 42], acks); // [{ x: 2, value: 0.9, seq: 42, acknowledged: false }]
 */
export function listDetections(stream: string, crossings: Crossing[], x: ArrayLike<number>, seq: ArrayLike<number>, acks: Pick<Acknowledgements, 'has'>): ListedDetection[] {
  const listed: ListedDetection[] = [];
  let i = x.length - 1;
  for (let c = crossings.length - 1; c >= 0; c--) {
    const crossing = crossings[c];
    while (i >= 0 && x[i] > crossing.x) i--;
    if (i < 0 || x[i] !== crossing.x) continue;
    listed.push({ x: crossing.x, value: crossing.value, seq: seq[i], acknowledged: acks.has(stream, seq[i]) });
  }
  return listed.reverse();
}

/** The panel: newest detection first, an "Acknowledge" button on each open one, and "Acknowledge all". */
export class DetectionList {
  private readonly items = element('ol', 'detection-list');
  private readonly empty = element('p', 'note', 'No detections in this window.');
  private readonly all = button('Acknowledge all', 'ack-all');
  private shownKey: string | undefined;
  private detections: ListedDetection[] = [];

  constructor(
    figures: HTMLElement,
    private readonly stream: string,
    private readonly acks: Acknowledgements,
    private readonly threshold: () => number,
    /** Called after an acknowledgement, so the charts redraw the mark muted. */
    private readonly changed: () => void,
  ) {
    const body = element('div', 'detections-body');
    this.items.setAttribute('aria-label', `Detections of ${stream}`);
    this.all.addEventListener('click', () => this.acknowledge(this.detections.filter((d) => !d.acknowledged).map((d) => d.seq)));
    body.append(this.all, this.items, this.empty);
    figures.append(card('Detections', body, 'Where the score rose to the threshold, newest first. Acknowledged ones are drawn muted (kept in this browser).'));
    this.show([]);
  }

  /** Shows `detections` (oldest first, as listDetections gives them); redraws only when they changed. */
  show(detections: ListedDetection[]): void {
    const key = detections.map((d) => `${d.seq}${d.acknowledged ? 'a' : ''}`).join(',');
    if (key === this.shownKey) return;
    this.shownKey = key;
    this.detections = detections;
    const threshold = this.threshold();
    this.items.replaceChildren(
      ...detections
        .slice()
        .reverse()
        .map((d) => {
          const item = element('li', d.acknowledged ? 'detection acknowledged' : 'detection');
          item.dataset.seq = String(d.seq);
          item.append(element('time', 'detection-time', formatClock(d.x)), element('span', 'detection-score', `score ${formatScore(d.value, threshold)} · seq ${d.seq}`));
          if (d.acknowledged) item.append(element('span', 'detection-state', 'acknowledged'));
          else {
            const ack = button('Acknowledge', 'ack');
            ack.setAttribute('aria-label', `Acknowledge the detection at ${formatClock(d.x)}`);
            ack.addEventListener('click', () => this.acknowledge([d.seq]));
            item.append(ack);
          }
          return item;
        }),
    );
    this.empty.hidden = detections.length > 0;
    this.all.hidden = !detections.some((d) => !d.acknowledged);
    setText(this.all, 'Acknowledge all');
  }

  private acknowledge(seqs: number[]): void {
    for (const seq of seqs) this.acks.add(this.stream, seq);
    this.changed();
  }
}
