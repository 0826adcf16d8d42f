//! Debounced requests whose stale responses are dropped: each request gets a sequence
//! number, and a response is delivered only if no later request was started. Used for
//! lint-as-you-type and for the bundle search. Pure logic over injected timers.

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface LatestOptions<I, O> {
  /** Performs the request (for instance `api.lint`). */
  request: (input: I) => Promise<O>;
  /** Receives the response to the latest request only. */
  onResult: (output: O, input: I) => void;
  /** Receives the failure of the latest request only. */
  onError?: (error: unknown, input: I) => void;
  /** Called with true when the latest request starts and false when it settles. */
  onBusy?: (busy: boolean) => void;
  delayMs: number;
  timers?: Timers;
}

/**
 * `schedule` restarts the debounce timer; `now` runs at once; `cancel` drops the pending
 * timer and any in-flight response. A response arriving after a newer request started
 * is dropped (compared by sequence number), so results never go back in time.
 */
export class LatestRequest<I, O> {
  private seq = 0;
  private timer: unknown = undefined;
  private readonly timers: Timers;

  constructor(private readonly options: LatestOptions<I, O>) {
    this.timers = options.timers ?? realTimers;
  }

  /** The sequence number of the latest request started. */
  get latest(): number {
    return this.seq;
  }

  schedule(input: I): void {
    this.scheduleWith(() => input);
  }

  /**
   * Like `schedule`, but reads the input only when the timer fires: the editor passes
   * a function that copies the document out, so typing costs no copy per keystroke.
   */
  scheduleWith(read: () => I): void {
    this.clearTimer();
    this.timer = this.timers.set(() => {
      this.timer = undefined;
      void this.now(read());
    }, this.options.delayMs);
  }

  async now(input: I): Promise<void> {
    this.clearTimer();
    const mine = ++this.seq;
    this.options.onBusy?.(true);
    try {
      const output = await this.options.request(input);
      if (mine === this.seq) this.options.onResult(output, input);
    } catch (error) {
      if (mine === this.seq) this.options.onError?.(error, input);
    } finally {
      if (mine === this.seq) this.options.onBusy?.(false);
    }
  }

  cancel(): void {
    this.clearTimer();
    this.seq++;
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      this.timers.clear(this.timer);
      this.timer = undefined;
    }
  }
}
