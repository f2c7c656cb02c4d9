/// Writes and catch-ups: the only ways the page asks the server to change or refill the store.
///
/// `write` sends a change and applies the event its reply carries (`reply.event`), like a pushed
/// one; a reply without it (an older server) is caught up from the event log. `catchUp` reads the
/// event log after the store's version, once at a time, when the store reports a gap that push
/// has not filled shortly (or at once for the page's own writes).
import { api } from '../../lib/api.js';
import { fromLog } from './state.js';

/// How long a gap may wait for push to deliver the missing events before the log is read.
const GAP_GRACE_MS = 800;

export class Sync {
  #store;
  #base;
  #running = null;
  #timer = null;

  constructor(store) {
    this.#store = store;
    this.#base = `/boards/${store.board.id}`;
    store.addEventListener('gap', (e) => {
      clearTimeout(this.#timer);
      // A failed read is retried by the next gap (or push fills it); nothing to report.
      const fill = () => this.catchUp().catch(() => {});
      if (e.detail.urgent) fill();
      else this.#timer = setTimeout(fill, GAP_GRACE_MS);
    });
  }

  /// The API path of the board plus `path`.
  path(path) {
    return this.#base + path;
  }

  /// A write to the board (`path` below /boards/{id}); resolves with the reply once its event is
  /// in the store. `options.ifMatch`: the precondition's version.
  async write(method, path, body, options) {
    const reply = await api(method, this.#base + path, body, options);
    if (reply && reply.event) this.#store.apply(reply.event, true);
    else if (reply && typeof reply.version === 'number' && reply.version > this.#store.version) await this.catchUp(reply.version);
    return reply;
  }

  /// Reads the event log after the store's version (up to `until`, or everything) and applies it.
  async catchUp(until = 0) {
    while (this.#running) await this.#running;
    if (until && this.#store.version >= until) return;
    this.#running = this.#read(until).finally(() => { this.#running = null; });
    return this.#running;
  }

  async #read(until) {
    for (let round = 0; round < 50; round++) {
      const after = this.#store.version;
      const page = await api('GET', `${this.#base}/events?after=${after}&limit=1000`);
      for (const e of page.events) this.#store.apply(fromLog(e));
      if (!page.has_more || this.#store.version === after) break;
      if (until && this.#store.version >= until) break;
    }
  }

  /// Reads the whole snapshot again and replaces the store's state with it.
  async reload() {
    const snapshot = await api('GET', this.#base);
    this.#store.load(snapshot);
    return snapshot;
  }
}
