/// An activity list: board events shown newest first, in people's words (activity-words.js), a
/// page at a time ("Show more"), re-drawn as events join it. Where its events come from is the
/// caller's (activity.js): a `source` that loads older ones, and live ones passed to `add`.
import { avatar, el, formatTime } from '../../lib/dom.js';
import { clip, sentence } from './activity-words.js';

/// Events shown at first, and added by each "Show more".
export const PAGE = 20;

/// One list: its events by version, the newest `shown` of them on the page. `source.fill(n)`
/// makes sure the `n` newest are loaded (when they exist) and says whether older ones remain.
export class Feed {
  #events = new Map();
  #shown = PAGE;
  #hasMore = false;
  #loading = null;

  constructor(store, names, { list, more, where, source }) {
    Object.assign(this, { store, names, list, more, where, source });
    more.addEventListener('click', () => this.showMore());
  }

  get events() { return this.#events; }

  /// Starts over (empty, one page).
  async reset() {
    this.#events = new Map();
    this.#shown = PAGE;
    this.list.replaceChildren(el('li', { class: 'muted small', text: 'Loading…' }));
    this.more.hidden = true;
    await this.#fill();
  }

  async showMore() {
    this.#shown += PAGE;
    await this.#fill();
  }

  async #fill() {
    const events = this.#events;
    const run = (this.#loading = this.source.fill(this, this.#shown + 1));
    try {
      const hasMore = await run;
      if (events !== this.#events) return; // started over meanwhile
      this.#hasMore = hasMore;
      this.render();
    } catch (error) {
      if (events === this.#events) this.list.replaceChildren(el('li', { class: 'form-error', text: error.message }));
    } finally {
      if (this.#loading === run) this.#loading = null;
    }
  }

  /// Adds events (the store's shape); the list shows them once loading is done.
  add(events, live = false) {
    for (const event of events) {
      if (this.#events.has(event.version)) continue;
      this.#events.set(event.version, event);
      if (live) this.#shown++; // a new one on top pushes none off the bottom
    }
    if (live && !this.#loading) this.render();
  }

  render() {
    const all = [...this.#events.values()].sort((a, b) => b.version - a.version);
    const before = previousPayloads(all, this.store);
    this.names.learn(all);
    const shown = all.slice(0, this.#shown);
    this.list.replaceChildren(...shown.map((event) => this.#item(event, before.get(event))));
    if (!shown.length) this.list.append(el('li', { class: 'muted small activity-none', text: 'Nothing yet.' }));
    this.more.hidden = !(this.#hasMore || all.length > this.#shown);
  }

  #item(event, before) {
    const who = event.actor == null ? 'Someone' : this.names.person(event.actor) || 'A former member';
    const text = sentence(event, before, this.names, this.where);
    const excerpt = event.kind === 'comment.created' || event.kind === 'comment.updated' ? clip(event.data && event.data.body, 140) : '';
    const icon = avatar(event.actor || 0, who, true);
    icon.setAttribute('aria-hidden', 'true');
    return el('li', { class: 'activity-item', dataset: { kind: event.kind, version: event.version } }, icon,
      el('div', { class: 'activity-main' },
        el('p', { class: 'activity-text' }, el('strong', { text: who }), ' ' + text),
        excerpt ? el('p', { class: 'activity-excerpt', text: excerpt }) : null,
        el('time', { class: 'activity-time', datetime: event.at, text: formatTime(event.at) })));
  }
}

/// For each event, the payload of the same object one event earlier (from the list, else what
/// the store had before a live card event changed it): what an update changed.
function previousPayloads(newestFirst, store) {
  const last = new Map();
  const before = new Map();
  for (let i = newestFirst.length - 1; i >= 0; i--) {
    const event = newestFirst[i];
    const data = event.data || {};
    const what = String(event.kind).split('.')[0];
    const key = what + ':' + (what === 'member' ? data.user_id : what === 'board' ? '' : data.id);
    before.set(event, last.has(key) ? last.get(key) : storeBefore.get(event));
    last.set(key, data);
  }
  return before;
}

/// A card event's card as the store had it just before (filled as the store applies it).
export const storeBefore = new WeakMap();

/// Names of people, columns, labels and cards: the board's as they are now, else the last seen
/// in an event (a column or card since deleted), else null.
export class Names {
  #seen = { column: new Map(), label: new Map(), card: new Map(), person: new Map() };

  constructor(store) { this.store = store; }

  learn(newestFirst) {
    for (let i = newestFirst.length - 1; i >= 0; i--) {
      const data = newestFirst[i].data || {};
      const what = String(newestFirst[i].kind).split('.')[0];
      if (what === 'column' && data.name) this.#seen.column.set(data.id, data.name);
      if (what === 'label' && data.name) this.#seen.label.set(data.id, data.name);
      if (what === 'card' && data.title) this.#seen.card.set(data.id, data.title);
      if (what === 'member' && data.name) this.#seen.person.set(data.user_id, data.name);
    }
  }

  person(id) { const m = this.store.members.get(id); return m ? m.name : this.#seen.person.get(id) ?? null; }
  column(id) { const c = this.store.columns.get(id); return c ? c.name : this.#seen.column.get(id) ?? null; }
  cardTitle(id) { const c = this.store.cards.get(id); return c ? c.title : this.#seen.card.get(id) ?? null; }
  labels(ids) {
    const found = ids.map((id) => { const l = this.store.labels.get(id); return l ? l.name : this.#seen.label.get(id); });
    return { names: found.filter((n) => n), unknown: found.some((n) => !n) };
  }
}
