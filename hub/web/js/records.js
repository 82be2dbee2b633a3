// One attendance record as a reviewable card: crop, candidate, confidence, frames, status and
// the approve / reject / reassign (and, for admins, enroll) controls.

import { post } from './api.js';
import { h, fill, when, announce, showError } from './dom.js';
import { loadCrop } from './images.js';
import { pickStudent } from './picker.js';

const STATUS_TEXT = { pending: 'Pending', approved: 'Approved', rejected: 'Rejected' };

/** Reviews record `id` (`decision`, optional `student_id`); answers the updated record. */
export async function review(id, decision, studentId) {
  const body = { decision };
  if (studentId) body.student_id = studentId;
  return post(`/api/attendance/${id}/review`, body);
}

/** The card of `record`; `onChange(record)` is called with every updated record. */
export function recordCard(record, { admin, onChange }) {
  const card = h('article', { class: 'record', role: 'listitem', 'data-record-id': record.id, tabindex: '-1' });
  draw(card, record, { admin, onChange });
  return card;
}

/** Redraws `card` for `record`, keeping its selection, and keeping the keyboard focus on the card
 *  when it was inside it (the focused button is replaced by the redraw). */
export function draw(card, record, { admin, onChange }) {
  const selected = card.querySelector('[data-select]')?.checked || false;
  const hadFocus = card.contains(document.activeElement);
  card.dataset.status = record.review_status;
  card.dataset.named = String(Boolean(record.predicted_student_id));
  const who = record.predicted_name || 'Unknown face';
  const img = h('img', { class: 'crop', width: 96, height: 96, alt: `Face seen by ${record.device_id} at ${when(record.timestamp)}` });
  if (record.image_url) loadCrop(img, record.id); else img.classList.add('missing');
  const act = async (decision, studentId) => {
    try {
      const updated = await review(record.id, decision, studentId);
      onChange(updated);
      announce(`${updated.predicted_name || 'Unknown face'}: ${STATUS_TEXT[updated.review_status]}`);
    } catch (error) { showError(error); }
  };
  const reassign = async () => {
    const student = await pickStudent(`Who is this? (${who})`, { recordId: record.id });
    if (student) await act('approve', student);
  };
  const enroll = async (event) => {
    const button = event.currentTarget;
    if (!window.confirm(`Add this face to ${who}'s enrollment faces? Future frames will be matched against it.`)) return;
    button.disabled = true;
    try {
      await post(`/api/attendance/${record.id}/enroll`, {});
      button.textContent = 'Added to enrollment';
      announce(`Face added to ${who}'s enrollment`);
    } catch (error) {
      button.disabled = false;
      showError(error);
    }
  };
  const checkbox = h('input', { type: 'checkbox', 'data-select': '', 'aria-label': `Select ${who}` });
  checkbox.checked = selected;
  fill(card,
    h('div', { class: 'select' }, checkbox),
    img,
    h('div', { class: 'info' },
      h('h3', {}, who),
      h('p', {}, h('span', { class: `badge ${record.review_status}` }, STATUS_TEXT[record.review_status]),
        ` ${Math.round(record.confidence * 100)} % · ${record.frame_count} frame${record.frame_count === 1 ? '' : 's'}`),
      h('p', { class: 'muted' }, `${when(record.timestamp)} · ${record.device_id} · ${record.classroom_id}`)),
    h('div', { class: 'actions' },
      h('button', { type: 'button', 'data-action': 'approve', 'aria-keyshortcuts': 'A', onclick: () => (record.predicted_student_id ? act('approve') : reassign()) }, 'Approve'),
      h('button', { type: 'button', 'data-action': 'reject', class: 'danger', 'aria-keyshortcuts': 'R', onclick: () => act('reject') }, 'Reject'),
      h('button', { type: 'button', 'data-action': 'reassign', class: 'plain', 'aria-keyshortcuts': 'C', onclick: reassign }, 'Reassign…'),
      admin && record.review_status === 'approved' && record.predicted_student_id
        ? h('button', { type: 'button', 'data-action': 'enroll', class: 'plain', onclick: enroll }, 'Add face to enrollment')
        : null));
  if (hadFocus) card.focus();
  card.reviewActions = { approve: () => (record.predicted_student_id ? act('approve') : reassign()), reject: () => act('reject'), reassign };
}
