/// /boards: the new-board form (the list is rendered by the server).
import { api } from '../lib/api.js';
import { onSubmit } from '../lib/dom.js';

export function init() {
  const form = document.getElementById('new-board');
  onSubmit(form, async () => {
    const reply = await api('POST', '/boards', {
      name: form.elements.name.value.trim(),
      description: form.elements.description.value.trim(),
    });
    location.assign('/boards/' + reply.board.id);
  });
}
