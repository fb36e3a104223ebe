#!/usr/bin/env python3
"""Load benchmark for keyward (issue 5): wrk against a release build on loopback.

Runs, in one session and against one server:
  GET /healthz                       the HTTP ceiling of our own stack: the baseline
  client_credentials (Basic auth)    token issuance without a disk write
  introspection of an access token   the resource-server hot path
  userinfo (Bearer, openid profile email)  the relying-party hot path, read-only
  authorization-code redemption      durable: one write per request, group-committed;
                                     without openid, and with openid (an ID token) for an
                                     RS256, an ES256 and an EdDSA client, in --rounds rounds
                                     of rotating order, each figure the median of its rounds
  refresh-token rotation             durable: one write per request, group-committed
and reports idle RSS, RSS after load, binary size, `serve` startup over 1,000,000 stored
records (filled by the sweep benchmark's startup mode), and the cost of signing one ID token
(the sign benchmark) next to `openssl speed` for the same algorithm. Every response is
checked (status 200 and a well-formed body); a run with any bad response is reported as
such, never as throughput. Each figure is printed with its ratio to /healthz from the same
run; the OpenID Connect redemptions also with their ratio to the redemption without openid.

Usage: python3 benches/load.py [--duration SECONDS] [--connections N] [--node] [--rounds N]
                               [--records N | --no-startup] [--no-signing]
  --node also runs client_credentials and introspection against node-oidc-provider
  (installed from npm into a temp dir) for a same-machine comparison.
Needs: wrk (apt-get install wrk), openssl (for `openssl speed`), a release build (built if
missing).
"""

import argparse
import base64
import html
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("KEYWARD_BIN", os.path.join(ROOT, "target", "release", "keyward"))
REDIRECT = "http://127.0.0.1:9/callback"

# The OpenID Connect signing algorithms, each measured with a client of its own.
ALGS = ("RS256", "ES256", "EdDSA")
# Targets (issue 11), as shares of the redemption without openid.
REDEMPTION_TARGETS = {"EdDSA": 0.90, "ES256": 0.80}
OIDC_SCOPE = "openid profile email"
# The same scope without openid: the redemption these are compared with issues no ID token.
PLAIN_SCOPE = "profile email"

# One Lua script serves every scenario: requests come from a pool file (one line per
# request, split across threads) or repeat one fixed body; responses must be 200 and
# contain an expected marker. A thread stops when its pool runs out, but wrk still divides
# by the whole duration: a pool that runs out makes the rate a lower bound, and `check`
# says so.
LUA = r"""
local pool_path = os.getenv("POOL")
local prefix = os.getenv("BODY_PREFIX") or ""
local fixed_body = os.getenv("BODY")
local marker = os.getenv("MARKER")
local auth = os.getenv("AUTH")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  good = 0
  pool = {}
  next_index = 1
  if pool_path then
    local n = 0
    for line in io.lines(pool_path) do
      if n % counter_total == id then table.insert(pool, line) end
      n = n + 1
    end
  end
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  if auth then wrk.headers["Authorization"] = auth end
end

function request()
  if pool_path then
    local item = pool[next_index]
    if item == nil then
      wrk.thread:stop()
      return wrk.format("GET", "/healthz")
    end
    next_index = next_index + 1
    return wrk.format("POST", nil, nil, prefix .. item)
  elseif fixed_body then
    return wrk.format("POST", nil, nil, fixed_body)
  else
    return wrk.format("GET")
  end
end

-- Well-formed means a JSON object (starts with '{', ends with '}') holding the marker.
function response(status, headers, body)
  if status == 200 and string.byte(body, 1) == 123 and string.byte(body, -1) == 125
     and (marker == nil or string.find(body, marker, 1, true)) then
    good = good + 1
  else
    bad = bad + 1
    if bad <= 3 then io.stderr:write("bad response " .. status .. ": " .. string.sub(body, 1, 200) .. "\n") end
  end
end

function done(summary, latency, requests)
  local good_total, bad_total = 0, 0
  for _, thread in ipairs(threads) do
    good_total = good_total + thread:get("good")
    bad_total = bad_total + thread:get("bad")
  end
  io.write(string.format("CHECKED good=%d bad=%d\n", good_total, bad_total))
  io.write(string.format("P99_US %d\n", latency:percentile(99)))
  io.write(string.format("P50_US %d\n", latency:percentile(50)))
end
"""


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cli(data_dir, *args, stdin=None):
    result = subprocess.run(
        [BIN, "--data-dir", data_dir, *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


class Http:
    """A tiny cookie-keeping client for preparing the benchmark (never measured)."""

    def __init__(self, port):
        self.port = port
        self.cookies = {}

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read().decode()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";")[0]
        connection.close()
        return response.status, dict((k.lower(), v) for k, v in response.getheaders()), data


def hidden(page, name):
    match = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), page)
    return html.unescape(match.group(1)) if match else None


