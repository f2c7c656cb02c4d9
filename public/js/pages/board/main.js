/// The board page: one BoardState store made from the snapshot the page embeds, and the modules
/// that show and change it. They talk only through the store (and its Sync for writes).
import { BoardState } from './state.js';
import { Sync } from './sync.js';
import { BoardRenderer } from './render.js';
import { initQuickAdd } from './quick-add.js';
import { initDragAndDrop } from './dnd.js';
import { initColumnDialog } from './column-dialog.js';
import { initCardDialog } from './card-dialog.js';
import { Comments } from './comments.js';
import { Attachments } from './attachments.js';
import { Checklists } from './checklists.js';
import { initLive } from './live.js';
import { initExports } from './exports.js';
import { initFilter } from './filter.js';
import { initBoardDialog } from './board-dialog.js';
import { initColumnDragging } from './column-dnd.js';
import { initKeys } from './keys.js';
import { initBoardActivity, initCardActivity } from './activity.js';
import { toast } from '../../lib/dom.js';

export function init() {
  const root = document.getElementById('board');
  const columnsEl = document.getElementById('columns');
  const snapshot = JSON.parse(document.getElementById('board-snapshot').textContent);
  const store = new BoardState(snapshot, Number(document.body.dataset.userId) || null);
  const sync = new Sync(store);
  const renderer = new BoardRenderer(store, root);
  const canWrite = root.dataset.canWrite === 'true';
  if (canWrite) {
    initQuickAdd(store, sync, columnsEl);
    initDragAndDrop(store, sync, columnsEl);
    initColumnDialog(store, sync, columnsEl);
    initColumnDragging(store, sync, columnsEl, renderer);
  }
  const attachments = new Attachments(store, sync, columnsEl);
  const dialog = initCardDialog(store, sync, columnsEl, [new Comments(store, sync), new Checklists(store, sync), initCardActivity(store, sync)]);
  const push = initLive(store, sync, root);
  // A restored column's cards are not in any event: read the board again.
  store.addEventListener('column', (e) => {
    if (e.detail.restored) sync.reload().catch((error) => toast(error.message, 'error'));
  });
  initKeys(store, sync, columnsEl, dialog, canWrite);
  initExports(root);
  const filter = initFilter(store, root);
  initBoardDialog(store, sync, root);
  initBoardActivity(store, sync, root);

  // For tests and the console: the board's state, read-only.
  window.TackBoard = {
    version: () => store.version,
    card: (id) => store.cards.get(id),
    store,
    push,
    open: dialog.open,
    filter,
    attachments,
  };
}
