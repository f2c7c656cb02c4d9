/// Activity: who did what and when. Two lists (activity-feed.js): the open card's, in its
/// dialog's Activity section, from `GET …/cards/{card}/history`; and the board's, in the Activity
/// dialog from the board's header, from `GET …/events` read backwards a page at a time. Both grow
/// live: every event the store applies (pushed, replied to a write, caught up) that belongs to
/// the list joins it at the top.
import { api } from '../../lib/api.js';
import { fromLog } from './state.js';
import { Feed, Names, PAGE, storeBefore } from './activity-feed.js';

/// The card dialog's Activity section; returns {open(id), close()}.
export function initCardActivity(store, sync) {
  const list = document.getElementById('cd-activity');
  const more = document.getElementById('cd-activity-more');
  if (!list || !more) return { open() {}, close() {} };
  let card = null;
  const source = {
    // The history answers the newest `limit` events: asking for one more than shown tells
    // whether more remain and gives the oldest shown its "before".
    async fill(feed, n) {
      const id = card;
      const page = await api('GET', sync.path(`/cards/${id}/history?limit=${Math.min(n, 1000)}`));
      if (id === card) feed.add(page.events.map(fromLog));
      return page.events.length >= n;
    },
  };
  const feed = new Feed(store, new Names(store), { list, more, where: 'card', source });
  listen(store, (event) => {
    if (card !== null && (event.card ?? (event.data && event.data.card_id)) === card) feed.add([event], true);
  }, () => { if (card !== null) feed.reset(); });
  return {
    open(id) { card = id; feed.reset(); },
    close() { card = null; },
  };
}

/// The board's Activity dialog, opened from the board's header.
export function initBoardActivity(store, sync, root) {
  const dialog = document.getElementById('activity-dialog');
  const button = root.querySelector('[data-action="board-activity"]');
  if (!dialog || !button) return;
  let started = false;
  const source = {
    // The log is read oldest first after a version: pages are asked for backwards from the oldest
    // loaded (or the store's version). A page with nothing older means the log starts there
    // (old events may have been pruned).
    async fill(feed, n) {
      while (feed.events.size < n) {
        const oldest = feed.events.size ? Math.min(...feed.events.keys()) : store.version + 1;
        if (oldest <= 1) return false;
        const count = Math.min(1000, n - feed.events.size + PAGE); // a page ahead: "Show more" is at once
        const after = Math.max(0, oldest - 1 - count);
        const page = await api('GET', sync.path(`/events?after=${after}&limit=${count}`));
        const older = page.events.map(fromLog).filter((e) => e.version < oldest);
        feed.add(older);
        if (!older.length || after === 0) return false;
      }
      return true;
    },
  };
  const feed = new Feed(store, new Names(store), { list: document.getElementById('board-activity'), more: document.getElementById('board-activity-more'), where: 'board', source });
  listen(store, (event) => { if (started) feed.add([event], true); }, () => { if (started) feed.reset(); });
  button.addEventListener('click', () => {
    if (!started) { started = true; feed.reset(); }
    dialog.showModal();
  });
  dialog.addEventListener('click', (event) => { if (event.target === dialog) dialog.close(); });
}

/// Stores whose card events already fill storeBefore.
const watched = new WeakSet();

/// Every event the store applies, with the card as it was before for card events; `reset`: the
/// store took a new snapshot (events may have been skipped: read the list again).
function listen(store, onEvent, reset) {
  if (!watched.has(store)) {
    watched.add(store);
    store.addEventListener('card', (e) => storeBefore.set(e.detail.event, e.detail.previous || undefined));
  }
  store.addEventListener('applied', (e) => onEvent(e.detail.event));
  store.addEventListener('reset', reset);
}
