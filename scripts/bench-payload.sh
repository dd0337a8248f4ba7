#!/usr/bin/env bash
# The browser payload of the release build: every file under target/site/pkg (WASM, JS, CSS),
# raw and as the precompressed .gz/.br siblings Halite serves (`halite assets compress`).
# Writes the `bench_payload` section of BENCHMARKS.md. Needs `make build-release` first
# (`make bench` runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
PKG=target/site/pkg
HASHES=target/release/hash.txt
[ -f "$HASHES" ] || { echo "no release bundle ($HASHES): run make build-release" >&2; exit 1; }
./target/release/halite assets compress target/site > /dev/null
python3 - "$PKG" "$HASHES" <<'PY'
import datetime, os, re, sys
pkg, hashes = sys.argv[1], sys.argv[2]
# The current build's files only (earlier builds' hashed files may still sit beside them).
names = set()
for line in open(hashes):
    kind, _, h = line.partition(":")
    if kind.strip() in ("js", "wasm", "css") and h.strip():
        names.add(f"halite.{h.strip()}.{kind.strip()}")
rows, tot = [], [0, 0, 0]
for name in sorted(os.listdir(pkg)):
    if name not in names:
        continue
    p = os.path.join(pkg, name)
    sizes = [os.path.getsize(p)] + [os.path.getsize(f"{p}.{e}") if os.path.exists(f"{p}.{e}") else 0 for e in ("gz", "br")]
    tot = [a + b for a, b in zip(tot, sizes)]
    rows.append((name, sizes))
kb = lambda n: f"{n / 1024:,.0f} KB"
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
lines = [
    "<!-- bench_payload:start -->",
    "## Browser payload (`scripts/bench-payload.sh`, after `make build-release`)",
    "",
    f"Measured {now}: the release bundle under `target/site/pkg`, raw and as the precompressed",
    "siblings `/pkg` serves to a browser that accepts them (brotli first, then gzip). The names",
    "carry a content hash (`hash-files`), so `/pkg` sends them with `Cache-Control: immutable`",
    "and a warm load asks for none of them. Every page loads all of it on a cold start (no",
    "per-route splitting yet).",
    "",
    "| file | raw | gzip | brotli |",
    "|---|---|---|---|",
]
lines += [f"| `{n}` | {kb(s[0])} | {kb(s[1])} | {kb(s[2])} |" for n, s in rows]
lines += [f"| **all** | {kb(tot[0])} | {kb(tot[1])} | **{kb(tot[2])}** |", "", "<!-- bench_payload:end -->"]
section = "\n".join(lines)
path = "BENCHMARKS.md"
old = open(path).read()
a, b = old.find("<!-- bench_payload:start -->"), old.find("<!-- bench_payload:end -->")
if a >= 0 and b >= 0:
    new = old[:a] + section + old[b + len("<!-- bench_payload:end -->"):]
else:
    at = old.find("## Browser at 10,000 minions")
    new = old[:at] + section + "\n\n" + old[at:] if at >= 0 else old.rstrip() + "\n\n" + section + "\n"
open(path, "w").write(new)
print(section)
PY
