/// Board events in people's words: "moved this card from To do to Doing", "added the label
/// urgent to “Fix login”", "commented". The actor's name comes first and is not part of the
/// sentence returned here (the list shows it in bold).
///
/// An update's event carries the object as written, not what changed: the change is found by
/// comparing with `before`, the same object's payload one event earlier, when the caller has it
/// (otherwise the sentence stays general: "changed this card"). Any other kind, or a payload
/// of a shape not foreseen, gets a general sentence too; describing never throws.
import { formatDue } from '../../lib/dom.js';

const quoted = (text) => `“${clip(text, 80)}”`;

/// `text` cut to `max` characters at most (an ellipsis marks the cut), on one line.
export function clip(text, max) {
  const line = String(text ?? '').replace(/\s+/g, ' ').trim();
  return line.length > max ? line.slice(0, max - 1) + '…' : line;
}

/// "A", "A and B", "A, B and C".
function joined(words) {
  return words.length < 2 ? words.join('') : words.slice(0, -1).join(', ') + ' and ' + words[words.length - 1];
}

/// The sentence (without the actor) for `event` (the store's shape: kind, actor, card, data).
/// `where`: 'card' in the card's own dialog (the card is "this card"), 'board' in the board's list.
/// `names`: person(id), column(id), labels(ids), cardTitle(id), each a name or null.
export function sentence(event, before, names, where) {
  try {
    return describe(event, before, names, where) || general(event, names, where);
  } catch {
    return general(event, names, where);
  }
}

function general(event, names, where) {
  if (event.card == null) return 'changed the board';
  return where === 'card' ? 'changed this card' : `changed ${cardRef(event.card, names)}`;
}

function cardRef(id, names) {
  const title = names.cardTitle(id);
  return title ? quoted(title) : 'a card';
}

function describe(event, before, names, where) {
  const data = event.data || {};
  const [what, verb] = String(event.kind).split('.');
  const inCard = where === 'card';
  // The card an event concerns, as the sentence names it the first time.
  const card = inCard ? 'this card' : cardRef(what === 'card' ? data.id ?? event.card : event.card ?? data.card_id, names);
  const on = inCard ? '' : ` on ${card}`;
  switch (what) {
    case 'card': return cardSentence(verb, data, before, names, inCard, card);
    case 'comment':
      return { created: inCard ? 'commented' : `commented on ${card}`, updated: `edited a comment${on}`,
               deleted: `deleted a comment${on}` }[verb];
    case 'checklist':
      return { created: `added the checklist ${quoted(data.title)}${inCard ? '' : ` to ${card}`}`,
               updated: before && before.title !== data.title ? `renamed the checklist ${quoted(before.title)} to ${quoted(data.title)}${on}`
                 : `changed the checklist ${quoted(data.title)}${on}`,
               deleted: `deleted a checklist${on}` }[verb];
    case 'checklist_item': {
      if (verb === 'created') return `added ${quoted(data.text)} to a checklist${on}`;
      if (verb === 'deleted') return `removed an item from a checklist${on}`;
      if (verb !== 'updated') return null;
      if (before && before.done !== data.done) return `${data.done ? 'ticked' : 'unticked'} ${quoted(data.text)}${on}`;
      return `changed the checklist item ${quoted(data.text)}${on}`;
    }
    case 'attachment':
      return { added: `attached ${quoted(data.name)}${inCard ? '' : ` to ${card}`}`, deleted: `removed an attachment${on}` }[verb];
    case 'column': return columnSentence(verb, data, before, names);
    case 'label': {
      const name = data.name ?? names.labels([data.id]).names[0];
      const label = name ? `the label ${name}` : 'a label';
      if (verb === 'updated' && before && before.name !== data.name) return `renamed the label ${before.name} to ${data.name}`;
      if (verb === 'updated' && before && before.color !== data.color) return `changed the colour of ${label}`;
      return { created: `created ${label}`, updated: `changed ${label}`, deleted: `deleted ${label}` }[verb];
    }
    case 'member': {
      const self = data.user_id === event.actor;
      const who = names.person(data.user_id) || data.name || 'a former member';
      const role = { owner: 'the owner', admin: 'an admin', member: 'a member', viewer: 'a viewer' }[data.role];
      if (verb === 'added') return self ? 'joined the board' : `added ${who} to the board${role && data.role !== 'member' ? ` as ${role}` : ''}`;
      if (verb === 'removed') return self ? 'left the board' : `removed ${who} from the board`;
      if (verb === 'updated' && role) return `made ${who} ${role}`;
      return null;
    }
    case 'board': {
      if (verb === 'created') return 'created the board';
      if (verb !== 'updated') return null;
      if (before && data.name !== undefined && before.name !== data.name) return `renamed the board to ${quoted(data.name)}`;
      if (before && data.archived !== undefined && before.archived !== data.archived) return data.archived ? 'archived the board' : 'restored the board';
      if (before && data.description !== undefined && before.description !== data.description) return "changed the board's description";
      return 'changed the board';
    }
  }
  return null;
}

