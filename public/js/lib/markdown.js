/* Tack: a small, safe Markdown subset for card descriptions and comments.
 *
 * Safety comes from the order of work: the whole text is HTML-escaped first, so nothing the
 * author typed can become a tag or an attribute; only then are the few constructs below turned
 * into tags this file writes itself. Links are made only for http:// and https:// addresses
 * (no javascript:, data: or relative URLs), and open in a new tab without a referrer.
 *
 * Supported: paragraphs (a blank line between them; single line breaks are kept), **bold**,
 * *italic*, `code`, [text](https://…), bare https:// addresses, "- " / "* " lists and "1. " lists,
 * task lists ("- [ ] " / "- [x] ", numbered in order for toggling: see toggleTask), headings
 * ("# " to "###### ", shown as h3-h5 inside a card), block quotes ("> "), fenced code (```, the
 * language after it is dropped), and tables (a "| a | b |" row over a "|---|---|" row).
 *
 * Cost: the text is read once, line by line, and a line's first character says which block it
 * may start. Within a line every construct is found with indexOf or a search for one character
 * class (native scans that never backtrack), and a try that fails resumes where it stopped rather
 * than where it began, so the work stays linear in the text. (Regular expressions over whole
 * lines did backtrack: an unclosed '[' repeated over 100,000 characters once took 0.5 s, and
 * five replace passes per line made short-line inputs the slowest.) fuzz/markdown checks the
 * cost on inputs of 100,000 characters.
 */
const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHTML(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const LINK_END = '" target="_blank" rel="noopener noreferrer nofollow">';

/** Markdown text → HTML that is safe to assign to innerHTML. */
export function render(source) {
  const lines = linesOf(escapeHTML(withoutNul(source)));
  // Written as it is read: at most one block is open at a time (and one list item, which the
  // indented lines below it continue).
  const out = [];
  let open = null; // a key of CLOSE
  let item = null; // {text, task: null | true | false, index}
  let tasks = 0;
  const begin = (kind, html) => {
    close();
    if (out.length) out.push('\n');
    out.push(html);
    open = kind;
  };
  const close = () => {
    if (item) out.push(listItemHTML(item));
    if (open) out.push(CLOSE[open]);
    item = null;
    open = null;
  };

  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    const start = leadOf(line);
    if (open === 'pre') {
      if (isFenceEnd(line, start)) close();
      else out.push(out[out.length - 1] === '<pre><code>' ? line : '\n' + line);
      continue;
    }
    if (start === line.length) { close(); continue; }
    // The first character says which block the line can start: one look each, at most.
    const first = line[start];
    if (first === '`' && isFenceStart(line, start)) { begin('pre', '<pre><code>'); continue; }
    if (first === '|') {
      if (open === 'table') { out.push(rowHTML(line, 'td')); continue; }
      if (n + 1 < lines.length && isSeparator(lines[n + 1])) {
        begin('table', '<table><thead>' + rowHTML(line, 'th') + '</thead><tbody>');
        n++;
        continue;
      }
    }
    const heading = first === '#' && start <= 3 ? headingOf(line, start) : null;
    if (heading) {
      begin(null, '<h' + heading.level + '>' + inline(heading.text) + '</h' + heading.level + '>');
      continue;
    }
    if (first === '&' && start <= 3 && line.startsWith('&gt;', start) && isSpaces(line, start)) {
      if (open === 'quote') out.push('<br>');
      else begin('quote', '<blockquote><p>');
      out.push(inline(quotedText(line, start + 4)));
      continue;
    }
    const listed = MARKERS.indexOf(first) !== -1 ? listItemOf(line, start) : null;
    if (listed) {
      const tag = listed.ordered ? 'ol' : 'ul';
      if (open !== tag) begin(tag, '<' + tag + '>');
      else out.push(listItemHTML(item));
      const task = listed.ordered ? null : taskOf(listed.text);
      item = task ? { text: task.text, task: task.done, index: tasks++ } : { text: listed.text, task: null };
      continue;
    }
    if ((open === 'ul' || open === 'ol') && start >= 2) { // an indented line continues the list item
      item.text += ' ' + line.trim();
      continue;
    }
    if (open === 'p') out.push('<br>');
    else begin('p', '<p>');
    out.push(inline(line.trim()));
  }
  close(); // an unclosed fence runs to the end
  return out.join('');
}

const CLOSE = { p: '</p>', quote: '</p></blockquote>', ul: '</ul>', ol: '</ol>', table: '</tbody></table>', pre: '</code></pre>' };

