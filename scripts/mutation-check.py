#!/usr/bin/env python3
# Issue 26's five mutations of critical lines: each applied alone, built, and run against the suites of
# `make test` that should catch it (filtered, so each takes seconds); prints the tests that failed, then restores
# the file and rebuilds. Run after `make test` (needs its build and a PostgreSQL 15): scripts/mutation-check.py [1-5 ...]
import subprocess, re, os, sys
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
M = [
 ("1 six-month clamp", "Sources/Policy/ISODuration.swift",
  "case .success(let duration) where !duration.neverExceeds(.ceiling):", "case .success(let duration) where false && !duration.neverExceeds(.ceiling):",
  "Policy|Retention|PurgeJob|Ceiling"),
 ("2 hold check in the purge plan", "Sources/Purge/PurgePlanner.swift",
  "let holds = try activeHolds(at: now)", "let holds: [HeldCustomer] = try activeHolds(at: now).filter { _ in false }",
  "Purge|Hold"),
 ("3 row id in the associated data", "Sources/Keys/Envelope.swift",
  "        bytes += [0x7C, 0x72, 0x6F, 0x77, 0x3D]  // \"|row=\"", "        if row != Int64.min { return }\n        bytes += [0x7C, 0x72, 0x6F, 0x77, 0x3D]  // \"|row=\"",
  "Envelope|Vector|Keys|Encrypt|Intake"),
 ("4 chunk authentication of backups", "Sources/Backup/BackupFile.swift",
  "throw LetheError.integrity(\"\\(path): chunk \\(chunk.counter) does not authenticate (altered, reordered or from another backup)\")", "continue",
  "Backup"),
 ("5 erasure replay after a restore", "Sources/Restore/RestoreJob.swift",
  ".replay(decisions.tombstones)", ".replay(decisions.tombstones.filter { _ in false })",
  "Erasure|Restore|Subject|BackupPromise|BackupSignature"),
]
env = dict(os.environ, LETHE_PG_DIR="/dev/shm", LETHE_PG_OPTS="-c autovacuum=off")
binpath = subprocess.run(["swift","build","--show-bin-path"],capture_output=True,text=True).stdout.strip()
env["LETHE_BIN"] = binpath + "/lethe"
only = sys.argv[1:] 
for name, path, old, new, filt in M:
    if only and name[0] not in only: continue
    src = open(path).read()
    assert src.count(old) == 1, (name, src.count(old))
    open(path,'w').write(src.replace(old, new))
    try:
        b = subprocess.run(["swift","build","--build-tests"],capture_output=True,text=True)
        if b.returncode != 0:
            print(name, "BUILD FAILED", [l for l in b.stdout.splitlines() if "error" in l][:3], flush=True); continue
        t = subprocess.run(["scripts/with-postgres.sh","swift","test","--skip-build","--skip","FaultInjection","--filter",filt],capture_output=True,text=True,env=env)
        failed = sorted(set(re.findall(r"✘ Test (\S+?)\(.*?\) (?:recorded an issue at ([A-Za-z]+)\.swift)", t.stdout)))
        summary = [l for l in t.stdout.splitlines() if "Test run with" in l]
        print(name, "| exit", t.returncode, "|", summary[-1] if summary else "", flush=True)
        for f in failed[:12]: print("   caught by", f[1] + "/" + f[0], flush=True)
    finally:
        open(path,'w').write(src)
subprocess.run(["swift","build","--build-tests"],capture_output=True,text=True)
print("restored", subprocess.run(["git","status","--short"],capture_output=True,text=True).stdout, flush=True)
