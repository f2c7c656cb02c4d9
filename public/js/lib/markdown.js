/* Tack: a small, safe Markdown subset for card descriptions and comments.
 *
 * Safety comes from the order of work: the whole text is HTML-escaped first, so nothing the
 * author typed can become a tag or an attribute; only then are the few constructs below turned
 * into tags this file writes itself. Links are made only for http:// and https:// addresses
 * (no javascript:, data: or relative URLs), and open in a new tab without a referrer.
 *
 * Supported: paragraphs (a blank line between them; single line breaks are kept), **bold**,
 * *italic*, `code`, [text](https://…), bare https:// addresses, "- " / "* " lists and "1. " lists.
 */
const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHTML(text) {
  return String(text).replace(/[&<>"']/g, function (c) { return ESCAPES[c]; });
}

// Placeholders keep finished pieces (code spans, links) out of reach of the later rules. NUL
// never survives into the input (removed first), so a placeholder cannot be forged.
function hold(store, html) {
  store.push(html);
  return '\u0000' + (store.length - 1) + '\u0000';
}

function emphasis(s) {
  s = s.replace(/\*\*(?=\S)([^*]*?\S)\*\*/g, '<strong>$1</strong>');
  s = s.replace(/(^|[^*\w])\*(?=[^\s*])([^*]*?[^\s*])\*(?![*\w])/g, '$1<em>$2</em>');
  return s;
}

// One line (or list item) of already escaped text.
function inline(escaped) {
  var held = [];
  var s = escaped.replace(/`([^`]+)`/g, function (_, code) { return hold(held, '<code>' + code + '</code>'); });
  // [label](http(s)://…): the URL was escaped with the rest, so it holds no quote or angle bracket.
  // Neither the label nor the URL holds a '[', so no match attempt reads past the next one: the
  // cost stays linear (unclosed '[' repeated over 100,000 characters took 0.5 s before). The URL
  // holds no placeholder either: a code span there once put <code> inside the href.
  s = s.replace(/\[([^\][]+)\]\((https?:\/\/[^\s()[\]\u0000]+)\)/gi, function (_, label, url) {
    return hold(held, '<a href="' + url + '" target="_blank" rel="noopener noreferrer nofollow">' + emphasis(label) + '</a>');
  });
  // Bare addresses; a trailing full stop or comma ends the sentence, not the URL. The text is
  // escaped, so '&' only starts an entity: a URL may hold "&amp;" but ends before any other
  // ("&quot;", "&lt;"…), never inside one (`https://a.b/"` once became href="https://a.b/&quot").
  s = s.replace(/(^|[\s(])(https?:\/\/(?:[^\s<&()\u0000]|&amp;)+[^\s<&()\u0000.,;:!?])/gi, function (_, before, url) {
    return before + hold(held, '<a href="' + url + '" target="_blank" rel="noopener noreferrer nofollow">' + url + '</a>');
  });
  s = emphasis(s);
  for (var round = 0; round < 2 && s.indexOf('\u0000') !== -1; round++) {
    s = s.replace(/\u0000(\d+)\u0000/g, function (_, i) { return held[Number(i)]; });
  }
  return s;
}

/** Markdown text → HTML that is safe to assign to innerHTML. */
export function render(source) {
  var text = escapeHTML(String(source == null ? '' : source).replace(/\u0000/g, '').replace(/\r\n?/g, '\n'));
  var out = [];
  var paragraph = [];
  var list = null;

  function flushParagraph() {
    if (paragraph.length) out.push('<p>' + paragraph.map(inline).join('<br>') + '</p>');
    paragraph = [];
  }
  function flushList() {
    if (list) {
      out.push('<' + list.tag + '>' + list.items.map(function (item) { return '<li>' + inline(item) + '</li>'; }).join('') + '</' + list.tag + '>');
    }
    list = null;
  }

  text.split('\n').forEach(function (line) {
    var m;
    if (/^\s*$/.test(line)) { flushParagraph(); flushList(); return; }
    if ((m = /^\s*[-*+]\s+(.*)$/.exec(line)) || (m = /^\s*\d{1,9}[.)]\s+(.*)$/.exec(line))) {
      var tag = /^\s*[-*+]\s/.test(line) ? 'ul' : 'ol';
      flushParagraph();
      if (list && list.tag !== tag) flushList();
      if (!list) list = { tag: tag, items: [] };
      list.items.push(m[1]);
      return;
    }
    if (list && /^\s{2,}\S/.test(line)) { // an indented line continues the list item
      list.items[list.items.length - 1] += ' ' + line.trim();
      return;
    }
    flushList();
    paragraph.push(line.trim());
  });
  flushParagraph();
  flushList();
  return out.join('\n');
}