function listItemHTML(item) {
  if (item.task === null) return '<li>' + inline(item.text) + '</li>';
  return '<li><input type="checkbox" data-task="' + item.index + '"' + (item.task ? ' checked' : '') + ' disabled> ' + inline(item.text) + '</li>';
}

/// A table row: the cells between pipes (the outer ones optional), each trimmed.
function rowHTML(line, tag) {
  let from = indentOf(line);
  let end = line.length;
  while (end > from && isSpace(line.charCodeAt(end - 1))) end--;
  if (line[from] === '|') from++;
  if (end > from && line[end - 1] === '|') end--;
  let html = '<tr>';
  for (;;) {
    let bar = line.indexOf('|', from);
    if (bar === -1 || bar > end) bar = end;
    let a = from;
    let b = bar;
    while (a < b && isSpace(line.charCodeAt(a))) a++;
    while (b > a && isSpace(line.charCodeAt(b - 1))) b--;
    html += '<' + tag + '>' + inline(line.slice(a, b)) + '</' + tag + '>';
    if (bar >= end) break;
    from = bar + 1;
  }
  return html + '</tr>';
}

/** The text with its task number `index` (as render numbers them) ticked or unticked; the text
 *  unchanged when there is no such task. */
export function toggleTask(source, index) {
  // The raw text, not the escaped one: escaping changes none of the characters that make a fence
  // or a task, so both see the same lines as fences and tasks.
  const lines = linesOf(withoutNul(source));
  let fence = false;
  let seen = 0;
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    const start = leadOf(line);
    if (fence) { if (isFenceEnd(line, start)) fence = false; continue; }
    if (isFenceStart(line, start)) { fence = true; continue; }
    const item = listItemOf(line, start);
    if (!item || item.ordered || !taskOf(item.text) || seen++ !== index) continue;
    const at = line.length - item.text.length + 1; // the character between the brackets
    lines[n] = line.slice(0, at) + (line[at] === ' ' ? 'x' : ' ') + line.slice(at + 1);
    break;
  }
  return lines.join('\n');
}

function withoutNul(source) {
  return String(source == null ? '' : source).replace(/\u0000/g, '');
}

/// The text's lines, whichever of \n, \r\n or \r ends them (one split; escaping changes neither).
function linesOf(text) {
  return text.indexOf('\r') === -1 ? text.split('\n') : text.split(/\r\n?|\n/);
}

// ---- lines ----------------------------------------------------------------------------------
//
// Scans go through indexOf or a one-character-class search (native, no backtracking); the
// loops written out below read a few characters at a line's edges.

const NOT_SPACE = /\S/;
const NOT_SEPARATOR = /[^\s|:-]/;
const MARKERS = '-*+0123456789';

/// What JavaScript's \s matches (and String.prototype.trim removes), by character code.
function isSpace(c) {
  return c === 32 || (c >= 9 && c <= 13) || (c >= 0xa0 && (c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff));
}

/// The index of the line's first character that is not white space (its length when blank).
function indentOf(line) {
  const i = line.search(NOT_SPACE);
  return i === -1 ? line.length : i;
}

/// indentOf, without a search for the many lines that start with no white space (or are empty).
function leadOf(line) {
  return line.length === 0 || !isSpace(line.charCodeAt(0)) ? 0 : indentOf(line);
}

/// Whether the line's first `count` characters are plain spaces (the indent a heading or quote may have).
function isSpaces(line, count) {
  for (let i = 0; i < count; i++) if (line[i] !== ' ') return false;
  return true;
}

function backticksAt(line, i) {
  let j = i;
  while (j < line.length && line.charCodeAt(j) === 96) j++;
  return j - i;
}

/// "```" or more, then an optional language with no backtick (so "```a```" stays inline code).
function isFenceStart(line, start) {
  const ticks = backticksAt(line, start);
  return ticks >= 3 && line.indexOf('`', start + ticks) === -1;
}

/// "```" or more, alone on the line.
function isFenceEnd(line, start) {
  const ticks = backticksAt(line, start);
  return ticks >= 3 && line.slice(start + ticks).search(NOT_SPACE) === -1;
}

/// "- ", "* ", "+ " (unordered) or up to nine digits and "." or ")" (ordered), then white space.
function listItemOf(line, start) {
  let i = start;
  const c = line[i];
  let ordered = false;
  if (c === '-' || c === '*' || c === '+') {
    i++;
  } else {
    while (i < line.length && i - start < 10 && line.charCodeAt(i) >= 48 && line.charCodeAt(i) <= 57) i++;
    if (i === start || i - start > 9 || (line[i] !== '.' && line[i] !== ')')) return null;
    i++;
    ordered = true;
  }
  if (i >= line.length || !isSpace(line.charCodeAt(i))) return null;
  return { ordered, text: line.slice(i + indentOf(line.slice(i))) };
}

