#!/usr/bin/env python3
"""End-to-end tests of accounts, the review queue, the feed, webhooks and
the audit log (docs/review-api.md) against the real `vigil serve`.

usage: test_review.py VIGIL WORKDIR [[!]CASE-SUBSTRING...]

Reuses the daemon harness of tests/integration/serve/test_serve.py: a real
daemon on 127.0.0.1 port 0 with a temporary state dir, driven over HTTP
with urllib; objects are files in the local bucket root and arrive through
S3 event notifications, as on a platform.  A webhook receiver
(http.server) runs in this process.  Standard library only.
"""

import hashlib
import hmac
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "serve"))
import test_serve as ts  # noqa: E402
from test_serve import (Daemon, aws_event, case, check, http, jhttp,  # noqa
                        put_object, run_case, wait_for)

HOOK = "hook-token-0123456789abcdef"
ALICE = "mod-token-alice-0123456789"
BOB = "mod-token-bob-0123456789abc"
ANON_MOD = "mod-token-anon-0123456789ab"
ADMIN = "admin-token-0123456789abcdef"
SECRET = "webhook-secret-42"

RULES = """
rule needle_low
{
    meta:
        clause = "IV.9(8)"
        severity = "low"
    strings:
        $a = "NEEDLE-LOW"
    condition:
        $a
}
rule needle_medium
{
    meta:
        clause = "IV.9(7)"
        severity = "medium"
    strings:
        $a = "NEEDLE-MEDIUM"
    condition:
        $a
}
rule needle_high
{
    meta:
        clause = "IV.9(7)"
        severity = "high"
    strings:
        $a = "NEEDLE-HIGH"
    condition:
        $a
}
rule needle_critical
{
    meta:
        clause = "IV.9(7)"
        severity = "critical"
    strings:
        $a = "NEEDLE-CRITICAL"
    condition:
        $a
}
rule needle_malware
{
    meta:
        clause = "network-safety"
        severity = "high"
    strings:
        $a = "NEEDLE-MALWARE"
    condition:
        $a
}
"""

SEQ = [0]


def event(d, key, account, name="ObjectCreated:Put", bucket="b1"):
    """Posts one AWS event for bucket/key owned by account."""
    SEQ[0] += 1
    ev = aws_event(bucket, key, etag="e%d" % SEQ[0], seq="%08d" % SEQ[0],
                   name=name, owner=account)
    st, j = jhttp(d, "POST", "/v1/events", ev, token=HOOK)
    check(st == 202, "event not accepted: %s %s" % (st, j))


def upload(d, key, data, account, bucket="b1"):
    put_object(d.state, bucket, key, data)
    event(d, key, account, bucket=bucket)


def scanned(d, bucket, key, n=1):
    """Waits until bucket/key has n audit 'verdict' records."""
    def done():
        st, j = jhttp(d, "GET", "/v1/audit?subject=%s/%s" % (bucket, key),
                      token=ADMIN)
        return st == 200 and sum(1 for r in j["records"]
                                 if r["action"] == "verdict") >= n
    check(wait_for(done, 30), "%s/%s never scanned" % (bucket, key))


def account(d, acct, token=ADMIN):
    st, j = jhttp(d, "GET", "/v1/accounts/" + acct, token=token)
    check(st == 200, "GET account %s: %s %s" % (acct, st, j))
    return j


def pending_item(d, acct):
    st, j = jhttp(d, "GET", "/v1/review?status=open&limit=1000",
                  token=ADMIN)
    check(st == 200, "review list: %s %s" % (st, j))
    for it in j["items"]:
        if it["account"] == acct:
            return it
    return None


class Receiver:
    """A webhook receiver on 127.0.0.1 that records every POST."""

    def __init__(self, port=0):
        self.events = []
        self.lock = threading.Lock()
        rec = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n)
                with rec.lock:
                    rec.events.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", port), H)
        self.port = self.srv.server_address[1]
        self.th = threading.Thread(target=self.srv.serve_forever,
                                   daemon=True)
        self.th.start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()

    def ids(self):
        with self.lock:
            return [json.loads(b)["id"] for _, b in self.events]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# Cases ------------------------------------------------------------------

