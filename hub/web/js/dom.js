// A tiny element builder. Data always goes in as text (never as HTML), so nothing the API
// returns can inject markup.

/** Builds an element: `attrs` sets attributes (`on*` functions become listeners, `class`,
 *  booleans toggle), children are nodes or text. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Shows an error (a problem's `title: detail`) in the page's alert region. */
export function showError(error) {
  const alert = document.getElementById('alert');
  alert.textContent = describe(error);
  alert.hidden = false;
}

/** Hides the alert region. */
export function clearError() {
  const alert = document.getElementById('alert');
  alert.hidden = true;
  alert.textContent = '';
}

/** Announces a result to screen readers and shows it briefly. */
export function announce(text) {
  document.getElementById('status').textContent = text;
  const toast = document.getElementById('toast') || document.body.appendChild(h('div', { id: 'toast', class: 'toast' }));
  toast.textContent = text;
  toast.classList.add('shown');
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => toast.classList.remove('shown'), 3000);
}

/** The text shown for an error: a problem+json `title: detail`, or the message. */
export function describe(error) {
  if (error && error.problem) {
    const { title, detail } = error.problem;
    return detail ? `${title}: ${detail}` : title;
  }
  return (error && error.message) || String(error);
}

/** A labelled form field. */
export function field(label, input) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input);
}

/** Local date as YYYY-MM-DD. */
export function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** A time for people. */
export function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });
}

/** Opens a modal dialog with `content`; resolves when it closes, focus back where it was. */
export function dialog(title, content, { onClose } = {}) {
  const before = document.activeElement;
  const box = h('dialog', { class: 'dialog', 'aria-labelledby': 'dlg-title' },
    h('h2', { id: 'dlg-title' }, title), content,
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'plain', onclick: () => box.close() }, 'Close')));
  document.body.append(box);
  box.addEventListener('close', () => {
    box.remove();
    if (onClose) onClose();
    if (before && before.focus) before.focus();
  });
  box.showModal();
  return box;
}
