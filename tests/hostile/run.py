#!/usr/bin/env python3
"""Hostile input corpus (issue 8): manifests, trees and image layers crafted to attack Fixity.

    tests/hostile/run.py --bin PATH [--work DIR] [--long]

Every case is built here from bytes, fed to the command that meets such input in the field, and
must be refused — exit 2 with a message naming the problem — with nothing written outside the
target (a canary folder beside it is compared before and after, and no file named like the
attack's payload may appear anywhere). Cases that are legitimate content (a symlink pointing
outside the root) must instead be stored and deployed without anything being followed. Also runs
`oci import` against a lying registry (registry.py). Prints a
line per failure and ends with "N refused, N handled, N failed"; exit 1 when anything failed.
--long adds the million-entry directory (slow: a ~90 MB manifest).
"""
import argparse, gzip, hashlib, io, json, os, shutil, sqlite3, stat, subprocess, sys, tarfile, tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True)
ap.add_argument("--work")
ap.add_argument("--long", action="store_true")
args = ap.parse_args()
args.bin = os.path.abspath(args.bin)
work = args.work or tempfile.mkdtemp(prefix="fixity-hostile-")
os.makedirs(work, exist_ok=True)
store = os.path.join(work, "store")
canary = os.path.join(work, "outside")
counts = {"refused": 0, "handled": 0, "failed": 0}


def fixity(*argv, store_path=store):
    return subprocess.run([args.bin, *argv, "--store", store_path], capture_output=True, cwd=work)


def snapshot(path):
    out = []
    for base, dirs, files in os.walk(path):
        for name in sorted(dirs + files):
            p = os.path.join(base, name)
            st = os.lstat(p)
            out.append((os.path.relpath(p, path), stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns))
    return sorted(out)


def fail(case, why):
    counts["failed"] += 1
    print(f"FAIL [{case}]: {why}")


def expect_refused(case, result, mentioning, before):
    err = result.stderr.decode(errors="replace")
    if result.returncode != 2:
        return fail(case, f"exit {result.returncode}, expected 2: {err.strip()[:300]}")
    if mentioning.lower() not in err.lower():
        return fail(case, f"message does not mention {mentioning!r}: {err.strip()[:300]}")
    if snapshot(canary) != before:
        return fail(case, "something was written outside the target")
    for base, dirs, files in os.walk(work):
        if "PWNED" in files or "PWNED" in dirs:
            return fail(case, f"payload written at {base}/PWNED")
    counts["refused"] += 1


# ---- setup: a store with a real release, and a canary beside every target --------------------
os.makedirs(os.path.join(canary, "etc"), exist_ok=True)
open(os.path.join(canary, "etc", "passwd"), "w").write("root:x:0:0\n")
os.makedirs(os.path.join(work, "good"), exist_ok=True)
open(os.path.join(work, "good", "VERSION"), "w").write("v1\n")
r = fixity("seal", os.path.join(work, "good"), "--app", "good")
if r.returncode != 0:
    sys.exit(f"setup: seal failed: {r.stderr.decode()}")
blob = r.stdout.decode().strip()
good_manifest = subprocess.run([args.bin, "show", blob, "--json", "--store", store], capture_output=True).stdout
file_digest = json.loads(good_manifest)["entries"][0]["digest"]


def plant_manifest(text_bytes):
    """A manifest object with a valid name and a releases row: a tampered or hand-copied store."""
    digest = hashlib.sha256(text_bytes).hexdigest()
    folder = os.path.join(store, "objects", "sha256", digest[:2])
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, digest[2:])
    if not os.path.exists(path):
        open(path, "wb").write(text_bytes)
        os.chmod(path, 0o444)
    db = sqlite3.connect(os.path.join(store, "fixity.db"))
    db.execute("INSERT OR IGNORE INTO releases (id, app, sealed_at, files, bytes) VALUES (?, 'hostile', '2026-01-01T00:00:00Z', 1, 1)", ("sha256:" + digest,))
    db.commit()
    return "sha256:" + digest


def manifest(lines):
    # One join, not += (bytes are immutable: += copies the whole manifest per line, which made
    # the million-entry case quadratic).
    return b"fixity-manifest 1\n" + b"".join(b"\t".join(line) + b"\n" for line in lines)


