/// The column dialog: rename, work-in-progress limit, delete. What is typed survives Esc (a draft
/// per column); a save carries the column's version, and a change by someone else meanwhile
/// (seen live or as a 412) offers the choice.
import { clearDraft, loadDraft, saveDraft } from '../../lib/drafts.js';
import { el, toast, showFormError } from '../../lib/dom.js';
import { clear, offerChoice } from './conflict.js';

const values = (column) => ({ name: column.name, wip_limit: column.wip_limit ? String(column.wip_limit) : '' });

export function initColumnDialog(store, sync, columnsEl) {
  const dialog = document.getElementById('column-dialog');
  const form = document.getElementById('column-form');
  const choice = form.querySelector('.conflict');
  let id = null;
  let base = null; // {name, wip_limit} the typing started from
  let baseVersion = null;
  const key = () => `${store.board.id}:column:${id}`;
  const typed = () => ({ name: form.elements.name.value, wip_limit: form.elements.wip_limit.value.trim() });
  const edited = () => { const t = typed(); return t.name !== base.name || t.wip_limit !== base.wip_limit; };
  const remember = () => saveDraft(key(), { value: JSON.stringify(typed()), base: JSON.stringify(base), baseVersion });

  function rebase(column) {
    base = values(column);
    baseVersion = column.version;
  }

  function open(columnId) {
    const column = store.columns.get(columnId);
    if (!column) return;
    id = columnId;
    clear(choice);
    showFormError(form, null);
    const draft = loadDraft(key());
    rebase(column);
    let shown = base;
    if (draft) {
      shown = JSON.parse(draft.value);
      base = JSON.parse(draft.base);
      baseVersion = draft.baseVersion;
    }
    form.elements.name.value = shown.name;
    form.elements.wip_limit.value = shown.wip_limit;
    const order = store.orderedColumns();
    const select = form.elements.index;
    select.replaceChildren(...order.map((c, i) => el('option', { value: String(i), text: `${i + 1} of ${order.length}` })));
    select.value = String(order.findIndex((c) => c.id === columnId));
    select.dataset.current = select.value;
    dialog.showModal();
    form.elements.name.focus();
    if (draft) compare(column);
  }

  /// The column changed (live, or per a 412): fields not edited follow; edited ones get the choice.
  function compare(column, fromSave = false) {
    const theirs = values(column);
    if (theirs.name === base.name && theirs.wip_limit === base.wip_limit) {
      baseVersion = column.version;
      if (fromSave) form.requestSubmit();
      return;
    }
    if (!edited()) {
      rebase(column);
      form.elements.name.value = base.name;
      form.elements.wip_limit.value = base.wip_limit;
      return;
    }
    offerChoice(choice, {
      who: 'someone else', what: 'This column', theirs: `${theirs.name}${theirs.wip_limit ? ` (limit ${theirs.wip_limit})` : ''}`,
      onKeep: () => { rebase(column); remember(); if (fromSave) form.requestSubmit(); },
      onTake: () => { rebase(column); form.elements.name.value = base.name; form.elements.wip_limit.value = base.wip_limit; clearDraft(key()); },
    });
  }

  store.addEventListener('column', (e) => {
    if (!dialog.open || e.detail.id !== id) return;
    if (!e.detail.column) {
      const gone = e.detail.event.kind === 'column.deleted' ? 'deleted' : 'archived';
      if (e.detail.event.actor !== store.me) toast(`This column was ${gone} by ${store.nameOf(e.detail.event.actor)}.`, 'error');
      dialog.close();
      return;
    }
    if (e.detail.event.actor !== store.me) compare(e.detail.column);
  });

  form.addEventListener('input', remember);
  columnsEl.addEventListener('click', (event) => {
    const edit = event.target.closest('[data-action="edit-column"]');
    if (edit) open(Number(edit.closest('.column').dataset.columnId));
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const { name, wip_limit: limit } = typed();
    const button = form.querySelector('[type="submit"]');
    button.disabled = true;
    showFormError(form, null);
    try {
      const body = { name: name.trim(), wip_limit: limit ? Number(limit) : null };
      const index = form.elements.index;
      if (index.value !== index.dataset.current) body.index = Number(index.value);
      await sync.write('PATCH', `/columns/${id}`, body, { ifMatch: baseVersion });
      clearDraft(key());
      dialog.close();
    } catch (error) {
      if (error.status === 412 && error.body && error.body.column) {
        await sync.catchUp().catch(() => {});
        compare(error.body.column, true);
      }
      else showFormError(form, error);
    } finally {
      button.disabled = false;
    }
  });

  dialog.querySelector('[data-action="archive-column"]').addEventListener('click', async () => {
    const column = store.columns.get(id);
    const count = store.cardsIn(id).length;
    try {
      await sync.write('PATCH', `/columns/${id}`, { archived: true });
      clearDraft(key());
      dialog.close();
      const archivedId = id;
      toast(`“${column.name}” archived${count ? ` with its ${count} card${count === 1 ? '' : 's'}` : ''}.`, null, {
        label: 'Undo',
        run: () => sync.write('PATCH', `/columns/${archivedId}`, { archived: false }),
      });
    } catch (error) {
      showFormError(form, error);
    }
  });

  dialog.querySelector('[data-action="delete-column"]').addEventListener('click', async () => {
    const count = store.cardsIn(id).length;
    if (count) {
      toast(`Move or archive the ${count} card${count === 1 ? '' : 's'} in this column first.`, 'error');
      return;
    }
    if (!confirm('Delete this column?')) return;
    try {
      await sync.write('DELETE', `/columns/${id}`);
      clearDraft(key());
      dialog.close();
    } catch (error) {
      toast(error.message, 'error');
    }
  });
}