@case("severities: low stays active, high crosses the threshold, one item")
def t_flag(d):
    upload(d, "f/low.txt", b"a NEEDLE-LOW b", "acct-flag")
    scanned(d, "b1", "f/low.txt")
    a = account(d, "acct-flag")
    # IV.9(8) weighs 2 at any severity (weight_clause), not low's 1.
    check(a["state"] == "active" and a["score"] == 2,
          "after a low finding: %s %s" % (a["state"], a["score"]))
    check(pending_item(d, "acct-flag") is None, "item for a low finding")
    f = a["findings"][0]
    check(f["suggestion"] == "pass" and f["severity"] == "low",
          "low finding: %s" % f)
    upload(d, "f/medium.txt", b"x NEEDLE-MEDIUM y", "acct-flag")
    upload(d, "f/high.txt", b"<p>hello NEEDLE-HIGH world</p>", "acct-flag")
    scanned(d, "b1", "f/high.txt")
    scanned(d, "b1", "f/medium.txt")
    a = account(d, "acct-flag")
    check(a["state"] == "flagged", "state %s score %s" % (a["state"],
                                                          a["score"]))
    check(a["score"] == 2 + 5 + 25, "score %s" % a["score"])
    it = pending_item(d, "acct-flag")
    check(it is not None and it["status"] == "pending",
          "no pending item: %s" % it)
    check(it["severity"] == "high", "item severity %s" % it["severity"])
    st, full = jhttp(d, "GET", "/v1/review/%d" % it["id"], token=ALICE)
    check(st == 200, "GET item: %s" % st)
    rules = sorted(f["rule"] for f in full["findings"])
    check(rules == ["needle_high", "needle_low", "needle_medium"],
          "evidence rules %s" % rules)
    hi = [f for f in full["findings"] if f["rule"] == "needle_high"][0]
    check(hi["clause"] == "IV.9(7)" and hi["suggestion"] == "block" and
          hi["path"] == ["b1/f/high.txt"] and hi["offset"] == 9 and
          hi["bucket"] == "b1" and hi["key"] == "f/high.txt",
          "evidence %s" % hi)
    check("NEEDLE-HIGH" in (hi["excerpt"] or "") and
          len(hi["excerpt"].encode()) <= 64, "excerpt %r" % hi["excerpt"])
    types = [e["type"] for e in a["history"]]
    check("account.flagged" in types and "review.opened" in types,
          "history %s" % types)
    # More findings join the open item rather than opening another.
    upload(d, "f/high2.txt", b"NEEDLE-HIGH again", "acct-flag")
    scanned(d, "b1", "f/high2.txt")
    st, j = jhttp(d, "GET", "/v1/review?status=open&limit=1000",
                  token=ADMIN)
    mine = [i for i in j["items"] if i["account"] == "acct-flag"]
    check(len(mine) == 1 and mine[0]["findings"] == 4,
          "items for the account: %s" % mine)


@case("evidence in archives: the path chain names the member")
def t_archive_evidence(d):
    import io
    import zipfile
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("docs/inner.txt", "prefix " * 20 + "NEEDLE-CRITICAL tail")
    upload(d, "arch/a.zip", b.getvalue(), "acct-zip")
    scanned(d, "b1", "arch/a.zip")
    a = account(d, "acct-zip")
    check(a["state"] == "flagged", "critical did not flag at once: %s"
          % a["state"])
    f = a["findings"][0]
    check(f["path"] == ["b1/arch/a.zip", "docs/inner.txt"] and
          f["offset"] == 140 and f["severity"] == "critical",
          "finding %s" % f)
    check("NEEDLE-CRITICAL" in f["excerpt"], "excerpt %r" % f["excerpt"])


@case("rescanning the same object never counts twice")
def t_rescan(d):
    upload(d, "r/x.txt", b"NEEDLE-MEDIUM", "acct-rescan")
    scanned(d, "b1", "r/x.txt")
    before = account(d, "acct-rescan")
    for _ in range(3):     # new deliveries (new sequencer): scanned again
        event(d, "r/x.txt", "acct-rescan")
    scanned(d, "b1", "r/x.txt", 4)
    after = account(d, "acct-rescan")
    check(after["score"] == before["score"] == 5,
          "score %s -> %s" % (before["score"], after["score"]))
    check(len(after["findings"]) == 1, "findings %d" %
          len(after["findings"]))
    # Changed content: the old finding is superseded, the new one counts.
    upload(d, "r/x.txt", b"now NEEDLE-LOW only", "acct-rescan")
    scanned(d, "b1", "r/x.txt", 5)
    a = account(d, "acct-rescan")
    states = sorted((f["rule"], f["state"]) for f in a["findings"])
    check(states == [("needle_low", "active"),
                     ("needle_medium", "superseded")], "%s" % states)
    check(a["score"] == 2, "score %s" % a["score"])


@case("deletion: ObjectRemoved stops a finding counting")
def t_removed(d):
    upload(d, "del/a.txt", b"NEEDLE-MEDIUM", "acct-del")
    upload(d, "del/b.txt", b"NEEDLE-LOW", "acct-del")
    scanned(d, "b1", "del/a.txt")
    scanned(d, "b1", "del/b.txt")
    check(account(d, "acct-del")["score"] == 7, "score before")
    os.unlink(os.path.join(d.state, "buckets", "b1", "del", "a.txt"))
    event(d, "del/a.txt", "acct-del", name="ObjectRemoved:Delete")
    a = wait_for(lambda: (lambda a: a if a["score"] == 2 else None)(
        account(d, "acct-del")), 10)
    check(a, "score did not drop to 2: %s" % account(d, "acct-del"))
    st = {f["key"]: f["state"] for f in a["findings"]}
    check(st == {"del/a.txt": "removed", "del/b.txt": "active"}, "%s" % st)