F = lambda path: (b"file", b"0644", b"3", file_digest.encode(), path)
D = lambda path: (b"dir", b"0755", b"0", b"-", path)
L = lambda path, target: (b"symlink", b"0777", str(len(target)).encode(), target, path)

manifest_cases = [
    ("manifest: .. path", [D(b"a"), F(b"a/../../outside/PWNED")], "'..'"),
    ("manifest: absolute path", [F(b"/tmp/PWNED")], "absolute"),
    ("manifest: duplicate entries", [F(b"PWNED"), F(b"PWNED")], "line 3"),
    ("manifest: unsorted entries", [F(b"b"), F(b"a")], "line 3"),
    ("manifest: symlink then a file beneath it", [L(b"etc", b"../outside/etc"), F(b"etc/PWNED")], "line 3"),
    ("manifest: file beneath a file", [F(b"a"), F(b"a/PWNED")], "line 3"),
    ("manifest: missing parent folder", [F(b"nowhere/PWNED")], "line 2"),
    ("manifest: invalid UTF-8 name", [F(b"bad\xff\xfe")], "UTF-8"),
    ("manifest: control character in a name", [F(b"new\x01line")], "control character"),
    ("manifest: 4 KiB path component", [F(b"x" * 4096)], "longer than"),
    ("manifest: mode beyond 07777", [(b"file", b"0844", b"3", file_digest.encode(), b"a")], "octal"),
    ("manifest: unknown entry type", [(b"device", b"0644", b"0", b"-", b"null")], "type"),
    ("manifest: size that lies", [(b"file", b"0644", b"999", file_digest.encode(), b"a")], "999"),
    ("manifest: trailing garbage", None, "line"),
]
for case, lines, mentioning in manifest_cases:
    body = manifest(lines) if lines is not None else manifest([F(b"a")]) + b"garbage without tabs\n"
    release = plant_manifest(body)
    target = os.path.join(work, "target-" + hashlib.sha256(case.encode()).hexdigest()[:8])
    before = snapshot(canary)
    expect_refused(case, fixity("deploy", release, "--root", target, "--link", "copy"), mentioning, before)
    if os.path.isdir(target) and any(n.startswith("deployments") and os.listdir(os.path.join(target, n)) for n in os.listdir(target)):
        fail(case, "a deployment was left in the target")

# ---- trees for seal --------------------------------------------------------------------------
def tree_case(case, build, mentioning):
    src = os.path.join(work, "tree-" + hashlib.sha256(case.encode()).hexdigest()[:8])
    os.makedirs(src)
    open(os.path.join(src, "ok"), "w").write("fine\n")
    try:
        build(src)
    except PermissionError as error:
        print(f"SKIP [{case}]: {error}")
        return
    before = snapshot(canary)
    expect_refused(case, fixity("seal", src, "--app", "hostile"), mentioning, before)

tree_case("tree: FIFO", lambda s: os.mkfifo(os.path.join(s, "pipe")), "FIFO")
tree_case("tree: character device", lambda s: os.mknod(os.path.join(s, "null"), 0o600 | stat.S_IFCHR, os.makedev(1, 3)), "device")
tree_case("tree: name with a newline", lambda s: open(os.path.join(s, "new\nline"), "w").write("x"), "control character")
tree_case("tree: name that is not UTF-8", lambda s: open(os.path.join(s.encode(), b"bad\xff"), "w").write("x"), "UTF-8")
tree_case("tree: unix socket", lambda s: __import__("socket").socket(__import__("socket").AF_UNIX).bind(os.path.join(s, "sock")), "socket")

# A symlink pointing outside the root is content (a venv's bin/python): sealed, deployed, never followed.
src = os.path.join(work, "tree-outside-link")
os.makedirs(src)
os.symlink(os.path.join(canary, "etc"), os.path.join(src, "etc"))
r = fixity("seal", src, "--app", "links")
before = snapshot(canary)
target = os.path.join(work, "target-outside-link")
d = fixity("deploy", r.stdout.decode().strip(), "--root", target, "--link", "copy")
if r.returncode != 0 or d.returncode != 0:
    fail("tree: symlink pointing outside", f"seal/deploy refused legitimate content: {r.stderr.decode()} {d.stderr.decode()}")
