/// "Changed by <name>" with a choice, for a value the reader is editing while someone else
/// changed it (seen live, or answered by a 412 to a save): keep mine or take theirs. Their value
/// is shown, so neither text is lost whichever is chosen.
import { el } from '../../lib/dom.js';

/// Shows the choice in `box` (emptied first). `theirs` is shown as text; `onKeep`/`onTake` run on
/// the buttons, after which the box empties.
export function offerChoice(box, { who, what, theirs, onKeep, onTake }) {
  const done = (action) => () => { clear(box); action(); };
  box.replaceChildren(
    el('p', { class: 'conflict-head', text: `${what} was changed by ${who} while you were editing.` }),
    theirs === null ? null : el('blockquote', { class: 'conflict-theirs', text: theirs === '' ? '(empty)' : theirs }),
    el('div', { class: 'row' },
      el('button', { type: 'button', class: 'button button-small button-primary', dataset: { action: 'keep-mine' }, text: 'Keep mine' }),
      el('button', { type: 'button', class: 'button button-small', dataset: { action: 'take-theirs' }, text: 'Take theirs' })));
  box.querySelector('[data-action="keep-mine"]').addEventListener('click', done(onKeep));
  box.querySelector('[data-action="take-theirs"]').addEventListener('click', done(onTake));
  box.hidden = false;
}

/// Removes a choice.
export function clear(box) {
  box.replaceChildren();
  box.hidden = true;
}

/// Saves a typed value with its precondition. `send(version)` makes the write; on a 412 whose
/// current object still holds `base` for `field` (someone changed another field), it is sent again
/// with the current version, silently; otherwise the 412's object is returned as
/// `{conflict: current}` for the caller to offer the choice, once the store has caught up with
/// the change (so "take theirs" finds it there).
export async function saveTyped({ send, field, base, version, key, sync }) {
  try {
    return { reply: await send(version) };
  } catch (error) {
    const current = error.status === 412 && error.body && error.body[key];
    if (!current) throw error;
    await sync.catchUp().catch(() => {});
    if (same(current[field], base)) return { reply: await send(current.version) };
    return { conflict: current };
  }
}

/// Equal as saved values (null and '' alike for optional texts).
export function same(a, b) {
  return (a ?? '') === (b ?? '');
}
