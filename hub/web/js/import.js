// Bulk import (admin): a roster CSV (`student_number,full_name[,email,department,year,consent,
// consent_given_by,consent_notice]`) and photos — a folder with one sub-folder per student
// number, or files named `NUMBER_….jpg` — one request per photo, with progress and a summary of
// every outcome. A `consent` cell records that decision; photos of students whose latest
// decision does not grant consent are skipped, saying so.

import * as api from './api.js';
import { h, fill, field, describe } from './dom.js';

/** Parses a CSV with a header row (quoted fields allowed). */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i += 1; } else if (c === '"') quoted = false; else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i += 1;
      row.push(cell); cell = '';
      if (row.some((x) => x.trim())) rows.push(row);
      row = [];
    } else cell += c;
  }
  row.push(cell);
  if (row.some((x) => x.trim())) rows.push(row);
  const [header, ...body] = rows;
  if (!header) return [];
  const names = header.map((x) => x.trim().toLowerCase());
  return body.map((r) => Object.fromEntries(names.map((n, i) => [n, (r[i] || '').trim()])));
}

/** A `consent` cell: true (granted), false (refused / withdrawn) or null (no decision). */
function consentOf(cell) {
  const text = (cell || '').toLowerCase();
  if (['yes', 'y', 'granted', 'true', '1'].includes(text)) return true;
  if (['no', 'n', 'refused', 'withdrawn', 'false', '0'].includes(text)) return false;
  return null;
}

/** The student number a photo belongs to: its folder, or its name before `_` or `.`. */
function numberOf(file) {
  const parts = (file.webkitRelativePath || '').split('/');
  if (parts.length >= 3) return parts[parts.length - 2];
  return file.name.replace(/\.[^.]+$/, '').split('_')[0];
}

/** Renders the view. */
export async function render(main) {
  const csv = h('input', { type: 'file', name: 'csv', accept: '.csv,text/csv' });
  const folder = h('input', { type: 'file', name: 'folder', webkitdirectory: true, multiple: true });
  const files = h('input', { type: 'file', name: 'files', accept: 'image/jpeg,image/png', multiple: true });
  const progress = h('progress', { max: 1, value: 0, 'aria-label': 'Import progress' });
  const progressText = h('span', { 'aria-live': 'polite' }, '');
  const results = h('tbody');
  const start = h('button', { type: 'submit' }, 'Import');
  fill(main, h('h1', {}, 'Bulk import'),
    h('p', {}, 'Students come from the CSV (columns student_number, full_name, and optionally email, department, year, consent (yes / no), consent_given_by, consent_notice) or from the photo folders. Only students who have granted consent are enrolled: the others\' photos are skipped. Each photo must show exactly one face.'),
    h('form', { class: 'stack', onsubmit: async (event) => { event.preventDefault(); start.disabled = true; try { await run(); } finally { start.disabled = false; } } },
      field('Roster CSV', csv), field('Photo folder (one sub-folder per student number)', folder),
      field('Or photo files named NUMBER_anything.jpg', files), start),
    h('p', {}, progress, ' ', progressText),
    h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Student'), h('th', { scope: 'col' }, 'Item'), h('th', { scope: 'col' }, 'Outcome'))), results)));

  const report = (student, item, outcome, ok) => results.append(h('tr', { class: ok ? '' : 'failed' }, h('td', {}, student), h('td', {}, item), h('td', {}, outcome)));

  async function run() {
    results.replaceChildren();
    const roster = csv.files[0] ? parseCsv(await csv.files[0].text()) : [];
    const photos = [...folder.files, ...files.files].filter((f) => /\.(jpe?g|png)$/i.test(f.name));
    const numbers = new Map(roster.filter((r) => r.student_number).map((r) => [r.student_number, r]));
    for (const photo of photos) if (!numbers.has(numberOf(photo))) numbers.set(numberOf(photo), { student_number: numberOf(photo) });
    const total = numbers.size + photos.length;
    let done = 0;
    const consenting = new Set();
    const step = () => { done += 1; progress.max = total || 1; progress.value = done; progressText.textContent = `${done} of ${total}`; };
    for (const [number, row] of numbers) {
      let student = null;
      try {
        student = await api.get(`/api/students/${encodeURIComponent(number)}`);
        report(number, 'student', 'exists', true);
      } catch (error) {
        if (error.status !== 404) { report(number, 'student', describe(error), false); step(); continue; }
        try {
          student = await api.post('/api/students', {
            student_number: number,
            full_name: row.full_name || number,
            email: row.email || null,
            department: row.department || null,
            year: row.year ? Number(row.year) : null,
          });
          report(number, 'student', 'created', true);
        } catch (created) {
          report(number, 'student', created.status === 409 ? 'exists' : describe(created), created.status === 409);
        }
      }
      const decision = consentOf(row.consent);
      if (student && decision !== null && (student.consent?.granted ?? null) !== decision) {
        try {
          const recorded = await api.post(`/api/students/${encodeURIComponent(number)}/consent`, {
            granted: decision,
            given_by: row.consent_given_by || 'as recorded in the roster CSV',
            notice_version: row.consent_notice || 'unstated',
          });
          student = recorded.student;
          report(number, 'consent', decision ? 'granted' : 'refused', true);
        } catch (error) { report(number, 'consent', describe(error), false); }
      }
      if (student?.consent?.granted) consenting.add(number);
      step();
    }
    for (const photo of photos) {
      const number = numberOf(photo);
      if (!consenting.has(number)) {
        report(number, photo.name, 'skipped: no consent recorded (consent column, or Students → Consent)', false);
        step();
        continue;
      }
      const form = new FormData();
      form.append('photos', photo, photo.name);
      try {
        await api.request('POST', `/api/students/${encodeURIComponent(number)}/photos`, { body: form });
        report(number, photo.name, 'enrolled', true);
      } catch (error) {
        report(number, photo.name, describe(error), false);
      }
      step();
    }
    progressText.textContent = `${done} of ${total} · done`;
  }
  return null;
}
