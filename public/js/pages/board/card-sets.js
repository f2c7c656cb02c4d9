/// The card dialog's labels and assignees: one toggle per label and member, and a form for a new
/// label. A toggle sends one add or remove operation, which the server merges with other people's
/// (two people toggling different labels at once both keep theirs).
import { avatar, el, onSubmit, paintLabel } from '../../lib/dom.js';

/// Shows `card`'s labels and assignees as toggles.
export function fillSets(store, card, canWrite) {
  const labels = document.getElementById('cd-labels');
  labels.replaceChildren(...[...store.labels.values()].sort((a, b) => a.name.localeCompare(b.name)).map((label) => {
    const on = card.labels.includes(label.id);
    const chip = el('button', { type: 'button', class: 'toggle label-toggle' + (on ? ' is-on' : ''), 'aria-pressed': String(on), disabled: !canWrite, dataset: { labelId: label.id } },
      el('span', { class: 'swatch' }), label.name);
    paintLabel(chip.querySelector('.swatch'), label.color);
    return chip;
  }));
  if (!store.labels.size) labels.append(el('p', { class: 'muted small', text: 'No labels on this board yet.' }));
  document.getElementById('cd-assignees').replaceChildren(...[...store.members.values()].map((m) => {
    const on = card.assignees.includes(m.user_id);
    return el('button', { type: 'button', class: 'toggle member-toggle' + (on ? ' is-on' : ''), 'aria-pressed': String(on), disabled: !canWrite,
      dataset: { userId: m.user_id, search: `${m.name} ${m.email}`.toLowerCase() } },
      avatar(m.user_id, m.name, true), m.name);
  }));
  filterAssignees();
}

/// Shows only the member toggles whose name or email holds what is typed in the assignee search.
function filterAssignees() {
  const search = document.getElementById('cd-assignee-search');
  const typed = search ? search.value.trim().toLowerCase() : '';
  for (const toggle of document.querySelectorAll('#cd-assignees .member-toggle')) {
    toggle.hidden = typed !== '' && !toggle.dataset.search.includes(typed);
  }
}

/// Wires the toggles and the new-label form; `current()` is the open card's id, `patch` sends a
/// card change without a precondition.
export function initCardSets(store, sync, current, patch) {
  if (store.board.role === 'viewer') return;
  function toggle(set, addKey, removeKey, itemId) {
    const on = store.cards.get(current())[set].includes(itemId);
    return patch({ [on ? removeKey : addKey]: [itemId] });
  }
  const search = document.getElementById('cd-assignee-search');
  if (search) search.addEventListener('input', filterAssignees);
  document.getElementById('cd-labels').addEventListener('click', (event) => {
    const button = event.target.closest('[data-label-id]');
    if (button) toggle('labels', 'add_labels', 'remove_labels', Number(button.dataset.labelId));
  });
  document.getElementById('cd-assignees').addEventListener('click', (event) => {
    const button = event.target.closest('[data-user-id]');
    if (button) toggle('assignees', 'add_assignees', 'remove_assignees', Number(button.dataset.userId));
  });
  const newLabel = document.getElementById('cd-new-label');
  if (newLabel) {
    onSubmit(newLabel, async (form) => {
      const name = form.elements.name.value.trim();
      if (!name) { form.elements.name.focus(); return; }
      const reply = await sync.write('POST', '/labels', { name, color: form.elements.color.value });
      form.elements.name.value = '';
      await patch({ add_labels: [reply.label.id] });
    });
  }
}
