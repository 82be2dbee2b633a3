// Devices (admin): register, edit classroom, location and capture settings, issue credentials
// (shown once), delete; live status (polled every 5 s while the view is open).

import * as api from './api.js';
import { h, fill, field, announce, showError, dialog, when } from './dom.js';

function deviceForm(device, done) {
  const c = device?.config || { enabled: true, capture_interval_ms: 5000, resolution: '640x480', jpeg_quality: 80 };
  const inputs = {
    device_id: h('input', { name: 'device_id', required: true, pattern: '[A-Za-z0-9_.\\-]{1,64}', value: device?.device_id || '', readonly: Boolean(device) }),
    classroom_id: h('input', { name: 'classroom_id', required: true, pattern: '[A-Za-z0-9_.\\-]{1,64}', value: device?.classroom_id || '' }),
    location: h('input', { name: 'location', value: device?.location || '' }),
    status: h('select', { name: 'status' }, ['active', 'inactive', 'error'].map((s) => h('option', { value: s, selected: (device?.status || 'active') === s }, s))),
    enabled: h('input', { type: 'checkbox', name: 'enabled', checked: c.enabled }),
    interval: h('input', { type: 'number', name: 'capture_interval_ms', min: 100, max: 3600000, value: c.capture_interval_ms }),
    resolution: h('input', { name: 'resolution', pattern: '[0-9]+x[0-9]+', value: c.resolution }),
    quality: h('input', { type: 'number', name: 'jpeg_quality', min: 1, max: 100, value: c.jpeg_quality }),
  };
  const box = dialog(device ? `Device ${device.device_id}` : 'Register a device', h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      const body = {
        device_id: inputs.device_id.value.trim(),
        classroom_id: inputs.classroom_id.value.trim(),
        location: inputs.location.value.trim() || null,
        status: inputs.status.value,
        config: { enabled: inputs.enabled.checked, capture_interval_ms: Number(inputs.interval.value), resolution: inputs.resolution.value.trim(), jpeg_quality: Number(inputs.quality.value) },
      };
      try {
        if (device) await api.put(`/api/devices/${device.id}`, body); else await api.post('/api/devices', body);
        box.close();
        announce('Device saved');
        done();
      } catch (error) { showError(error); }
    },
  }, field('Device id', inputs.device_id), field('Classroom', inputs.classroom_id), field('Location', inputs.location),
  field('Status', inputs.status), field('Capturing', inputs.enabled), field('Capture interval (ms)', inputs.interval),
  field('Resolution', inputs.resolution), field('JPEG quality', inputs.quality), h('button', { type: 'submit' }, 'Save')));
}

async function credentials(device, done) {
  if (device.has_secret && !window.confirm(`Issue a new secret for ${device.device_id}? The camera's current secret stops working.`)) return;
  try {
    const answer = await api.post(`/api/devices/${device.id}/credentials`, {});
    const secret = h('input', { readonly: true, value: answer.secret, name: 'secret', class: 'secret' });
    dialog(`Secret of ${answer.device_id}`, h('div', {},
      h('p', { class: 'warning' }, 'Copy it now: it is shown only once. Put it in the camera\'s agent.env as CAVS_DEVICE_SECRET.'),
      field('Device secret', secret),
      h('button', { type: 'button', onclick: async () => { secret.select(); try { await navigator.clipboard.writeText(answer.secret); announce('Copied'); } catch (_) { announce('Select the text and copy it'); } } }, 'Copy')), { onClose: done });
    secret.select();
  } catch (error) { showError(error); }
}

/** Renders the view; returns its cleanup (stops polling). */
export async function render(main, { navigate }) {
  const table = h('tbody');
  const reload = () => navigate('devices');
  fill(main, h('h1', {}, 'Devices'),
    h('p', {}, h('button', { type: 'button', onclick: () => deviceForm(null, reload) }, 'Register a device'), ' ', h('span', { class: 'muted' }, 'Status refreshes every 5 s.')),
    h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, ['Device', 'Classroom', 'Location', 'State', 'Last seen', 'Status', ''].map((t) => h('th', { scope: 'col' }, t)))), table)));
  const draw = (devices) => fill(table, devices.length ? devices.map((d) => h('tr', { 'data-device-id': d.device_id },
    h('td', {}, d.device_id), h('td', {}, d.classroom_id), h('td', {}, d.location || ''),
    h('td', {}, h('span', { class: `badge state-${d.state}` }, d.state)), h('td', {}, when(d.last_seen)),
    h('td', {}, d.status), h('td', {}, h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'plain', 'aria-label': `Edit ${d.device_id}`, onclick: () => deviceForm(d, reload) }, 'Edit'),
      h('button', { type: 'button', class: 'plain', 'aria-label': `${d.has_secret ? 'New secret for' : 'Issue a secret for'} ${d.device_id}`, onclick: () => credentials(d, reload) }, d.has_secret ? 'New secret' : 'Issue secret'),
      h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${d.device_id}`, onclick: async () => {
        if (!window.confirm(`Delete ${d.device_id}? It can no longer connect.`)) return;
        try { await api.del(`/api/devices/${d.id}`); reload(); } catch (error) { showError(error); }
      } }, 'Delete'))))) : h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No devices registered.')));
  let shown = '';
  const refresh = async () => {
    const devices = await api.all('/api/devices');
    const text = JSON.stringify(devices);
    if (text !== shown) { shown = text; draw(devices); } // unchanged: keep focus where it is
  };
  await refresh();
  const timer = setInterval(() => refresh().catch(showError), 5000);
  return () => clearInterval(timer);
}
