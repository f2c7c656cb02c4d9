/// Drafts of text a person typed and has not saved, kept in sessionStorage (per tab, survives a
/// reload) so that Esc, a closed dialog or a reload never throws typed text away.
///
/// A draft is `{value, base, baseVersion}`: the text, the saved value it started from and the
/// object's version then (the save's precondition).

const PREFIX = 'tack:draft:';

/// The draft under `key`, or null.
export function loadDraft(key) {
  try {
    const text = sessionStorage.getItem(PREFIX + key);
    return text ? JSON.parse(text) : null;
  } catch { return null; }
}

/// Keeps a draft; a value equal to its base is no draft and is removed.
export function saveDraft(key, draft) {
  try {
    if (draft.value === draft.base) sessionStorage.removeItem(PREFIX + key);
    else sessionStorage.setItem(PREFIX + key, JSON.stringify(draft));
  } catch { /* storage full or off: the text stays in the field as long as the page does */ }
}

/// Forgets a draft (saved, or discarded on purpose).
export function clearDraft(key) {
  try { sessionStorage.removeItem(PREFIX + key); } catch { /* see saveDraft */ }
}
