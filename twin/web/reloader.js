// Page auto-reload (twin/web/reloader.py): poll /healthz; while it does not answer show a small
// badge; when it answers with another boot id than the first seen, the server restarted: reload.
// The boot first seen is kept in window.__twinBoot (one poller a page, whatever re-renders).
// The websocket: lost with no retry to come (Panel's default), the page reloads as soon as the
// server answers; where Bokeh retries (five tries over ~30 s), the server still forgets a session
// left unconnected for 15 s, so once lost STALE_MS the page reloads as soon as the server answers
// (window.__twinLostAt: when it was lost, until it is back in time).

const STALE_MS = 10000;
let timer = null;

function stale() {
  return window.__twinLostAt !== undefined && Date.now() - window.__twinLostAt >= STALE_MS;
}

export function render({ model, el, view }) {
  const badge = document.createElement('div');
  badge.className = 'twin-reconnecting';
  badge.textContent = model.text;
  badge.style.cssText = 'position:fixed;right:12px;bottom:12px;z-index:10000;display:none;padding:4px 10px;' +
    'border-radius:4px;background:#f9a825;color:#1a1a1a;font:13px "Noto Sans CJK SC",sans-serif;' +
    'pointer-events:none';
  el.appendChild(badge);

  async function poll() {
    let boot;
    try {
      const response = await fetch(model.url, { cache: 'no-store', signal: AbortSignal.timeout(model.period_ms) });
      boot = (await response.json()).boot;  // a degraded server (503) still answers its boot
    } catch (error) {
      badge.style.display = 'block';
      return;
    }
    badge.style.display = window.__twinLostAt === undefined ? 'none' : 'block';
    if (window.__twinBoot === undefined) window.__twinBoot = boot;
    else if (boot !== window.__twinBoot || stale()) location.reload();
  }

  const doc = view.model.document;
  doc.on_event('connection_lost', (_, event) => {
    // no retry to come (Panel's default): stale at once, reload as soon as the server answers
    window.__twinLostAt = event.timeout == null ? 0 : (window.__twinLostAt ?? Date.now());
    badge.style.display = 'block';
  });
  doc.on_event('client_reconnected', () => {
    if (stale()) location.reload();
    window.__twinLostAt = undefined;
    badge.style.display = 'none';
  });

  clearInterval(timer);
  timer = setInterval(poll, model.period_ms);
  poll();
  model.on('remove', () => clearInterval(timer));
}