elif snapshot(canary) != before or not os.path.islink(os.path.join(target, "current", "etc")):
    fail("tree: symlink pointing outside", "deploy followed the link or did not recreate it")
else:
    counts["handled"] += 1

# ---- envelopes that tools read differently -----------------------------------------------------
# A statement with two "subject" keys: Swift's decoder keeps one, Python's json the other, so a
# reviewer checking it with Python tooling would approve another release than Fixity counts.
# Refused before it is read, wherever the duplicate is (also escaped: "\u0073ubject").
import base64
other = "ab" * 32
for case, statement in [
    ("envelope: duplicate subject key", '{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"good","digest":{"sha256":"%s"}}],'
        '"subject":[{"name":"other","digest":{"sha256":"%s"}}],"predicateType":"https://fixity.dev/approval/v1","predicate":{}}' % (blob[7:], other)),
    ("envelope: duplicate key spelled with an escape", '{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"good","digest":{"sha256":"%s"}}],'
        '"\\u0073ubject":[{"name":"other","digest":{"sha256":"%s"}}],"predicateType":"https://fixity.dev/approval/v1","predicate":{}}' % (blob[7:], other)),
]:
    envelope = {"payloadType": "application/vnd.in-toto+json", "payload": base64.b64encode(statement.encode()).decode(),
                "signatures": [{"keyid": "00" * 32, "sig": base64.b64encode(b"x" * 64).decode()}]}
    path = os.path.join(work, "dup-envelope.json")
    open(path, "w").write(json.dumps(envelope))
    before = snapshot(canary)
    expect_refused(case, fixity("sign", blob, "--envelope", path), "duplicate key", before)
# The same at the envelope level.
path = os.path.join(work, "dup-envelope-top.json")
open(path, "w").write('{"payloadType":"application/vnd.in-toto+json","payload":"e30=","payload":"e30=","signatures":[]}')
expect_refused("envelope: duplicate payload key", fixity("sign", blob, "--envelope", path), "duplicate key", snapshot(canary))

