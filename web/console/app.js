// cpmd operator console (docs/internals/console.md): one page over the admin API of the same
// origin. Plain JS, no framework, no build step. Every value that comes from cpmd is shown
// with textContent, never as HTML: file names and addresses are chosen by remote senders.
'use strict';

const TOKEN_KEY = 'cpmd-admin-token';
const HISTORY = 300;       // metric samples kept (one a second: 5 minutes)
const $ = (id) => document.getElementById(id);

// ---- token and API -------------------------------------------------------------------------
// The token lives in sessionStorage: asked once per tab, gone when the tab closes, never in a
// cookie (so no other site can make the browser send it: no CSRF on the mutating calls).
function token() { return sessionStorage.getItem(TOKEN_KEY); }

class AuthError extends Error {}

async function api(method, path, body) {
	const headers = { 'Accept': 'application/json' };
	const t = token();
	if (t) headers['Authorization'] = 'Bearer ' + t;
	if (body !== undefined) headers['Content-Type'] = 'application/json';
	const r = await fetch(path, { method, headers, cache: 'no-store',
		body: body === undefined ? undefined : JSON.stringify(body) });
	if (r.status === 401) {
		sessionStorage.removeItem(TOKEN_KEY);
		showLogin('cpmd refused the token (401): enter it again.');
		throw new AuthError('401');
	}
	const text = await r.text();
	let json = null;
	if (text && (r.headers.get('Content-Type') || '').includes('json')) {
		try { json = JSON.parse(text); } catch (e) { json = null; }
	}
	if (!r.ok) {
		const why = json && json.error ? json.error : text.slice(0, 200);
		throw new Error(method + ' ' + path + ': ' + r.status + (why ? ' ' + why : ''));
	}
	return json !== null ? json : text;
}

// A listing may be a bare array or an object holding one ({"items": [...], "next": ...}).
function listOf(j, ...keys) {
	if (Array.isArray(j)) return j;
	if (!j || typeof j !== 'object') return [];
	for (const k of keys.concat(['items', 'data'])) if (Array.isArray(j[k])) return j[k];
	return [];
}
function pick(o, ...keys) {
	for (const k of keys) if (o && o[k] !== undefined && o[k] !== null) return o[k];
	return undefined;
}