def wrk(port, path, connections, duration, threads=2, **env):
    lua = os.path.join(WORK, "bench.lua")
    with open(lua, "w") as script:
        script.write(LUA.replace("counter_total", str(threads)))
    environment = dict(os.environ)
    environment.update({k: v for k, v in env.items() if v is not None})
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", lua,
         f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, env=environment, check=True,
    )
    text = output.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    good, bad = map(int, re.search(r"CHECKED good=(\d+) bad=(\d+)", text).groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    p99 = int(re.search(r"P99_US (\d+)", text).group(1))
    p50 = int(re.search(r"P50_US (\d+)", text).group(1))
    if output.stderr.strip():
        sys.stderr.write(output.stderr)
    return {
        "rate": rate, "good": good, "bad": bad, "p99_ms": p99 / 1000, "p50_ms": p50 / 1000,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def make_codes(port, session, client_id, seconds, connections, scope, nonce=None):
    """Pre-makes authorization codes with wrk for `seconds`: a signed-in browser whose
    consent is remembered gets a code per authorize GET (a durable write each)."""
    prefix = os.path.join(WORK, "codes")
    lua = os.path.join(WORK, "make-codes.lua")
    with open(lua, "w") as script:
        script.write(r"""
local out = nil
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  out = io.open(os.getenv("OUT") .. "." .. tostring(id), "w")
  wrk.headers["Cookie"] = os.getenv("COOKIE")
end
function response(status, headers, body)
  local location = headers["Location"] or headers["location"]
  if status == 303 and location then
    local code = string.match(location, "[?&]code=([^&]+)")
    if code then out:write(code .. "\n"); out:flush() end
  end
end
""")
    query = authorize_query(client_id, scope, "bench", nonce)
    env = dict(os.environ, OUT=prefix, COOKIE=session)
    subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", lua,
         f"http://127.0.0.1:{port}/oauth2/authorize?{query}"],
        capture_output=True, text=True, env=env, check=True,
    )
    codes = []
    for name in os.listdir(WORK):
        if name.startswith("codes."):
            with open(os.path.join(WORK, name)) as part:
                codes.extend(urllib.parse.unquote(line.strip()) for line in part
                             if line.endswith("\n") and line.strip())
            os.remove(os.path.join(WORK, name))
    return codes


def authorize_query(client_id, scope, state, nonce=None):
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
              "scope": scope, "state": state}
    if nonce:
        params["nonce"] = nonce
    return urllib.parse.urlencode(params)


