#!/usr/bin/env python3
"""Seeds a server's fleet tables for bench/dashboard.sh: HOSTS enrolled hosts in ENV running
RELEASE, each with 20 signed-report rows (bodies that parse as reports; the signatures are not
checked again when pages read them, as on a real server). 5 hosts drifted, 5 failed, the rest
converged and seen just now. Only for a throwaway benchmark folder.

usage: seed-fleet.py DB HOSTS ENV RELEASE
"""
import hashlib
import json
import sqlite3
import sys
import time

db, count, env, release = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
now = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())
connection = sqlite3.connect(db, timeout=30)
with connection:
    for i in range(count):
        name = f"host-{i:04d}"
        key_id = hashlib.sha256(name.encode()).hexdigest()
        drifted = i < 5
        failed = 5 <= i < 10
        drift = json.dumps(["dir-3/f-1.txt"]) if drifted else "[]"
        event = "refused" if failed else ("drift" if drifted else "status")
        connection.execute(
            """INSERT INTO hosts (key_id, name, env, public_key, enrolled_at, enrolled_by, last_report_seq,
               last_seen_at, last_report_at, interval_seconds, last_event, release, deployment, attempted, drift, detail)
               VALUES (?, ?, ?, ?, ?, 'kbench', 20, ?, ?, 30, ?, ?, ?, ?, ?, ?)""",
            (key_id, name, env, "ed25519:" + key_id, now, now, now, event, release, release, release, drift,
             "refused: signature short of the policy" if failed else None))
        for seq in range(1, 21):
            report = {"seq": seq, "event": "deployed" if seq == 1 else ("drift" if drifted and seq == 20 else "status"),
                      "time": now, "release": release, "attempted": release, "changes": [],
                      "change_count": 0, "interval_seconds": 30}
            if seq == 1:
                report["health"] = {"result": "pass", "command": "bin/health", "exit_code": 0, "seconds": 0.12,
                                    "output_tail": "ok: 200 from /healthz\n", "counts": True}
            if drifted and seq == 20:
                report["drift_state"] = "drifted"
                report["changes"] = [{"path": "dir-3/f-1.txt", "kind": "modified", "found": "sha256:" + "ab" * 32}]
                report["change_count"] = 1
            connection.execute(
                """INSERT INTO host_reports (key_id, report_seq, event, received_at, body, signature_input, signature)
                   VALUES (?, ?, ?, ?, ?, '-', '-')""", (key_id, seq, report["event"], now, json.dumps(report)))
print(f"seeded {count} hosts with 20 reports each", file=sys.stderr)