function columnSentence(verb, data, before, names) {
  const name = data.name ?? names.column(data.id);
  const column = name ? `the column ${name}` : 'a column';
  if (verb === 'created') return `added ${column}`;
  if (verb === 'deleted') return `deleted ${column}`;
  if (verb !== 'updated') return null;
  if (!before) return `changed ${column}`;
  if (before.archived !== data.archived) return `${data.archived ? 'archived' : 'restored'} ${column}`;
  if (before.name !== data.name) return `renamed the column ${before.name} to ${data.name}`;
  if ((before.wip_limit ?? null) !== (data.wip_limit ?? null)) {
    return data.wip_limit ? `set the card limit of ${column} to ${data.wip_limit}` : `removed the card limit of ${column}`;
  }
  if (before.position !== data.position) return `moved ${column}`;
  return `changed ${column}`;
}

/// A card's event: every change found, the card named once ("… and marked it done").
function cardSentence(verb, data, before, names, inCard, card) {
  const column = (id) => names.column(id) || 'another column';
  if (verb === 'created') return inCard ? `created this card in ${column(data.column_id)}` : `added ${card} to ${column(data.column_id)}`;
  if (verb === 'deleted') return `deleted ${card}`;
  if (verb !== 'updated' && verb !== 'moved') return null;
  if (!before) return verb === 'moved' ? `moved ${card} to ${column(data.column_id)}` : null;
  // Each change as a phrase of `it` (the card's name the first time, "it" after).
  const phrases = [];
  const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  if (before.archived !== data.archived && data.archived !== undefined) phrases.push((it) => `${data.archived ? 'archived' : 'restored'} ${it}`);
  if (before.title !== data.title) phrases.push((it, first) => inCard || !first ? `renamed ${it} to ${quoted(data.title)}` : `renamed ${quoted(before.title)} to ${quoted(data.title)}`);
  if (before.column_id !== data.column_id) phrases.push((it) => `moved ${it} from ${column(before.column_id)} to ${column(data.column_id)}`);
  else if (before.position !== data.position && verb === 'moved') phrases.push((it) => `moved ${it} within ${column(data.column_id)}`);
  if (before.done !== data.done) phrases.push((it) => `marked ${it} ${data.done ? 'done' : 'not done'}`);
  if (!same(before.description, data.description)) {
    const task = tickedTask(before.description || '', data.description || '');
    phrases.push((it, first) => task ? `${task.done ? 'ticked' : 'unticked'} ${quoted(task.text)}${inCard ? '' : ` in ${it}`}`
      : `changed the description${inCard && first ? '' : ` of ${it}`}`);
  }
  if (!same(before.due_at, data.due_at) || before.due_has_time !== data.due_has_time) {
    phrases.push((it, first) => data.due_at
      ? `set the due date${inCard && first ? '' : ` of ${it}`} to ${formatDue(data.due_at, data.due_has_time)}`
      : `removed the due date${inCard && first ? '' : ` of ${it}`}`);
  }
  const sets = [['labels', (ids) => labelWords(ids, names)], ['assignees', (ids) => joined(ids.map((id) => names.person(id) || 'a former member'))]];
  for (const [field, words] of sets) {
    const was = new Set(before[field] || []);
    const now = new Set(data[field] || []);
    const added = [...now].filter((id) => !was.has(id));
    const removed = [...was].filter((id) => !now.has(id));
    if (field === 'labels') {
      if (added.length) phrases.push((it) => `added ${words(added)}${inCard ? '' : ` to ${it}`}`);
      if (removed.length) phrases.push((it) => `removed ${words(removed)}${inCard ? '' : ` from ${it}`}`);
    } else {
      if (added.length) phrases.push((it) => `assigned ${words(added)}${inCard ? '' : ` to ${it}`}`);
      if (removed.length) phrases.push((it) => `unassigned ${words(removed)}${inCard ? '' : ` from ${it}`}`);
    }
  }
  if (!phrases.length) return verb === 'moved' ? `moved ${card}` : null;
  return joined(phrases.map((phrase, i) => phrase(i === 0 ? card : 'it', i === 0)));
}

function labelWords(ids, names) {
  const { names: known, unknown } = names.labels(ids);
  if (unknown) return ids.length === 1 ? 'a label' : `${ids.length} labels`;
  return (known.length === 1 ? 'the label ' : 'the labels ') + joined(known);
}

/// The task a description change ticked or unticked, when that is all it did.
function tickedTask(before, after) {
  if (before.length !== after.length) return null;
  let at = -1;
  for (let i = 0; i < before.length; i++) {
    if (before[i] === after[i]) continue;
    if (at !== -1) return null;
    at = i;
  }
  if (at === -1 || !/^[ xX]$/.test(before[at]) || !/^[ xX]$/.test(after[at])) return null;
  const start = after.lastIndexOf('\n', at) + 1;
  const end = after.indexOf('\n', at);
  const line = after.slice(start, end === -1 ? after.length : end);
  const task = /^\s*[-*+]\s+\[([ xX])\]\s+(.*)$/.exec(line);
  if (!task || start + line.indexOf('[') + 1 !== at) return null;
  return { done: task[1] !== ' ', text: task[2] };
}
