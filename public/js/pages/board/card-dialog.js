/// The card dialog: title, column, done, due date, description, labels, assignees, archive and
/// delete. It shows the store's card and follows it live: fields the reader is not editing update
/// as others work; the title and the description are `CardText`s (drafts, conflicts). Labels and
/// assignees change by add/remove operations, which merge with other people's at the server.
import { markdownInto } from './comments.js';
import { toggleTask } from '../../lib/markdown.js';
import { dueDay, dueTime, dueValue, el, formatDue, toast } from '../../lib/dom.js';
import { fillSets, initCardSets } from './card-sets.js';
import { CardText } from './card-text.js';
import { clear, offerChoice, same, saveTyped } from './conflict.js';

/// `sections`: the dialog's parts that load per card (comments, checklists…): `open(id)`, `close()`.
export function initCardDialog(store, sync, columnsEl, sections) {
  const canWrite = store.board.role !== 'viewer';
  const dialog = document.getElementById('card-dialog');
  const $ = (id) => document.getElementById(id);
  const titleInput = $('cd-title'), columnSelect = $('cd-column'), doneBox = $('cd-done'), dueInput = $('cd-due');
  const dueTimeInput = $('cd-due-time');
  const descView = $('cd-description'), descEditor = $('cd-description-editor'), descEdit = $('cd-description-edit-button');
  let current = null;

  const fitTitle = () => { titleInput.style.height = 'auto'; titleInput.style.height = titleInput.scrollHeight + 'px'; };
  const title = new CardText(store, sync, {
    field: 'title', what: 'The title', input: titleInput, choice: $('cd-title-choice'),
    show: (card) => { titleInput.value = card.title; fitTitle(); }, begin: () => {},
  });
  const description = new CardText(store, sync, {
    field: 'description', what: 'The description', input: $('cd-description-input'), choice: $('cd-description-choice'),
    show: (card) => {
      const text = (card.description || '').trim();
      markdownInto(descView, text);
      if (canWrite) descView.querySelectorAll('input[data-task]').forEach((box) => { box.disabled = false; });
      if (!text) descView.append(el('p', { class: 'muted', text: canWrite ? 'No description yet. Add details, links or a checklist.' : 'No description.' }));
      descEditor.hidden = true;
      descView.hidden = false;
      if (descEdit) descEdit.hidden = false;
    },
    begin: () => { descView.hidden = true; if (descEdit) descEdit.hidden = true; descEditor.hidden = false; },
  });

  function fill(card) {
    columnSelect.replaceChildren(...store.orderedColumns().map((c) => el('option', { value: c.id, selected: c.id === card.column_id, text: c.name })));
    doneBox.checked = !!card.done;
    if (document.activeElement !== dueInput && document.activeElement !== dueTimeInput) {
      dueInput.value = dueDay(card.due_at, card.due_has_time);
      dueTimeInput.value = dueTime(card.due_at, card.due_has_time);
    }
    fillSets(store, card, canWrite);
  }

  function open(id) {
    const card = store.cards.get(id);
    if (!card) return;
    current = id;
    fill(card);
    title.open(card);
    description.open(card);
    clear($('cd-due-choice'));
    for (const section of sections) section.open(id);
    // Sections in modules of their own (attachments) load the card they are told of.
    dialog.dispatchEvent(new CustomEvent('card-open', { detail: { id } }));
    dialog.showModal();
    fitTitle();
    dialog.focus();
    history.replaceState(null, '', `/boards/${store.board.id}/cards/${id}` + location.search);
  }

  store.addEventListener('card', (e) => {
    const { id, card, event } = e.detail;
    if (id !== current || !dialog.open) return;
    if (!card) {
      const how = event.kind === 'card.deleted' ? 'deleted' : 'archived';
      if (event.actor !== store.me) toast(`This card was ${how} by ${store.nameOf(event.actor)}.`, 'error');
      return dialog.close();
    }
    fill(card);
    title.changed(card, event);
    description.changed(card, event);
  });
  const refill = () => { if (current && dialog.open && store.cards.get(current)) fill(store.cards.get(current)); };
  for (const type of ['label', 'member', 'column', 'reset']) store.addEventListener(type, refill);

  columnsEl.addEventListener('click', (event) => {
    const card = event.target.closest('.card');
    if (card && !event.target.closest('[data-action]')) open(Number(card.dataset.cardId));
  });
  columnsEl.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && event.target.matches('.card')) open(Number(event.target.dataset.cardId));
  });

  /// A change that is not typed text (no precondition): done, labels, assignees, archive.
  async function patch(changes) {
    try {
      await sync.write('PATCH', `/cards/${current}`, changes);
    } catch (error) {
      toast(error.message, 'error');
      refill();
    }
  }

  titleInput.addEventListener('input', fitTitle);
  titleInput.addEventListener('keydown', (event) => { if (event.key === 'Enter') { event.preventDefault(); titleInput.blur(); } });
  titleInput.addEventListener('change', () => title.save());
  if (descEdit) descEdit.addEventListener('click', () => { description.start(); description.input.focus(); });
  $('cd-description-cancel').addEventListener('click', () => description.discard());
  // A task ticked in the shown description saves the description with it ticked, as an edit of
  // the version shown: someone else's change meanwhile gets the usual choice.
  descView.addEventListener('change', (event) => {
    const box = event.target.closest('input[data-task]');
    if (!box || !canWrite || !description.card) return;
    descView.querySelectorAll('input[data-task]').forEach((b) => { b.disabled = true; });
    description.saveValue(toggleTask(description.card.description ?? '', Number(box.dataset.task)));
  });
  $('cd-description-save').addEventListener('click', async (event) => {
    event.target.disabled = true;
    await description.save();
    event.target.disabled = false;
  });

  columnSelect.addEventListener('change', async () => {
    const to = Number(columnSelect.value);
    try {
      const last = store.cardsIn(to).filter((c) => c.id !== current).pop();
      await sync.write('POST', `/cards/${current}/move`, last ? { column_id: to, after: last.id } : { column_id: to, index: 0 });
    } catch (error) { toast(error.message, 'error'); refill(); }
  });
  doneBox.addEventListener('change', () => patch({ done: doneBox.checked }));

  // Due saves go one after the other, each on the version the previous one produced: a day and
  // then a time changed in quick succession are two edits of one person, not a conflict between them.
  let dueSaves = Promise.resolve();
  function saveDue(value) {
    const id = current;
    dueSaves = dueSaves.then(() => saveDueNow(id, value));
    return dueSaves;
  }
  async function saveDueNow(id, value) {
    const card = store.cards.get(id);
    if (!card) return;
    try {
      const result = await saveTyped({ send: (v) => sync.write('PATCH', `/cards/${id}`, value, { ifMatch: v }),
                                       field: 'due_at', base: card.due_at, version: card.version, key: 'card', sync });
      if (!result.conflict) return;
      const theirs = result.conflict.due_at ? formatDue(result.conflict.due_at, result.conflict.due_has_time) : '(none)';
      offerChoice($('cd-due-choice'), {
        who: store.nameOf(store.lastActor(id)), what: 'The due date', theirs,
        onKeep: () => sync.write('PATCH', `/cards/${id}`, value, { ifMatch: result.conflict.version }).catch((e) => toast(e.message, 'error')),
        onTake: refill,
      });
    } catch (error) { toast(error.message, 'error'); refill(); }
  }
  // A day alone is due that day; a time makes it due at that moment of the reader's time zone.
  const saveTypedDue = () => {
    if (!dueInput.value && dueTimeInput.value) return; // a time waits for its day
    saveDue(dueValue(dueInput.value, dueTimeInput.value));
  };
  dueInput.addEventListener('change', saveTypedDue);
  dueTimeInput.addEventListener('change', saveTypedDue);
  const dueClear = $('cd-due-clear');
  if (dueClear) dueClear.addEventListener('click', () => { dueInput.value = ''; dueTimeInput.value = ''; saveDue(dueValue('', '')); });

  initCardSets(store, sync, () => current, patch);

  /// Archive or delete, then a toast whose Undo writes the reverse: restore the archived card, or
  /// make the deleted one again where it was (with its fields; its comments are gone).
  function removal(button, question, method, body, done, undo) {
    if (!button) return;
    button.addEventListener('click', async () => {
      const id = current;
      if (!confirm(question)) return;
      const card = store.cards.get(id);
      const place = store.placeOf(id);
      // What the dialog's sections can make again (checklists), as they are before the write.
      const saved = sections.map((section) => [section, section.snapshot ? section.snapshot() : null]);
      try {
        await sync.write(method, `/cards/${id}`, body);
        dialog.close();
        if (card && place) toast(done, null, { label: 'Undo', run: () => undo(id, card, place, saved) });
      } catch (error) { toast(error.message, 'error'); }
    });
  }
  removal($('cd-archive'), 'Archive this card? It leaves the board; its history stays.', 'PATCH', { archived: true }, 'Card archived.',
    (id) => sync.write('PATCH', `/cards/${id}`, { archived: false }));
  removal($('cd-delete'), 'Delete this card, its comments and its attachments for good?', 'DELETE', undefined, 'Card deleted.',
    async (id, card, place, saved) => {
      const made = await sync.write('POST', '/cards', { column_id: card.column_id, title: card.title, description: card.description || '' });
      const newID = made.card.id;
      const fields = { done: card.done, due_at: card.due_at || null, due_has_time: !!card.due_has_time };
      if (card.labels.length) fields.add_labels = card.labels;
      if (card.assignees.length) fields.add_assignees = card.assignees;
      await sync.write('PATCH', `/cards/${newID}`, fields);
      if (place.after !== id && place.before !== id) await sync.write('POST', `/cards/${newID}/move`, place);
      for (const [section, snapshot] of saved) if (snapshot && section.restore) await section.restore(newID, snapshot);
      toast('Card restored with its checklists (without its comments and attachments).');
    });

  document.querySelectorAll('[data-action="close-dialog"]').forEach((button) => {
    button.addEventListener('click', () => button.closest('dialog').close());
  });
  // A click on the backdrop (outside the dialog box) closes it; typed text stays as a draft.
  for (const d of [dialog, $('column-dialog')]) d.addEventListener('click', (event) => { if (event.target === d) d.close(); });

  dialog.addEventListener('close', () => {
    const id = current;
    current = null;
    title.close();
    description.close();
    for (const section of sections) section.close();
    if (location.hash || /\/cards\/\d+$/.test(location.pathname)) {
      history.replaceState(null, '', `/boards/${store.board.id}` + location.search);
    }
    const node = id && columnsEl.querySelector(`.card[data-card-id="${id}"]`);
    if (node) node.focus({ preventScroll: true });
  });

  // A card's address (/boards/B/cards/C; #card-C in older links) opens its dialog.
  const linked = /\/cards\/(\d+)$/.exec(location.pathname) || /^#card-(\d+)$/.exec(location.hash);
  if (linked) {
    const id = Number(linked[1]);
    if (store.cards.has(id)) {
      open(id);
    } else {
      history.replaceState(null, '', `/boards/${store.board.id}` + location.search);
      toast('That card is not on this board any more: it was deleted or moved to another board.', 'error');
    }
  }
  return { open };
}
