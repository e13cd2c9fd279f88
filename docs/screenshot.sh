#!/usr/bin/env bash
# Makes docs/report.png, the README's screenshot of `pipeline report`: a generated shop of 20,000
# orders (a few defective lines included) is loaded into a scratch database, the report is written,
# and headless Chromium captures the whole page through its DevTools protocol.
#
#   bash docs/screenshot.sh [OUT.png]
#
# Needs PostgreSQL (ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres), psql, python3
# and chromium (Debian: apt-get install chromium). The scratch database is dropped at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=$(realpath -m "${1:-docs/report.png}")
admin=${ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
db=pipeline_screenshot
work=$(mktemp -d)
cleanup() {
    PGOPTIONS=--client-min-messages=warning psql -X -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

command -v chromium >/dev/null || { echo "chromium is missing (apt-get install chromium)" >&2; exit 1; }
cargo build --release -q -p pipeline
bin=$PWD/target/release/pipeline

PGOPTIONS=--client-min-messages=warning psql -X -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
export DATABASE_URL="${admin%/*}/$db" RUST_LOG=warn
"$bin" generate --out "$work/data" --orders 20000 --seed 42 --defect-rate 0.002 >/dev/null
"$bin" --data-dir "$work/data" run >/dev/null
# A second run of the same files (it changes nothing) and a recompute of one month, so that the
# health section shows a few runs.
"$bin" --data-dir "$work/data" run --stage load >/dev/null
"$bin" run --range 2017-11-01..2017-11-30 --stage customer_daily_stats >/dev/null
"$bin" report --out "$work/report.html"

# The whole page at 1100 CSS pixels wide. Chromium reads DevTools commands from fd 3 and answers
# on fd 4 (--remote-debugging-pipe), so no port is opened.
python3 - "$work/report.html" "$out" "$work/profile" <<'PY'
import base64, json, os, subprocess, sys

page, out, profile = sys.argv[1:]
# sh moves the pipes to fds 3 and 4, where --remote-debugging-pipe expects them.
chrome = subprocess.Popen(
    ["sh", "-c", 'exec "$@" 3<&0 4>&1 </dev/null >/dev/null', "sh",
     "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--hide-scrollbars",
     "--remote-debugging-pipe", f"--user-data-dir={profile}", "--no-first-run",
     "--disable-background-networking", "--disable-component-update", "--disable-sync",
     "about:blank"],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
buffer = b""
next_id = 0

def send(method, params=None, session=None):
    global next_id, buffer
    next_id += 1
    message = {"id": next_id, "method": method, "params": params or {}}
    if session:
        message["sessionId"] = session
    chrome.stdin.write(json.dumps(message).encode() + b"\0")
    chrome.stdin.flush()
    while True:
        while b"\0" not in buffer:
            chunk = os.read(chrome.stdout.fileno(), 1 << 20)
            if not chunk:
                sys.exit("chromium closed the DevTools pipe")
            buffer += chunk
        raw, buffer = buffer.split(b"\0", 1)
        reply = json.loads(raw)
        if reply.get("id") == next_id:
            if "error" in reply:
                sys.exit(f"{method}: {reply['error']}")
            return reply["result"]
        if reply.get("method") == "Page.loadEventFired":
            loaded.add(reply.get("sessionId"))

loaded = set()
target = send("Target.createTarget", {"url": "about:blank"})["targetId"]
session = send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
send("Page.enable", session=session)
send("Emulation.setDeviceMetricsOverride",
     {"width": 1100, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session)
send("Page.navigate", {"url": "file://" + os.path.abspath(page)}, session)
while session not in loaded:
    send("Runtime.evaluate", {"expression": "1"}, session)
height = send("Runtime.evaluate",
              {"expression": "document.documentElement.scrollHeight", "returnByValue": True},
              session)["result"]["value"]
shot = send("Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True,
             "clip": {"x": 0, "y": 0, "width": 1100, "height": height, "scale": 1}}, session)
with open(out, "wb") as f:
    f.write(base64.b64decode(shot["data"]))
send("Browser.close")
chrome.wait(timeout=30)
print(f"wrote {out}: 1100 x {height} pixels")
PY
