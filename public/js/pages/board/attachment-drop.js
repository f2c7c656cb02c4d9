/// Where files come from besides the picker: dropped on the open card dialog (to its card), dropped
/// on a card of the board (to that card), or pasted into the dialog (a screenshot). Each hands the
/// files to `upload(cardId, files)`; the drop target is outlined while files hover over it.

const hasFiles = (event) => !!event.dataTransfer && [...event.dataTransfer.types].includes('Files');

/// @param dialog the card dialog; `current()` is the id of the card it shows
/// @param columnsEl the board's columns, whose `.card[data-card-id]` accept drops
export function initFileDrops(dialog, columnsEl, current, upload) {
  dialog.addEventListener('dragover', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dialog.classList.add('is-dropping');
  });
  dialog.addEventListener('dragleave', (event) => { if (event.target === dialog) dialog.classList.remove('is-dropping'); });
  dialog.addEventListener('drop', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dialog.classList.remove('is-dropping');
    upload(current(), [...event.dataTransfer.files]);
  });
  dialog.addEventListener('paste', (event) => {
    const files = [...(event.clipboardData ? event.clipboardData.files : [])];
    if (!files.length) return;
    event.preventDefault();
    // Pasted screenshots often come without a name.
    upload(current(), files.map((f, i) => (f.name ? f : new File([f], `pasted-${i + 1}.png`, { type: f.type }))));
  });

  const target = (event) => (hasFiles(event) ? event.target.closest('.card[data-card-id]') : null);
  columnsEl.addEventListener('dragover', (event) => {
    const card = target(event);
    if (!card) return;
    event.preventDefault();
    columnsEl.querySelectorAll('.card.is-dropping').forEach((n) => { if (n !== card) n.classList.remove('is-dropping'); });
    card.classList.add('is-dropping');
  });
  columnsEl.addEventListener('dragleave', (event) => {
    const card = target(event);
    if (card && !card.contains(event.relatedTarget)) card.classList.remove('is-dropping');
  });
  columnsEl.addEventListener('drop', (event) => {
    const card = target(event);
    if (!card) return;
    event.preventDefault();
    card.classList.remove('is-dropping');
    upload(Number(card.dataset.cardId), [...event.dataTransfer.files]);
  });
}
