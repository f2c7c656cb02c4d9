/// The board live: a push subscription from the snapshot's version, its events into the store,
/// a new snapshot on `resync`, the live / reconnecting / offline indicator, presence avatars, and
/// the bell read again when an event may have notified the reader.
///
/// push.js reconnects with backoff and full jitter and resumes from the last version it
/// delivered; the store drops what it already has, so events from write replies, push and
/// catch-ups mix freely.
import { PushClient } from '../../lib/push.js';
import { refreshBellSoon } from '../../lib/bell.js';
import { avatar, toast } from '../../lib/dom.js';

/// Events that may have made a notification for the reader: a comment (a mention) or a card
/// whose assignees now include them, made by someone else.
function mayNotify(event, store, previous) {
  if (event.actor === store.me) return false;
  if (event.kind === 'comment.created' || event.kind === 'comment.updated') return true;
  if (!event.kind.startsWith('card.') || !event.data || !Array.isArray(event.data.assignees)) return false;
  return event.data.assignees.includes(store.me) && !(previous && previous.assignees.includes(store.me));
}

export function initLive(store, sync, root) {
  const board = store.board.id;
  const indicator = root.querySelector('#live-status');
  const presence = root.querySelector('#presence');
  const push = new PushClient();
  let everConnected = false;

  function show(state, text) {
    if (!indicator) return;
    indicator.dataset.state = state;
    indicator.textContent = text;
    indicator.title = { live: 'Changes by others appear as they happen.', reconnecting: 'Connection lost; reconnecting…',
                        offline: 'You are offline; changes appear when you are back.', connecting: 'Connecting…' }[state];
  }
  const status = () => {
    if (!navigator.onLine) show('offline', 'Offline');
    else if (push.connected) show('live', 'Live');
    else show(everConnected ? 'reconnecting' : 'connecting', everConnected ? 'Reconnecting…' : 'Connecting…');
  };

  push.addEventListener('status', (e) => { if (e.detail.connected) everConnected = true; status(); });
  addEventListener('online', status);
  addEventListener('offline', status);
  push.addEventListener('event', (e) => {
    const event = e.detail;
    const previous = event.data && store.cards.get(event.data.id);
    store.apply(event);
    if (mayNotify(event, store, previous)) refreshBellSoon(1500);
  });
  push.addEventListener('resync', () => sync.reload().catch((error) => toast(error.message, 'error')));
  push.addEventListener('presence', (e) => {
    if (!presence) return;
    presence.replaceChildren(...e.detail.users.map((u) => {
      const a = avatar(u.id, u.name, true);
      a.dataset.userId = u.id;
      a.title = `${u.name} is on this board`;
      return a;
    }));
  });
  push.addEventListener('unsubscribed', (e) => {
    if (e.detail.reason === 'requested') return;
    toast(e.detail.reason === 'deleted' ? 'This board was deleted.' : 'You were removed from this board.', 'error');
    setTimeout(() => location.assign('/boards'), 2500);
  });
  push.addEventListener('signedout', () => location.assign('/login?next=' + encodeURIComponent(location.pathname)));
  store.addEventListener('member', (e) => {
    if (e.detail.event.kind === 'member.removed' && e.detail.id === store.me) push.unsubscribe(board);
  });

  status();
  push.subscribe(board, store.version);
  return push;
}
