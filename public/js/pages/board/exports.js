/// "Export JSON/CSV/ZIP": asks a worker for the file, waits for it, then downloads it.
import { api } from '../../lib/api.js';
import { toast } from '../../lib/dom.js';

export function initExports(root) {
  root.addEventListener('click', async (event) => {
    const button = event.target.closest('[data-action="export"]');
    if (!button) return;
    const base = `/boards/${root.dataset.boardId}/exports`;
    button.disabled = true;
    try {
      const reply = await api('POST', base, { format: button.dataset.format });
      toast('Preparing the export…');
      for (let i = 0; i < 120; i++) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        const current = await api('GET', `${base}/${reply.export.id}`);
        if (current.export.status === 'ready') return location.assign(`/api/v1${base}/${reply.export.id}/download`);
        if (current.export.status === 'failed') throw new Error('The export failed: ' + (current.export.error || 'unknown error'));
      }
      throw new Error('The export is taking long; find it again in a minute.');
    } catch (error) {
      toast(error.message, 'error');
    } finally {
      button.disabled = false;
    }
  });
}