def basic_auth(client):
    client_id, secret = client
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def prepare(port, data_dir):
    """The clients (one without an ID-token algorithm of its own, for the figures without
    openid, and one per algorithm), the user, and a browser session that has allowed each
    client its scope, so that every later authorize GET answers with a code."""
    def create(name, *extra):
        created = json.loads(cli(
            data_dir, "client", "create", "--name", name, "--redirect-uri", REDIRECT,
            "--grant-types", "authorization_code,refresh_token,client_credentials",
            "--scope", OIDC_SCOPE, *extra, "--json"))
        return created["client_id"], created["client_secret"]

    clients = {"plain": create("Bench")}
    for alg in ALGS:
        clients[alg] = create(f"Bench {alg}", "--id-token-alg", alg)
    cli(data_dir, "user", "create", "--username", "bench", "--email", "bench@example.com",
        "--name", "Bench User", "--password-stdin", stdin="bench password 123\n")
    browser = Http(port)
    status, _, page = browser.request("GET", "/login")
    status, headers, _ = browser.request("POST", "/login", urllib.parse.urlencode({
        "csrf_token": hidden(page, "csrf_token"), "return_to": "/account",
        "username": "bench", "password": "bench password 123"}))
    assert status == 303, status
    for name, (client_id, _) in clients.items():
        scope = PLAIN_SCOPE if name == "plain" else OIDC_SCOPE
        query = authorize_query(client_id, scope, "x")
        status, _, page = browser.request("GET", f"/oauth2/authorize?{query}")
        status, headers, _ = browser.request("POST", "/oauth2/consent", urllib.parse.urlencode({
            "csrf_token": hidden(page, "csrf_token"), "request": hidden(page, "request"),
            "decision": "allow"}))
        assert status == 303 and "code=" in headers["location"], (status, headers)
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    return clients, cookie


def one_token(port, cookie, client, scope):
    """An access token for `client` through the code flow, outside any measurement."""
    query = authorize_query(client[0], scope, "one", "one-nonce")
    status, headers, _ = Http(port).request("GET", f"/oauth2/authorize?{query}",
                                            headers={"Cookie": cookie})
    assert status == 303, (status, headers)
    location = urllib.parse.urlparse(headers["location"])
    code = urllib.parse.parse_qs(location.query)["code"][0]
    body = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": REDIRECT})
    status, _, answer = Http(port).request("POST", "/oauth2/token", body,
                                           {"Authorization": basic_auth(client)})
    assert status == 200, (status, answer)
    return json.loads(answer)["access_token"]


def write_pool(name, items):
    path = os.path.join(WORK, name)
    with open(path, "w") as out:
        out.write("\n".join(urllib.parse.quote(item, safe="") for item in items) + "\n")
    return path


def redeem(port, client, codes, connections, duration, marker):
    """Redeems `codes` under measurement; the result carries the pool's size for `check`."""
    pool = write_pool("code-pool.txt", codes)
    result = wrk(port, "/oauth2/token", connections, duration, AUTH=basic_auth(client),
                 POOL=pool, BODY_PREFIX="grant_type=authorization_code&redirect_uri="
                 + urllib.parse.quote(REDIRECT, safe="") + "&code=", MARKER=marker)
    result["pool"] = len(codes)
    return result


