// The student picker of "Reassign…" and "Assign to student…": the nearest candidates (with
// their scores) when a record is given, and a search over every student.

import { get, query } from './api.js';
import { h, fill, dialog, field, showError } from './dom.js';

function pct(x) {
  return `${Math.round((x || 0) * 100)} %`;
}

/**
 * Opens the picker; resolves to the chosen student's id, or null when closed.
 * `recordId` (optional) lists that record's candidates; `attr` names the data attribute of
 * each choice button (`data-candidate-id` or `data-student-id`).
 */
export function pickStudent(title, { recordId, attr = 'data-candidate-id' } = {}) {
  return new Promise((resolve) => {
    let chosen = null;
    const choice = (id, label, detail) => h('li', {}, h('button', {
      type: 'button', class: 'choice', [attr]: id,
      onclick: () => { chosen = id; box.close(); },
    }, h('span', { class: 'name' }, label), detail ? h('span', { class: 'muted' }, detail) : null));
    const candidates = h('ul', { class: 'choices', 'aria-label': 'Nearest students' });
    const results = h('ul', { class: 'choices', 'aria-label': 'Search results' });
    const search = h('input', { name: 'student-search', type: 'search', autocomplete: 'off', placeholder: 'Name or number' });
    let timer;
    search.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const text = search.value.trim();
        if (!text) { fill(results); return; }
        try {
          const page = await get(`/api/students${query({ search: text, page_size: 10 })}`);
          fill(results, page.items.length
            ? page.items.map((s) => choice(s.id, s.full_name, s.student_number))
            : h('li', { class: 'muted' }, 'No student matches'));
        } catch (error) { showError(error); }
      }, 200);
    });
    const box = dialog(title, h('div', { class: 'picker' },
      recordId ? h('h3', {}, 'Nearest students') : null, recordId ? candidates : null,
      field('Search students', search), results), { onClose: () => resolve(chosen) });
    search.focus();
    if (recordId) {
      get(`/api/attendance/${recordId}/candidates?limit=5`).then((answer) => {
        fill(candidates, answer.candidates.length
          ? answer.candidates.map((c) => choice(c.student_id, c.full_name,
            `${c.student_number} · confidence ${pct(c.confidence)} · distance ${c.distance.toFixed(2)}`))
          : h('li', { class: 'muted' }, 'No enrolled student is near this face'));
      }).catch(showError);
    }
  });
}
