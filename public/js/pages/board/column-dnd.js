/// Reordering columns by dragging their header with the mouse (the column dialog's Position does the
/// same from the keyboard). The column moves on the page while dragged; the drop sends its new
/// index; a refused move puts the columns back in the store's order.
import { toast } from '../../lib/dom.js';

export function initColumnDragging(store, sync, columnsEl, renderer) {
  let drag = null;
  const columns = () => [...columnsEl.querySelectorAll('.column[data-column-id]')];

  columnsEl.addEventListener('pointerdown', (event) => {
    if (event.button !== 0 || event.pointerType !== 'mouse' || drag) return;
    const head = event.target.closest('.column-head');
    if (!head || event.target.closest('button, a, input')) return;
    const column = head.closest('.column[data-column-id]');
    drag = { column, startX: event.clientX, started: false, from: columns().indexOf(column) };
  });

  document.addEventListener('pointermove', (event) => {
    if (!drag) return;
    if (!drag.started) {
      if (Math.abs(event.clientX - drag.startX) < 6) return;
      drag.started = true;
      drag.column.classList.add('is-drag-source');
      document.body.classList.add('is-dragging');
    }
    const others = columns().filter((c) => c !== drag.column);
    const before = others.find((c) => { const r = c.getBoundingClientRect(); return event.clientX < r.left + r.width / 2; });
    if (before) { if (drag.column.nextElementSibling !== before) columnsEl.insertBefore(drag.column, before); }
    else {
      const last = others[others.length - 1];
      if (last && last.nextElementSibling !== drag.column) last.after(drag.column);
    }
  });

  document.addEventListener('pointerup', async () => {
    if (!drag) return;
    const { column, started, from } = drag;
    drag = null;
    if (!started) return;
    column.classList.remove('is-drag-source');
    document.body.classList.remove('is-dragging');
    const to = columns().indexOf(column);
    if (to === from) return;
    try {
      await sync.write('PATCH', `/columns/${column.dataset.columnId}`, { index: to });
    } catch (error) {
      toast(error.message, 'error');
      renderer.renderAll();
    }
  });
}