@case("claims: two moderators race, one wins; decisions need the claim")
def t_claims(d):
    upload(d, "c/a.txt", b"NEEDLE-CRITICAL", "acct-race")
    scanned(d, "b1", "c/a.txt")
    it = wait_for(lambda: pending_item(d, "acct-race"), 10)
    check(it, "no item")
    iid = it["id"]
    path = "/v1/review/%d" % iid
    # Deciding without a claim: 409.
    st, j = jhttp(d, "POST", path + "/decision", {
        "decision": "suspend", "reason": "r"}, token=ALICE)
    check(st == 409 and "claim" in j["error"], "unclaimed decision: %s %s"
          % (st, j))
    results = {}
    barrier = threading.Barrier(2)

    def grab(name, tok):
        barrier.wait()
        results[name] = jhttp(d, "POST", path + "/claim", {}, token=tok)
    ths = [threading.Thread(target=grab, args=(n, t))
           for n, t in (("alice", ALICE), ("bob", BOB))]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    codes = sorted(r[0] for r in results.values())
    check(codes == [200, 409], "race results %s" % results)
    winner = [n for n, r in results.items() if r[0] == 200][0]
    loser = "bob" if winner == "alice" else "alice"
    wtok, ltok = (ALICE, BOB) if winner == "alice" else (BOB, ALICE)
    check(results[winner][1]["claimed_by"] == winner and
          results[winner][1]["status"] == "claimed",
          "winner item %s" % results[winner][1])
    check(winner in results[loser][1]["error"], "loser told %s" %
          results[loser][1])
    # The loser may not decide; a moderator token cannot act as another.
    st, j = jhttp(d, "POST", path + "/decision", {
        "decision": "suspend", "reason": "r"}, token=ltok)
    check(st == 409, "loser's decision: %s %s" % (st, j))
    st, j = jhttp(d, "POST", path + "/decision", {
        "decision": "suspend", "moderator": loser, "reason": "r"},
        token=wtok)
    check(st == 403, "token acting as another: %s %s" % (st, j))
    # Bad decisions are 400 and change nothing.
    st, j = jhttp(d, "POST", path + "/decision", {
        "decision": "ban", "reason": "r"}, token=wtok)
    check(st == 400 and "suspend" in j["error"], "bad decision %s %s"
          % (st, j))
    st, j = jhttp(d, "POST", path + "/decision", {"decision": "suspend"},
                  token=wtok)
    check(st == 400 and "reason" in j["error"], "no reason %s %s" % (st, j))
    st, j = jhttp(d, "POST", path + "/decision",
                  b"{not json", token=wtok)
    check(st == 400 and "JSON" in j["error"], "bad JSON %s %s" % (st, j))
    st, j = jhttp(d, "POST", path + "/decision", {
        "decision": "suspend", "reason": "terms IV.9(7)"}, token=wtok)
    check(st == 200 and j["status"] == "decided" and
          j["decision"]["decision"] == "suspend" and
          j["decision"]["moderator"] == winner, "decision %s %s" % (st, j))
    check(account(d, "acct-race")["state"] == "suspended", "not suspended")
    st, j = jhttp(d, "POST", path + "/decision", {
        "decision": "dismiss", "reason": "again"}, token=wtok)
    check(st == 409 and "already decided" in j["error"], "second decision "
          "%s %s" % (st, j))
    st, j = jhttp(d, "POST", path + "/claim", {}, token=ltok)
    check(st == 409, "claim of a decided item %s" % st)
    st, j = jhttp(d, "POST", "/v1/review/999999/claim", {}, token=ALICE)
    check(st == 404, "claim of no item %s" % st)
    # The audit log finds the deciding moderator by the account's id.
    st, j = jhttp(d, "GET", "/v1/audit?subject=acct-race", token=ADMIN)
    acts = [(r["actor"], r["action"]) for r in j["records"]]
    check((winner, "decision") in acts and (winner, "claim") in acts and
          ("policy", "flag") in acts, "audit %s" % acts)
    # Reinstating a suspended account.
    st, j = jhttp(d, "POST", "/v1/accounts/acct-race/reinstate",
                  {"reason": "appeal granted"}, token=ALICE)
    check(st == 200 and j["state"] == "active", "reinstate %s %s"
          % (st, j))
    st, j = jhttp(d, "POST", "/v1/accounts/acct-race/reinstate",
                  {"reason": "again"}, token=ALICE)
    check(st == 409, "reinstating an active account %s" % st)