/// "[ ] text" or "[x] text" at the start of an unordered item's text.
function taskOf(text) {
  if (text[0] !== '[' || text[2] !== ']' || (text[1] !== ' ' && text[1] !== 'x' && text[1] !== 'X')) return null;
  if (text.length < 4 || !isSpace(text.charCodeAt(3))) return null;
  const rest = text.slice(4);
  return { done: text[1] !== ' ', text: rest.slice(indentOf(rest)) };
}

/// "# Title" to "###### Title" after at most three spaces; shown as h3 (#), h4 (##) or h5.
function headingOf(line, start) {
  if (!isSpaces(line, start)) return null;
  let i = start;
  while (i < line.length && i - start < 7 && line[i] === '#') i++;
  const hashes = i - start;
  if (hashes > 6 || i === line.length || (line[i] !== ' ' && line[i] !== '\t')) return null;
  while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
  return { level: Math.min(hashes, 3) + 2, text: withoutClosingHashes(line.slice(i)) };
}

// "Title ##" → "Title" (closing hashes after a space).
function withoutClosingHashes(text) {
  let end = text.length;
  while (end > 0 && (text[end - 1] === ' ' || text[end - 1] === '\t')) end--;
  let hashes = end;
  while (hashes > 0 && text[hashes - 1] === '#') hashes--;
  if (hashes < end && (hashes === 0 || text[hashes - 1] === ' ' || text[hashes - 1] === '\t')) end = hashes;
  return text.slice(0, end).trim();
}

/// The text of a quote's line after its "&gt;" (the escaped '>') and one optional space.
function quotedText(line, at) {
  return line.slice(line[at] === ' ' || line[at] === '\t' ? at + 1 : at).trim();
}

// "|---|:--:|" and the like: pipes, dashes, colons and white space only, with a pipe and a dash.
function isSeparator(line) {
  return line.search(NOT_SEPARATOR) === -1 && line.indexOf('|') !== -1 && line.indexOf('-') !== -1;
}

// ---- within a line ----------------------------------------------------------------------------

// Placeholders keep finished pieces (code spans, links) out of reach of the later steps. NUL
// never survives into the input (removed first), so a placeholder cannot be forged.
function hold(held, html) {
  held.push(html);
  return '\u0000' + (held.length - 1) + '\u0000';
}

/// One line (or list item, or cell) of already escaped text.
function inline(text) {
  if (text.indexOf('`') === -1 && text.indexOf('[') === -1 && text.indexOf('*') === -1 && text.indexOf('://') === -1) return text;
  const held = [];
  const s = emphasis(bareLinks(links(codeSpans(text, held), held), held));
  // A held piece may hold earlier ones (a link's label its code spans): fill them in order.
  for (let k = 0; k < held.length; k++) held[k] = restore(held[k], held);
  return restore(s, held);
}

function restore(s, held) {
  let i = s.indexOf('\u0000');
  if (i === -1) return s;
  const out = [];
  let from = 0;
  while (i !== -1) {
    const j = s.indexOf('\u0000', i + 1);
    if (j === -1) break;
    out.push(s.slice(from, i), held[Number(s.slice(i + 1, j))]);
    from = j + 1;
    i = s.indexOf('\u0000', from);
  }
  out.push(s.slice(from));
  return out.join('');
}

/// `code`: the text between two backticks, as it is (no emphasis, no links).
function codeSpans(s, held) {
  let i = s.indexOf('`');
  if (i === -1) return s;
  const out = [];
  let from = 0;
  while (i !== -1) {
    const j = s.indexOf('`', i + 1);
    if (j === -1) break;
    if (j === i + 1) { i = j; continue; } // "``": the second one may open a span
    out.push(s.slice(from, i), hold(held, '<code>' + s.slice(i + 1, j) + '</code>'));
    from = j + 1;
    i = s.indexOf('`', from);
  }
  out.push(s.slice(from));
  return out.join('');
}

/// [label](http(s)://…): the label holds no bracket, the address no white space, parenthesis,
/// bracket or placeholder (a code span there once put <code> inside the href). The text was
/// escaped, so the address holds no quote or angle bracket.
function links(s, held) {
  let i = s.indexOf('[');
  if (i === -1) return s;
  const out = [];
  let from = 0;
  while (i !== -1) {
    const next = s[i + 1];
    const k = next === '[' || next === ']' ? i + 1 : nextMatch(BRACKET, s, i + 1);
    if (k === s.length) break;
    if (s[k] === '[') { i = k; continue; }
    const body = k > i + 1 && s[k + 1] === '(' ? afterScheme(s, k + 2) : -1;
    const end = body === -1 ? -1 : nextMatch(ADDRESS_END, s, body);
    if (end === -1 || end === body || s[end] !== ')') { i = s.indexOf('[', k + 1); continue; }
    out.push(s.slice(from, i), hold(held, '<a href="' + s.slice(k + 2, end) + LINK_END + emphasis(s.slice(i + 1, k)) + '</a>'));
    from = end + 1;
    i = s.indexOf('[', from);
  }
  out.push(s.slice(from));
  return out.join('');
}