# ---- image layers for oci import -------------------------------------------------------------
def layout_case(case, members, mentioning):
    out = os.path.join(work, "layout-" + hashlib.sha256(case.encode()).hexdigest()[:8])
    os.makedirs(os.path.join(out, "blobs", "sha256"))
    def put(data):
        h = hashlib.sha256(data).hexdigest()
        open(os.path.join(out, "blobs", "sha256", h), "wb").write(data)
        return {"digest": "sha256:" + h, "size": len(data)}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for kind, name, extra in members:
            i = tarfile.TarInfo(name)
            data = None
            if kind == "file": data = extra.encode(); i.size = len(data)
            elif kind == "hardlink": i.type = tarfile.LNKTYPE; i.linkname = extra
            elif kind == "symlink": i.type = tarfile.SYMTYPE; i.linkname = extra
            t.addfile(i, io.BytesIO(data) if data is not None else None)
    tar = raw.getvalue()
    layer = dict(put(gzip.compress(tar, mtime=0)), mediaType="application/vnd.oci.image.layer.v1.tar+gzip")
    config = dict(put(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]}}).encode()), mediaType="application/vnd.oci.image.config.v1+json")
    m = dict(put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": [layer]}).encode()), mediaType="application/vnd.oci.image.manifest.v1+json")
    json.dump({"schemaVersion": 2, "manifests": [m]}, open(os.path.join(out, "index.json"), "w"))
    open(os.path.join(out, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
    before = snapshot(canary)
    expect_refused(case, fixity("oci", "import", out, "--app", "hostile"), mentioning, before)

layout_case("layer: hard link outside the root", [["hardlink", "PWNED", "../../outside/etc/passwd"]], "'..'")
layout_case("layer: .. path", [["file", "../outside/PWNED", "x"]], "'..'")
layout_case("layer: absolute path", [["file", "/tmp/PWNED", "x"]], "absolute")
layout_case("layer: symlink then a file beneath it", [["symlink", "etc", "../outside/etc"], ["file", "etc/PWNED", "x"]], "symlink")

# ---- a registry that lies (tests/hostile/registry.py) ----------------------------------------
# Layers that announce a terabyte, never end, are too long, short or wrong; a manifest that never
# ends; error bodies that never end or carry terminal escapes. The endless ones prove the
# download stops at the descriptor's size: the command returns at all.
def releases():
    return len(json.loads(fixity("releases", "--json").stdout or b'{"releases": []}').get("releases", []))

server = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "registry.py")],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
try:
    info = json.loads(server.stdout.readline())
    cases = [("announced", "answered more than"), ("endless", "answered more than"), ("long", "answered more than"),
                             ("short", "its descriptor says"), ("wrong", "does not match its digest"),
                             ("endless-manifest", "answered more than 4194304 bytes"), ("endless-error", "answered 500"),
                             ("escapes", "DENIED"), ("bearer", "needs credentials"), ("bearer-endless", "answered more than")]
    cases = [(mode, says, None) for mode, says in cases] + [("bearer", "bad credentials", b"wrong\n")]
    for mode, mentioning, password in cases:
        case = f"registry: {mode}" + (" with wrong password" if password else "")
        before, count = snapshot(canary), releases()
        login = ["--username", "fixity", "--password-stdin"] if password else []
        try:
            r = subprocess.run([args.bin, "oci", "import", f"127.0.0.1:{info['port']}/{mode}@{info['digest']}", "--app", "hostile",
                                "--insecure", *login, "--store", store], input=password, capture_output=True, cwd=work, timeout=120)
        except subprocess.TimeoutExpired:
            fail(case, "did not stop within 120 s")
            continue
        err = r.stderr.decode(errors="replace")
        if b"\x1b" in r.stderr or b"\r" in r.stderr or err.count("\n") > 1:
            fail(case, f"the server's words reached the terminal raw: {err[:300]!r}")
        elif releases() != count:
            fail(case, "a release was recorded")
        elif os.listdir(os.path.join(store, "tmp")):
            fail(case, f"left in the store's temp space: {os.listdir(os.path.join(store, 'tmp'))}")
        else:
            expect_refused(case, r, mentioning, before)
    # The controls: the same server telling the truth is imported, also behind token auth.
    r = fixity("oci", "import", f"127.0.0.1:{info['port']}/good@{info['digest']}", "--app", "hostile", "--insecure")
    if r.returncode == 0:
        counts["handled"] += 1
    else:
        fail("registry: good", f"the truthful image was refused: {r.stderr.decode()[:300]}")
    r = subprocess.run([args.bin, "oci", "import", f"127.0.0.1:{info['port']}/bearer@{info['digest']}", "--app", "hostile", "--insecure",
                        "--username", "fixity", "--password-stdin", "--store", store], input=b"s3cret\n", capture_output=True, cwd=work, timeout=120)
    if r.returncode == 0:
        counts["handled"] += 1
    else:
        fail("registry: bearer with the right password", f"refused: {r.stderr.decode()[:300]}")
    # A push whose upload Location points at another host: the credentials must stay home (the
    # other host answers 400 to any request carrying them, so a leak fails the push).
    r = subprocess.run([args.bin, "oci", "push", blob, f"127.0.0.1:{info['port']}/leak:1", "--insecure",
                        "--username", "fixity", "--password-stdin", "--store", store], input=b"s3cret\n", capture_output=True, cwd=work, timeout=120)
    if r.returncode == 0:
        counts["handled"] += 1
    else:
        fail("registry: upload Location on another host", f"push failed (credentials leaked?): {r.stderr.decode()[:300]}")
finally:
    server.kill()
    server.wait()

# ---- the million-entry directory (long mode) -------------------------------------------------
if args.long:
    lines = [D(b"big")] + [F(b"big/f%07d" % n) for n in range(1_000_000)]
    release = plant_manifest(manifest(lines))
    before = snapshot(canary)
    target = os.path.join(work, "target-million")
    r = fixity("show", release, "--json")
    # A million entries is not an attack in itself: it must be handled (parsed, listed) without
    # being written anywhere else; deploying it is left to the disk.
    if r.returncode == 0 and snapshot(canary) == before:
        counts["handled"] += 1
    else:
        fail("manifest: million-entry directory", f"exit {r.returncode}: {r.stderr.decode()[:300]}")

print(f"{counts['refused']} refused, {counts['handled']} handled, {counts['failed']} failed")
if os.environ.get("KEEP") != "1":
    shutil.rmtree(work, ignore_errors=True)
sys.exit(1 if counts["failed"] else 0)