@case("admin acts for a named moderator; leases expire")
def t_admin_lease(d):
    upload(d, "l/a.txt", b"NEEDLE-CRITICAL", "acct-lease")
    scanned(d, "b1", "l/a.txt")
    it = wait_for(lambda: pending_item(d, "acct-lease"), 10)
    path = "/v1/review/%d" % it["id"]
    st, j = jhttp(d, "POST", path + "/claim", {}, token=ADMIN)
    check(st == 400 and "moderator" in j["error"], "admin without a name "
          "%s %s" % (st, j))
    st, j = jhttp(d, "POST", path + "/claim", {}, token=ANON_MOD)
    check(st == 403, "moderator token naming nobody %s %s" % (st, j))
    st, j = jhttp(d, "POST", path + "/claim", {"moderator": "carol"},
                  token=ADMIN)
    check(st == 200 and j["claimed_by"] == "carol", "admin claim %s" % j)
    st, j = jhttp(d, "GET", "/v1/review?status=claimed&limit=1000",
                  token=ALICE)
    check(any(i["id"] == it["id"] for i in j["items"]), "not in claimed")
    # claim_lease = 2: after it, the item is pending again and claimable.
    time.sleep(2.2)
    st, j = jhttp(d, "GET", "/v1/review?status=pending&limit=1000",
                  token=ALICE)
    check(any(i["id"] == it["id"] for i in j["items"]), "expired lease "
          "not back in the queue")
    st, j = jhttp(d, "POST", path + "/decision", {
        "decision": "dismiss", "reason": "late", "moderator": "carol"},
        token=ADMIN)
    check(st == 409, "decision on an expired claim %s %s" % (st, j))
    st, j = jhttp(d, "POST", path + "/claim", {}, token=BOB)
    check(st == 200 and j["claimed_by"] == "bob", "claim after expiry %s"
          % j)
    # Escalate, then the item waits in the escalated list.
    st, j = jhttp(d, "POST", path + "/decision", {
        "decision": "escalate", "reason": "needs legal"}, token=BOB)
    check(st == 200 and j["status"] == "escalated", "escalate %s %s"
          % (st, j))
    st, j = jhttp(d, "GET", "/v1/review?status=escalated", token=ALICE)
    check(any(i["id"] == it["id"] for i in j["items"]), "not escalated")
    st, j = jhttp(d, "POST", path + "/claim", {}, token=ALICE)
    check(st == 200, "claim of an escalated item %s" % st)
    st, j = jhttp(d, "POST", path + "/decision", {
        "decision": "dismiss", "reason": "legal says fine"}, token=ALICE)
    check(st == 200 and j["decision"]["decision"] == "dismiss",
          "final decision %s" % j)


@case("dismissal lowers the score and clears the account")
def t_dismiss(d):
    upload(d, "dis/a.txt", b"NEEDLE-HIGH", "acct-dis")
    upload(d, "dis/b.txt", b"NEEDLE-HIGH", "acct-dis")
    scanned(d, "b1", "dis/a.txt")
    scanned(d, "b1", "dis/b.txt")
    a = account(d, "acct-dis")
    check(a["state"] == "flagged" and a["score"] == 50, "before %s %s"
          % (a["state"], a["score"]))
    it = pending_item(d, "acct-dis")
    path = "/v1/review/%d" % it["id"]
    check(jhttp(d, "POST", path + "/claim", {}, token=ALICE)[0] == 200,
          "claim")
    st, j = jhttp(d, "POST", path + "/decision", {
        "decision": "dismiss", "reason": "test file"}, token=ALICE)
    check(st == 200, "dismiss %s %s" % (st, j))
    a = account(d, "acct-dis")
    check(a["state"] == "cleared" and a["score"] == 0, "after %s %s"
          % (a["state"], a["score"]))
    # A rescan of dismissed content does not revive it.
    event(d, "dis/a.txt", "acct-dis")
    scanned(d, "b1", "dis/a.txt", 2)
    check(account(d, "acct-dis")["score"] == 0, "dismissed finding counted "
          "again")
    st, j = jhttp(d, "GET", "/v1/accounts?state=cleared", token=ALICE)
    check(any(x["id"] == "acct-dis" for x in j["accounts"]),
          "not listed as cleared: %s" % j)


@case("auto-suspend clauses suspend at once")
def t_auto_suspend(d):
    upload(d, "m/x.bin", b"\x00\x01NEEDLE-MALWARE\x02", "acct-mal")
    scanned(d, "b1", "m/x.bin")
    a = account(d, "acct-mal")
    check(a["state"] == "suspended", "state %s" % a["state"])
    ev = [e for e in a["history"] if e["type"] == "account.suspended"]
    check(ev and ev[0]["data"]["actor"] == "policy" and
          "network-safety" in ev[0]["data"]["reason"], "events %s" % ev)
    # The excerpt shows control bytes as escapes, never raw.
    f = a["findings"][0]
    check("\\x00\\x01NEEDLE-MALWARE\\x02" in f["excerpt"], "excerpt %r"
          % f["excerpt"])


