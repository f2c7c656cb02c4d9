/// The board's filter bar: text, label, member, due (overdue, this week, none) and done. It hides
/// the cards that do not match and keeps doing so as events arrive; the state lives in the URL's
/// query (`?q=&label=&member=&due=&done=`), so a filtered board can be reloaded and shared.
/// `/` focuses the text field from anywhere on the page that is not a field.
import { dueDay, el, isOverdue, todayDay } from '../../lib/dom.js';

const KEYS = ['q', 'label', 'member', 'due', 'done'];

/// `YYYY-MM-DD` `days` after `day`.
function addDays(day, days) {
  const date = new Date(day + 'T12:00:00Z');
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

/// Whether `card` passes `filter` (`members`: user id → name).
export function matches(card, filter, today = todayDay()) {
  if (filter.q) {
    const words = filter.q.toLowerCase().split(/\s+/).filter(Boolean);
    const text = `${card.title} ${card.description || ''}`.toLowerCase();
    if (!words.every((w) => text.includes(w))) return false;
  }
  if (filter.label && !card.labels.includes(Number(filter.label))) return false;
  if (filter.member && !card.assignees.includes(Number(filter.member))) return false;
  const due = dueDay(card.due_at, card.due_has_time);
  switch (filter.due) {
    case 'overdue': if (!isOverdue(card)) return false; break;
    case 'week': if (!due || due < today || due > addDays(today, 6)) return false; break;
    case 'none': if (due) return false; break;
  }
  if (filter.done === 'open' && card.done) return false;
  if (filter.done === 'done' && !card.done) return false;
  return true;
}

export function initFilter(store, root) {
  const form = root.querySelector('#filter-bar');
  if (!form) return null;
  const fields = Object.fromEntries(KEYS.map((k) => [k, form.elements[k]]));
  const count = form.querySelector('#filter-count');
  const clear = form.querySelector('[data-action="clear-filter"]');

  function fillOptions(select, entries, empty) {
    const chosen = select.value || new URLSearchParams(location.search).get(select.name) || '';
    select.replaceChildren(el('option', { value: '', text: empty }),
      ...entries.map(([value, text]) => el('option', { value: String(value), text })));
    select.value = entries.some(([value]) => String(value) === chosen) ? chosen : '';
  }
  function options() {
    fillOptions(fields.label, [...store.labels.values()].map((l) => [l.id, l.name]), 'Any label');
    fillOptions(fields.member, [...store.members.values()].map((m) => [m.user_id, m.name]), 'Anyone');
  }

  function current() {
    return Object.fromEntries(KEYS.map((k) => [k, fields[k].value.trim()]));
  }

  function apply() {
    const filter = current();
    const active = KEYS.some((k) => filter[k]);
    const today = todayDay();
    let shown = 0;
    for (const node of root.querySelectorAll('.card[data-card-id]')) {
      const card = store.cards.get(Number(node.dataset.cardId));
      const visible = !active || (card && matches(card, filter, today));
      node.hidden = !visible;
      if (visible && card) shown += 1;
    }
    root.classList.toggle('is-filtered', active);
    count.hidden = !active;
    count.textContent = `${shown} of ${store.cards.size} cards`;
    clear.hidden = !active;
  }

  function remember() {
    const params = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(current())) { if (v) params.set(k, v); else params.delete(k); }
    const query = params.toString();
    history.replaceState(null, '', location.pathname + (query ? '?' + query : '') + location.hash);
  }

  const params = new URLSearchParams(location.search);
  options();
  for (const k of KEYS) if (params.has(k) && k !== 'label' && k !== 'member') fields[k].value = params.get(k);
  const changed = () => { remember(); apply(); };
  form.addEventListener('input', changed);
  form.addEventListener('change', changed);
  form.addEventListener('submit', (e) => e.preventDefault());
  clear.addEventListener('click', () => {
    for (const k of KEYS) fields[k].value = '';
    remember();
    apply();
    fields.q.focus();
  });
  for (const kind of ['label', 'member', 'reset']) store.addEventListener(kind, () => { options(); apply(); });
  // After the renderer has placed or filled the card's node.
  store.addEventListener('card', () => queueMicrotask(apply));
  document.addEventListener('keydown', (e) => {
    if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return;
    const target = e.target;
    if (target.closest && target.closest('input, textarea, select, [contenteditable], dialog[open]')) return;
    e.preventDefault();
    fields.q.focus();
  });
  apply();
  return { apply };
}
