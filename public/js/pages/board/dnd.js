/// Drag and drop of cards with pointer events: mouse, pen and touch (touch drags by the handle,
/// so swiping elsewhere still scrolls the board on a phone).
///
/// The card is moved on the page while dragged; the drop sends a move that names its intent
/// (after/before a neighbour, or index 0 of an empty column) and the page keeps the card where it was
/// dropped (`store.hold`) until the move's event is in the store; a refused move lets the
/// renderer put it back.
import { toast } from '../../lib/dom.js';

export function initDragAndDrop(store, sync, columnsEl) {
  let drag = null;
  const cardsOf = (column) => [...column.querySelectorAll('.cards > .card')];

  columnsEl.addEventListener('pointerdown', (event) => {
    if (event.button !== 0 || drag) return;
    const card = event.target.closest('.cards > .card');
    if (!card) return;
    if (event.pointerType !== 'mouse' && !event.target.closest('.drag-handle')) return;
    const column = card.closest('.column');
    drag = { card, pointerId: event.pointerId, startX: event.clientX, startY: event.clientY, started: false,
             fromColumn: column, fromIndex: cardsOf(column).indexOf(card), ghost: null, offsetX: 0, offsetY: 0 };
    if (event.pointerType !== 'mouse') event.preventDefault();
  });

  function start(event) {
    const rect = drag.card.getBoundingClientRect();
    drag.started = true;
    store.hold(Number(drag.card.dataset.cardId));
    drag.offsetX = drag.startX - rect.left;
    drag.offsetY = drag.startY - rect.top;
    const ghost = drag.card.cloneNode(true);
    ghost.removeAttribute('data-card-id');
    ghost.classList.add('drag-ghost');
    ghost.setAttribute('aria-hidden', 'true');
    ghost.style.width = rect.width + 'px';
    document.body.append(ghost);
    drag.ghost = ghost;
    drag.card.classList.add('is-drag-source');
    document.body.classList.add('is-dragging');
    moveGhost(event);
  }

  function moveGhost(event) {
    drag.ghost.style.transform = `translate(${event.clientX - drag.offsetX}px,${event.clientY - drag.offsetY}px) rotate(2deg)`;
  }

  function place(x, y) {
    const under = document.elementFromPoint(x, y);
    const column = under && under.closest('#columns .column[data-column-id]');
    if (!column) return;
    const list = column.querySelector('.cards');
    const before = cardsOf(column).filter((c) => c !== drag.card).find((c) => {
      const r = c.getBoundingClientRect();
      return y < r.top + r.height / 2;
    }) || null;
    if (before) {
      if (drag.card.nextElementSibling !== before) list.insertBefore(drag.card, before);
    } else if (list.lastElementChild !== drag.card) {
      list.append(drag.card);
    }
    columnsEl.querySelectorAll('.column.is-drop-target').forEach((c) => { if (c !== column) c.classList.remove('is-drop-target'); });
    column.classList.add('is-drop-target');
  }

  function autoScroll(x, y) {
    const box = columnsEl.getBoundingClientRect();
    const edge = Math.min(60, box.width / 6);
    if (x < box.left + edge) columnsEl.scrollLeft -= 18;
    else if (x > box.right - edge) columnsEl.scrollLeft += 18;
    const list = drag.card.parentElement;
    const r = list.getBoundingClientRect();
    if (y < r.top + 30) list.scrollTop -= 12;
    else if (y > r.bottom - 30) list.scrollTop += 12;
  }

  document.addEventListener('pointermove', (event) => {
    if (!drag || event.pointerId !== drag.pointerId) return;
    if (!drag.started) {
      if (Math.abs(event.clientX - drag.startX) + Math.abs(event.clientY - drag.startY) < 6) return;
      start(event);
    }
    event.preventDefault();
    moveGhost(event);
    place(event.clientX, event.clientY);
    autoScroll(event.clientX, event.clientY);
  });

  function end(d) {
    if (d.ghost) d.ghost.remove();
    d.card.classList.remove('is-drag-source');
    document.body.classList.remove('is-dragging');
    columnsEl.querySelectorAll('.column.is-drop-target').forEach((c) => c.classList.remove('is-drop-target'));
  }

  // The click that follows a drag's release is not an "open the card".
  function swallowNextClick() {
    const swallow = (event) => { event.stopPropagation(); event.preventDefault(); };
    window.addEventListener('click', swallow, { capture: true, once: true });
    setTimeout(() => window.removeEventListener('click', swallow, { capture: true }), 0);
  }

  document.addEventListener('pointerup', async (event) => {
    if (!drag || event.pointerId !== drag.pointerId) return;
    const d = drag;
    drag = null;
    if (!d.started) return;
    end(d);
    swallowNextClick();
    const column = d.card.closest('.column');
    const siblings = cardsOf(column);
    const index = siblings.indexOf(d.card);
    if (column === d.fromColumn && index === d.fromIndex) return store.hold(null);
    const id = Number(d.card.dataset.cardId);
    const back = store.placeOf(id);
    // The move names its intent: after the card now above it, or before the one below, so that
    // cards others add or move meanwhile do not shift it.
    const body = { column_id: Number(column.dataset.columnId) };
    if (index > 0) body.after = Number(siblings[index - 1].dataset.cardId);
    else if (siblings.length > 1) body.before = Number(siblings[1].dataset.cardId);
    else body.index = 0;
    try {
      await sync.write('POST', `/cards/${id}/move`, body);
      if (back) toast('Card moved.', null, { label: 'Undo', run: () => sync.write('POST', `/cards/${id}/move`, back) });
    } catch (error) {
      toast(error.message, 'error');
    } finally {
      store.hold(null);
    }
  });

  document.addEventListener('pointercancel', (event) => {
    if (!drag || event.pointerId !== drag.pointerId) return;
    const d = drag;
    drag = null;
    if (d.started) { end(d); store.hold(null); }
  });
}