@case("roles: the hook reads nothing; only admins read the audit log")
def t_roles(d):
    for path in ("/v1/review", "/v1/accounts", "/v1/accounts/acct-flag",
                 "/v1/feed", "/v1/audit?subject=x", "/v1/review/1"):
        st, _ = jhttp(d, "GET", path, token=HOOK)
        check(st == 403, "hook GET %s: %s" % (path, st))
        st, _ = jhttp(d, "GET", path, token=None)
        check(st == 401, "anonymous GET %s: %s" % (path, st))
    st, _ = jhttp(d, "GET", "/v1/audit?subject=x", token=ALICE)
    check(st == 403, "moderator reads audit: %s" % st)
    st, _ = jhttp(d, "POST", "/v1/review/1/claim", {}, token=HOOK)
    check(st == 403, "hook claims: %s" % st)
    st, j = jhttp(d, "GET", "/v1/review?status=bogus", token=ALICE)
    check(st == 400 and "status" in j["error"], "bad status %s" % st)
    st, j = jhttp(d, "GET", "/v1/review?limit=x", token=ALICE)
    check(st == 400 and "limit" in j["error"], "bad limit %s" % st)


@case("queue order is stable and pages with cursors")
def t_paging(d):
    st, j = jhttp(d, "GET", "/v1/review?status=all&limit=1000", token=ALICE)
    allitems = [i["id"] for i in j["items"]]
    check(len(allitems) >= 4, "too few items: %s" % allitems)
    got, after = [], None
    while True:
        q = "/v1/review?status=all&limit=2" + ("&after=" + after
                                              if after else "")
        st, j = jhttp(d, "GET", q, token=ALICE)
        check(st == 200, "page %s" % st)
        got += [i["id"] for i in j["items"]]
        after = j["next"]
        if not after:
            break
    check(got == allitems, "paged %s vs %s" % (got, allitems))
    created = [i["created"] for i in jhttp(
        d, "GET", "/v1/review?status=all&limit=1000", token=ALICE)[1]
        ["items"]]
    check(created == sorted(created), "not oldest first")


@case("feed: monotonic ids, long-poll wakes on a new event")
def t_feed(d):
    st, j = jhttp(d, "GET", "/v1/feed?after=0&limit=1000", token=ALICE)
    ids = [e["id"] for e in j["events"]]
    check(ids == sorted(ids) and len(set(ids)) == len(ids) and
          j["last"] == ids[-1], "ids %s last %s" % (ids, j["last"]))
    last = j["last"]
    out = {}

    def poll():
        t0 = time.time()
        out["r"] = jhttp(d, "GET", "/v1/feed?after=%d&timeout=20" % last,
                         token=ALICE)
        out["t"] = time.time() - t0
    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.5)
    upload(d, "feed/a.txt", b"NEEDLE-CRITICAL", "acct-feed")
    th.join(30)
    st, j = out["r"]
    check(st == 200 and j["events"] and j["events"][0]["id"] > last,
          "long-poll %s %s" % (st, j))
    check(out["t"] < 10, "long-poll took %.1fs" % out["t"])
    check(any(e["type"] == "account.flagged" and
              e["account"] == "acct-feed" for e in j["events"]),
          "events %s" % [e["type"] for e in j["events"]])
    t0 = time.time()
    st, j = jhttp(d, "GET", "/v1/feed?after=%d&timeout=1" % (
        j["last"] + 1000), token=ALICE)
    check(st == 200 and j["events"] == [] and time.time() - t0 >= 0.9,
          "empty long-poll %s %s" % (st, j))


