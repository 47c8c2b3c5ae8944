// A stream view's controls (pause, reset, online learning, horizon), what the page's role allows of them, and the server's answers.

import { button, element, setText } from './dom';
import type { StreamEntry, ViewContext } from './view-context';
import { permissionNote, streamPermissions } from './permissions';
import { configureMessage, resetMessage, type ErrorMessage, type ReplyMessage } from './protocol';

/** Largest horizon the protocol allows. */
const MAX_HORIZON = 256;

/** The controls row and the status line under it, for one stream; touches the entry's `listed` when the server confirms. */
export class ViewControls {
  private readonly pauseButton: HTMLButtonElement;
  private readonly resetButton: HTMLButtonElement;
  private readonly learnBox: HTMLInputElement;
  private readonly learnNote: HTMLElement;
  private readonly horizonInput: HTMLInputElement;
  private readonly horizonApply: HTMLButtonElement;
  private readonly permission: HTMLElement;
  private readonly status: HTMLElement;
  /** The control request waiting for an answer, to word the answer. */
  private pending: 'reset' | 'horizon' | 'learn' | undefined;

  constructor(
    root: HTMLElement,
    private readonly entry: StreamEntry,
    private readonly context: ViewContext,
  ) {
    const id = `stream-${entry.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    const controls = element('div', 'controls');
    controls.setAttribute('aria-label', `Controls for ${entry.name}`);
    controls.setAttribute('role', 'group');
    this.pauseButton = button('Pause view', 'pause');
    this.pauseButton.setAttribute('aria-pressed', 'false');
    this.pauseButton.addEventListener('click', () => this.togglePause());
    this.resetButton = button('Reset stream', 'reset');
    this.resetButton.addEventListener('click', () => this.request('reset', resetMessage(entry.name)));
    const learnLabel = element('label', 'learn');
    this.learnBox = document.createElement('input');
    this.learnBox.type = 'checkbox';
    this.learnBox.id = `${id}-learn`;
    this.learnBox.addEventListener('change', () => this.request('learn', configureMessage(entry.name, { learn: this.learnBox.checked })));
    this.learnNote = element('span', 'learn-note');
    learnLabel.append(this.learnBox, ' Online learning', this.learnNote);
    const horizonForm = document.createElement('form');
    horizonForm.className = 'horizon';
    const horizonLabel = element('label', '', 'Horizon');
    this.horizonInput = document.createElement('input');
    Object.assign(this.horizonInput, { type: 'number', min: '0', max: String(MAX_HORIZON), step: '1', id: `${id}-horizon`, inputMode: 'numeric' });
    horizonLabel.htmlFor = this.horizonInput.id;
    const horizonUnit = element('span', 'unit', 'steps');
    this.horizonApply = button('Set', 'apply');
    this.horizonApply.type = 'submit';
    horizonForm.append(horizonLabel, this.horizonInput, horizonUnit, this.horizonApply);
    horizonForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const horizon = Number(this.horizonInput.value);
      if (!Number.isInteger(horizon) || horizon < 0 || horizon > MAX_HORIZON) return this.say(`The horizon is a whole number of steps from 0 to ${MAX_HORIZON}.`);
      this.request('horizon', configureMessage(entry.name, { horizon }));
    });
    controls.append(this.pauseButton, this.resetButton, learnLabel, horizonForm);
    this.permission = element('p', 'permission-note');
    this.permission.id = `${id}-permission`;
    this.status = element('p', 'control-status');
    this.status.setAttribute('role', 'status');
    this.status.setAttribute('aria-live', 'polite');
    root.append(controls, this.permission, this.status);
  }

  /** Refreshes the controls from the entry and the page's role (after a `list` answer or new metrics). */
  update(): void {
    const { listed } = this.entry;
    const permissions = streamPermissions(this.context.role);
    if (document.activeElement !== this.horizonInput && listed) this.horizonInput.value = String(listed.horizon);
    this.learnBox.checked = listed?.learn ?? false;
    const unavailable = this.context.learningAvailable === false;
    this.learnBox.disabled = unavailable || !permissions.learn.allowed;
    setText(this.learnNote, unavailable ? ' (this server cannot learn online)' : '');
    this.resetButton.disabled = !permissions.reset.allowed;
    this.horizonInput.disabled = !permissions.horizon.allowed;
    this.horizonApply.disabled = !permissions.horizon.allowed;
    const note = permissionNote(permissions);
    setText(this.permission, note);
    this.permission.hidden = note === '';
    for (const control of [this.resetButton, this.learnBox, this.horizonInput, this.horizonApply]) {
      if (control.disabled && note !== '') control.setAttribute('aria-describedby', this.permission.id);
      else control.removeAttribute('aria-describedby');
    }
    const paused = this.context.isPaused(this.entry.name);
    this.pauseButton.setAttribute('aria-pressed', String(paused));
    setText(this.pauseButton, paused ? 'Resume view' : 'Pause view');
  }

  /** An answer (or error) the server sent about this stream. */
  reply(message: ReplyMessage | ErrorMessage): void {
    const what = this.pending ?? 'request';
    const words = { reset: 'Reset', horizon: 'Horizon change', learn: 'Learning switch', request: 'Request' }[what];
    if (message.type === 'error') {
      const hint = message.code === 'unknown_type' ? ' This server does not accept stream settings from a dashboard yet.' : '';
      this.say(`${words} refused by ${this.context.peer} (${message.code}): ${message.message}.${hint}`, true);
    } else if (message.type === 'reset') {
      this.say(`Stream reset by ${this.context.peer} after seq ${String(message.lastSeq)}.`);
    } else if (message.type === 'configured') {
      this.say(`Applied by ${this.context.peer}: horizon ${String(message.horizon ?? '–')}, learning ${message.learn ? 'on' : 'off'}.`);
      if (this.entry.listed) {
        if (typeof message.horizon === 'number') this.entry.listed.horizon = message.horizon;
        if (typeof message.learn === 'boolean') this.entry.listed.learn = message.learn;
      }
      this.update();
    }
    this.pending = undefined;
  }

  private togglePause(): void {
    const paused = !this.context.isPaused(this.entry.name);
    this.context.setPaused(this.entry.name, paused);
    this.say(paused ? `View paused: ${this.context.peer} stops sending this stream to the page.` : 'View resumed.');
    this.update();
  }

  private request(what: 'reset' | 'horizon' | 'learn', message: object): void {
    this.pending = what;
    if (!this.context.send(message)) this.say('Not connected to the server; try again once the connection is back.', true);
    else this.say(`Sent to ${this.context.peer}: ${JSON.stringify(message)}`);
  }

  /** Shows `text` in the status line (`problem`: styled as a refusal). */
  say(text: string, problem = false): void {
    this.status.textContent = text;
    this.status.classList.toggle('problem', problem);
  }
}