def start(data_dir):
    process = subprocess.Popen(
        [BIN, "--data-dir", data_dir, "serve", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=dict(os.environ, KEYWARD_LOG="warn"))
    line = process.stdout.readline()
    port = int(line.strip().rsplit(":", 1)[1])
    return process, port


def line(label, value, unit, baseline=None, extra=""):
    ratio = f"  ({value / baseline:.0%} of /healthz)" if baseline else ""
    print(f"{label:<44} {value:>12,.0f} {unit}{ratio}{extra}", flush=True)


def check(result, label):
    if result["bad"] or result["non2xx"] or result["socket_errors"]:
        print(f"  !! {label}: {result['bad']} bad responses, {result['non2xx']} non-2xx, "
              f"socket errors: {result['socket_errors'] or 'none'}", flush=True)
    if "pool" in result and result["good"] + result["bad"] >= result["pool"]:
        print(f"  !! {label}: its pool of {result['pool']:,} ran out before the run ended;"
              f" the rate is a lower bound (raise --prepare)", flush=True)


def main():
    global WORK
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--prepare", type=int, default=20,
                        help="seconds spent making codes for each durable run")
    parser.add_argument("--node", action="store_true")
    parser.add_argument("--records", type=int, default=1_000_000,
                        help="records stored before timing `serve` startup")
    parser.add_argument("--no-startup", action="store_true",
                        help="skip the startup measurement (it fills a database first)")
    parser.add_argument("--no-signing", action="store_true",
                        help="skip the ID-token signing figures (sign bench, openssl speed)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the redemption comparison (each: one run without "
                             "openid and one per algorithm, in a rotating order)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")
    if not args.no_signing and shutil.which("openssl") is None:
        sys.exit("openssl is missing (apt-get install openssl), or pass --no-signing")
    if "KEYWARD_BIN" not in os.environ:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    WORK = tempfile.mkdtemp(prefix="keyward-load-")
    data_dir = os.path.join(WORK, "data")
    try:
        process, port = start(data_dir)
        time.sleep(1)
        idle = rss_kib(process.pid)
        clients, cookie = prepare(port, data_dir)
        client_id = clients["plain"][0]
        basic = basic_auth(clients["plain"])
        c, d = args.connections, args.duration
        print(f"keyward load benchmark: {c} connections, {d}s per figure, wrk -t2, loopback")

        # The baseline is measured before and after the two CPU-only figures, and the higher
        # rate is used: on a shared machine one reading can land in a slow or a fast moment,
        # and taking the higher one can only make the ratios look worse, never better.
        health = wrk(port, "/healthz", c, d, MARKER='"ok"')
        check(health, "healthz")

        cc = wrk(port, "/oauth2/token", c, d, AUTH=basic,
                 BODY="grant_type=client_credentials", MARKER='"access_token"')
        check(cc, "client_credentials")

        token = json.loads(Http(port).request(
            "POST", "/oauth2/token", "grant_type=client_credentials",
            {"Authorization": basic})[2])["access_token"]
        intro = wrk(port, "/oauth2/introspect", c, d, AUTH=basic,
                    BODY="token=" + token, MARKER='"active":true')
        check(intro, "introspection")

        bearer = one_token(port, cookie, clients["RS256"], OIDC_SCOPE)
        info = wrk(port, "/oauth2/userinfo", c, d, AUTH="Bearer " + bearer,
                   MARKER='"email":"')
        check(info, "userinfo")

        health_after = wrk(port, "/healthz", c, d, MARKER='"ok"')
        check(health_after, "healthz (again)")
        base = max(health["rate"], health_after["rate"])
        line("GET /healthz (baseline: the higher of two)", base, "req/s",
             extra=f"  ({health['rate']:,.0f} before, {health_after['rate']:,.0f} after;"
                   f" p99 {max(health['p99_ms'], health_after['p99_ms']):.2f} ms)")
        line("client_credentials (Basic)", cc["rate"], "req/s", base,
             f"  p99 {cc['p99_ms']:.2f} ms")
        line("introspection (active token)", intro["rate"], "req/s", base,
             f"  p99 {intro['p99_ms']:.2f} ms")
        line("userinfo GET (Bearer, openid profile email)", info["rate"], "req/s", base,
             f"  p99 {info['p99_ms']:.2f} ms; target >= 50% of /healthz")

        # Each redemption run gets a pool made for it, of `--prepare` seconds of codes:
        # making a code is one durable write, as redeeming one is, so a pool made for longer
        # than the run lasts it out (and `check` says when one did not).
        # The redemption without openid against the ones with an ID token, in rounds: each
        # round runs all four, in an order that rotates from round to round, and each
        # figure is the median of its rounds. Every durable run grows the database, and a
        # disk's fsync time wanders from one run to the next by more than an ID token
        # costs, so one run of each, in a fixed order, says more about the order and the
        # moment than about signing. Half of the last round's plain codes become the
        # refresh tokens for rotation.
        kinds = ["plain", *ALGS]
        runs = {kind: [] for kind in kinds}
        refresh_codes = []
        made_rate = None
        for round_index in range(args.rounds):
            order = kinds[round_index % len(kinds):] + kinds[:round_index % len(kinds)]
            for kind in order:
                if kind == "plain":
                    codes = make_codes(port, cookie, client_id, args.prepare, c, PLAIN_SCOPE)
                    if made_rate is None:
                        made_rate = len(codes) / args.prepare
                        print(f"{'authorize with remembered consent (durable)':<44} {made_rate:>12,.0f} req/s"
                              f"  ({made_rate / base:.0%} of /healthz; {len(codes):,} codes made for the next run)",
                              flush=True)
                    if round_index == args.rounds - 1:
                        codes, refresh_codes = codes[: len(codes) // 2], codes[len(codes) // 2:]
                    result = redeem(port, clients["plain"], codes, c, d, '"refresh_token"')
                    check(result, f"code redemption (round {round_index + 1})")
                else:
                    codes = make_codes(port, cookie, clients[kind][0], args.prepare, c, OIDC_SCOPE,
                                       nonce="bench-nonce-0S6_WzA2Mj")
                    result = redeem(port, clients[kind], codes, c, d, '"id_token":"')
                    check(result, f"code redemption with openid, {kind} (round {round_index + 1})")
                runs[kind].append(result)

        def median(results):
            rates = sorted(result["rate"] for result in results)
            middle = len(rates) // 2
            return rates[middle] if len(rates) % 2 else (rates[middle - 1] + rates[middle]) / 2

        def readings(results):
            return ", ".join(f"{result['rate']:,.0f}" for result in results)

        plain_rate = median(runs["plain"])
        plain_best = max(runs["plain"], key=lambda result: result["rate"])
        line("authorization_code redemption (durable)", plain_rate, "req/s", base,
             f"  median of {len(runs['plain'])} ({readings(runs['plain'])});"
             f" p99 {plain_best['p99_ms']:.2f} ms; scope {PLAIN_SCOPE}, no ID token")
        for alg in ALGS:
            rate = median(runs[alg])
            share = rate / plain_rate
            target = REDEMPTION_TARGETS.get(alg)
            verdict = (f"; target >= {target:.0%}: {'met' if share >= target else 'NOT met'}"
                       if target else "")
            worst_p99 = max(result["p99_ms"] for result in runs[alg])
            line(f"  ... with openid, {alg} ID token", rate, "req/s", base,
                 f"  {share:.0%} of the median without openid{verdict};"
                 f" median of ({readings(runs[alg])}); p99 up to {worst_p99:.2f} ms")

        # Refresh tokens for rotation: redeemed outside the measurement.
        refresh_tokens = redeem_for_refresh(port, basic, refresh_codes, c, plain_rate)
        refresh_pool = write_pool("refresh-pool.txt", refresh_tokens)
        rotation = wrk(port, "/oauth2/token", c, d, AUTH=basic, POOL=refresh_pool,
                       BODY_PREFIX="grant_type=refresh_token&refresh_token=",
                       MARKER='"refresh_token"')
        rotation["pool"] = len(refresh_tokens)
        check(rotation, "refresh rotation")
        line("refresh_token rotation (durable)", rotation["rate"], "req/s", base,
             f"  p99 {rotation['p99_ms']:.2f} ms, {rotation['good']:,} rotated")

        metrics = Http(port).request("GET", "/metrics")[2]
        value = lambda name: float(re.search(rf"^{name} (\S+)$", metrics, re.M).group(1))
        batches, jobs = value("keyward_write_batches_total"), value("keyward_write_jobs_total")
        job_s = value("keyward_write_job_nanoseconds_total") / 1e9
        commit_s = value("keyward_write_commit_nanoseconds_total") / 1e9
        print(f"{'group commit: writes per fsync':<44} {jobs / batches:>12.1f}"
              f"  ({jobs:,.0f} writes in {batches:,.0f} commits; writer busy {job_s:.1f}s in jobs,"
              f" {commit_s:.1f}s committing)")
        after = rss_kib(process.pid)
        print(f"{'idle RSS':<44} {idle / 1024:>12.1f} MiB")
        print(f"{'RSS after the whole benchmark':<44} {after / 1024:>12.1f} MiB")
        print(f"{'release binary (stripped)':<44} {os.path.getsize(BIN) / 1e6:>12.1f} MB")
        process.terminate()
        process.wait(timeout=30)
        if not args.no_startup:
            startup_with_records(args.records)
        if not args.no_signing:
            signing_costs()

        if args.node:
            node_compare(c, d, cc["rate"], intro["rate"], rotation["rate"])
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


def startup_with_records(records):
    """`serve` startup over a database holding `records` codes: the sweep benchmark's
    startup mode fills one through the store (far faster than over HTTP) and times the
    real binary from spawn to its listening line, best of three."""
    output = subprocess.run(
        ["cargo", "bench", "--quiet", "--bench", "sweep"], cwd=ROOT, check=True,
        capture_output=True, text=True,
        env=dict(os.environ, KEYWARD_BENCH_STARTUP_ONLY="1", KEYWARD_BENCH_LIVE=str(records)),
    )
    milliseconds = float(re.search(r"serve startup with \d+ records: ([\d.]+) ms",
                                   output.stdout).group(1))
    print(f"{f'startup with {records:,} records':<44} {milliseconds:>12.1f} ms", flush=True)


def signing_costs():
    """One ID token's signing, keyward's whole path (the sign benchmark, one thread) next to
    `openssl speed` for the same algorithm (one process), both on this machine now."""
    output = subprocess.run(
        ["cargo", "bench", "--quiet", "--bench", "sign"], cwd=ROOT, check=True,
        capture_output=True, text=True,
    ).stdout
    keyward = {alg: (float(issued), float(bare)) for alg, issued, bare in re.findall(
        r"^sign (\S+): (\d+) ID tokens/s; bare aws-lc-rs signature (\d+)/s", output, re.M)}
    speed = subprocess.run(
        ["openssl", "speed", "-seconds", "3", "rsa2048", "ecdsap256", "ed25519"],
        check=True, capture_output=True, text=True,
    ).stdout
    # The summary table: "rsa 2048 bits 0.001017s 0.000027s  982.9  36552.2", and lines
    # like " 256 bits ecdsa (nistp256) ..." and " 253 bits EdDSA (Ed25519) ...".
    patterns = {"RS256": r"^rsa 2048 bits\s", "ES256": r"^\s*256 bits ecdsa \(nistp256\)\s",
                "EdDSA": r"^\s*253 bits EdDSA \(Ed25519\)\s"}
    openssl = {}
    for alg, pattern in patterns.items():
        row = re.search(pattern + r".*?([\d.]+)\s+([\d.]+)\s*$", speed, re.M)
        if row:
            openssl[alg] = float(row.group(1))
    version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    names = {"RS256": "rsa2048", "ES256": "ecdsap256", "EdDSA": "ed25519"}
    print(f"ID token signing, one core (keyward: IdTokens::issue; {version} speed -seconds 3):",
          flush=True)
    for alg in ALGS:
        issued, bare = keyward.get(alg, (0.0, 0.0))
        reference = openssl.get(alg)
        if not issued or not reference:
            print(f"  !! {alg}: no figure (sign bench: {issued or 'none'}, "
                  f"openssl: {reference or 'none'})", flush=True)
            continue
        target = "; target <= 1.5x: " + ("met" if reference / issued <= 1.5 else "NOT met") \
            if alg == "RS256" else ""
        print(f"{f'  {alg}: keyward ID tokens':<44} {issued:>12,.0f} /s  (openssl speed "
              f"{names[alg]}: {reference:,.0f} sign/s, {reference / issued:.2f}x keyward{target};"
              f" bare aws-lc-rs {bare:,.0f}/s, keyward's path {bare / issued:.2f}x that)",
              flush=True)


def redeem_for_refresh(port, basic, codes, connections, rate):
    """Redeems `codes` for their refresh tokens, outside any measurement: wrk runs for as
    long as the pool should take at `rate` (it always runs its whole duration), and some."""
    pool = write_pool("redeem-pool.txt", codes)
    seconds = min(120, int(len(codes) / max(rate, 1) * 1.5) + 5)
    lua = os.path.join(WORK, "redeem.lua")
    with open(lua, "w") as script:
        script.write(LUA.replace("counter_total", "2").replace(
            "function response(status, headers, body)",
            "local out = nil\nfunction response(status, headers, body)\n"
            "  if out == nil then out = io.open(os.getenv('OUT') .. '.' .. tostring(id), 'w') end\n"
            "  local t = string.match(body, '\"refresh_token\":\"([^\"]+)\"')\n"
            "  if t then out:write(t .. '\\n'); out:flush() end"))
    env = dict(os.environ, POOL=pool, AUTH=basic, OUT=os.path.join(WORK, "refresh"),
               BODY_PREFIX="grant_type=authorization_code&redirect_uri="
               + urllib.parse.quote(REDIRECT, safe="") + "&code=", MARKER='"refresh_token"')
    subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", lua,
                    f"http://127.0.0.1:{port}/oauth2/token"],
                   capture_output=True, text=True, env=env, check=True)
    tokens = []
    for name in os.listdir(WORK):
        if name.startswith("refresh."):
            with open(os.path.join(WORK, name)) as part:
                tokens.extend(line.strip() for line in part if line.endswith("\n") and line.strip())
    return tokens


