/// The notification bell in the top bar: the unread count, from GET /notifications.
///
/// It is read when a page loads, when the tab becomes visible again, and, on a board page, a
/// moment after an event that may have notified the reader (see pages/board/live.js): the bell
/// needs no polling and no channel of its own.
import { api } from './api.js';

/// Reads the unread count and shows it on the bell.
export async function refreshBell() {
  const badge = document.getElementById('bell-count');
  if (!badge) return;
  try {
    const page = await api('GET', '/notifications?unread=true&limit=1');
    badge.textContent = page.unread_count > 99 ? '99+' : String(page.unread_count);
    badge.hidden = page.unread_count === 0;
  } catch { /* the bell is a convenience; the page works without it */ }
}

let timer = null;
/// Reads the count again after `delay` ms (several calls within the delay read it once).
export function refreshBellSoon(delay = 1000) {
  clearTimeout(timer);
  timer = setTimeout(refreshBell, delay);
}

/// Every page: read now and whenever the reader comes back to the tab.
export function initBell() {
  refreshBell();
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') refreshBellSoon(200); });
}