@case("webhooks: every event delivered, also after the receiver was down")
def t_webhook(rules, conf_base):
    port = free_port()       # nobody listens there yet
    state = os.path.join(ts.WORK, "state-hook")
    conf = os.path.join(ts.WORK, "hook.conf")
    with open(conf, "w") as f:
        f.write(conf_base + "webhook = http://127.0.0.1:%d/hook %s\n"
                "webhook_backoff_max = 1\n" % (port, SECRET))
    d = Daemon("webhook", state, rules, conf)
    try:
        for i in range(3):
            upload(d, "w/%d.txt" % i, b"NEEDLE-CRITICAL", "acct-w%d" % i)
        for i in range(3):
            scanned(d, "b1", "w/%d.txt" % i)
        st, j = jhttp(d, "GET", "/v1/feed?after=0&limit=1000", token=ADMIN)
        want = [e["id"] for e in j["events"]]
        check(len(want) == 6, "feed events %s" % want)
        time.sleep(1.5)      # a few refused attempts
        rec = Receiver(port)
        try:
            got = wait_for(lambda: rec.ids() if len(set(rec.ids())) >=
                           len(want) else None, 20)
            check(got, "receiver got %s of %s" % (rec.ids(), want))
            check(sorted(set(got)) == want and got[:len(want)] == want,
                  "order %s vs %s" % (got, want))
            hdrs, body = rec.events[0]
            ev = json.loads(body)
            check(hdrs.get("Idempotency-Key") == str(ev["id"]) and
                  hdrs.get("X-Vigil-Event") == ev["type"],
                  "headers %s" % hdrs)
            mac = hmac.new(SECRET.encode(), body, hashlib.sha256)
            check(hdrs.get("X-Vigil-Signature") == "sha256=" +
                  mac.hexdigest(), "signature %s"
                  % hdrs.get("X-Vigil-Signature"))
            # A decision reaches the receiver too.
            it = pending_item(d, "acct-w0")
            path = "/v1/review/%d" % it["id"]
            jhttp(d, "POST", path + "/claim", {}, token=ALICE)
            st, j = jhttp(d, "POST", path + "/decision", {
                "decision": "suspend", "reason": "hook test"}, token=ALICE)
            check(st == 200, "decision %s" % st)

            def decided():
                for _, b in rec.events:
                    e = json.loads(b)
                    if e["type"] == "account.suspended" and \
                            e["account"] == "acct-w0":
                        return e
            e = wait_for(decided, 10)
            check(e and e["data"]["actor"] == "alice", "suspension not "
                  "delivered: %s" % rec.ids())
        finally:
            rec.stop()
        # Down again; the daemon restarts; nothing is lost.
        upload(d, "w/late.txt", b"NEEDLE-CRITICAL", "acct-late")
        scanned(d, "b1", "w/late.txt")
        d.stop()
        d = Daemon("webhook2", state, rules, conf)
        rec = Receiver(port)
        try:
            got = wait_for(lambda: [json.loads(b) for _, b in rec.events
                                    if json.loads(b)["account"] ==
                                    "acct-late"], 20)
            check(got, "late events not delivered after restart")
        finally:
            rec.stop()
    finally:
        d.stop(signal.SIGKILL)


@case("audit and verdict purges keep 90 days, and each object's latest "
      "verdict; retention under 90 is refused")
def t_purge(rules, conf_base):
    conf = os.path.join(ts.WORK, "purge-bad.conf")
    for key, days in (("audit_retention_days", 30),
                      ("verdict_retention_days", 89)):
        with open(conf, "w") as f:
            f.write(conf_base + "%s = %d\n" % (key, days))
        r = subprocess.run([ts.VIGIL, "serve", "--check-config", "--config",
                            conf, "--rules", rules], capture_output=True)
        check(r.returncode != 0 and key.encode() in r.stderr,
              "%s = %d accepted: %s" % (key, days, r.stderr))
    conf = os.path.join(ts.WORK, "purge.conf")
    with open(conf, "w") as f:
        f.write(conf_base + "audit_retention_days = 90\n"
                "verdict_retention_days = 90\n")
    state = os.path.join(ts.WORK, "state-purge")
    d = Daemon("purge", state, rules, conf)
    d.stop()
    db = sqlite3.connect(os.path.join(state, "vigil.db"))
    now = time.time()
    for age, subj in ((91, "old-91"), (200, "old-200"), (89, "young-89"),
                      (1, "young-1")):
        db.execute("INSERT INTO audit (at, actor, action, subject) "
                   "VALUES (?, 'test', 'probe', ?)",
                   (now - age * 86400, subj))
    # Verdicts: (bucket, key, name, age in days).  b/latest's only record
    # is old but is its latest; b/redone's old one was superseded.
    # 12,000 old bodies between them make the purge take three batches
    # of 5,000, each starting past the old latest record it kept.
    verdicts = [("b", "latest", None, 200)] + [
        (None, None, "bulk-%d" % i, 100) for i in range(12000)] + [
        ("b", "redone", None, 150), ("b", "redone", None, 2),
        (None, None, "body-old", 120), (None, None, "body-young", 80),
        ("b", "young", None, 10)]
    for bucket, key, name, age in verdicts:
        db.execute("INSERT INTO verdicts (bucket, key, name, size, sha256, "
                   "ruleset, verdict, result, received, scanned) VALUES "
                   "(?, ?, ?, 1, 'x', 'r', 'clean', '{}', ?, ?)",
                   (bucket, key, name, now - age * 86400,
                    now - age * 86400))
    db.commit()
    db.close()
    d = Daemon("purge2", state, rules, conf)     # purges at start
    try:
        def present(s):
            st, j = jhttp(d, "GET", "/v1/audit?subject=" + s, token=ADMIN)
            return bool(j["records"])
        check(wait_for(lambda: not present("old-91"), 10),
              "91-day record kept")
        check(not present("old-200"), "200-day record kept")
        check(present("young-89") and present("young-1"),
              "records younger than 90 days purged")
        st, j = jhttp(d, "GET", "/v1/audit?subject=audit", token=ADMIN)
        check(any(r["action"] == "purge" and r["detail"]["deleted"] == 2
                  for r in j["records"]), "purge not audited: %s" % j)
        st, j = jhttp(d, "GET", "/v1/audit?subject=config", token=ADMIN)
        check(any(r["action"] == "config.load" for r in j["records"]),
              "config load not audited")
        check(wait_for(lambda: any(
            r["action"] == "purge" and r["detail"]["deleted"] == 12002
            for r in jhttp(d, "GET", "/v1/audit?subject=verdicts",
                           token=ADMIN)[1]["records"]), 10),
              "verdict purge not audited")
    finally:
        d.stop(signal.SIGKILL)
    db = sqlite3.connect(os.path.join(state, "vigil.db"))
    left = sorted((b or "", k or "", n or "", round((now - s) / 86400))
                  for b, k, n, s in db.execute(
                      "SELECT bucket, key, name, scanned FROM verdicts"))
    db.close()
    check(left == [("", "", "body-young", 80), ("b", "latest", "", 200),
                   ("b", "redone", "", 2), ("b", "young", "", 10)],
          "verdicts left: %r" % left)


