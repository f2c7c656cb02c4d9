/// Keyboard shortcuts of the board page (`?` lists them): arrows between cards, Enter or `e` to
/// open, `n` for a new card, `m` to move the card in focus to any column and position (the
/// keyboard's drag and drop), `l` for its labels. Nothing happens while typing in a field or while
/// a dialog is open; Esc closes dialogs (the browser's own).
import { el, onSubmit, toast } from '../../lib/dom.js';

export function initKeys(store, sync, columnsEl, dialog, canWrite) {
  const keys = document.getElementById('keys-dialog');
  const move = document.getElementById('move-dialog');
  const moveForm = document.getElementById('move-form');
  const visibleCards = (column) => [...column.querySelectorAll('.cards > .card')].filter((c) => !c.hidden);
  const columns = () => [...columnsEl.querySelectorAll('.column[data-column-id]')];
  const focused = () => (document.activeElement && document.activeElement.matches('#columns .card') ? document.activeElement : null);
  let moving = null;

  function step(card, key) {
    const column = card.closest('.column');
    const list = visibleCards(column);
    const i = list.indexOf(card);
    if (key === 'ArrowUp') return list[i - 1];
    if (key === 'ArrowDown') return list[i + 1];
    const all = columns();
    const direction = key === 'ArrowLeft' ? -1 : 1;
    for (let c = all.indexOf(column) + direction; c >= 0 && c < all.length; c += direction) {
      const others = visibleCards(all[c]);
      if (others.length) return others[Math.min(i, others.length - 1)];
    }
    return null;
  }

  function fillPositions(columnId, cardId) {
    const others = store.cardsIn(columnId).filter((c) => c.id !== cardId);
    const select = moveForm.elements.index;
    select.replaceChildren(...Array.from({ length: others.length + 1 }, (_, i) =>
      el('option', { value: String(i), text: i === 0 ? 'Top' : i === others.length ? 'Bottom' : `After “${others[i - 1].title}”` })));
  }

  function openMove(card) {
    const id = Number(card.dataset.cardId);
    const stored = store.cards.get(id);
    if (!stored) return;
    moving = id;
    const select = moveForm.elements.column;
    select.replaceChildren(...store.orderedColumns().map((c) => el('option', { value: String(c.id), text: c.name })));
    select.value = String(stored.column_id);
    fillPositions(stored.column_id, id);
    moveForm.elements.index.value = String(store.cardsIn(stored.column_id).findIndex((c) => c.id === id));
    move.showModal();
    select.focus();
  }

  moveForm.elements.column.addEventListener('change', () => {
    fillPositions(Number(moveForm.elements.column.value), moving);
    moveForm.elements.index.value = '0';
  });
  onSubmit(moveForm, async () => {
    const id = moving;
    const back = store.placeOf(id);
    await sync.write('POST', `/cards/${id}/move`, { column_id: Number(moveForm.elements.column.value), index: Number(moveForm.elements.index.value) });
    move.close();
    const node = columnsEl.querySelector(`.card[data-card-id="${id}"]`);
    if (node) node.focus();
    if (back) toast('Card moved.', null, { label: 'Undo', run: () => sync.write('POST', `/cards/${id}/move`, back) });
  });
  for (const d of [move, keys]) {
    d.querySelector('[data-action="close-dialog"]').addEventListener('click', () => d.close());
  }
  move.addEventListener('close', () => {
    const node = moving && columnsEl.querySelector(`.card[data-card-id="${moving}"]`);
    moving = null;
    if (node && !document.querySelector('dialog[open]')) node.focus();
  });

  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (document.querySelector('dialog[open]')) return;
    const target = event.target;
    if (target.closest && target.closest('input, textarea, select, [contenteditable]')) return;
    const card = focused();
    if (event.key === '?') { event.preventDefault(); keys.showModal(); return; }
    if (card && event.key.startsWith('Arrow')) {
      const next = step(card, event.key);
      event.preventDefault();
      if (next) { next.focus(); next.scrollIntoView({ block: 'nearest', inline: 'nearest' }); }
      return;
    }
    if (!card && event.key.startsWith('Arrow') && (event.key === 'ArrowDown' || event.key === 'ArrowRight')) {
      const first = columnsEl.querySelector('.cards > .card:not([hidden])');
      if (first && (target === document.body || target === document.documentElement)) { event.preventDefault(); first.focus(); }
      return;
    }
    if (card && event.key === 'e') { event.preventDefault(); dialog.open(Number(card.dataset.cardId)); return; }
    if (card && event.key === 'l') {
      event.preventDefault();
      dialog.open(Number(card.dataset.cardId));
      const first = document.querySelector('#cd-labels button, #cd-new-label input');
      if (first) first.focus();
      return;
    }
    if (!canWrite) return;
    if (card && event.key === 'm') { event.preventDefault(); openMove(card); return; }
    if (event.key === 'n') {
      const column = card ? card.closest('.column') : columns()[0];
      const open = column && column.querySelector('[data-action="open-add-card"]');
      if (open) { event.preventDefault(); open.click(); }
    }
  });
}
