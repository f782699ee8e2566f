"""What the benchmark runs inside the dashboard's page, and reads back.

Every time is the page's own `performance.now()`, whose origin is the start of
the navigation, so nothing depends on the round trips between Python and the
browser. The scripts only observe: they add no work to React's rendering.
"""

from __future__ import annotations

# Installed before the page's own scripts (Playwright init script): the moment
# the DOM first holds `wanted` machine cards, and the end of the frame that
# follows (rAF, then a task: the frame with the cards has been produced).
CARDS_OBSERVER = """
((wanted) => {
  const bench = (window.__bench = { cardsInDom: null, cardsPainted: null });
  const observer = new MutationObserver(() => {
    if (bench.cardsInDom !== null) return;
    if (document.querySelectorAll('article.card').length < wanted) return;
    bench.cardsInDom = performance.now();
    observer.disconnect();
    requestAnimationFrame(() =>
      setTimeout(() => { bench.cardsPainted = performance.now(); }, 0));
  });
  observer.observe(document, { childList: true, subtree: true });
})(%d)
"""

NAVIGATION_FIGURES = """
() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const paint = Object.fromEntries(
    performance.getEntriesByType('paint').map((p) => [p.name, p.startTime]));
  const scripts = performance.getEntriesByType('resource')
    .filter((r) => r.name.split('?')[0].endsWith('.js'))
    .map((r) => ({ url: r.name, start: r.startTime, end: r.responseEnd,
                   bytes: r.decodedBodySize }));
  const requests = performance.getEntriesByType('resource')
    .filter((r) => r.initiatorType === 'fetch' || r.initiatorType === 'xmlhttprequest')
    .map((r) => ({ url: r.name, start: r.startTime, end: r.responseEnd }));
  return {
    cardsInDom: window.__bench.cardsInDom,
    cardsPainted: window.__bench.cardsPainted,
    responseEnd: nav.responseEnd,
    domContentLoaded: nav.domContentLoadedEventEnd,
    firstContentfulPaint: paint['first-contentful-paint'] ?? null,
    scripts,
    requests,
  };
}
"""

# Before a range button is clicked: remember the click's own timestamp (the
# input event's time, before any handler ran) and forget older measures.
CLICK_RECORDER = """
() => {
  performance.clearMeasures();
  window.__clickAt = null;
  document.addEventListener('click', (e) => { window.__clickAt = e.timeStamp; },
                            { capture: true, once: true });
}
"""

# After `data-charts-ready` shows the range: the page's own measure (from the
# range change until every chart's uPlot draw hook ran), the click, the series
# requests issued after it, and the points each chart holds.
CHART_FIGURES = """
(range) => {
  const measures = performance.getEntriesByName('charts:' + range, 'measure');
  const m = measures[measures.length - 1];
  const clickAt = window.__clickAt;
  const series = performance.getEntriesByType('resource')
    .filter((r) => r.name.includes('/series') && r.startTime >= clickAt)
    .map((r) => ({ start: r.startTime, end: r.responseEnd }));
  const points = [...document.querySelectorAll('figure.chart')]
    .map((f) => Number(f.dataset.points));
  return { clickAt, measureStart: m.startTime, drawnAt: m.startTime + m.duration,
           series, points };
}
"""

# For the responsiveness window: every long task (> 50 ms of main thread), every
# animation frame, every slow event (Event Timing, >= 16 ms), DOM mutations (the
# live updates arriving), and each key press to the end of the next frame.
RESPONSIVENESS_PROBE = """
() => {
  const probe = (window.__probe = { longTasks: [], frames: [], events: [],
                                    keys: [], mutations: 0, stop: false });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) probe.longTasks.push(e.duration);
  }).observe({ type: 'longtask' });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) probe.events.push([e.name, e.duration]);
  }).observe({ type: 'event', durationThreshold: 16 });
  new MutationObserver((records) => { probe.mutations += records.length; })
    .observe(document.body, { childList: true, subtree: true, characterData: true,
                             attributes: true });
  document.addEventListener('keydown', (e) => {
    const at = e.timeStamp;
    requestAnimationFrame(() => setTimeout(() => {
      probe.keys.push(performance.now() - at);
    }, 0));
  }, { capture: true });
  const frame = (t) => {
    probe.frames.push(t);
    if (!probe.stop) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}
"""

RESPONSIVENESS_FIGURES = """
() => {
  const probe = window.__probe;
  probe.stop = true;
  const intervals = [];
  for (let i = 1; i < probe.frames.length; i++) {
    intervals.push(probe.frames[i] - probe.frames[i - 1]);
  }
  return { longTasks: probe.longTasks, intervals, events: probe.events,
           keys: probe.keys, mutations: probe.mutations,
           cards: document.querySelectorAll('article.card').length };
}
"""

# For publish-to-screen latency: the times are Date.now() (the host's wall
# clock, the one Python's time.time() reads when it publishes), not
# performance.now(), so they compare with the publish time directly. A watch
# is met when its element is in the DOM and visible (and, with a value, shows
# that value); paintedAt is the end of the frame that follows. The link
# indicator's modes are recorded as they change.
LIVE_WATCHER = """
() => {
  const live = (window.__live = { modes: [], watches: {} });
  const mode = () =>
    document.querySelector('[data-testid="link-indicator"]')?.dataset.mode ?? null;
  live.check = () => {
    const now = mode();
    if (now !== live.modes[live.modes.length - 1]) live.modes.push(now);
    for (const w of Object.values(live.watches)) {
      if (w.seenAt !== null) continue;
      const el = document.querySelector(w.selector);
      if (!el || !el.checkVisibility()) continue;
      if (w.value !== null &&
          parseFloat(el.textContent.replace(/,/g, '')) !== w.value) continue;
      w.seenAt = Date.now();
      requestAnimationFrame(() => setTimeout(() => { w.paintedAt = Date.now(); }, 0));
    }
  };
  new MutationObserver(live.check).observe(document.body, {
    childList: true, subtree: true, characterData: true, attributes: true });
  live.check();
}
"""

LIVE_WATCH = """
(w) => {
  window.__live.watches[w.key] =
    { selector: w.selector, value: w.value, seenAt: null, paintedAt: null };
  window.__live.check();
}
"""
