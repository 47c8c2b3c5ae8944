// The page's "run a file in this browser" controls: a dialog to pick (or drop) a CSV and a model file, or a new model, and
// how fast to replay it; files dropped anywhere on the page land in it.

import type { LocalRun } from './local-session';

const $ = <T extends HTMLElement>(selector: string) => document.querySelector(selector) as T;

/** Replay speeds offered, rows per second (0: as fast as the kernel computes). */
export const LOCAL_RATES = [20, 100, 1000, 0];

/**
 * Drives #local-dialog. `start` gets the run once the form is complete; the
 * panel checks what it can (a CSV is there, a model file when one was chosen)
 * and says what is missing next to the Start button.
 */
export class LocalPanel {
  private csv: File | undefined;
  private model: File | undefined;
  private readonly dialog = $<HTMLDialogElement>('#local-dialog');
  private readonly problem = $('#local-problem');

  constructor(private readonly start: (run: LocalRun) => void) {
    const csvInput = $<HTMLInputElement>('#local-csv');
    const modelInput = $<HTMLInputElement>('#local-model');
    csvInput.addEventListener('change', () => this.take(csvInput.files));
    modelInput.addEventListener('change', () => this.take(modelInput.files));
    $<HTMLFormElement>('#local-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    $('#local-cancel').addEventListener('click', () => this.dialog.close());
    // files dropped anywhere on the page: a CSV and, if any, a model file
    document.addEventListener('dragover', (event) => {
      if (event.dataTransfer?.types.includes('Files')) event.preventDefault();
    });
    document.addEventListener('drop', (event) => {
      if (!event.dataTransfer?.files.length) return;
      event.preventDefault();
      this.take(event.dataTransfer.files);
      this.open();
    });
  }

  open(): void {
    if (!this.dialog.open) this.dialog.showModal();
  }

  /** Sorts files into the CSV and the model by their names. */
  private take(files: FileList | null): void {
    for (const file of files ?? []) {
      if (/\.safetensors$/i.test(file.name)) {
        this.model = file;
        $<HTMLInputElement>('input[name="local-model-choice"][value="file"]').checked = true;
      } else this.csv = file;
    }
    $('#local-csv-name').textContent = this.csv ? `${this.csv.name} (${formatBytes(this.csv.size)})` : 'none yet';
    $('#local-model-name').textContent = this.model ? `${this.model.name} (${formatBytes(this.model.size)})` : 'none';
    this.problem.textContent = '';
  }

  private submit(): void {
    const fromFile = $<HTMLInputElement>('input[name="local-model-choice"][value="file"]').checked;
    if (!this.csv) return this.say('Pick or drop a CSV first: a header naming a timestamp column, then rows (as NAB’s files).');
    if (fromFile && !this.model) return this.say('Pick or drop a .safetensors model file, or choose a new model.');
    const horizon = Number($<HTMLInputElement>('#local-horizon').value);
    if (!Number.isInteger(horizon) || horizon < 0 || horizon > 256) return this.say('The horizon is a whole number of steps from 0 to 256.');
    const kernel = new URLSearchParams(location.hash.slice(1)).get('kernel');
    this.dialog.close();
    this.start({
      csv: this.csv,
      model: fromFile ? this.model : undefined,
      rowsPerSecond: Number($<HTMLSelectElement>('#local-rate').value),
      horizon,
      kernel: kernel === 'baseline' || kernel === 'relaxed' ? kernel : 'auto',
    });
  }

  private say(text: string): void {
    this.problem.textContent = text;
  }
}

function formatBytes(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.ceil(bytes / 1e3)} kB`;
}
