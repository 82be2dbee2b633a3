// The live attendance stream (`GET /api/events`, server-sent events). EventSource cannot send
// the Bearer header, so the stream is read with fetch and parsed here; it reconnects with
// backoff (1 s doubling to 30 s) until stopped. After a reconnect it emits `resync`: events
// sent while it was away are not replayed, so the view reloads what it shows.

import { authHeader, refresh } from './api.js';

/** Streams events to `onEvent(name, data)`; returns a function that stops it. */
export function liveEvents(onEvent) {
  const controller = new AbortController();
  let delay = 1000;
  let stopped = false;
  let connectedBefore = false;
  (async () => {
    while (!stopped) {
      try {
        const response = await fetch('/api/events', { headers: await authHeader(), signal: controller.signal, credentials: 'omit' });
        // An expired access token: refresh (a refused refresh signs out, which stops us).
        if (response.status === 401) { await refresh(); throw new Error('events: token refreshed'); }
        if (!response.ok || !response.body) throw new Error(`events: HTTP ${response.status}`);
        delay = 1000;
        if (connectedBefore) onEvent('resync', {});
        connectedBefore = true;
        await read(response.body, onEvent);
      } catch (_) {
        if (stopped) return;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 30000);
    }
  })();
  return () => { stopped = true; controller.abort(); };
}

async function read(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length) {
        try { onEvent(name, JSON.parse(data.join('\n'))); } catch (_) { /* not JSON: ignore */ }
      }
    }
  }
}