NODE_SERVER = r"""
const { Provider } = require('oidc-provider');
const provider = new Provider('http://127.0.0.1:' + process.env.PORT, {
  clients: [{ client_id: 'bench', client_secret: 'bench-secret', grant_types: ['client_credentials'],
              redirect_uris: [], response_types: [] }],
  features: { clientCredentials: { enabled: true }, introspection: { enabled: true },
              devInteractions: { enabled: false } },
});
provider.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('ready'));
"""


def node_compare(connections, duration, cc_rate, intro_rate, rotation_rate):
    if shutil.which("npm") is None:
        print("node-oidc-provider comparison skipped: npm is missing")
        return
    node_dir = os.path.join(WORK, "node")
    os.makedirs(node_dir)
    subprocess.run(["npm", "install", "--silent", "oidc-provider@8"], cwd=node_dir,
                   check=True, capture_output=True)
    with open(os.path.join(node_dir, "server.js"), "w") as out:
        out.write(NODE_SERVER)
    port = 18989
    process = subprocess.Popen(["node", "server.js"], cwd=node_dir, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True,
                               env=dict(os.environ, PORT=str(port), NODE_ENV="production"))
    process.stdout.readline()
    time.sleep(1)
    rss = rss_kib(process.pid)
    basic = "Basic " + base64.b64encode(b"bench:bench-secret").decode()
    cc = wrk(port, "/token", connections, duration, AUTH=basic,
             BODY="grant_type=client_credentials", MARKER='"access_token"')
    token = json.loads(Http(port).request("POST", "/token", "grant_type=client_credentials",
                                          {"Authorization": basic})[2])["access_token"]
    intro = wrk(port, "/token/introspection", connections, duration, AUTH=basic,
                BODY="token=" + token, MARKER='"active":true')
    after = rss_kib(process.pid)
    process.terminate()
    print(f"node-oidc-provider (in-memory adapter), same machine, same wrk settings:")
    line("  client_credentials", cc["rate"], "req/s",
         extra=f"  keyward is {cc_rate / cc['rate']:.1f}x")
    line("  introspection", intro["rate"], "req/s",
         extra=f"  keyward is {intro_rate / intro['rate']:.1f}x")
    print(f"  keyward durable rotations are {rotation_rate / cc['rate']:.1f}x node's client_credentials")
    print(f"  node RSS idle {rss / 1024:.1f} MiB, after load {after / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
