#!/usr/bin/env node
/*
 * Browser test of the moderator page that `vigil serve` serves at /ui/.
 *
 * usage: node test_ui.js VIGIL WORKDIR NODEDIR
 *
 * Starts the real daemon on 127.0.0.1 port 0 with a fresh state dir under
 * WORKDIR, puts objects in its local bucket dir, posts S3 events with the
 * hook token so they are scanned and an account is flagged, then drives
 * Debian's Chromium (/usr/bin/chromium, or $CHROMIUM) headless through the
 * page with playwright-core.  playwright-core is installed from the npm
 * registry into NODEDIR from the package.json beside this file, once.
 *
 * Each step prints PASS or FAIL; the first failure ends the run (the later
 * steps depend on it), saves WORKDIR/ui-failure.png and prints the tail of
 * the daemon's log.  The last line is "N passed, M failed".  Exit status:
 * 0 all passed, 1 a failure, 77 (skipped) when Chromium is not installed or
 * the npm registry cannot be reached.  The daemon is always stopped.
 */
'use strict';

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const SKIP = 77;
const [VIGIL, WORK, NODEDIR] = process.argv.slice(2);
if (!VIGIL || !WORK || !NODEDIR) {
	console.error('usage: test_ui.js VIGIL WORKDIR NODEDIR');
	process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const NEEDLE = 'VIGIL-UI-NEEDLE-3f9c';
const RULE = 'ui_casino_spam';
const CLAUSE = 'IV.9(7)';
const HOSTILE = '<img src=x onerror=window.__pwned=1>';
const TOKENS = {
	hook: 'hook-ui-secret-0123456789',
	alice: 'mod-alice-secret-0123456789',
	bob: 'mod-bob-secret-0123456789',
	admin: 'admin-ui-secret-0123456789',
};
const ACCOUNT = 'acct-ui';
const ACCOUNT2 = 'acct-ui-2';

let daemon = null;
let browser = null;
let page = null;
let passed = 0;

/* --- setup ---------------------------------------------------------- */

function skip(why) {
	console.log('SKIP: ' + why);
	process.exit(SKIP);
}

/*
 * playwright-core at the version package.json pins, in NODEDIR.  A marker
 * written after a good install tells a finished install from a broken one.
 */
function playwright() {
	const pkg = JSON.parse(fs.readFileSync(path.join(__dirname,
	    'package.json'), 'utf8'));
	const want = pkg.dependencies['playwright-core'];
	const marker = path.join(NODEDIR, '.installed-playwright-core-' + want);
	const mod = path.join(NODEDIR, 'node_modules', 'playwright-core');
	if (!fs.existsSync(marker)) {
		if (spawnSync('npm', ['--version'], { stdio: 'ignore' }).status
		    !== 0)
			skip('npm is not installed (scripts/install-deps --test)');
		fs.rmSync(NODEDIR, { recursive: true, force: true });
		fs.mkdirSync(NODEDIR, { recursive: true });
		fs.copyFileSync(path.join(__dirname, 'package.json'),
		    path.join(NODEDIR, 'package.json'));
		console.log('installing playwright-core@' + want + ' into ' +
		    NODEDIR);
		const r = spawnSync('npm', ['install', '--no-audit', '--no-fund',
		    '--no-package-lock', '--no-progress'], {
			cwd: NODEDIR, encoding: 'utf8', timeout: 120000,
			env: Object.assign({}, process.env,
			    { PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' }),
		});
		const out = (r.stdout || '') + (r.stderr || '');
		if (r.status !== 0) {
			const net = /E(NOTFOUND|AI_AGAIN|CONNREFUSED|CONNRESET|TIMEDOUT|NETUNREACH|HOSTUNREACH)|network|socket hang up|proxy/i;
			if (r.error || r.signal || net.test(out))
				skip('the npm registry cannot be reached: ' +
				    (r.error ? r.error.message : out.split('\n')
				    .filter((l) => /code |request to|network/i.test(l))
				    .slice(0, 3).join(' | ')));
			throw new Error('npm install failed:\n' + out);
		}
		fs.writeFileSync(marker, want + '\n');
	}
	return require(mod);
}

function rule() {
	return 'rule ' + RULE + '\n{\n    meta:\n        clause = "' + CLAUSE +
	    '"\n        severity = "high"\n    strings:\n        $a = "' +
	    NEEDLE + '"\n    condition:\n        $a\n}\n';
}

function config() {
	return [
		'# vigil serve config for the browser test',
		'[serve]',
		'token = hook ' + TOKENS.hook,
		'token = moderator ' + TOKENS.alice + ' alice',
		'token = moderator ' + TOKENS.bob + ' bob',
		'token = admin ' + TOKENS.admin,
		'',
		'[policy]',
		'flag_threshold = 10',
		'weight_high = 20',
		'excerpt = context',
		'excerpt_bytes = 200',
		'',
	].join('\n');
}

/* A zip archive with stored (uncompressed) members, for the path chain. */
function crc32(buf) {
	let c = ~0;
	for (const b of buf) {
		c ^= b;
		for (let k = 0; k < 8; k++)
			c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
	}
	return ~c >>> 0;
}

function zip(members) {
	const locals = [];
	const central = [];
	let off = 0;
	for (const [name, data] of members) {
		const n = Buffer.from(name);
		const crc = crc32(data);
		const lh = Buffer.alloc(30);
		lh.writeUInt32LE(0x04034b50, 0);
		lh.writeUInt16LE(20, 4);
		lh.writeUInt16LE(0x21, 12);		/* 1980-01-01 */
		lh.writeUInt32LE(crc, 14);
		lh.writeUInt32LE(data.length, 18);
		lh.writeUInt32LE(data.length, 22);
		lh.writeUInt16LE(n.length, 26);
		const ch = Buffer.alloc(46);
		ch.writeUInt32LE(0x02014b50, 0);
		ch.writeUInt16LE(20, 4);
		ch.writeUInt16LE(20, 6);
		ch.writeUInt16LE(0x21, 14);
		ch.writeUInt32LE(crc, 16);
		ch.writeUInt32LE(data.length, 20);
		ch.writeUInt32LE(data.length, 24);
		ch.writeUInt16LE(n.length, 28);
		ch.writeUInt32LE(off, 42);
		locals.push(lh, n, data);
		central.push(ch, n);
		off += 30 + n.length + data.length;
	}
	const cd = Buffer.concat(central);
	const end = Buffer.alloc(22);
	end.writeUInt32LE(0x06054b50, 0);
	end.writeUInt16LE(members.length, 8);
	end.writeUInt16LE(members.length, 10);
	end.writeUInt32LE(cd.length, 12);
	end.writeUInt32LE(off, 16);
	return Buffer.concat([...locals, cd, end]);
}

function putObject(state, bucket, key, data) {
	const p = path.join(state, 'buckets', bucket, key);
	fs.mkdirSync(path.dirname(p), { recursive: true });
	fs.writeFileSync(p, data);
	return data.length;
}

function s3Event(bucket, key, size, owner, seq) {
	return { Records: [{
		eventVersion: '2.1', eventSource: 'aws:s3',
		eventName: 'ObjectCreated:Put',
		userIdentity: { principalId: 'AWS:uploader-ui' },
		s3: {
			bucket: { name: bucket, ownerIdentity: { principalId: owner } },
			object: { key: encodeURIComponent(key).replace(/%2F/g, '/'),
			    size, eTag: 'e-' + seq, sequencer: seq },
		},
	}] };
}

/* --- the daemon ----------------------------------------------------- */

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startDaemon(state, rules, conf) {
	const logPath = path.join(WORK, 'daemon.log');
	const log = fs.openSync(logPath, 'w');
	daemon = spawn(VIGIL, ['serve', '--listen', '127.0.0.1:0',
	    '--state-dir', state, '--rules', rules, '--config', conf,
	    '--workers', '2'], { stdio: ['ignore', log, log] });
	let exited = null;
	daemon.on('exit', (code, sig) => { exited = sig || code; });
	daemon.on('error', (e) => { exited = e.message; });
	const portFile = path.join(state, 'port');
	const deadline = Date.now() + 60000;
	while (Date.now() < deadline) {
		try {
			const port = parseInt(fs.readFileSync(portFile, 'utf8'), 10);
			if (port > 0)
				return port;
		} catch (e) {
			/* not yet */
		}
		if (exited !== null)
			throw new Error('vigil serve exited (' + exited +
			    ') before listening; see ' + logPath);
		await sleep(50);
	}
	throw new Error('vigil serve wrote no port in 60 s; see ' + logPath);
}

async function stopDaemon() {
	const d = daemon;
	daemon = null;
	if (!d || d.exitCode !== null || d.signalCode !== null)
		return;
	const done = new Promise((r) => d.once('exit', r));
	d.kill('SIGTERM');
	const t = setTimeout(() => d.kill('SIGKILL'), 15000);
	await done;
	clearTimeout(t);
}

/* Last resort: the daemon never outlives this process. */
process.on('exit', () => {
	if (daemon && daemon.exitCode === null && daemon.signalCode === null)
		daemon.kill('SIGKILL');
});

let BASE = null;

async function http(method, p, body, token) {
	const headers = {};
	if (token)
		headers.Authorization = 'Bearer ' + token;
	if (body !== undefined)
		headers['Content-Type'] = 'application/json';
	const r = await fetch(BASE + p, { method, headers,
	    body: body === undefined ? undefined : JSON.stringify(body),
	    signal: AbortSignal.timeout(30000) });
	const text = await r.text();
	let json = null;
	try {
		json = JSON.parse(text);
	} catch (e) {
		json = text;
	}
	return { status: r.status, json };
}

async function waitFor(what, fn, ms) {
	const deadline = Date.now() + (ms || 30000);
	let last;
	for (;;) {
		try {
			last = await fn();
			if (last)
				return last;
		} catch (e) {
			if (e.fatal)
				throw e;
			last = e;
		}
		if (Date.now() > deadline)
			throw new Error('timed out waiting for ' + what +
			    (last instanceof Error ? ': ' + last.message : ''));
		await sleep(200);
	}
}

async function reviewItemOf(account) {
	const r = await http('GET', '/v1/review?status=open&limit=100',
	    undefined, TOKENS.admin);
	if (r.status !== 200)
		throw Object.assign(new Error('GET /v1/review: ' + r.status + ' ' +
		    JSON.stringify(r.json)), { fatal: r.status !== 503 });
	return (r.json.items || []).find((i) => i.account === account) || null;
}

/* --- checks --------------------------------------------------------- */

function check(cond, msg) {
	if (!cond)
		throw new Error(msg);
}

async function step(name, fn) {
	try {
		await fn();
	} catch (e) {
		console.log('FAIL ' + name + ': ' + (e && e.message ? e.message : e));
		throw Object.assign(new Error(name), { reported: true });
	}
	passed++;
	console.log('PASS ' + name);
}

const tid = (id) => '[data-testid="' + id + '"]';

async function text(sel) {
	return (await page.locator(sel).first().textContent()) || '';
}

async function waitText(sel, pred, what, ms) {
	let last = '';
	try {
		await waitFor(what, async () => {
			const l = page.locator(sel).first();
			if (await l.count() === 0)
				return false;
			last = (await l.textContent()) || '';
			return pred(last);
		}, ms || 20000);
	} catch (e) {
		throw new Error(e.message + ' (last text of ' + sel + ': ' +
		    JSON.stringify(last) + ')');
	}
	return last;
}

async function main() {
	if (!fs.existsSync(CHROMIUM))
		skip(CHROMIUM + ' is not installed (Debian package chromium; ' +
		    'scripts/install-deps --test)');
	fs.mkdirSync(WORK, { recursive: true });
	const pw = playwright();

	const run = path.join(WORK, 'run');
	fs.rmSync(run, { recursive: true, force: true });
	const state = path.join(run, 'state');
	fs.mkdirSync(state, { recursive: true });
	const rules = path.join(run, 'ui.yar');
	const conf = path.join(run, 'vigil.conf');
	fs.writeFileSync(rules, rule());
	fs.writeFileSync(conf, config(), { mode: 0o600 });
	fs.rmSync(path.join(WORK, 'ui-failure.png'), { force: true });

	/*
	 * The flagged object: a zip whose member holds the needle, with
	 * markup right after it, so the excerpt is hostile.
	 */
	const inner = Buffer.from('Welcome to the lobby. ' + NEEDLE + ' ' +
	    HOSTILE + ' play now\n');
	const zipped = zip([['inner.txt', inner]]);

	const port = await startDaemon(state, rules, conf);
	BASE = 'http://127.0.0.1:' + port;
	console.log('vigil serve listening on port ' + port);

	let item;
	await step('an S3 event flags ' + ACCOUNT + ' and opens a review item',
	    async () => {
		const size = putObject(state, 'ui-b', 'dir/x.zip', zipped);
		const r = await http('POST', '/v1/events',
		    s3Event('ui-b', 'dir/x.zip', size, ACCOUNT, '01'), TOKENS.hook);
		check(r.status >= 200 && r.status < 300, 'POST /v1/events: ' +
		    r.status + ' ' + JSON.stringify(r.json));
		item = await waitFor('a review item for ' + ACCOUNT,
		    () => reviewItemOf(ACCOUNT));
		check(item.severity === 'high', 'severity ' + item.severity);
		const d = await http('GET', '/v1/review/' + item.id, undefined,
		    TOKENS.admin);
		check(d.status === 200, 'GET /v1/review/' + item.id + ': ' +
		    d.status);
		const f = (d.json.findings || []).find((x) => x.rule === RULE);
		check(f, 'no finding of ' + RULE + ': ' + JSON.stringify(d.json));
		check(typeof f.excerpt === 'string' && f.excerpt.includes(HOSTILE),
		    'the API excerpt should hold the markup after the needle: ' +
		    JSON.stringify(f.excerpt));
	});

	browser = await pw.chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		chromiumSandbox: false,
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic',
		    '--no-first-run', '--disable-background-networking',
		    '--disable-component-update', '--disable-sync'],
	});
	const ctx = await browser.newContext({ viewport: { width: 1280,
	    height: 900 } });
	page = await ctx.newPage();
	page.setDefaultTimeout(20000);
	const pageErrors = [];
	page.on('pageerror', (e) => pageErrors.push(String(e)));
	page.on('console', (m) => {
		if (m.type() === 'error')
			console.log('  [page console] ' + m.text() + ' ' +
			    (m.location().url || ''));
	});
	/* Anything the page loads must come from the daemon itself. */
	const foreign = [];
	page.on('request', (r) => {
		if (!r.url().startsWith(BASE + '/') && !r.url().startsWith('data:'))
			foreign.push(r.url());
	});

	await step('the page loads with its script and style from /ui/',
	    async () => {
		const r = await page.goto(BASE + '/ui/');
		check(r && r.status() === 200, '/ui/: ' + (r && r.status()));
		await page.locator(tid('signin')).waitFor({ state: 'visible' });
		const css = await page.evaluate(() => getComputedStyle(
		    document.querySelector('header.top')).display);
		check(css === 'flex', 'style.css not applied (header display ' +
		    css + ')');
	});

	await step('a wrong token is refused at sign-in', async () => {
		await page.fill(tid('token'), 'not-a-real-token-0123456789');
		await page.click(tid('signin-submit'));
		await waitText(tid('signin-message'), (t) => /rejected/i.test(t),
		    'the rejection message');
		check(await page.locator(tid('queue-view')).isHidden(),
		    'queue shown after a bad token');
	});

	await step('alice signs in; the token stays out of localStorage',
	    async () => {
		await page.fill(tid('token'), TOKENS.alice);
		await page.fill(tid('moderator'), 'alice');
		await page.click(tid('signin-submit'));
		await page.locator(tid('queue-view')).waitFor({ state: 'visible' });
		const s = await page.evaluate(() => ({
			local: JSON.stringify(localStorage),
			session: sessionStorage.getItem('vigil.token'),
		}));
		check(!s.local.includes(TOKENS.alice), 'token in localStorage');
		check(s.session === TOKENS.alice, 'token not in sessionStorage');
		check((await text(tid('me'))).includes('alice'), 'name not shown');
		await waitText(tid('live'), (t) => t === 'live', 'the live feed');
	});

	const row = (acct) => page.locator(tid('queue-row') +
	    '[data-account="' + acct + '"]');
	await step('the queue lists the item with account and severity',
	    async () => {
		await row(ACCOUNT).first().waitFor({ state: 'visible' });
		const r = row(ACCOUNT).first();
		check(await r.getAttribute('data-id') === String(item.id),
		    'row id ' + await r.getAttribute('data-id'));
		check((await r.locator(tid('row-account')).textContent()) ===
		    ACCOUNT, 'account cell');
		check((await r.locator(tid('row-severity')).textContent()) ===
		    'high', 'severity cell');
		const cls = await r.locator(tid('row-severity')).getAttribute(
		    'class');
		check(/sev-high/.test(cls), 'severity badge class ' + cls);
	});

	await step('opening the item shows its evidence', async () => {
		await row(ACCOUNT).first().locator(tid('row-findings')).click();
		await page.waitForURL(new RegExp('#item/' + item.id + '$'));
		const f = page.locator(tid('finding')).first();
		await f.waitFor({ state: 'visible' });
		check((await f.locator(tid('finding-rule')).textContent()) === RULE,
		    'rule name');
		check((await f.locator(tid('finding-clause')).textContent())
		    .includes(CLAUSE), 'clause');
		check((await f.locator(tid('finding-severity')).textContent()) ===
		    'high', 'severity');
		check((await f.locator(tid('finding-suggestion')).textContent())
		    .includes('block'), 'suggestion');
		check((await f.locator(tid('finding-object')).textContent()) ===
		    'ui-b/dir/x.zip', 'object: ' +
		    await f.locator(tid('finding-object')).textContent());
		const crumbs = await f.locator(tid('finding-crumb'))
		    .allTextContents();
		check(crumbs.length >= 2 && crumbs[0].endsWith('x.zip') &&
		    crumbs.includes('inner.txt'), 'path chain ' +
		    JSON.stringify(crumbs));
		const shown = await f.locator(tid('finding-path')).innerText();
		check(shown.includes('\u203a'), 'no breadcrumb separator: ' + shown);
		const ex = await f.locator(tid('finding-excerpt')).textContent();
		check(ex.includes(NEEDLE), 'excerpt without the needle: ' + ex);
	});

	await step('hostile markup in an excerpt is shown as text', async () => {
		const ex = page.locator(tid('finding-excerpt')).first();
		check((await ex.textContent()).includes(HOSTILE),
		    'markup not shown literally');
		const injected = await page.evaluate(() => ({
			img: document.querySelectorAll('img').length,
			pwned: window.__pwned === 1,
			kids: Array.from(document.querySelectorAll(
			    '[data-testid="finding-excerpt"] *'))
			    .filter((e) => !e.classList.contains('ctl'))
			    .map((e) => e.tagName),
		}));
		check(injected.img === 0 && !injected.pwned &&
		    injected.kids.length === 0, 'markup injected: ' +
		    JSON.stringify(injected));
	});

	await step('a claim held by bob shows his 409 in the page, live',
	    async () => {
		const r = await http('POST', '/v1/review/' + item.id + '/claim',
		    { moderator: 'bob' }, TOKENS.bob);
		check(r.status === 200, 'bob claim: ' + r.status + ' ' +
		    JSON.stringify(r.json));
		/* The feed brings bob's claim in without a reload. */
		await waitText(tid('item-claimed-by'), (t) => t === 'bob',
		    'bob\'s claim on the open item');
		check(await page.evaluate(() =>
		    document.getElementById('decision-fs').disabled),
		    'decision form enabled without the claim');
		await page.click(tid('claim'));
		const m = await waitText(tid('item-message'),
		    (t) => /^409/.test(t), 'the 409 message');
		check(/bob/.test(m), 'the 409 message should name bob: ' + m);
		const rel = await http('POST', '/v1/review/' + item.id +
		    '/release', { moderator: 'bob' }, TOKENS.bob);
		check(rel.status === 200, 'bob release: ' + rel.status + ' ' +
		    JSON.stringify(rel.json));
	});

	await step('alice claims; bob then gets 409 over HTTP', async () => {
		await waitText(tid('item-status'), (t) => t === 'pending',
		    'the release to show');
		await page.click(tid('claim'));
		await waitText(tid('item-claimed-by'), (t) => t === 'alice',
		    'alice\'s claim');
		await page.waitForFunction(() =>
		    !document.getElementById('decision-fs').disabled);
		const r = await http('POST', '/v1/review/' + item.id + '/claim',
		    { moderator: 'bob' }, TOKENS.bob);
		check(r.status === 409, 'bob claim over alice: ' + r.status);
		check(r.json && typeof r.json.error === 'string',
		    '409 without {"error"}: ' + JSON.stringify(r.json));
		console.log('  bob got 409: ' + r.json.error);
	});

	await step('alice suspends the account with a reason', async () => {
		await page.check(tid('decision-suspend'));
		await page.fill(tid('decision-reason'),
		    'casino spam in an upload <b>x</b>');
		await page.click(tid('decision-submit'));
		await waitText(tid('item-decision'), (t) => /suspend/.test(t),
		    'the decision');
		await waitText(tid('item-status'), (t) => t === 'decided',
		    'status decided');
		check((await text(tid('item-decision-reason'))) ===
		    'casino spam in an upload <b>x</b>', 'reason shown');
		check(await page.locator(tid('claim')).isDisabled(),
		    'claim still enabled');
		const a = await http('GET', '/v1/accounts/' + ACCOUNT, undefined,
		    TOKENS.admin);
		check(a.status === 200 && a.json.state === 'suspended',
		    'account over HTTP: ' + a.status + ' ' +
		    JSON.stringify(a.json && a.json.state));
	});

	await step('the account page shows it suspended; Reinstate works',
	    async () => {
		await page.click(tid('item-account'));
		await page.waitForURL(/#account\/acct-ui$/);
		await waitText(tid('account-state'), (t) => t === 'suspended',
		    'account state');
		check((await page.locator(tid('account-findings') + ' ' +
		    tid('finding')).count()) >= 1, 'no findings on the account');
		check((await page.locator(tid('account-history') + ' li')
		    .count()) >= 1, 'no history on the account');
		await page.fill(tid('reinstate-reason'), 'appeal accepted');
		await page.click(tid('reinstate'));
		await waitText(tid('account-state'), (t) => t === 'active',
		    'account state after reinstating');
		check(await page.locator(tid('reinstate-form')).isHidden(),
		    'reinstate form still shown');
		const a = await http('GET', '/v1/accounts/' + ACCOUNT, undefined,
		    TOKENS.admin);
		check(a.json.state === 'active', 'account over HTTP: ' +
		    JSON.stringify(a.json.state));
	});

	await step('a new event reaches the live log and queue without reload',
	    async () => {
		await page.click('header.top h1 a');
		await page.locator(tid('queue-view')).waitFor({ state: 'visible' });
		await page.selectOption(tid('status'), 'pending');
		await waitText(tid('live'), (t) => t === 'live', 'the live feed');
		await page.evaluate(() => { window.__sameDocument = 42; });
		const data = Buffer.from('second upload ' + NEEDLE + '\n');
		const size = putObject(state, 'ui-b2', 'second.txt', data);
		const r = await http('POST', '/v1/events',
		    s3Event('ui-b2', 'second.txt', size, ACCOUNT2, '02'),
		    TOKENS.hook);
		check(r.status >= 200 && r.status < 300, 'POST /v1/events: ' +
		    r.status);
		await row(ACCOUNT2).first().waitFor({ state: 'visible',
		    timeout: 40000 });
		await waitText(tid('live-log'), (t) => t.includes(ACCOUNT2),
		    'an event about ' + ACCOUNT2 + ' in the live log', 40000);
		check(await page.evaluate(() => window.__sameDocument) === 42,
		    'the page was reloaded');
	});

	await step('sign-out forgets the token', async () => {
		await page.click(tid('signout'));
		await page.locator(tid('signin')).waitFor({ state: 'visible' });
		check(await page.evaluate(() =>
		    sessionStorage.getItem('vigil.token')) === null,
		    'token kept after sign-out');
	});

	await step('no script errors and nothing loaded from elsewhere',
	    async () => {
		check(pageErrors.length === 0, 'page errors: ' +
		    pageErrors.join(' | '));
		check(foreign.length === 0, 'foreign requests: ' +
		    foreign.join(' '));
	});
}

let finishing = false;

async function finish(ok) {
	if (finishing)
		return;
	finishing = true;
	if (!ok && page) {
		const shot = path.join(WORK, 'ui-failure.png');
		try {
			await page.screenshot({ path: shot, fullPage: true,
			    timeout: 10000 });
			console.log('screenshot: ' + shot);
		} catch (e) {
			console.log('no screenshot: ' + e.message);
		}
	}
	if (browser)
		await browser.close().catch(() => {});
	await stopDaemon();
	if (!ok) {
		try {
			const log = fs.readFileSync(path.join(WORK, 'daemon.log'),
			    'utf8').split('\n');
			console.log('--- last lines of ' + path.join(WORK,
			    'daemon.log') + ':\n' + log.slice(-25).join('\n'));
		} catch (e) {
			/* no log */
		}
	}
	console.log(passed + ' passed, ' + (ok ? 0 : 1) + ' failed');
	process.exit(ok ? 0 : 1);
}

/* A wedged browser or daemon must not outlast ctest's TIMEOUT (180 s). */
const watchdog = setTimeout(() => {
	console.log('FAIL: the test took over 170 s');
	finish(false);
}, 170000);
watchdog.unref();

main().then(() => finish(true), (e) => {
	if (!e || !e.reported)
		console.log('FAIL: ' + (e && e.stack ? e.stack : e));
	return finish(false);
});
