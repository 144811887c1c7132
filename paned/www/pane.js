// pane.js: the operator's pane. No framework, no inline code (strict CSP);
// everything that came from Nostr is put on the page with textContent only.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const PAGE = 20;
  let page = 0, changing = false, chartMode = 'days', lastDaily = null, lastJobs = [];

  function text(el, s) { el.textContent = s == null ? '' : String(s); }
  function td(tr, s, cls, title) {
    const c = document.createElement('td');
    text(c, s);
    if (cls) c.className = cls;
    if (title) c.title = title;
    tr.appendChild(c);
    return c;
  }
  async function api(path, opt) {
    const r = await fetch(path, Object.assign({ credentials: 'same-origin', cache: 'no-store' }, opt || {}));
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) throw new Error((body && body.error) || ('HTTP ' + r.status));
    return body;
  }
  function post(path, obj) {
    return api(path, { method: 'POST', headers: { 'X-Pane': '1', 'Content-Type': 'application/json' },
      body: obj ? JSON.stringify(obj) : '' });
  }
  function light(id, state, label) {
    const l = $(id);
    l.className = 'light ' + state;
    l.setAttribute('aria-hidden', 'true');
    l.title = label;
  }
  function dur(s) {
    s = Math.floor(s);
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + m + 'm';
  }
  function short(s, n) { s = String(s || ''); return s.length > 2 * n ? s.slice(0, n) + '…' + s.slice(-4) : s; }

  function stateWord(s) {
    if (!s.online) return 'offline';
    const ok = s.relays.connected > 0 && s.inference.ok && s.inference.model_ok &&
      (s.payment_mode === 'free' || s.payments.ok);
    return ok ? 'online' : 'degraded';
  }

  function showStatus(s) {
    const word = stateWord(s);
    text($('state'), word);
    document.body.dataset.state = word;
    const t = $('toggle');
    if (!changing) {
      text(t, s.online ? 'GO OFFLINE' : 'GO ONLINE');
      t.disabled = false;
      t.dataset.online = s.online ? '1' : '0';
    }
    const rel = s.relays;
    text($('relays'), rel.connected + ' of ' + rel.total + ' connected');
    light('l-relays', rel.connected === 0 ? 'bad' : rel.connected < rel.total ? 'warn' : 'ok', '');
    const list = $('relay-list');
    list.replaceChildren();
    for (const r of rel.list || []) {
      const li = document.createElement('li');
      text(li, r.url + ': ' + (r.state || 'unknown') + (r.error ? ' (' + r.error + ')' : ''));
      list.appendChild(li);
    }
    const inf = s.inference;
    text($('inference'), (inf.ok ? 'backend up' : 'backend down') + ', model ' + s.model + ' ' +
      (inf.model_ok ? 'present' : 'missing'));
    light('l-inference', inf.ok && inf.model_ok ? 'ok' : 'bad', '');
    const p = s.payments;
    let w = p.backend + ': ' + (p.ok ? 'ok' : 'not ok');
    if (typeof p.balance_msat === 'number') w += ', balance ' + Math.floor(p.balance_msat / 1000) + ' sats';
    if (p.error) w += ' (' + p.error + ')';
    text($('wallet'), w);
    light('l-wallet', s.payment_mode === 'free' ? 'warn' : p.ok ? 'ok' : 'bad', '');
    text($('queue'), s.queue + ' queued, ' + s.running + ' running');
    text($('uptime'), dur(s.uptime));
    text($('mode'), { free: 'free', after: 'pay after', before: 'pay first' }[s.payment_mode] || s.payment_mode);
  }

  async function refreshStatus() {
    try { showStatus(await api('/api/status')); $('notice').className = ''; }
    catch (e) { text($('notice'), e.message); $('notice').className = 'error'; }
  }

  async function toggle() {
    const t = $('toggle');
    const goOnline = t.dataset.online !== '1';
    changing = true;
    t.disabled = true;
    text(t, goOnline ? 'Going online...' : 'Going offline...');
    try { await post(goOnline ? '/api/online' : '/api/offline'); }
    catch (e) { text($('notice'), e.message); $('notice').className = 'error'; }
    changing = false;
    await refreshStatus();	/* the real state, read back from jobd */
  }

  function showTotals(d) {
    const body = $('totals');
    body.replaceChildren();
    const names = { today: 'today', '7d': '7 days', '30d': '30 days', all: 'all' };
    for (const k of ['today', '7d', '30d', 'all']) {
      const p = d.periods[k], tr = document.createElement('tr');
      tr.dataset.period = k;
      td(tr, names[k]); td(tr, p.asked_sats, 'asked'); td(tr, p.received_sats, 'received');
      td(tr, p.completed); td(tr, p.failed); td(tr, p.unpaid);
      body.appendChild(tr);
    }
  }

  const SVG = 'http://www.w3.org/2000/svg';
  function svgEl(name, attrs, parent) {
    const e = document.createElementNS(SVG, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function drawChart() {
    const d = lastDaily;
    if (!d) return;
    const buckets = [];
    const step = chartMode === 'days' ? 86400 : 3600;
    const n = chartMode === 'days' ? 30 : 24;
    const first = chartMode === 'days' ? d.today - 29 * 86400 : d.today;
    const src = new Map((chartMode === 'days' ? d.days : d.hours).map(b => [b.start, b]));
    for (let i = 0; i < n; i++) {
      const t = first + i * step;
      buckets.push(src.get(t) || { start: t, asked_sats: 0, received_sats: 0, jobs: 0 });
    }
    const W = 600, H = 200, pad = 30, bw = (W - pad) / n;
    const max = Math.max(1, ...buckets.map(b => Math.max(b.asked_sats, b.received_sats)));
    const svg = svgEl('svg', { viewBox: '0 0 ' + W + ' ' + (H + 20), role: 'img' });
    const defs = svgEl('defs', {}, svg);
    const pat = svgEl('pattern', { id: 'stripes', width: 6, height: 6, patternUnits: 'userSpaceOnUse',
      patternTransform: 'rotate(45)' }, defs);
    svgEl('rect', { width: 3, height: 6, fill: '#9bd' }, pat);
    svgEl('title', {}, svg).textContent = 'sats asked and received per ' + (chartMode === 'days' ? 'day' : 'hour');
    const ax = svgEl('text', { x: 0, y: 12, 'font-size': 10 }, svg);
    ax.textContent = String(max);
    buckets.forEach((b, i) => {
      const x = pad + i * bw;
      const ha = b.asked_sats / max * (H - 20), hr = b.received_sats / max * (H - 20);
      const a = svgEl('rect', { x: x + 1, y: H - ha, width: bw / 2 - 1, height: ha, class: 'bar-asked',
        'data-series': 'asked', 'data-value': b.asked_sats }, svg);
      svgEl('title', {}, a).textContent = 'asked ' + b.asked_sats + ' sats, ' + b.jobs + ' jobs';
      const r = svgEl('rect', { x: x + bw / 2, y: H - hr, width: bw / 2 - 1, height: hr, class: 'bar-received',
        'data-series': 'received', 'data-value': b.received_sats }, svg);
      svgEl('title', {}, r).textContent = 'received ' + b.received_sats + ' sats';
      if (i % (chartMode === 'days' ? 5 : 4) === 0) {
        const dt = new Date(b.start * 1000);
        const lab = svgEl('text', { x: x, y: H + 14, 'font-size': 9 }, svg);
        lab.textContent = chartMode === 'days' ? dt.toISOString().slice(5, 10) : dt.toISOString().slice(11, 13) + 'h';
      }
    });
    $('chart').replaceChildren(svg);
  }

  async function refreshDaily() {
    try { lastDaily = await api('/api/daily'); showTotals(lastDaily); drawChart(); } catch (e) { /* status shows errors */ }
  }

  // A hold invoice's escrow (jobd/escrow.c) as the "paid" column says it.
  const ESCROW = { open: 'unpaid (hold)', held: 'held', settle: 'settling', settled: 'settled',
    refund: 'refunding', refunded: 'refunded', void: 'unpaid (cancelling)', voided: 'unpaid (cancelled)' };
  const ESCROW_ORDER = ['held', 'settle', 'settled', 'refund', 'refunded', 'open', 'void', 'voided'];
  function paidWord(j) {
    if (j.escrow && ESCROW[j.escrow]) return ESCROW[j.escrow];
    return j.price_msat === 0 ? 'free' : j.paid ? 'paid' : 'unpaid';
  }
  function showEscrow(by) {
    const p = $('escrow');
    p.replaceChildren();
    const have = ESCROW_ORDER.filter(k => by && by[k] > 0);
    p.hidden = have.length === 0;
    if (p.hidden) return;
    p.appendChild(document.createTextNode('Escrow (hold invoices): '));
    have.forEach((k, i) => {
      const s = document.createElement('span');
      s.dataset.escrow = k;
      text(s, by[k] + ' ' + ESCROW[k]);
      if (i > 0) p.appendChild(document.createTextNode(', '));
      p.appendChild(s);
    });
  }
  let statsTick = 0;
  async function refreshEscrow() {
    if (statsTick++ % 5 !== 0) return;	/* stats reads the whole ledger: every 5 s is enough */
    try { showEscrow((await api('/api/stats')).escrow); } catch (e) { /* status shows errors */ }
  }

  function took(j) { return j.done_ms > 0 ? ((j.done_ms - j.received_ms) / 1000).toFixed(1) + ' s' : ''; }
  function reason(j) {
    if (j.error) return j.error;
    if (j.price_msat > 0 && !j.paid && (j.state === 'published' || j.state === 'acked')) return 'invoice not paid yet';
    return '';
  }
  function showJobs(list) {
    lastJobs = list;
    const body = $('jobs');
    body.replaceChildren();
    for (const j of list) {
      const tr = document.createElement('tr');
      tr.dataset.id = j.id;
      td(tr, new Date(j.received_at * 1000).toLocaleString());
      const idc = td(tr, j.id.slice(0, 8), 'id', j.id);
      idc.addEventListener('click', () => { if (navigator.clipboard) navigator.clipboard.writeText(j.id).catch(() => {}); });
      td(tr, short(j.npub, 10), 'id', j.npub);
      td(tr, j.state, 'state');
      td(tr, j.prompt_tokens + j.completion_tokens);
      td(tr, Math.ceil(j.price_msat / 1000), 'price');
      const pc = td(tr, paidWord(j), 'paid');
      if (j.escrow) pc.dataset.escrow = j.escrow;
      td(tr, took(j));
      td(tr, reason(j), 'reason');
      body.appendChild(tr);
    }
    text($('page'), 'page ' + (page + 1));
    $('prev').disabled = page === 0;
    $('next').disabled = list.length < PAGE;
  }
  async function refreshJobs() {
    const st = $('filter').value;
    try {
      const r = await api('/api/jobs?offset=' + page * PAGE + '&limit=' + PAGE + (st ? '&state=' + encodeURIComponent(st) : ''));
      showJobs(r.jobs);
    } catch (e) { /* shown by the status line */ }
  }
  function csvCell(v) { v = v == null ? '' : String(v); return /[",\n\r]/.test(v) || /^[=+\-@]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v; }
  async function exportCsv() {
    const st = $('filter').value, rows = [['time', 'id', 'requester', 'state', 'prompt_tokens', 'completion_tokens', 'price_sats', 'paid_sats', 'paid', 'took_s', 'reason', 'escrow']];
    for (let off = 0; off < 100000; off += 200) {
      const r = await api('/api/jobs?offset=' + off + '&limit=200' + (st ? '&state=' + encodeURIComponent(st) : ''));
      for (const j of r.jobs)
        rows.push([new Date(j.received_at * 1000).toISOString(), j.id, j.npub, j.state, j.prompt_tokens,
          j.completion_tokens, Math.ceil(j.price_msat / 1000), Math.floor(j.paid_msat / 1000), j.paid,
          j.done_ms > 0 ? (j.done_ms - j.received_ms) / 1000 : '', reason(j), j.escrow || '']);
      if (r.jobs.length < 200) break;
    }
    const blob = new Blob([rows.map(r => r.map(csvCell).join(',')).join('\r\n') + '\r\n'], { type: 'text/csv' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'sellcompute-jobs.csv';
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  async function loadPrices() {
    try {
      const r = await api('/api/prices');
      $('min_price_sats').value = r.prices.min_price_sats;
      $('price_per_1k_tokens').value = r.prices.price_per_1k_tokens;
      $('model_prices').value = r.prices.model_prices || '';
    } catch (e) { /* status line */ }
  }
  async function savePrices(ev) {
    ev.preventDefault();
    const msg = $('price-msg');
    const body = { min_price_sats: Number($('min_price_sats').value),
      price_per_1k_tokens: Number($('price_per_1k_tokens').value),
      model_prices: $('model_prices').value.trim() };
    $('save').disabled = true;
    try {
      const r = await post('/api/prices', body);
      text(msg, 'Saved: minimum ' + r.prices.min_price_sats + ' sats, ' + r.prices.price_per_1k_tokens + ' sats per 1000 tokens' +
        (r.prices.model_prices ? '; per model: ' + r.prices.model_prices : ''));
      msg.className = 'ok';
    } catch (e) { text(msg, 'Not saved: ' + e.message); msg.className = 'error'; }
    $('save').disabled = false;
  }

  function tick() { refreshStatus(); refreshDaily(); refreshJobs(); refreshEscrow(); }
  document.addEventListener('DOMContentLoaded', () => {
    $('toggle').addEventListener('click', toggle);
    $('prev').addEventListener('click', () => { if (page > 0) { page--; refreshJobs(); } });
    $('next').addEventListener('click', () => { page++; refreshJobs(); });
    $('filter').addEventListener('change', () => { page = 0; refreshJobs(); });
    $('csv').addEventListener('click', () => { exportCsv().catch(e => text($('notice'), e.message)); });
    $('chart-days').addEventListener('click', () => { chartMode = 'days'; $('chart-days').setAttribute('aria-pressed', 'true'); $('chart-hours').setAttribute('aria-pressed', 'false'); drawChart(); });
    $('chart-hours').addEventListener('click', () => { chartMode = 'hours'; $('chart-hours').setAttribute('aria-pressed', 'true'); $('chart-days').setAttribute('aria-pressed', 'false'); drawChart(); });
    $('prices').addEventListener('submit', savePrices);
    loadPrices();
    tick();
    setInterval(tick, 1000);	/* live within 2 s */
  });
})();