@case("quarantine: actions, undo on dismissal, pending ones after a restart")
def t_quarantine(rules, conf_base):
    state = os.path.join(ts.WORK, "state-q")
    conf = os.path.join(ts.WORK, "q.conf")
    with open(conf, "w") as f:
        f.write(conf_base + "quarantine = critical private,move\n"
                "excerpt = redacted\n")
    d = Daemon("quarantine", state, rules, conf)
    try:
        put_object(state, "qb", "x/evil.txt", b"some context NEEDLE-CRITICAL "
                   b"and more")
        src = os.path.join(state, "buckets", "qb", "x", "evil.txt")
        dst = os.path.join(state, "buckets", "qb-quarantine", "x",
                           "evil.txt")
        os.chmod(src, 0o644)
        event(d, "x/evil.txt", "acct-q", bucket="qb")
        check(wait_for(lambda: os.path.exists(dst) and
                       not os.path.exists(src), 10), "not moved")
        check(os.stat(dst).st_mode & 0o777 == 0o600, "mode %o" %
              (os.stat(dst).st_mode & 0o777))
        # The move's ObjectRemoved is not a deletion.
        event(d, "x/evil.txt", "acct-q", name="ObjectRemoved:Delete",
              bucket="qb")
        time.sleep(0.5)
        f = account(d, "acct-q")["findings"]
        check(f and f[0]["state"] == "active", "findings %s" % f)
        # excerpt = redacted: the matched bytes, none of their context.
        check(f[0]["excerpt"] == "NEEDLE-CRITICAL", "excerpt %r"
              % f[0]["excerpt"])
        it = pending_item(d, "acct-q")
        path = "/v1/review/%d" % it["id"]
        jhttp(d, "POST", path + "/claim", {}, token=ALICE)
        st, _ = jhttp(d, "POST", path + "/decision", {
            "decision": "dismiss", "reason": "test"}, token=ALICE)
        check(st == 200, "dismiss %s" % st)
        check(wait_for(lambda: os.path.exists(src) and
                       os.stat(src).st_mode & 0o777 == 0o644, 10),
              "not restored")
        st, j = jhttp(d, "GET", "/v1/audit?subject=qb/x/evil.txt",
                      token=ADMIN)
        acts = [r["action"] for r in j["records"]]
        check(acts.count("quarantine") == 2 and
              acts.count("quarantine.undo") == 2, "audit %s" % acts)
    finally:
        d.stop()
    # An action committed pending but not done before a stop runs at start.
    put_object(state, "qb", "later.txt", b"whatever")
    later = os.path.join(state, "buckets", "qb", "later.txt")
    os.chmod(later, 0o644)
    c = sqlite3.connect(os.path.join(state, "vigil.db"))
    c.execute("INSERT INTO quarantine (bucket, key, action, state, qbucket, "
              "at) VALUES ('qb', 'later.txt', 'private', 'pending', "
              "'qb-quarantine', ?)", (time.time(),))
    c.commit()
    c.close()
    d = Daemon("quarantine2", state, rules, conf)
    try:
        check(wait_for(lambda: os.stat(later).st_mode & 0o777 == 0o600,
                       10), "pending action not run after a restart")
    finally:
        d.stop(signal.SIGKILL)


