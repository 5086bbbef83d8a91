#!/usr/bin/env python3
"""A small TUF repository for tests, made with python-tuf (the reference implementation).

It publishes one target, trusted_root.json, the way Sigstore's TUF repository does:
consistent snapshots (N.root.json, N.snapshot.json, N.targets.json, targets/<sha256>.NAME),
metadata at the top of the folder, targets under targets/. Keys are Ed25519, derived from fixed
seeds per repository, role and generation, so every command can re-create them without storing
secrets (the repository's salt is in its state file, which is not metadata).

Commands (each prints one JSON line):
  init DIR TARGET                  root, targets, snapshot, timestamp, all version 1
  update DIR TARGET                a new target: targets, snapshot and timestamp versions + 1
  rotate-root DIR                  root version + 1 with a new root key, signed by old and new
  rotate-root-unsigned DIR         root version + 1 whose new key does not sign it (threshold
                                   of the new root not met)
  expire-timestamp DIR             timestamp version + 1, already expired
  rollback-snapshot DIR            timestamp version + 1 naming the previous snapshot version
  tamper-target DIR                the published target's bytes replaced (hash mismatch)
"""

import hashlib
import json
import os
import shutil
import sys
from datetime import datetime, timedelta, timezone

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import (
    MetaFile,
    Metadata,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

TARGET_NAME = "trusted_root.json"
ROLES = ("root", "targets", "snapshot", "timestamp")


# Each repository's keys differ (a salt chosen at init, kept in its state file).
SALT = ""


def signer(role: str, generation: int) -> CryptoSigner:
    seed = hashlib.sha256(f"sigmirror-test-{SALT}-{role}-{generation}".encode()).digest()
    private = Ed25519PrivateKey.from_private_bytes(seed)
    public = SSlibKey.from_crypto(private.public_key())
    return CryptoSigner(private, public)


def expiry(days: float) -> datetime:
    return (datetime.now(timezone.utc) + timedelta(days=days)).replace(microsecond=0)


def state_path(repo: str) -> str:
    return os.path.join(repo, ".state.json")


def load_state(repo: str) -> dict:
    with open(state_path(repo)) as f:
        return json.load(f)


def save_state(repo: str, state: dict) -> None:
    with open(state_path(repo), "w") as f:
        json.dump(state, f)


def write(repo: str, name: str, md: Metadata) -> None:
    md.to_file(os.path.join(repo, name), JSONSerializer(compact=False))


def publish_root(repo: str, root: Root, signers) -> None:
    md = Metadata(root)
    for s in signers:
        md.sign(s, append=True)
    write(repo, f"{root.version}.root.json", md)
    write(repo, "root.json", md)


def publish_target(repo: str, state: dict, target_file: str) -> None:
    """targets, snapshot and timestamp at their next versions, naming `target_file`."""
    gen = state["generation"]
    targets_dir = os.path.join(repo, "targets")
    os.makedirs(targets_dir, exist_ok=True)
    target = TargetFile.from_file(TARGET_NAME, target_file, ["sha256"])
    shutil.copyfile(target_file, os.path.join(targets_dir, f"{target.hashes['sha256']}.{TARGET_NAME}"))
    state["targets"] += 1
    targets = Targets(version=state["targets"], expires=expiry(365), targets={TARGET_NAME: target})
    md = Metadata(targets)
    md.sign(signer("targets", gen))
    write(repo, f"{state['targets']}.targets.json", md)
    state["snapshot"] += 1
    snapshot = Snapshot(
        version=state["snapshot"], expires=expiry(30), meta={"targets.json": MetaFile(state["targets"])}
    )
    md = Metadata(snapshot)
    md.sign(signer("snapshot", gen))
    write(repo, f"{state['snapshot']}.snapshot.json", md)
    publish_timestamp(repo, state, expiry(1))
    state["target_hash"] = target.hashes["sha256"]


def publish_timestamp(repo: str, state: dict, expires: datetime) -> None:
    state["timestamp"] += 1
    timestamp = Timestamp(
        version=state["timestamp"], expires=expires, snapshot_meta=MetaFile(state["snapshot"])
    )
    md = Metadata(timestamp)
    md.sign(signer("timestamp", state["generation"]))
    write(repo, "timestamp.json", md)


def new_root(version: int, root_generation: int, gen: int, root_threshold: int = 1, extra_root_keys=()) -> Root:
    root = Root(version=version, expires=expiry(365), consistent_snapshot=True)
    root.add_key(signer("root", root_generation).public_key, "root")
    for key in extra_root_keys:
        root.add_key(key, "root")
    root.roles["root"].threshold = root_threshold
    for role in ROLES[1:]:
        root.add_key(signer(role, gen).public_key, role)
    return root


def main(argv) -> dict:
    global SALT
    command, repo = argv[0], argv[1]
    if command == "init":
        os.makedirs(repo, exist_ok=True)
        SALT = os.urandom(8).hex()
        state = {"salt": SALT, "root": 1, "root_generation": 1, "generation": 1, "targets": 0, "snapshot": 0, "timestamp": 0}
        publish_root(repo, new_root(1, 1, 1), [signer("root", 1)])
        publish_target(repo, state, argv[2])
    else:
        state = load_state(repo)
        SALT = state["salt"]
        if command == "update":
            publish_target(repo, state, argv[2])
        elif command == "rotate-root":
            old = signer("root", state["root_generation"])
            state["root"] += 1
            state["root_generation"] += 1
            new = signer("root", state["root_generation"])
            publish_root(repo, new_root(state["root"], state["root_generation"], state["generation"]), [old, new])
        elif command == "rotate-root-unsigned":
            # The new root names two new keys with threshold 2, but only one of them signs.
            old = signer("root", state["root_generation"])
            state["root"] += 1
            gen = state["root_generation"] + 1
            second = signer("root", gen + 100)
            root = new_root(state["root"], gen, state["generation"], 2, [second.public_key])
            publish_root(repo, root, [old, signer("root", gen)])
        elif command == "expire-timestamp":
            publish_timestamp(repo, state, expiry(-1))
        elif command == "rollback-snapshot":
            # A fresh, validly signed timestamp that names an older snapshot (still published,
            # as consistent snapshots keep every version).
            state["snapshot"] -= 1
            publish_timestamp(repo, state, expiry(1))
            state["snapshot"] += 1
        elif command == "tamper-target":
            path = os.path.join(repo, "targets", f"{state['target_hash']}.{TARGET_NAME}")
            # Same size, one byte changed: only the hash tells.
            with open(path, "r+b") as f:
                first = f.read(1)
                f.seek(0)
                f.write(b"[" if first != b"[" else b"{")
        else:
            raise SystemExit(f"unknown command {command}")
    save_state(repo, state)
    return {"root_file": os.path.join(repo, "1.root.json"), **state}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
