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
import datetime, json, os, re, sys
pkg, hashes = sys.argv[1], sys.argv[2]
# The current build's files only (earlier builds' hashed files may still sit beside them).
h = {}
for line in open(hashes):
    kind, _, v = line.partition(":")
    if v.strip():
        h[kind.strip()] = v.strip()
shared = [f"halite.{h[k]}.{k}" for k in ("js", "wasm", "css") if k in h]
split = "split" in h and "manifest" in h
if split:
    shared.append(f"__wasm_split.{h['split']}.js")
    manifest = json.load(open(os.path.join(pkg, f"__wasm_split_manifest.{h['manifest']}.json")))
files = {n: None for n in os.listdir(pkg)}

def sizes(name):
    p = os.path.join(pkg, name)
    return [os.path.getsize(p)] + [os.path.getsize(f"{p}.{e}") if os.path.exists(f"{p}.{e}") else 0 for e in ("gz", "br")]

def total(names):
    t = [0, 0, 0]
    for n in names:
        t = [a + b for a, b in zip(t, sizes(n))]
    return t

kb = lambda n: f"{n / 1024:,.0f} KB"
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
lines = [
    "<!-- bench_payload:start -->",
    "## Browser payload (`scripts/bench-payload.sh`, after `make build-release`)",
    "",
    f"Measured {now}: the release bundle under `target/site/pkg`, raw and as the precompressed",
    "siblings `/pkg` serves to a browser that accepts them (brotli first, then gzip). The names",
    "carry a content hash (`hash-files`), so `/pkg` sends them with `Cache-Control: immutable`",
    "and a warm load asks for none of them.",
    "",
]
if split:
    lines += [
        "Built with `--split`: every page is a lazy route (`src/app/routes.rs`), so its code sits in a",
        "WASM file of its own plus shared chunks (wasm-split's, listed per page in the manifest), and",
        "the server names them in the page's `<head>` as preloads. A cold load of a page fetches the",
        "shared files below and that page's files, nothing of the other pages.",
        "",
        "| shared by every page | raw | gzip | brotli |",
        "|---|---|---|---|",
    ]
else:
    lines += [
        "Not a split build: every page loads all of it on a cold start.",
        "",
        "| file | raw | gzip | brotli |",
        "|---|---|---|---|",
    ]
base = total(shared)
lines += [f"| `{n}` | {kb(s[0])} | {kb(s[1])} | {kb(s[2])} |" for n, s in ((n, sizes(n)) for n in shared)]
lines += [f"| **all shared** | {kb(base[0])} | {kb(base[1])} | **{kb(base[2])}** |", ""]
if split:
    lines += [
        "| page (lazy route) | its files | raw | brotli | **cold load, brotli** (shared + page) |",
        "|---|---|---|---|---|",
    ]
    for key in sorted(manifest):
        page = re.sub(r"^__|_route_view_[0-9]+$", "", key)
        names = []
        for chunk in manifest[key] + [f"split_{key}"]:
            names += [n for n in files if n.startswith(chunk + ".") and n.endswith(".wasm")]
        t = total(names)
        lines.append(f"| {page} | {len(names)} | {kb(t[0])} | {kb(t[2])} | **{kb(base[2] + t[2])}** |")
    lines.append("")
lines.append("<!-- bench_payload:end -->")
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
