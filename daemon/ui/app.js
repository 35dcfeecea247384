/*
 * vigil moderator page.  Plain DOM, no framework, no build step.
 *
 * DESIGN: every piece of data from the API -- above all finding excerpts,
 * keys and archive member names, which are customer content -- reaches the
 * page through textContent or createTextNode, never innerHTML, and control
 * or invisible characters are drawn as visible markers.  No inline script
 * or handler, no eval: the page runs under script-src 'self'.  The token
 * and moderator name live in sessionStorage only.  Views follow the URL
 * hash (#queue, #item/ID, #account/ID); one long-poll loop on /v1/feed
 * refreshes whatever view is open when something happens.
 */
'use strict';

(function () {
	const TOKEN_KEY = 'vigil.token';
	const NAME_KEY = 'vigil.moderator';
	const STATUS_KEY = 'vigil.status';
	const PAGE = 50;
	const LOG_MAX = 50;
	const POLL_S = 25;
	const API = new URL('../v1/', document.baseURI);
	const SEVERITIES = ['low', 'medium', 'high', 'critical'];

	const $ = (id) => document.getElementById(id);
	const enc = encodeURIComponent;

	const st = {
		token: sessionStorage.getItem(TOKEN_KEY) || '',
		me: sessionStorage.getItem(NAME_KEY) || '',
		view: null,
		status: sessionStorage.getItem(STATUS_KEY) || 'pending',
		cursors: [null],	/* cursor of each page seen; [0] is null */
		page: 0,
		next: null,
		queueGen: 0,
		itemId: null, item: null, itemGen: 0,
		accountId: null, account: null, accountGen: 0,
		leaseTimer: null,
		feedGen: 0, feedCtl: null, feedAfter: null,
		refreshTimer: null, refreshWhat: null,
		started: false,
	};

	/* --- helpers -------------------------------------------------- */

	class ApiError extends Error {
		constructor(status, message) {
			super(message);
			this.status = status;
		}
	}

	function el(tag, props, ...kids) {
		const e = document.createElement(tag);
		if (props) {
			for (const [k, v] of Object.entries(props)) {
				if (v === undefined || v === null || v === false)
					continue;
				if (k === 'text')
					e.textContent = String(v);
				else if (k === 'className')
					e.className = v;
				else
					e.setAttribute(k, v === true ? '' : String(v));
			}
		}
		for (const k of kids) {
			if (k === null || k === undefined || k === false)
				continue;
			e.append(typeof k === 'string' ? document.createTextNode(k) : k);
		}
		return e;
	}

	function clear(e) {
		while (e.firstChild)
			e.removeChild(e.firstChild);
		return e;
	}

	/*
	 * Control, format and invisible characters (C0, DEL, C1, soft hyphen,
	 * zero-width and bidi controls, BOM) become visible markers, so an
	 * excerpt or member name cannot hide or reorder text.  A newline is
	 * drawn and also kept, so lines still break.
	 */
	const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\ufff9-\ufffb]/g;

	function marker(ch) {
		const c = ch.charCodeAt(0);
		const hex = c.toString(16).toUpperCase().padStart(4, '0');
		/* The server's own excerpt escape for bytes, plain ASCII else. */
		const shown = c < 0x100 ? '\\x' + hex.slice(2).toLowerCase() :
		    '<U+' + hex + '>';
		return el('span', { className: 'ctl', title: 'U+' + hex,
		    'data-ctl': hex, text: shown });
	}

	function appendVisible(parent, s) {
		s = String(s);
		let last = 0, m;
		HIDDEN.lastIndex = 0;
		while ((m = HIDDEN.exec(s)) !== null) {
			if (m.index > last)
				parent.append(document.createTextNode(s.slice(last, m.index)));
			parent.append(marker(m[0]));
			if (m[0] === '\n')
				parent.append(document.createTextNode('\n'));
			last = m.index + 1;
		}
		if (last < s.length)
			parent.append(document.createTextNode(s.slice(last)));
		return parent;
	}

	function visible(tag, props, s) {
		return appendVisible(el(tag, props), s);
	}

	/*
	 * The server writes control characters and invalid bytes of an
	 * excerpt as \xNN text: mark those too, and break the line after
	 * an escaped newline so the excerpt keeps its shape.
	 */
	function excerptEl(props, s) {
		const pre = el('pre', props);
		String(s).split(/(\\x[0-9a-fA-F]{2})/).forEach((part, i) => {
			if (i % 2 === 0) {
				appendVisible(pre, part);
				return;
			}
			pre.append(el('span', { className: 'ctl esc',
			    title: 'byte 0x' + part.slice(2).toLowerCase(),
			    text: part }));
			if (part.slice(2).toLowerCase() === '0a')
				pre.append(document.createTextNode('\n'));
		});
		return pre;
	}

	function fmtTime(iso) {
		if (!iso)
			return '\u2014';
		const d = new Date(iso);
		if (isNaN(d.getTime()))
			return String(iso);
		return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
	}

	function timeEl(iso) {
		return el('time', { datetime: iso || undefined, text: fmtTime(iso) });
	}

	function age(iso) {
		const t = Date.parse(iso);
		if (isNaN(t))
			return '\u2014';
		let s = Math.max(0, Math.round((Date.now() - t) / 1000));
		if (s < 60)
			return s + 's';
		if ((s = Math.floor(s / 60)) < 60)
			return s + 'm';
		if ((s = Math.floor(s / 60)) < 48)
			return s + 'h';
		return Math.floor(s / 24) + 'd';
	}

	function sevBadge(sev, testid) {
		const known = SEVERITIES.includes(sev);
		return el('span', { className: 'sev' + (known ? ' sev-' + sev : ''),
		    'data-testid': testid, text: sev || '?' });
	}

	function stateEl(s, testid) {
		return el('span', { className: 'state state-' +
		    String(s).replace(/[^a-z]/g, ''), 'data-testid': testid,
		    text: s || '?' });
	}

	function leaseValid(it) {
		const t = Date.parse(it && it.lease_until);
		return !isNaN(t) && t > Date.now();
	}

	function itemLink(id) {
		return el('a', { href: '#item/' + enc(id), text: '#' + id });
	}

	function accountLink(id, testid) {
		return visible('a', { href: '#account/' + enc(id),
		    'data-testid': testid }, id);
	}

	function setMsg(node, text, kind) {
		node.textContent = text || '';
		node.className = 'msg' + (kind ? ' ' + kind : '');
	}

	function errText(e) {
		if (e instanceof ApiError && e.status)
			return e.status + ': ' + e.message;
		return e && e.message ? e.message : String(e);
	}

	/* --- API ------------------------------------------------------ */

	async function api(method, path, body, opts) {
		opts = opts || {};
		const headers = { Authorization: 'Bearer ' + st.token,
		    Accept: 'application/json' };
		const init = { method, headers, cache: 'no-store',
		    credentials: 'same-origin', signal: opts.signal };
		if (body !== undefined && body !== null) {
			headers['Content-Type'] = 'application/json';
			init.body = JSON.stringify(body);
		}
		let res;
		try {
			res = await fetch(new URL(path, API), init);
		} catch (e) {
			if (e && e.name === 'AbortError')
				throw e;
			throw new ApiError(0, 'cannot reach the server');
		}
		const text = await res.text();
		let data = null;
		if (text) {
			try {
				data = JSON.parse(text);
			} catch (e) {
				data = null;
			}
		}
		if (!res.ok) {
			const why = data && typeof data.error === 'string' ?
			    data.error : res.statusText || 'request failed';
			if (res.status === 401 && !opts.keepSession)
				signOut('The server rejected the token (401: ' + why +
				    '). Sign in again.');
			throw new ApiError(res.status, why);
		}
		if (data === null)
			throw new ApiError(res.status, 'the server sent no JSON');
		return data;
	}

	function body(extra) {
		return Object.assign(st.me ? { moderator: st.me } : {}, extra);
	}

	/* --- sign-in -------------------------------------------------- */

	function setMe(name) {
		st.me = name || '';
		if (st.me)
			sessionStorage.setItem(NAME_KEY, st.me);
		else
			sessionStorage.removeItem(NAME_KEY);
		$('me').textContent = st.me || '(name set by your first claim)';
	}

	function showOnly(id) {
		for (const s of ['signin', 'queue-view', 'item-view', 'account-view'])
			$(s).hidden = s !== id;
	}

	function showSignin(msg) {
		st.view = 'signin';
		showOnly('signin');
		$('who').hidden = true;
		$('feed').hidden = true;
		$('modname').value = st.me;
		setMsg($('signin-msg'), msg || '', msg ? 'error' : '');
		$('token').focus();
	}

	function signOut(msg) {
		st.token = '';
		sessionStorage.removeItem(TOKEN_KEY);
		st.started = false;
		stopFeed();
		clearTimeout(st.leaseTimer);
		showSignin(msg);
	}

	$('signin-form').addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const token = $('token').value.trim();
		const name = $('modname').value.trim();
		const msg = $('signin-msg');
		if (!token) {
			setMsg(msg, 'Enter an API token.', 'error');
			return;
		}
		setMsg(msg, 'Checking the token\u2026');
		st.token = token;
		try {
			await api('GET', 'review?status=pending&limit=1', null,
			    { keepSession: true });
		} catch (e) {
			st.token = '';
			if (e.status === 401)
				setMsg(msg, 'The server rejected this token.', 'error');
			else if (e.status === 403)
				setMsg(msg, 'This token may not read the review queue ' +
				    '(a hook token?).', 'error');
			else
				setMsg(msg, 'Sign-in failed: ' + errText(e), 'error');
			return;
		}
		sessionStorage.setItem(TOKEN_KEY, token);
		$('token').value = '';
		setMsg(msg, '');
		setMe(name);
		start();
	});

	$('signout').addEventListener('click', () => {
		setMe('');
		signOut('Signed out.');
		setMsg($('signin-msg'), 'Signed out.', 'ok');
	});

	function start() {
		st.started = true;
		$('who').hidden = false;
		$('feed').hidden = false;
		setMe(st.me);
		startFeed();
		route(true);
	}

	/* --- routing -------------------------------------------------- */

	function route(nav) {
		if (!st.token) {
			showSignin();
			return;
		}
		const h = location.hash.replace(/^#/, '');
		let m, id;
		if ((m = /^item\/(\d+)$/.exec(h))) {
			showItem(Number(m[1]), nav);
		} else if ((m = /^account\/(.+)$/.exec(h))) {
			try {
				id = decodeURIComponent(m[1]);
			} catch (e) {
				id = m[1];
			}
			showAccount(id, nav);
		} else {
			showQueue();
		}
	}

	window.addEventListener('hashchange', () => {
		if (st.started)
			route(true);
	});

	function focusHeading(id) {
		const h = $(id);
		h.setAttribute('tabindex', '-1');
		h.focus({ preventScroll: false });
	}

	/* --- queue ---------------------------------------------------- */

	function showQueue() {
		const was = st.view;
		st.view = 'queue';
		showOnly('queue-view');
		$('status').value = st.status;
		document.title = 'Queue \u2014 vigil review';
		loadQueue();
		if (was === 'item' || was === 'account')
			focusHeading('queue-h');
	}

	async function loadQueue() {
		const gen = ++st.queueGen;
		const cursor = st.cursors[st.page];
		let q = 'review?status=' + enc(st.status) + '&limit=' + PAGE;
		if (cursor !== null && cursor !== undefined)
			q += '&after=' + enc(cursor);
		let data;
		try {
			data = await api('GET', q);
		} catch (e) {
			if (gen === st.queueGen && e.status !== 401)
				setMsg($('queue-msg'), 'Cannot load the queue: ' +
				    errText(e), 'error');
			return;
		}
		if (gen !== st.queueGen)
			return;
		setMsg($('queue-msg'), '');
		renderQueue(Array.isArray(data.items) ? data.items : []);
		st.next = data.next === undefined ? null : data.next;
		$('next').disabled = st.next === null || st.next === '';
		$('prev').disabled = st.page === 0;
		$('first').disabled = st.page === 0;
	}

	function renderQueue(items) {
		const tb = clear($('queue-body'));
		$('queue-empty').hidden = items.length > 0;
		for (const it of items) {
			const claimed = it.claimed_by ?
			    visible('span', null, it.claimed_by) : null;
			if (claimed && it.lease_until)
				claimed.append(' (until ' + fmtTime(it.lease_until) +
				    (leaseValid(it) ? ')' : ', expired)'));
			const tr = el('tr', { 'data-testid': 'queue-row',
			    'data-id': it.id, 'data-account': it.account },
			    el('td', { 'data-testid': 'row-id' }, itemLink(it.id)),
			    el('td', null, accountLink(it.account, 'row-account')),
			    el('td', null, sevBadge(it.severity, 'row-severity')),
			    el('td', { className: 'num', 'data-testid': 'row-findings',
				text: it.findings }),
			    el('td', { className: 'num', 'data-testid': 'row-score',
				text: it.score }),
			    el('td', { className: 'num age', 'data-testid': 'row-age',
				'data-created': it.created, title: fmtTime(it.created),
				text: age(it.created) }),
			    el('td', { 'data-testid': 'row-status', text: it.status }),
			    el('td', { 'data-testid': 'row-claimed' },
				claimed || '\u2014'));
			tr.addEventListener('click', (ev) => {
				if (ev.target.closest('a'))
					return;
				location.hash = '#item/' + it.id;
			});
			tb.append(tr);
		}
	}

	$('status').addEventListener('change', () => {
		st.status = $('status').value;
		sessionStorage.setItem(STATUS_KEY, st.status);
		st.cursors = [null];
		st.page = 0;
		loadQueue();
	});
	$('refresh').addEventListener('click', () => loadQueue());
	$('first').addEventListener('click', () => {
		st.cursors = [null];
		st.page = 0;
		loadQueue();
	});
	$('prev').addEventListener('click', () => {
		if (st.page > 0) {
			st.page--;
			loadQueue();
		}
	});
	$('next').addEventListener('click', () => {
		if (st.next === null || st.next === '')
			return;
		st.cursors[st.page + 1] = st.next;
		st.cursors.length = st.page + 2;
		st.page++;
		loadQueue();
	});

	setInterval(() => {
		for (const td of document.querySelectorAll('#queue-body td.age'))
			td.textContent = age(td.dataset.created);
	}, 30000);

	/* --- findings and events (shared by item and account) --------- */

	function renderFinding(f) {
		const active = !f.state || f.state === 'active';
		const object = (f.bucket || '') + '/' + (f.key || '');
		const path = Array.isArray(f.path) ? f.path : [];
		const crumbs = el('div', { className: 'crumbs',
		    'data-testid': 'finding-path' },
		    el('span', { className: 'sr', text: 'Path: ' }));
		path.forEach((p, i) => {
			if (i > 0)
				crumbs.append(el('span', { className: 'sep',
				    'aria-hidden': 'true', text: ' \u203a ' }));
			crumbs.append(visible('span', { className: 'crumb',
			    'data-testid': 'finding-crumb' }, p));
		});
		let excerpt;
		if (f.excerpt === null || f.excerpt === undefined)
			excerpt = el('pre', { className: 'excerpt none',
			    'data-testid': 'finding-excerpt', text: '(no excerpt)' });
		else
			excerpt = excerptEl({ className: 'excerpt',
			    'data-testid': 'finding-excerpt', tabindex: '0',
			    'aria-label': 'Excerpt' }, f.excerpt);
		const facts = el('dl', { className: 'facts' });
		const fact = (k, v) => facts.append(el('dt', { text: k }),
		    el('dd', null, v));
		fact('Object', visible('span', { 'data-testid': 'finding-object' },
		    object));
		fact('Offset', el('span', { 'data-testid': 'finding-offset',
		    text: f.offset === undefined || f.offset === null ?
		    '\u2014' : f.offset }));
		fact('Found', timeEl(f.found));
		if (f.sha256)
			fact('SHA-256', el('code', { title: f.sha256,
			    text: String(f.sha256).slice(0, 16) + '\u2026' }));
		return el('li', { className: 'finding' + (active ? '' : ' inactive'),
		    'data-testid': 'finding', 'data-id': f.id },
		    el('div', { className: 'head' },
			el('span', { className: 'rule', 'data-testid': 'finding-rule',
			    text: f.rule }),
			el('span', { 'data-testid': 'finding-clause',
			    text: 'clause ' + (f.clause || '\u2014') }),
			sevBadge(f.severity, 'finding-severity'),
			el('span', { 'data-testid': 'finding-suggestion',
			    text: 'suggests ' + (f.suggestion || '\u2014') }),
			el('span', { className: 'state', 'data-testid': 'finding-state',
			    text: f.state || '' })),
		    crumbs, excerpt, facts);
	}

	const DATA_KEYS = ['from', 'to', 'decision', 'severity', 'moderator',
	    'actor', 'score', 'lease_until', 'reason'];

	function summarize(data) {
		if (!data || typeof data !== 'object')
			return '';
		const parts = [];
		if (data.from !== undefined || data.to !== undefined)
			parts.push((data.from || '?') + ' \u2192 ' + (data.to || '?'));
		for (const k of DATA_KEYS.slice(2)) {
			if (data[k] === undefined || data[k] === null || data[k] === '')
				continue;
			const v = k === 'lease_until' ? fmtTime(data[k]) : data[k];
			parts.push(k + ': ' + (typeof v === 'object' ?
			    JSON.stringify(v) : String(v)));
		}
		const s = parts.join(', ');
		return s.length > 240 ? s.slice(0, 239) + '\u2026' : s;
	}

	function renderEvent(ev, testid) {
		const li = el('li', { 'data-testid': testid, 'data-id': ev.id,
		    'data-type': ev.type },
		    timeEl(ev.at), el('span', { className: 'type', text: ev.type }));
		if (ev.account) {
			li.append(' ');
			li.append(accountLink(ev.account));
		}
		if (ev.review !== null && ev.review !== undefined) {
			li.append(' ');
			li.append(itemLink(ev.review));
		}
		const s = summarize(ev.data);
		if (s) {
			li.append(' ');
			li.append(visible('span', { className: 'data' }, s));
		}
		return li;
	}

	function renderList(node, list, fn) {
		clear(node);
		if (!Array.isArray(list) || list.length === 0) {
			node.append(el('li', { className: 'muted', text: 'None.' }));
			return;
		}
		for (const x of list)
			node.append(fn(x));
	}

	/* --- item ----------------------------------------------------- */

	function showItem(id, nav) {
		const same = st.view === 'item' && st.itemId === id;
		st.view = 'item';
		showOnly('item-view');
		if (!same) {
			st.itemId = id;
			st.item = null;
			$('item-id').textContent = '#' + id;
			clear($('item-facts'));
			clear($('findings'));
			clear($('item-history'));
			$('item-decision').hidden = true;
			setMsg($('item-msg'), '');
			$('decision-form').reset();
			setMsg($('decision-why'), 'Loading\u2026');
			updateControls();
		}
		document.title = 'Item #' + id + ' \u2014 vigil review';
		loadItem();
		if (nav)
			focusHeading('item-h');
	}

	async function loadItem() {
		const gen = ++st.itemGen;
		const id = st.itemId;
		let it;
		try {
			it = await api('GET', 'review/' + enc(id));
		} catch (e) {
			if (gen !== st.itemGen || e.status === 401)
				return;
			setMsg($('item-msg'), e.status === 404 ?
			    'There is no review item #' + id + '.' :
			    'Cannot load item #' + id + ': ' + errText(e), 'error');
			return;
		}
		if (gen !== st.itemGen || id !== st.itemId)
			return;
		st.item = it;
		renderItem(it);
	}

	function renderItem(it) {
		const facts = clear($('item-facts'));
		const fact = (k, v) => facts.append(el('dt', { text: k }),
		    el('dd', null, v));
		fact('Status', el('span', { 'data-testid': 'item-status',
		    text: it.status }));
		fact('Account', accountLink(it.account, 'item-account'));
		fact('Account state', stateEl(it.account_state,
		    'item-account-state'));
		fact('Severity', sevBadge(it.severity, 'item-severity'));
		fact('Findings', String(Array.isArray(it.findings) ?
		    it.findings.length : it.findings));
		fact('Score', String(it.score));
		fact('Created', timeEl(it.created));
		fact('Updated', timeEl(it.updated));
		fact('Claimed by', it.claimed_by ?
		    visible('span', { 'data-testid': 'item-claimed-by' },
		    it.claimed_by) : '\u2014');
		if (it.lease_until)
			fact('Lease until', timeEl(it.lease_until));

		const d = it.decision;
		const dp = $('item-decision');
		dp.hidden = !d;
		if (d) {
			clear(dp);
			dp.append(el('strong', { text: 'Decision: ' + d.decision }),
			    ' by ');
			dp.append(visible('span', null, d.moderator || '?'));
			dp.append(' at ', timeEl(d.at), ' \u2014 reason: ');
			dp.append(visible('span', { 'data-testid':
			    'item-decision-reason' }, d.reason || ''));
		}
		/* In the full item, "findings" is the list, not the count. */
		renderList($('findings'), Array.isArray(it.findings) ?
		    it.findings : null, renderFinding);
		renderList($('item-history'), it.history,
		    (ev) => renderEvent(ev, 'history-event'));
		updateControls();
	}

	function updateControls() {
		const it = st.item;
		clearTimeout(st.leaseTimer);
		const fs = $('decision-fs');
		const why = $('decision-why');
		if (!it) {
			$('claim').disabled = true;
			$('release').disabled = true;
			fs.disabled = true;
			$('decision-form').hidden = false;
			return;
		}
		const decided = it.status === 'decided';
		const valid = it.status === 'claimed' && leaseValid(it);
		const mine = valid && !!st.me && it.claimed_by === st.me;
		const other = valid && !mine;
		$('claim').disabled = decided;
		$('claim').textContent = mine ? 'Renew claim' : 'Claim';
		$('release').disabled = !(it.status === 'claimed' && !!st.me &&
		    it.claimed_by === st.me);
		fs.disabled = !mine;
		$('decision-form').hidden = decided;
		if (decided)
			why.textContent = 'This item is decided.';
		else if (mine)
			why.textContent = 'You hold the claim until ' +
			    fmtTime(it.lease_until) + '.';
		else if (other)
			why.textContent = 'Claimed by ' + it.claimed_by + ' until ' +
			    fmtTime(it.lease_until) + '.';
		else
			why.textContent = 'Claim this item to decide it.';
		if (valid) {
			const ms = Date.parse(it.lease_until) - Date.now() + 500;
			st.leaseTimer = setTimeout(updateControls,
			    Math.min(ms, 0x7fffffff));
		}
	}

	async function itemAction(what, payload) {
		const id = st.itemId;
		const msg = $('item-msg');
		setMsg(msg, '');
		let it;
		try {
			it = await api('POST', 'review/' + enc(id) + '/' + what,
			    payload);
		} catch (e) {
			if (e.status !== 401)
				setMsg(msg, errText(e), 'error');
			if (id === st.itemId)
				loadItem();
			return null;
		}
		if (id !== st.itemId)
			return it;
		if (what === 'claim' && !st.me && it && it.claimed_by)
			setMe(it.claimed_by);
		if (st.item && it && typeof it === 'object') {
			/* The answer may be a summary: keep the evidence. */
			for (const k of Object.keys(it))
				if (k !== 'findings' && k !== 'history')
					st.item[k] = it[k];
			renderItem(st.item);
		}
		loadItem();
		return it;
	}

	$('claim').addEventListener('click', async () => {
		const it = await itemAction('claim', body());
		if (it)
			setMsg($('item-msg'), 'Claimed until ' +
			    fmtTime(it.lease_until) + '.', 'ok');
	});

	$('release').addEventListener('click', async () => {
		if (await itemAction('release', body()))
			setMsg($('item-msg'), 'Released.', 'ok');
	});

	$('decision-form').addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const msg = $('item-msg');
		const pick = $('decision-form').querySelector(
		    'input[name="decision"]:checked');
		const reason = $('reason').value.trim();
		if (!pick) {
			setMsg(msg, 'Choose suspend, dismiss or escalate.', 'error');
			return;
		}
		if (!reason) {
			setMsg(msg, 'A reason is required.', 'error');
			$('reason').focus();
			return;
		}
		const it = await itemAction('decision',
		    body({ decision: pick.value, reason }));
		if (it) {
			$('decision-form').reset();
			setMsg(msg, 'Decision recorded: ' + pick.value + '.', 'ok');
		}
	});

	/* --- account -------------------------------------------------- */

	function showAccount(id, nav) {
		const same = st.view === 'account' && st.accountId === id;
		st.view = 'account';
		showOnly('account-view');
		if (!same) {
			st.accountId = id;
			st.account = null;
			appendVisible(clear($('account-id')), id);
			clear($('account-facts'));
			clear($('account-review'));
			clear($('account-findings'));
			clear($('account-history'));
			$('reinstate-form').hidden = true;
			$('reinstate-form').reset();
			setMsg($('account-msg'), '');
		}
		document.title = 'Account \u2014 vigil review';
		loadAccount();
		if (nav)
			focusHeading('account-h');
	}

	async function loadAccount() {
		const gen = ++st.accountGen;
		const id = st.accountId;
		let a;
		try {
			a = await api('GET', 'accounts/' + enc(id));
		} catch (e) {
			if (gen !== st.accountGen || e.status === 401)
				return;
			setMsg($('account-msg'), e.status === 404 ?
			    'There is no such account.' :
			    'Cannot load the account: ' + errText(e), 'error');
			return;
		}
		if (gen !== st.accountGen || id !== st.accountId)
			return;
		st.account = a;
		renderAccount(a);
	}

	function renderAccount(a) {
		const facts = clear($('account-facts'));
		const fact = (k, v) => facts.append(el('dt', { text: k }),
		    el('dd', null, v));
		fact('State', stateEl(a.state, 'account-state'));
		fact('Score', el('span', { 'data-testid': 'account-score',
		    text: a.score }));
		if (a.threshold !== undefined)
			fact('Flag threshold', String(a.threshold));
		if (a.window_days !== undefined)
			fact('Score window', a.window_days + ' days');
		$('reinstate-form').hidden = a.state !== 'suspended';
		renderList($('account-review'), a.review, (r) => el('li', {
		    'data-testid': 'account-review-item' }, itemLink(r.id),
		    ' ', r.status || (r.decided ? 'decided' : 'open'), ' ',
		    r.severity ?
		    sevBadge(r.severity) : null,
		    r.decision && r.decision.decision ?
		    ' \u2014 ' + r.decision.decision : null));
		renderList($('account-findings'), a.findings, renderFinding);
		renderList($('account-history'), a.history,
		    (ev) => renderEvent(ev, 'history-event'));
	}

	$('reinstate-form').addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const msg = $('account-msg');
		const reason = $('reinstate-reason').value.trim();
		if (!reason) {
			setMsg(msg, 'A reason is required.', 'error');
			$('reinstate-reason').focus();
			return;
		}
		const id = st.accountId;
		try {
			await api('POST', 'accounts/' + enc(id) + '/reinstate',
			    body({ reason }));
		} catch (e) {
			if (e.status !== 401)
				setMsg(msg, errText(e), 'error');
			return;
		}
		$('reinstate-form').reset();
		setMsg(msg, 'Reinstated.', 'ok');
		if (id === st.accountId)
			loadAccount();
	});

	/* --- live feed ------------------------------------------------ */

	function setLive(kind, text) {
		const l = $('live');
		l.className = 'live ' + kind;
		l.dataset.state = kind;
		l.textContent = text;
	}

	function stopFeed() {
		st.feedGen++;
		if (st.feedCtl)
			st.feedCtl.abort();
		st.feedCtl = null;
		setLive('off', 'offline');
	}

	function startFeed() {
		stopFeed();
		st.feedAfter = null;
		feedLoop(st.feedGen);
	}

	const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

	/* One feed call, aborted if the server has not answered in time. */
	async function feedGet(q, wait_s) {
		const ctl = new AbortController();
		st.feedCtl = ctl;
		const t = setTimeout(() => ctl.abort(), (wait_s + 15) * 1000);
		try {
			return await api('GET', 'feed?' + q, null,
			    { signal: ctl.signal });
		} finally {
			clearTimeout(t);
		}
	}

	function maxId(events, dflt) {
		let m = dflt;
		for (const e of events)
			if (typeof e.id === 'number' && e.id > m)
				m = e.id;
		return m;
	}

	/*
	 * First learn where the feed ends (limit=0 answers only "last"),
	 * then wait for what comes after it.  Errors back off 1 s .. 30 s.
	 */
	async function feedLoop(gen) {
		let backoff = 1000;
		setLive('wait', 'connecting');
		while (gen === st.feedGen) {
			try {
				if (st.feedAfter === null) {
					let d;
					try {
						d = await feedGet('after=0&limit=0&timeout=0', 0);
					} catch (e) {
						if (e.status !== 400)
							throw e;
						d = await feedGet('after=0&timeout=0', 0);
					}
					if (gen !== st.feedGen)
						return;
					const ev = Array.isArray(d.events) ? d.events : [];
					st.feedAfter = typeof d.last === 'number' ?
					    d.last : maxId(ev, 0);
				} else {
					const d = await feedGet('after=' + st.feedAfter +
					    '&limit=100&timeout=' + POLL_S, POLL_S);
					if (gen !== st.feedGen)
						return;
					const ev = (Array.isArray(d.events) ? d.events : [])
					    .filter((e) => typeof e.id === 'number' &&
					    e.id > st.feedAfter);
					if (ev.length > 0) {
						st.feedAfter = maxId(ev, st.feedAfter);
						onEvents(ev);
					} else if (typeof d.last === 'number' &&
					    d.last < st.feedAfter) {
						st.feedAfter = d.last;	/* a new feed */
					}
				}
				setLive('on', 'live');
				backoff = 1000;
			} catch (e) {
				if (gen !== st.feedGen || e.status === 401)
					return;
				const s = Math.round(backoff / 1000);
				setLive('off', 'offline, retrying in ' + s + 's');
				$('live').title = errText(e);
				await sleep(backoff);
				backoff = Math.min(backoff * 2, 30000);
				if (gen === st.feedGen)
					setLive('wait', 'reconnecting');
			}
		}
	}

	function onEvents(events) {
		const log = $('live-log');
		for (const ev of events) {
			const li = renderEvent(ev, 'live-event');
			li.classList.add('fresh');
			setTimeout(() => li.classList.remove('fresh'), 5000);
			log.prepend(li);
		}
		while (log.children.length > LOG_MAX)
			log.lastElementChild.remove();

		let item = false, account = false;
		for (const ev of events) {
			if (st.item && (ev.review === st.itemId ||
			    ev.account === st.item.account))
				item = true;
			if (ev.account !== undefined && ev.account === st.accountId)
				account = true;
		}
		scheduleRefresh(st.view === 'queue' ? 'queue' :
		    st.view === 'item' && item ? 'item' :
		    st.view === 'account' && account ? 'account' : null);
	}

	/* Bursts of events cause one reload of the open view. */
	function scheduleRefresh(what) {
		if (!what)
			return;
		clearTimeout(st.refreshTimer);
		st.refreshTimer = setTimeout(() => {
			if (st.view !== what)
				return;
			if (what === 'queue')
				loadQueue();
			else if (what === 'item')
				loadItem();
			else
				loadAccount();
		}, 200);
	}

	/* --- boot ----------------------------------------------------- */

	if (st.token)
		start();
	else
		showSignin();
})();