@case("reload is audited with its actor")
def t_reload_audit(d):
    st, _ = jhttp(d, "POST", "/v1/rules/reload", b"", token=ADMIN)
    check(st == 200, "reload %s" % st)
    st, j = jhttp(d, "GET", "/v1/audit?subject=rules", token=ADMIN)
    check(any(r["action"] == "rules.reload" and r["actor"] == "admin"
              for r in j["records"]), "reload not audited: %s" % j)


@case("sync scans: clean bodies without an account are not audited, "
       "and the same bytes again add no verdict row")
def t_sync_audit(d):
    def scan(body, query=""):
        st, j = jhttp(d, "POST", "/v1/scan" + query, body, token=HOOK)
        check(st == 200, "scan %s %s" % (st, j))
        return j

    def audited(sha):
        st, j = jhttp(d, "GET", "/v1/audit?subject=scan:" + sha,
                      token=ADMIN)
        check(st == 200, "audit %s" % st)
        return [r for r in j["records"] if r["action"] == "verdict"]

    clean = scan(b"sync audit check, nothing to see %d" % os.getpid())
    flagged = scan(b"sync audit check NEEDLE-HIGH %d" % os.getpid())
    counted = scan(b"sync audit check, counted %d" % os.getpid(),
                   "?account=acct-sync")
    check(clean["verdict"] == "clean" and flagged["verdict"] == "flagged",
          "verdicts %s %s" % (clean["verdict"], flagged["verdict"]))
    # Flagged bodies are answered after their commit: audited already.
    check(len(audited(flagged["sha256"])) == 1, "flagged body not audited")
    check(wait_for(lambda: len(audited(counted["sha256"])) == 1, 10),
          "a clean body with an account was not audited")
    check(audited(clean["sha256"]) == [], "clean body audited")
    # The same bytes again come from the cache and add no verdict row.
    again = scan(b"sync audit check, nothing to see %d" % os.getpid())
    check(again["sha256"] == clean["sha256"], "not the same body")

    def rows():
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(
            d.state, "vigil.db"), uri=True)
        try:
            return db.execute("SELECT count(*) FROM verdicts WHERE "
                              "sha256 = ?", (clean["sha256"],)).fetchone()[0]
        finally:
            db.close()
    # A flagged scan is answered after its commit, and cycles commit in
    # order: by then the cache hit's cycle is in the database too.
    scan(b"sync audit check NEEDLE-HIGH again %d" % os.getpid())
    check(rows() == 1, "verdict rows for one body: %d" % rows())
    # Its verdict is still kept: the same bytes uploaded are a cache hit.
    def hits():
        _, _, b = http(d, "GET", "/metrics", token=ADMIN)
        for line in b.decode().splitlines():
            if line.startswith("vigil_cache_hits_total "):
                return float(line.split()[1])
        raise AssertionError("no vigil_cache_hits_total")

    hits0 = hits()
    upload(d, "sync/again.txt", b"sync audit check, nothing to see %d"
           % os.getpid(), "acct-sync")
    scanned(d, "b1", "sync/again.txt")
    check(hits() == hits0 + 1, "no cache hit for a body scanned before")


def main():
    if not ts.setup(sys.argv, __doc__):
        return 2
    rules = os.path.join(ts.WORK, "rules")
    os.makedirs(rules)
    with open(os.path.join(rules, "needles.yar"), "w") as f:
        f.write(RULES)
    conf_base = ("[serve]\ncommit_delay_ms = 1\n"
                 "token = hook %s\ntoken = moderator %s alice\n"
                 "token = moderator %s bob\ntoken = moderator %s\n"
                 "token = admin %s\n[policy]\nflag_threshold = 30\n"
                 "auto_suspend = network-safety\nclaim_lease = 2\n"
                 "weight_clause = IV.9(8) * 2\n"
                 % (HOOK, ALICE, BOB, ANON_MOD, ADMIN))
    conf = os.path.join(ts.WORK, "vigil.conf")
    with open(conf, "w") as f:
        f.write(conf_base)
    main_cases = (t_flag, t_archive_evidence, t_rescan, t_removed, t_claims,
                  t_admin_lease, t_dismiss, t_auto_suspend, t_roles,
                  t_paging, t_feed, t_reload_audit, t_sync_audit)
    if any(ts.selected(fn.case_name) for fn in main_cases):
        d = Daemon("main", os.path.join(ts.WORK, "state"), rules, conf)
        d.state = os.path.join(ts.WORK, "state")
        try:
            for fn in main_cases:
                run_case(fn, d)
        finally:
            d.stop(signal.SIGKILL)
    run_case(t_webhook, rules, conf_base)
    run_case(t_purge, rules, conf_base)
    run_case(t_quarantine, rules, conf_base)
    return ts.summary()


if __name__ == "__main__":
    sys.exit(main())