const BRACKET = /[[\]]/g;
const ADDRESS_END = /[\s()[\]\u0000]/g;
// Where a bare address ends: white space, '<', a parenthesis, a placeholder or an entity other than "&amp;".
const BARE_ADDRESS_END = /[\s<()\u0000]|&(?!amp;)/g;

/// The index of the first match of the one-character (global) pattern from `at`, else s.length.
function nextMatch(pattern, s, at) {
  pattern.lastIndex = at;
  const match = pattern.exec(s);
  return match ? match.index : s.length;
}

/// The index after "http://" or "https://" (any case) at `at`, or -1.
function afterScheme(s, at) {
  const word = s.slice(at, at + 8).toLowerCase();
  if (word.startsWith('http://')) return at + 7;
  return word === 'https://' ? at + 8 : -1;
}

/// Bare addresses after the line's start, white space or "(". A trailing full stop, comma and
/// the like end the sentence, not the address. The text is escaped, so '&' only starts an
/// entity: an address may hold "&amp;" but ends before any other ("&quot;", "&lt;"…), never
/// inside one (`https://a.b/"` once became href="https://a.b/&quot").
function bareLinks(s, held) {
  let q = s.indexOf('://');
  if (q === -1) return s;
  const out = [];
  let from = 0;
  while (q !== -1) {
    const start = q >= 5 && s.slice(q - 5, q).toLowerCase() === 'https' ? q - 5
      : q >= 4 && s.slice(q - 4, q).toLowerCase() === 'http' ? q - 4 : -1;
    if (start >= from && (start === 0 || s[start - 1] === '(' || isSpace(s.charCodeAt(start - 1)))) {
      const body = q + 3;
      let end = nextMatch(BARE_ADDRESS_END, s, body);
      for (;;) {
        if (end - 5 >= body && s.startsWith('&amp;', end - 5)) end -= 5;
        else if (end > body && '.,;:!?'.indexOf(s[end - 1]) !== -1) end--;
        else break;
      }
      if (end - body >= 2) { // as before: "https://x" alone stays text
        const url = s.slice(start, end);
        out.push(s.slice(from, start), hold(held, '<a href="' + url + LINK_END + url + '</a>'));
        from = end;
        q = s.indexOf('://', end);
        continue;
      }
    }
    q = s.indexOf('://', q + 3);
  }
  out.push(s.slice(from));
  return out.join('');
}

function isWord(c) {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/// **bold**, then *italic* (which may hold bold). Neither holds a '*', so each try reads up to
/// the next '*' only, and the next try starts there.
function emphasis(s) {
  if (s.indexOf('*') === -1) return s;
  const out = [];
  let from = 0;
  let i = s.indexOf('**');
  while (i !== -1) {
    const j = s.indexOf('*', i + 2);
    if (j === -1) break;
    if (j > i + 2 && !isSpace(s.charCodeAt(i + 2)) && !isSpace(s.charCodeAt(j - 1)) && s[j + 1] === '*') {
      out.push(s.slice(from, i), '<strong>', s.slice(i + 2, j), '</strong>');
      from = j + 2;
      i = s.indexOf('**', from);
    } else {
      i = s.indexOf('**', i + 1);
    }
  }
  out.push(s.slice(from));
  const t = out.join('');
  // *italic*: not inside a word or next to another '*' (2*3*4, **), not around white space.
  const em = [];
  from = 0;
  let k = t.indexOf('*');
  while (k !== -1) {
    const j = t.indexOf('*', k + 1);
    if (j === -1) break;
    const before = k === 0 ? -1 : t.charCodeAt(k - 1);
    const after = j + 1 < t.length ? t.charCodeAt(j + 1) : -1;
    if (before !== 42 && !isWord(before) && j > k + 1 && !isSpace(t.charCodeAt(k + 1)) && !isSpace(t.charCodeAt(j - 1)) &&
        after !== 42 && !isWord(after)) {
      em.push(t.slice(from, k), '<em>', t.slice(k + 1, j), '</em>');
      from = j + 1;
      k = t.indexOf('*', from);
    } else {
      k = j;
    }
  }
  em.push(t.slice(from));
  return em.join('');
}