// ---- small DOM helpers ---------------------------------------------------------------------
function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (k === 'class') e.className = v;
		else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
		else e.setAttribute(k, v);
	}
	for (const c of kids) {
		if (c === undefined || c === null) continue;
		e.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return e;
}
function status(msg, bad) {
	const s = $('status');
	s.textContent = msg;
	s.className = bad ? 'bad' : 'ok';
}
function fail(e) {
	if (e instanceof AuthError) return;
	status(e.message || String(e), true);
}
function fmtBytes(n) {
	if (n === undefined || n === null || isNaN(n)) return '';
	const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
	let i = 0;
	n = Number(n);
	while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
	return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
}
// Times: Unix seconds, Unix ms, or an ISO string.
function fmtTime(v) {
	if (v === undefined || v === null || v === '' || v === 0) return '';
	let d;
	if (typeof v === 'number') d = new Date(v > 1e12 ? v : v * 1000);
	else d = new Date(v);
	return isNaN(d) ? String(v) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
function confirmDialog(text, okLabel) {
	return new Promise((resolve) => {
		const d = $('confirm');
		$('confirm-text').textContent = text;
		$('confirm-ok').textContent = okLabel;
		d.returnValue = '';
		d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
		d.showModal();
	});
}

// ---- views ---------------------------------------------------------------------------------
let current = null;
function showLogin(msg) {
	for (const v of document.querySelectorAll('.view')) v.hidden = true;
	$('login').hidden = false;
	if (msg) status(msg, true);
	$('token').focus();
}
function show(view) {
	if (token() === null) { showLogin(); return; }
	$('login').hidden = true;
	current = view;
	for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== 'view-' + view;
	for (const t of document.querySelectorAll('.tab')) t.classList.toggle('active', t.dataset.view === view);
	if (view === 'deferred') loadDeferred();
	else if (view === 'transfers') loadTransfers();
	else if (view === 'users') loadUsers();
	else if (view === 'metrics') drawMetrics();
}

// ---- deferred queue ------------------------------------------------------------------------
// Keyset paging (the API's `after` = the last id of the page before): the cursors of the pages
// already seen are kept so that "Previous" goes back without OFFSET.
const dq = { after: '', seen: [], next: null };

function deferredQuery(after) {
	const p = new URLSearchParams();
	const s = $('f-sender').value.trim(), r = $('f-recipient').value.trim(), k = $('f-kind').value;
	if (s) p.set('sender', s);
	if (r) p.set('recipient', r);
	if (k) p.set('kind', k);
	p.set('limit', $('f-limit').value);
	if (after) p.set('after', after);
	return '/api/v1/deferred?' + p.toString();
}

function itemName(it) {
	const kind = pick(it, 'kind');
	const name = pick(it, 'name', 'file_name', 'filename');
	if (kind === 'message' || (!name && kind !== 'file')) return el('em', {}, 'message');
	return name || '';
}

function itemRow(it, onChange) {
	const id = String(pick(it, 'id'));
	const retry = el('button', { type: 'button', class: 'retry', 'data-id': id, onclick: async () => {
		try {
			await api('POST', '/api/v1/deferred/' + encodeURIComponent(id) + '/retry');
			status('retry of ' + id + ' started');
			onChange();
		} catch (e) { fail(e); }
	} }, 'Retry');
	const purge = el('button', { type: 'button', class: 'purge danger', 'data-id': id, onclick: async () => {
		const what = it.kind === 'message' ? 'message' : '“' + (pick(it, 'name', 'file_name') || id) + '”';
		if (!await confirmDialog('Purge ' + what + ' from ' + (it.sender || '?') + ' to ' + (it.recipient || '?') +
			'? The sender is told it failed.', 'Purge')) return;
		try {
			await api('DELETE', '/api/v1/deferred/' + encodeURIComponent(id));
			status('purged ' + id);
			onChange();
		} catch (e) { fail(e); }
	} }, 'Purge');
	return el('tr', { 'data-id': id },
		el('td', { class: 'id' }, id), el('td', {}, pick(it, 'sender') || ''),
		el('td', {}, pick(it, 'recipient') || ''), el('td', { class: 'name' }, itemName(it)),
		el('td', { class: 'num' }, fmtBytes(pick(it, 'size', 'bytes'))), el('td', {}, pick(it, 'state') || ''),
		el('td', {}, fmtTime(pick(it, 'expires', 'expires_at'))), el('td', { class: 'actions' }, retry, purge));
}

async function loadDeferred() {
	try {
		const j = await api('GET', deferredQuery(dq.after));
		const items = listOf(j, 'items', 'deferred');
		const tb = $('deferred-table').tBodies[0];
		tb.replaceChildren(...items.map((it) => itemRow(it, loadDeferred)));
		if (!items.length) tb.append(el('tr', {}, el('td', { colspan: 8, class: 'hint' }, 'no items')));
		const limit = Number($('f-limit').value);
		// cpmd says where the next page starts ("next": null on the last one)
		dq.next = j && typeof j === 'object' && 'next' in j ? j.next
			: (items.length === limit ? String(items[items.length - 1].id) : null);
		$('deferred-next').disabled = !dq.next;
		$('deferred-prev').disabled = dq.seen.length === 0;
		$('deferred-first').disabled = dq.seen.length === 0;
		$('deferred-page').textContent = 'page ' + (dq.seen.length + 1) + ' · ' + items.length + ' item(s)';
	} catch (e) { fail(e); }
}

// ---- live transfers ------------------------------------------------------------------------
function progress(done, size) {
	done = Number(done) || 0;
	size = Number(size) || 0;
	const p = el('progress', { max: String(size || 1), value: String(size ? Math.min(done, size) : 0) });
	const pct = size ? Math.floor(100 * Math.min(done, size) / size) + ' %' : '';
	return el('span', { class: 'progress' }, p, ' ', fmtBytes(done) + ' / ' + fmtBytes(size) + (pct ? ' (' + pct + ')' : ''));
}

async function loadTransfers() {
	try {
		const [t, s] = await Promise.all([api('GET', '/api/v1/transfers'), api('GET', '/api/v1/sessions')]);
		const rows = listOf(t, 'transfers').map((x) => {
			const id = String(pick(x, 'id'));
			const stop = el('button', { type: 'button', class: 'danger', onclick: async () => {
				if (!await confirmDialog('Terminate transfer ' + id + '? Both sides get a BYE.', 'Terminate')) return;
				try { await api('DELETE', '/api/v1/transfers/' + encodeURIComponent(id)); status('terminated ' + id); loadTransfers(); }
				catch (e) { fail(e); }
			} }, 'Terminate');
			return el('tr', { 'data-id': id }, el('td', { class: 'id' }, id), el('td', {}, pick(x, 'mode') || ''),
				el('td', {}, pick(x, 'sender') || ''), el('td', {}, pick(x, 'recipient') || ''),
				el('td', { class: 'name' }, pick(x, 'name', 'file_name') || ''),
				el('td', {}, progress(pick(x, 'bytes', 'bytes_so_far'), pick(x, 'size'))), el('td', {}, stop));
		});
		const tb = $('transfers-table').tBodies[0];
		tb.replaceChildren(...rows);
		if (!rows.length) tb.append(el('tr', {}, el('td', { colspan: 7, class: 'hint' }, 'no transfer in progress')));
		const sb = $('sessions-table').tBodies[0];
		sb.replaceChildren(...listOf(s, 'sessions').map((x) => el('tr', {}, el('td', { class: 'id' }, pick(x, 'id') || ''),
			el('td', {}, pick(x, 'sender') || ''), el('td', {}, pick(x, 'recipient') || ''), el('td', {}, pick(x, 'state') || ''))));
	} catch (e) { fail(e); }
}

// ---- users ---------------------------------------------------------------------------------
async function loadUsers() {
	try {
		const j = await api('GET', '/api/v1/users');
		const ul = $('users-list');
		ul.replaceChildren(...listOf(j, 'users').map((u) => {
			const aor = typeof u === 'string' ? u : pick(u, 'aor', 'user', 'id');
			return el('li', {}, el('a', { href: '#users/' + encodeURIComponent(aor), class: 'user', 'data-aor': aor }, aor));
		}));
	} catch (e) { fail(e); }
}

// An object or array of objects as a table (keys of the first row), for the parts of a user
// whose fields the API may grow (bindings, preferences).
function objTable(rows) {
	if (!rows.length) return el('p', { class: 'hint' }, 'none');
	const keys = Object.keys(rows[0]);
	const fmt = (k, v) => (v !== null && typeof v === 'object') ? JSON.stringify(v) : (/expires|_at$/.test(k) ? fmtTime(v) : v);
	return el('table', {}, el('thead', {}, el('tr', {}, ...keys.map((k) => el('th', {}, k)))),
		el('tbody', {}, ...rows.map((r) => el('tr', {}, ...keys.map((k) => el('td', {}, fmt(k, r[k])))))));
}

async function loadUser(aor) {
	const d = $('user-detail');
	try {
		const enc = encodeURIComponent(aor);
		const [u, toHim, fromHim] = await Promise.all([
			api('GET', '/api/v1/users/' + enc),
			api('GET', '/api/v1/deferred?limit=100&recipient=' + enc),
			api('GET', '/api/v1/deferred?limit=100&sender=' + enc)]);
		const devices = listOf(u, 'devices', 'bindings', 'registrations');
		const prefs = u && typeof u === 'object' ? pick(u, 'prefs', 'preferences') : undefined;
		const items = (list) => el('table', {}, el('thead', {}, el('tr', {}, ...['ID', 'Sender', 'Recipient', 'File / message', 'Size', 'State', 'Expires', ''].map((h) => el('th', {}, h)))),
			el('tbody', {}, ...list.map((it) => itemRow(it, () => loadUser(aor)))));
		d.replaceChildren(el('h3', {}, aor),
			el('h4', {}, 'Devices'), objTable(devices),
			el('h4', {}, 'Preferences'), prefs && typeof prefs === 'object' ? objTable([prefs]) : el('p', { class: 'hint' }, 'defaults'),
			el('h4', {}, 'Stored for this user'), items(listOf(toHim, 'items', 'deferred')),
			el('h4', {}, 'Sent by this user, not delivered yet'), items(listOf(fromHim, 'items', 'deferred')));
	} catch (e) { fail(e); }
}

// ---- metrics -------------------------------------------------------------------------------
// Prometheus text format 0.0.4: `name{label="v",...} value [timestamp]`; # lines are comments.
// Returns every series (for the table) and, per metric name, the sum over its labels.
function parseMetrics(text) {
	const series = [], sums = {};
	for (const line of text.split('\n')) {
		if (!line || line[0] === '#') continue;
		const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(line);
		if (!m) continue;
		const v = Number(m[3]);
		if (isNaN(v)) continue;
		series.push([m[1] + (m[2] || ''), v]);
		if (!/_bucket$/.test(m[1])) sums[m[1]] = (sums[m[1]] || 0) + v;
	}
	return { series, sums };
}

const hist = { t: [], transfers: [], bytes: [], deferred: [] };
let lastScrape = null;

async function scrape() {
	try {
		const text = await api('GET', '/metrics');
		const now = performance.now() / 1000;
		const m = parseMetrics(typeof text === 'string' ? text : '');
		const cur = { t: now, transfers: m.sums['cpmd_transfers_total'] || 0,
			bytes: m.sums['cpmd_relayed_bytes_total'] || 0, deferred: m.sums['cpmd_deferred_items'] || 0 };
		if (lastScrape) {
			const dt = Math.max(cur.t - lastScrape.t, 0.001);
			// A counter that went down is a restarted cpmd: count from zero again.
			const rate = (a, b) => (a >= b ? (a - b) / dt : a / dt);
			hist.t.push(cur.t);
			hist.transfers.push(rate(cur.transfers, lastScrape.transfers));
			hist.bytes.push(rate(cur.bytes, lastScrape.bytes));
			hist.deferred.push(cur.deferred);
			for (const k of Object.keys(hist)) if (hist[k].length > HISTORY) hist[k].shift();
		}
		lastScrape = cur;
		scrape.latest = m;
		if (current === 'metrics') drawMetrics();
	} catch (e) { fail(e); }
}

function chart(svg, values) {
	const NS = 'http://www.w3.org/2000/svg', W = 400, H = 120;
	const max = Math.max(1, ...values);
	// the samples so far span the width (a page opened a few seconds ago still shows a line)
	const step = W / Math.max(values.length - 1, 1);
	const pts = values.map((v, i) => (step * i).toFixed(1) + ',' + (H - 4 - ((H - 16) * v) / max).toFixed(1)).join(' ');
	const line = document.createElementNS(NS, 'polyline');
	line.setAttribute('points', pts);
	line.setAttribute('class', 'line');
	const top = document.createElementNS(NS, 'text');
	top.setAttribute('x', '4');
	top.setAttribute('y', '11');
	top.setAttribute('class', 'axis');
	top.textContent = 'max ' + (max >= 1024 ? fmtBytes(max) : String(Math.round(max * 100) / 100));
	svg.replaceChildren(line, top);
}

function drawMetrics() {
	chart($('chart-transfers'), hist.transfers);
	chart($('chart-bytes'), hist.bytes);
	chart($('chart-deferred'), hist.deferred);
	const last = (a) => (a.length ? a[a.length - 1] : 0);
	$('now-transfers').textContent = 'now ' + last(hist.transfers).toFixed(2) + ' /s';
	$('now-bytes').textContent = 'now ' + fmtBytes(Math.round(last(hist.bytes))) + '/s';
	$('now-deferred').textContent = 'now ' + last(hist.deferred);
	const m = scrape.latest;
	if (!m) return;
	$('metrics-table').tBodies[0].replaceChildren(...m.series.filter(([n]) => !/_bucket\{/.test(n))
		.map(([n, v]) => el('tr', {}, el('td', { class: 'id' }, n), el('td', { class: 'num' }, v))));
}

async function health() {
	const h = $('health');
	try {
		const j = await api('GET', '/api/v1/health');
		const st = (j && pick(j, 'status')) || 'ok';
		h.textContent = st;
		h.className = 'health ' + (st === 'ok' ? 'good' : 'bad');
	} catch (e) {
		h.textContent = 'down';
		h.className = 'health bad';
	}
}

// ---- wiring --------------------------------------------------------------------------------
function route() {
	const h = decodeURIComponent(location.hash.slice(1));
	if (h.startsWith('users/')) {
		if (current !== 'users') show('users');
		loadUser(h.slice(6));
		return;
	}
	show(['deferred', 'transfers', 'users', 'metrics'].includes(h) ? h : 'deferred');
}

document.addEventListener('DOMContentLoaded', () => {
	for (const t of document.querySelectorAll('.tab'))
		t.addEventListener('click', () => { location.hash = t.dataset.view; });
	window.addEventListener('hashchange', route);
	$('login-form').addEventListener('submit', (ev) => {
		ev.preventDefault();
		sessionStorage.setItem(TOKEN_KEY, $('token').value);
		$('token').value = '';
		status('');
		route();
		health();
	});
	$('logout').addEventListener('click', () => { sessionStorage.removeItem(TOKEN_KEY); showLogin(); });
	$('deferred-search').addEventListener('submit', (ev) => {
		ev.preventDefault();
		dq.after = ''; dq.seen = [];
		loadDeferred();
	});
	$('deferred-next').addEventListener('click', () => { dq.seen.push(dq.after); dq.after = dq.next; loadDeferred(); });
	$('deferred-prev').addEventListener('click', () => { dq.after = dq.seen.pop() || ''; loadDeferred(); });
	$('deferred-first').addEventListener('click', () => { dq.after = ''; dq.seen = []; loadDeferred(); });
	route();
	if (token() !== null) health();
	// One timer: live transfers every second while shown; /metrics every second for the charts'
	// history (the scrape is a few kB); health every 5 s.
	let tick = 0;
	setInterval(() => {
		if (token() === null) return;
		tick++;
		if (current === 'transfers') loadTransfers();
		scrape();
		if (tick % 5 === 0) health();
	}, 1000);
});
