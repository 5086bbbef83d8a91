#!/usr/bin/env python3
"""A private, offline Sigstore instance for tests: Fulcio-like CA, CT log, Rekor v1 log and RFC 3161 TSA,
all made of local keys, plus signers that emit what the real services would have returned.

Needs Python >= 3.11 with `cryptography` and `asn1crypto` only (no network, no sigstore client library).
See private_sigstore.md beside this file for the file layout, the judge commands and their results.

Usage (every command prints one JSON object on stdout):
  private_sigstore.py init DIR [--not-before T] [--days N] [--force]
  private_sigstore.py sign-blob DIR ARTIFACT --identity ID --issuer URL --out BUNDLE
        [--bundle-version 0.3|0.2|0.1] [--old-media-type] [--tsa] [--time T]
        [--legacy-bundle FILE] [--mutate NAME ...]
  private_sigstore.py attest-blob DIR ARTIFACT --identity ID --issuer URL --out BUNDLE
        [--predicate-type URI] [--predicate FILE] [--entry-kind dsse|intoto] [same options as sign-blob]
  private_sigstore.py sign-image-layer DIR PAYLOAD --identity ID --issuer URL --out-dir D
        [--tsa] [--time T] [--mutate NAME ...]
  private_sigstore.py simple-signing-payload --ref REPO --digest sha256:HEX [--out FILE]
  private_sigstore.py mutations            (lists the mutation names)
T is Unix seconds or RFC 3339 (2026-01-02T03:04:05Z). --mutate may be repeated; every mutation makes output that
every conforming verifier rejects when asked for ID and URL (the values given to --identity/--issuer); the one
exception is untrusted-tsa next to a valid SET, which only verifiers that require signed timestamps reject.
"""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import os
import secrets
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms as a_cms
from asn1crypto import core as a_core
from asn1crypto import tsp as a_tsp
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

# ---------------------------------------------------------------------------------------------------------------
# constants

TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
CLIENT_TRUST_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
SIGNING_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
BUNDLE_MEDIA_TYPES = {
    ("0.3", False): "application/vnd.dev.sigstore.bundle.v0.3+json",
    ("0.3", True): "application/vnd.dev.sigstore.bundle+json;version=0.3",
    ("0.2", False): "application/vnd.dev.sigstore.bundle+json;version=0.2",
    ("0.2", True): "application/vnd.dev.sigstore.bundle+json;version=0.2",
    ("0.1", False): "application/vnd.dev.sigstore.bundle+json;version=0.1",
    ("0.1", True): "application/vnd.dev.sigstore.bundle+json;version=0.1",
}
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
DEFAULT_PREDICATE_TYPE = "https://cosign.sigstore.dev/attestation/v1"  # cosign --type custom (the default)

OID_FULCIO_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OID_FULCIO_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
OID_CT_PRECERT_SCTS = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
SIGSTORE_TSA_POLICY = "1.3.6.1.4.1.57264.2"

ORG = "sigmirror.test"
HOSTS = {
    "fulcio": "https://fulcio.sigmirror.test",
    "rekor": "https://rekor.sigmirror.test",
    "ctlog": "https://ctfe.sigmirror.test/test",
    "tsa": "https://tsa.sigmirror.test/api/v1/timestamp",
    "oidc": "https://oauth2.sigmirror.test/auth",
}
REKOR_TREE_ID = 4711471147114711471  # shown in the checkpoint origin "<host> - <tree id>"
REKOR_SHARD_OFFSET = 1_000_000  # top-level logIndex = offset + index inside the tree (like a sharded Rekor v1)

CERT_LIFETIME = dt.timedelta(minutes=10)  # Fulcio's leaf lifetime

MUTATIONS = {
    "wrong-identity": "the leaf SAN is another identity than --identity",
    "wrong-issuer": "the leaf OIDC issuer extensions (.1 and .8) hold another issuer than --issuer",
    "expired": "integratedTime (and the RFC 3161 genTime) is 60 s after the leaf's notAfter; the SET is valid",
    "set-untrusted-key": "the SET is signed by a Rekor key that is not in the trusted root (logID unchanged)",
    "untrusted-log": "the whole entry comes from an unlisted Rekor log: its logID, SET and checkpoint",
    "tampered-proof": "one inclusion-proof hash has a bit flipped (Sigstore bundles only: cosign's legacy "
                      "RekorBundle has no inclusion proof)",
    "untrusted-ca": "the leaf is issued by a CA (root + intermediate) that is not in the trusted root",
    "untrusted-ctlog": "the embedded SCT is signed by a CT log that is not in the trusted root",
    "tampered-signature": "the artifact signature is a valid DER signature over other bytes; the tlog entry and "
                          "the timestamp cover that same wrong signature, so only the signature check catches it",
    "signature-mismatch": "the bundle carries a different signature than the one recorded in the tlog entry",
    "untrusted-tsa": "the RFC 3161 timestamp is issued by a TSA that is not in the trusted root (implies --tsa); "
                     "verifiers that do not require signed timestamps may still accept (see the .md)",
}


# ---------------------------------------------------------------------------------------------------------------
# small helpers

def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def jcs(obj) -> bytes:
    """RFC 8785 canonical JSON for the ASCII-only, integer-only objects used here."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def rfc3339(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(s: str | None) -> dt.datetime:
    if s is None:
        return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    if s.isdigit():
        return dt.datetime.fromtimestamp(int(s), dt.timezone.utc)
    t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(dt.timezone.utc).replace(microsecond=0)


def spki_der(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def log_id(public_key) -> bytes:
    """RFC 6962 log ID = SHA-256 of the log key's SubjectPublicKeyInfo DER (Rekor v1 and CT logs)."""
    return sha256(spki_der(public_key))


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def cert_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def hash_for_key(key) -> hashes.HashAlgorithm:
    return hashes.SHA384() if key.curve.key_size == 384 else hashes.SHA256()


def ecdsa_sign(key, data: bytes, algorithm: hashes.HashAlgorithm | None = None) -> bytes:
    return key.sign(data, ec.ECDSA(algorithm or hashes.SHA256()))


def write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, mode)


def write_json(path: Path, obj) -> None:
    write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


# ---------------------------------------------------------------------------------------------------------------
# keys and CA certificates

def new_key(curve: str):
    return ec.generate_private_key(ec.SECP384R1() if curve == "p384" else ec.SECP256R1())


def save_key(path: Path, key) -> None:
    write_bytes(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()), 0o600)


def load_key(path: Path):
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORG), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def ku(**flags) -> x509.KeyUsage:
    keys = ["digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
            "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"]
    return x509.KeyUsage(**{k: flags.get(k, False) for k in keys})


def make_ca(cn: str, key, issuer_cert: x509.Certificate | None, issuer_key, not_before: dt.datetime,
            not_after: dt.datetime, path_length: int, eku: list | None) -> x509.Certificate:
    """A CA certificate shaped like Sigstore's (Fulcio root/intermediate, TSA root)."""
    subject = name(cn)
    signer_key = issuer_key if issuer_cert is not None else key
    issuer_ski = (x509.SubjectKeyIdentifier.from_public_key(issuer_cert.public_key()) if issuer_cert is not None
                  else x509.SubjectKeyIdentifier.from_public_key(key.public_key()))
    b = (x509.CertificateBuilder()
         .subject_name(subject)
         .issuer_name(issuer_cert.subject if issuer_cert is not None else subject)
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(not_before)
         .not_valid_after(not_after)
         .add_extension(ku(key_cert_sign=True, crl_sign=True), critical=True))
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    b = (b.add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski), critical=False))
    return b.sign(signer_key, hash_for_key(signer_key))


def make_tsa_leaf(cn: str, key, issuer_cert: x509.Certificate, issuer_key, not_before: dt.datetime,
                  not_after: dt.datetime) -> x509.Certificate:
    """Like the Sigstore TSA leaf: KU digitalSignature (critical), EKU timeStamping only (critical), not a CA."""
    return (x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(issuer_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(ku(digital_signature=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                x509.SubjectKeyIdentifier.from_public_key(issuer_cert.public_key())), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .sign(issuer_key, hash_for_key(issuer_key)))


# ---------------------------------------------------------------------------------------------------------------
# the instance on disk

class Instance:
    """DIR layout (see the .md): keys/*.key.pem (private, PKCS#8), certs/*.pem, untrusted/ (same for the
    mutations' rogue services), trusted_root.json, trust_config.json, and PEM exports for cosign 2's env vars."""

    def __init__(self, root: Path):
        self.dir = root
        meta_path = root / "instance.json"
        if not meta_path.exists():
            sys.exit(f"error: {root} is not an instance (no instance.json); run `init` first")
        self.meta = json.loads(meta_path.read_text())

    def key(self, n: str, untrusted: bool = False):
        return load_key(self.dir / ("untrusted" if untrusted else "keys") / f"{n}.key.pem")

    def cert(self, n: str, untrusted: bool = False) -> x509.Certificate:
        return load_cert(self.dir / ("untrusted" if untrusted else "certs") / f"{n}.pem")


def cmd_init(args) -> dict:
    d = Path(args.dir)
    if (d / "trusted_root.json").exists() and not args.force:
        sys.exit(f"error: {d} already holds an instance (use --force to replace it)")
    not_before = parse_time(args.not_before) if args.not_before else (
        dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(days=1))
    not_after = not_before + dt.timedelta(days=args.days)

    def services(prefix: str, key_folder: str, cert_folder: str) -> dict:
        keys = {n: new_key(c) for n, c in [("fulcio_root", "p384"), ("fulcio_intermediate", "p384"),
                                            ("ctlog", "p256"), ("rekor", "p256"),
                                            ("tsa_root", "p384"), ("tsa_leaf", "p384")]}
        root = make_ca(f"{prefix}fulcio-root", keys["fulcio_root"], None, None, not_before, not_after, 1, None)
        inter = make_ca(f"{prefix}fulcio-intermediate", keys["fulcio_intermediate"], root, keys["fulcio_root"],
                        not_before, not_after, 0, [ExtendedKeyUsageOID.CODE_SIGNING])
        tsa_root = make_ca(f"{prefix}tsa-root", keys["tsa_root"], None, None, not_before, not_after, 0, None)
        tsa_leaf = make_tsa_leaf(f"{prefix}tsa", keys["tsa_leaf"], tsa_root, keys["tsa_root"], not_before, not_after)
        for n, k in keys.items():
            save_key(d / key_folder / f"{n}.key.pem", k)
        for n, c in [("fulcio_root", root), ("fulcio_intermediate", inter), ("tsa_root", tsa_root),
                     ("tsa_leaf", tsa_leaf)]:
            write_bytes(d / cert_folder / f"{n}.pem", cert_pem(c))
        for n in ("ctlog", "rekor"):
            write_bytes(d / cert_folder / f"{n}.pub.pem", keys[n].public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        return {"keys": keys, "root": root, "inter": inter, "tsa_root": tsa_root, "tsa_leaf": tsa_leaf}

    s = services("sigmirror-private-", "keys", "certs")
    # Rogue twins for --mutate: same subject names as the trusted services (impostors), other keys, so that only
    # a signature/key check can tell them apart. They appear nowhere in trusted_root.json.
    services("sigmirror-private-", "untrusted", "untrusted")

    start = rfc3339(not_before)

    def tlog(base_url: str, key) -> dict:
        return {"baseUrl": base_url, "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": b64(spki_der(key.public_key())), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                              "validFor": {"start": start}},
                "logId": {"keyId": b64(log_id(key.public_key()))}}

    trusted_root = {
        "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
        "tlogs": [tlog(HOSTS["rekor"], s["keys"]["rekor"])],
        "certificateAuthorities": [{
            "subject": {"organization": ORG, "commonName": "sigmirror-private-fulcio-root"},
            "uri": HOSTS["fulcio"],
            "certChain": {"certificates": [{"rawBytes": b64(cert_der(s["inter"]))},
                                           {"rawBytes": b64(cert_der(s["root"]))}]},
            "validFor": {"start": start}}],
        "ctlogs": [tlog(HOSTS["ctlog"], s["keys"]["ctlog"])],
        "timestampAuthorities": [{
            "subject": {"organization": ORG, "commonName": "sigmirror-private-tsa-root"},
            "uri": HOSTS["tsa"],
            "certChain": {"certificates": [{"rawBytes": b64(cert_der(s["tsa_leaf"]))},
                                           {"rawBytes": b64(cert_der(s["tsa_root"]))}]},
            "validFor": {"start": start}}],
    }
    write_json(d / "trusted_root.json", trusted_root)

    def svc(url: str, api: int) -> dict:
        return {"url": url, "majorApiVersion": api, "validFor": {"start": start}, "operator": ORG}

    signing_config = {"mediaType": SIGNING_CONFIG_MEDIA_TYPE, "caUrls": [svc(HOSTS["fulcio"], 1)],
                      "oidcUrls": [svc(HOSTS["oidc"], 1)], "rekorTlogUrls": [svc(HOSTS["rekor"], 1)],
                      "tsaUrls": [svc(HOSTS["tsa"], 1)], "rekorTlogConfig": {"selector": "ANY"},
                      "tsaConfig": {"selector": "ANY"}}
    write_json(d / "signing_config.json", signing_config)
    write_json(d / "trust_config.json", {"mediaType": CLIENT_TRUST_CONFIG_MEDIA_TYPE,
                                         "trustedRoot": trusted_root, "signingConfig": signing_config})
    # PEM exports for cosign 2's legacy env vars / flags
    write_bytes(d / "fulcio_chain.pem", cert_pem(s["inter"]) + cert_pem(s["root"]))
    write_bytes(d / "tsa_chain.pem", cert_pem(s["tsa_leaf"]) + cert_pem(s["tsa_root"]))
    meta = {"not_before": start, "not_after": rfc3339(not_after),
            "rekor_log_id": log_id(s["keys"]["rekor"].public_key()).hex(),
            "ctlog_log_id": log_id(s["keys"]["ctlog"].public_key()).hex()}
    write_json(d / "instance.json", meta)
    return {"dir": str(d), "trusted_root": str(d / "trusted_root.json"),
            "trust_config": str(d / "trust_config.json"), "fulcio_chain_pem": str(d / "fulcio_chain.pem"),
            "rekor_pub": str(d / "certs" / "rekor.pub.pem"), "ctlog_pub": str(d / "certs" / "ctlog.pub.pem"),
            "tsa_chain_pem": str(d / "tsa_chain.pem"), **meta}


# ---------------------------------------------------------------------------------------------------------------
# Fulcio leaf with an embedded SCT (RFC 6962 §3.2)

def der_utf8(s: str) -> bytes:
    return a_core.UTF8String(s).dump()


def sct_list_extension_value(ct_key, ts_ms: int, issuer_spki: bytes, precert_tbs: bytes) -> bytes:
    """extnValue of 1.3.6.1.4.1.11129.2.4.2: an OCTET STRING holding the TLS SignedCertificateTimestampList."""
    extensions = b""
    signed = (struct.pack(">BBQH", 0, 0, ts_ms, 1) + sha256(issuer_spki)
              + len(precert_tbs).to_bytes(3, "big") + precert_tbs + struct.pack(">H", len(extensions)) + extensions)
    sig = ecdsa_sign(ct_key, signed)
    sct = (bytes([0]) + log_id(ct_key.public_key()) + struct.pack(">QH", ts_ms, len(extensions)) + extensions
           + bytes([4, 3]) + struct.pack(">H", len(sig)) + sig)
    one = struct.pack(">H", len(sct)) + sct
    return a_core.OctetString(struct.pack(">H", len(one)) + one).dump()


def issue_leaf(ca_key, ca_cert: x509.Certificate, leaf_public_key, san: str, issuer: str,
               not_before: dt.datetime, ct_key) -> x509.Certificate:
    serial = x509.random_serial_number()
    general_name = x509.UniformResourceIdentifier(san) if "://" in san else x509.RFC822Name(san)

    def build(sct_ext: bytes | None) -> x509.Certificate:
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([]))
             .issuer_name(ca_cert.subject)
             .public_key(leaf_public_key)
             .serial_number(serial)
             .not_valid_before(not_before)
             .not_valid_after(not_before + CERT_LIFETIME)
             .add_extension(ku(digital_signature=True), critical=True)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_public_key), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                 x509.SubjectKeyIdentifier.from_public_key(ca_cert.public_key())), critical=False)
             .add_extension(x509.SubjectAlternativeName([general_name]), critical=True)
             .add_extension(x509.UnrecognizedExtension(OID_FULCIO_ISSUER_V1, issuer.encode()), critical=False)
             .add_extension(x509.UnrecognizedExtension(OID_FULCIO_ISSUER_V2, der_utf8(issuer)), critical=False))
        if sct_ext is not None:
            b = b.add_extension(x509.UnrecognizedExtension(OID_CT_PRECERT_SCTS, sct_ext), critical=False)
        return b.sign(ca_key, hash_for_key(ca_key))

    precert_tbs = build(None).tbs_certificate_bytes
    ts_ms = int(not_before.timestamp() * 1000)
    leaf = build(sct_list_extension_value(ct_key, ts_ms, spki_der(ca_cert.public_key()), precert_tbs))
    # The SCT signs the final TBS minus the SCT extension; DER is deterministic, so this must hold.
    assert leaf.tbs_precertificate_bytes == precert_tbs, "precertificate TBS mismatch"
    return leaf


# ---------------------------------------------------------------------------------------------------------------
# Rekor v1: Merkle tree (RFC 6962 §2.1), checkpoint, SET

def leaf_hash(data: bytes) -> bytes:
    return sha256(b"\x00" + data)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(hs: list[bytes]) -> bytes:
    if len(hs) == 1:
        return hs[0]
    k = _split(len(hs))
    return node_hash(mth(hs[:k]), mth(hs[k:]))


def inclusion_path(m: int, hs: list[bytes]) -> list[bytes]:
    """RFC 6962 PATH(m, D[n]), leaf to root."""
    if len(hs) == 1:
        return []
    k = _split(len(hs))
    if m < k:
        return inclusion_path(m, hs[:k]) + [mth(hs[k:])]
    return inclusion_path(m - k, hs[k:]) + [mth(hs[:k])]


def signed_checkpoint(rekor_key, size: int, root: bytes) -> str:
    host = HOSTS["rekor"].split("://", 1)[1]
    body = f"{host} - {REKOR_TREE_ID}\n{size}\n{b64(root)}\n"
    sig = ecdsa_sign(rekor_key, body.encode())
    hint = log_id(rekor_key.public_key())[:4]
    return body + "\n" + f"\u2014 {host} {b64(hint + sig)}\n"


def make_tlog_entry(inst: Instance, body: bytes, kind: str, version: str, integrated_time: int,
                    mutations: set[str], tree_size: int, leaf_index: int, promise: bool = True) -> dict:
    untrusted_log = "untrusted-log" in mutations
    rekor_key = inst.key("rekor", untrusted=untrusted_log)
    lid = log_id(rekor_key.public_key())
    global_index = REKOR_SHARD_OFFSET + leaf_index

    hs = [leaf_hash(jcs({"dummy-entry": i, "tree": REKOR_TREE_ID})) for i in range(tree_size)]
    hs[leaf_index] = leaf_hash(body)
    root = mth(hs)
    proof = inclusion_path(leaf_index, hs)
    if "tampered-proof" in mutations:
        if not proof:
            sys.exit("error: tampered-proof needs a tree of 2 or more leaves")
        proof[0] = bytes([proof[0][0] ^ 0x01]) + proof[0][1:]

    set_payload = jcs({"body": b64(body), "integratedTime": integrated_time, "logID": lid.hex(),
                       "logIndex": global_index})
    set_key = inst.key("rekor", untrusted=True) if "set-untrusted-key" in mutations else rekor_key
    entry = {
        "logIndex": str(global_index),
        "logId": {"keyId": b64(lid)},
        "kindVersion": {"kind": kind, "version": version},
        "integratedTime": str(integrated_time),
        "inclusionPromise": {"signedEntryTimestamp": b64(ecdsa_sign(set_key, set_payload))},
        "inclusionProof": {
            "logIndex": str(leaf_index),
            "rootHash": b64(root),
            "treeSize": str(tree_size),
            "hashes": [b64(h) for h in proof],
            "checkpoint": {"envelope": signed_checkpoint(rekor_key, tree_size, root)},
        },
        "canonicalizedBody": b64(body),
    }
    if not promise:
        del entry["inclusionPromise"]
    return entry


def rekor_bundle(entry: dict) -> dict:
    """cosign's RekorBundle (the .sig annotation dev.sigstore.cosign/bundle and the old blob bundle's rekorBundle)."""
    return {"SignedEntryTimestamp": entry["inclusionPromise"]["signedEntryTimestamp"],
            "Payload": {"body": entry["canonicalizedBody"], "integratedTime": int(entry["integratedTime"]),
                        "logIndex": int(entry["logIndex"]), "logID": base64.b64decode(entry["logId"]["keyId"]).hex()}}


# ---------------------------------------------------------------------------------------------------------------
# RFC 3161 timestamp (TimeStampResp DER), shaped like Sigstore's TSA

def make_timestamp(tsa_key, tsa_cert: x509.Certificate, message: bytes, gen_time: dt.datetime) -> bytes:
    acert = a_x509.Certificate.load(cert_der(tsa_cert))
    tst = a_tsp.TSTInfo({
        "version": "v1",
        "policy": SIGSTORE_TSA_POLICY,
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": sha256(message)},
        "serial_number": int.from_bytes(secrets.token_bytes(16), "big"),
        "gen_time": gen_time,
        "nonce": int.from_bytes(secrets.token_bytes(8), "big"),
        "tsa": a_x509.GeneralName(name="directory_name", value=acert.subject),
    })
    econtent = tst.dump()
    signing_cert_v2 = a_tsp.SigningCertificateV2({"certs": [{
        "cert_hash": sha256(cert_der(tsa_cert)),
        "issuer_serial": {"issuer": [a_x509.GeneralName(name="directory_name", value=acert.issuer)],
                          "serial_number": acert.serial_number}}]})
    signed_attrs = a_cms.CMSAttributes([
        {"type": "content_type", "values": ["tst_info"]},
        {"type": "signing_time", "values": [a_cms.Time(name="utc_time", value=gen_time)]},
        {"type": "message_digest", "values": [sha256(econtent)]},
        {"type": "signing_certificate_v2", "values": [signing_cert_v2]},
    ])
    # RFC 5652 §5.4: the signature covers the DER of the attributes as a SET OF (tag 0x31, DER-sorted).
    signature = ecdsa_sign(tsa_key, signed_attrs.dump())
    signer_info = a_cms.SignerInfo({
        "version": "v1",
        "sid": a_cms.SignerIdentifier(name="issuer_and_serial_number",
                                      value={"issuer": acert.issuer, "serial_number": acert.serial_number}),
        "digest_algorithm": {"algorithm": "sha256"},
        "signed_attrs": signed_attrs,
        "signature_algorithm": {"algorithm": "sha256_ecdsa"},
        "signature": signature,
    })
    signed_data = a_cms.SignedData({
        "version": "v3",
        "digest_algorithms": [{"algorithm": "sha256"}],
        "encap_content_info": {"content_type": "tst_info", "content": a_core.ParsableOctetString(econtent)},
        "certificates": [acert],
        "signer_infos": [signer_info],
    })
    resp = a_tsp.TimeStampResp({
        "status": {"status": "granted"},
        "time_stamp_token": {"content_type": "signed_data", "content": signed_data},
    })
    return resp.dump()


# ---------------------------------------------------------------------------------------------------------------
# signing (shared by the three signing commands)

@dataclass
class Signed:
    """Everything a signing run produced."""
    mutations: list[str]
    identity: str  # the SAN actually put into the leaf
    issuer: str  # the OIDC issuer actually put into the leaf
    leaf: x509.Certificate
    chain: list[x509.Certificate]  # [intermediate, root] of the issuing CA
    signature: bytes  # the signature the bundle/annotation carries
    entry: dict  # TransparencyLogEntry (bundle JSON form)
    tsr: bytes | None  # DER TimeStampResp
    integrated_time: int


def sign_common(inst: Instance, args, to_sign: bytes, make_body, entry_kind: tuple[str, str]) -> Signed:
    """to_sign: the bytes the ephemeral key signs (artifact, DSSE PAE, or simple-signing payload).
    make_body(signature, cert_pem) -> canonicalized tlog body. The RFC 3161 timestamp covers the raw signature
    bytes (messageSignature.signature, the DSSE sig, or the decoded .sig annotation), as every client expects."""
    mutations = set(args.mutate or [])
    unknown = mutations - set(MUTATIONS)
    if unknown:
        sys.exit(f"error: unknown mutation(s) {sorted(unknown)}; known: {sorted(MUTATIONS)}")
    if args.no_promise and (args.bundle_version == "0.1" or args.legacy_bundle):
        sys.exit("error: --no-promise cannot be used with bundle v0.1 or cosign's legacy formats (they need a SET)")
    if "tampered-proof" in mutations and args.legacy_bundle:
        sys.exit("error: tampered-proof does not apply to cosign's legacy formats (their RekorBundle carries no "
                 "inclusion proof, so nothing would be tampered)")
    leaf_index = args.leaf_index if args.leaf_index is not None else max(args.tree_size - 3, 0)
    if not 0 <= leaf_index < args.tree_size:
        sys.exit("error: --leaf-index must be in [0, --tree-size)")
    t0 = parse_time(args.time)
    identity = args.identity + ".wrong" if "wrong-identity" in mutations else args.identity
    if "wrong-identity" in mutations and "@" in args.identity and "://" not in args.identity:
        identity = "mallory." + args.identity
    issuer = args.issuer.rstrip("/") + "/wrong" if "wrong-issuer" in mutations else args.issuer

    untrusted_ca = "untrusted-ca" in mutations
    ca_key = inst.key("fulcio_intermediate", untrusted=untrusted_ca)
    ca_cert = inst.cert("fulcio_intermediate", untrusted=untrusted_ca)
    ct_key = inst.key("ctlog", untrusted="untrusted-ctlog" in mutations)

    leaf_key = ec.generate_private_key(ec.SECP256R1())  # ephemeral, like a cosign/Fulcio keyless flow
    leaf = issue_leaf(ca_key, ca_cert, leaf_key.public_key(), identity, issuer, t0, ct_key)

    signature = ecdsa_sign(leaf_key, to_sign)
    if "tampered-signature" in mutations:
        signature = ecdsa_sign(leaf_key, to_sign + b"\ntampered")
    logged_signature = signature
    bundle_signature = signature
    if "signature-mismatch" in mutations:
        bundle_signature = ecdsa_sign(leaf_key, to_sign + b"\nother")

    integrated_time = int(t0.timestamp()) + 2
    if "expired" in mutations:
        integrated_time = int((t0 + CERT_LIFETIME).timestamp()) + 60

    body = make_body(logged_signature, cert_pem(leaf))
    entry = make_tlog_entry(inst, body, entry_kind[0], entry_kind[1], integrated_time, mutations,
                            args.tree_size, leaf_index, promise=not args.no_promise)

    tsr = None
    if args.tsa or "untrusted-tsa" in mutations:
        untrusted_tsa = "untrusted-tsa" in mutations
        tsr = make_timestamp(inst.key("tsa_leaf", untrusted=untrusted_tsa), inst.cert("tsa_leaf", untrusted_tsa),
                             bundle_signature, dt.datetime.fromtimestamp(integrated_time, dt.timezone.utc))

    return Signed(mutations=sorted(mutations), identity=identity, issuer=issuer, leaf=leaf,
                  chain=[ca_cert, inst.cert("fulcio_root", untrusted=untrusted_ca)], signature=bundle_signature,
                  entry=entry, tsr=tsr, integrated_time=integrated_time)


def bundle_json(args, s: Signed, content: dict) -> dict:
    version = args.bundle_version
    vm: dict = {}
    if version == "0.3":
        vm["certificate"] = {"rawBytes": b64(cert_der(s.leaf))}
    else:
        vm["x509CertificateChain"] = {"certificates": [{"rawBytes": b64(cert_der(s.leaf))}]}
    vm["tlogEntries"] = [s.entry]
    if s.tsr is not None:
        vm["timestampVerificationData"] = {"rfc3161Timestamps": [{"signedTimestamp": b64(s.tsr)}]}
    return {"mediaType": BUNDLE_MEDIA_TYPES[(version, args.old_media_type)], "verificationMaterial": vm, **content}


def summary(args, s: Signed, **extra) -> dict:
    return {"identity": args.identity, "issuer": args.issuer,
            "cert_identity": s.identity, "cert_issuer": s.issuer,
            "mutations": s.mutations, "expect": "reject" if s.mutations else "accept",
            **({"expect_note": "untrusted-tsa with a SET: only verifiers that require a signed timestamp reject "
                               "(cosign --use-signed-timestamps); add --no-promise for a universal reject"}
               if "untrusted-tsa" in s.mutations and "inclusionPromise" in s.entry and len(s.mutations) == 1 else {}),
            "cert_not_before": rfc3339(s.leaf.not_valid_before_utc),
            "cert_not_after": rfc3339(s.leaf.not_valid_after_utc),
            "integrated_time": s.integrated_time, "log_index": int(s.entry["logIndex"]),
            "log_id": base64.b64decode(s.entry["logId"]["keyId"]).hex(),
            "rfc3161_timestamp": s.tsr is not None, **extra}


def hashedrekord_body(digest: bytes):
    def make(signature: bytes, pem: bytes) -> bytes:
        return jcs({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
            "signature": {"content": b64(signature), "publicKey": {"content": b64(pem)}}}})
    return make


def legacy_blob_bundle(s: Signed) -> dict:
    """cosign 2's old `sign-blob --bundle` format (LocalSignedPayload)."""
    return {"base64Signature": b64(s.signature), "cert": b64(cert_pem(s.leaf)), "rekorBundle": rekor_bundle(s.entry)}


def cmd_sign_blob(args) -> dict:
    inst = Instance(Path(args.dir))
    artifact = Path(args.artifact).read_bytes()
    digest = sha256(artifact)
    s = sign_common(inst, args, artifact, hashedrekord_body(digest), ("hashedrekord", "0.0.1"))
    bundle = bundle_json(args, s, {"messageSignature": {
        "messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest)}, "signature": b64(s.signature)}})
    write_json(Path(args.out), bundle)
    extra = {"bundle": args.out}
    if args.legacy_bundle:
        write_json(Path(args.legacy_bundle), legacy_blob_bundle(s))
        extra["legacy_bundle"] = args.legacy_bundle
    return summary(args, s, **extra)


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def cmd_attest_blob(args) -> dict:
    inst = Instance(Path(args.dir))
    artifact_path = Path(args.artifact)
    digest = sha256(artifact_path.read_bytes())
    predicate = json.loads(Path(args.predicate).read_text()) if args.predicate else {
        "Data": "", "Timestamp": rfc3339(parse_time(args.time))}
    statement = {"_type": "https://in-toto.io/Statement/v1",
                 "subject": [{"name": artifact_path.name, "digest": {"sha256": digest.hex()}}],
                 "predicateType": args.predicate_type, "predicate": predicate}
    payload = json.dumps(statement, separators=(",", ":")).encode()
    to_sign = pae(INTOTO_PAYLOAD_TYPE, payload)

    def envelope(signature: bytes) -> dict:
        return {"payload": b64(payload), "payloadType": INTOTO_PAYLOAD_TYPE, "signatures": [{"sig": b64(signature)}]}

    def make_body(signature: bytes, pem: bytes) -> bytes:
        env_hash = sha256(json.dumps(envelope(signature), separators=(",", ":")).encode()).hex()
        if args.entry_kind == "intoto":
            return jcs({"apiVersion": "0.0.2", "kind": "intoto", "spec": {"content": {
                "envelope": {"payloadType": INTOTO_PAYLOAD_TYPE,
                             "signatures": [{"publicKey": b64(pem), "sig": b64(b64(signature).encode())}]},
                "hash": {"algorithm": "sha256", "value": env_hash},
                "payloadHash": {"algorithm": "sha256", "value": sha256(payload).hex()}}}})
        return jcs({"apiVersion": "0.0.1", "kind": "dsse", "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": env_hash},
            "payloadHash": {"algorithm": "sha256", "value": sha256(payload).hex()},
            "signatures": [{"signature": b64(signature), "verifier": b64(pem)}]}})

    kind = ("intoto", "0.0.2") if args.entry_kind == "intoto" else ("dsse", "0.0.1")
    s = sign_common(inst, args, to_sign, make_body, kind)
    bundle = bundle_json(args, s, {"dsseEnvelope": envelope(s.signature)})
    write_json(Path(args.out), bundle)
    extra = {"bundle": args.out, "predicate_type": args.predicate_type, "entry_kind": "/".join(kind)}
    if args.legacy_bundle:
        # cosign 2 attest-blob old bundle: base64Signature = base64 of the whole envelope JSON
        env_json = json.dumps(envelope(s.signature), separators=(",", ":")).encode()
        write_json(Path(args.legacy_bundle), {"base64Signature": b64(env_json), "cert": b64(cert_pem(s.leaf)),
                                              "rekorBundle": rekor_bundle(s.entry)})
        extra["legacy_bundle"] = args.legacy_bundle
    return summary(args, s, **extra)


def cmd_sign_image_layer(args) -> dict:
    inst = Instance(Path(args.dir))
    payload = Path(args.payload).read_bytes()
    digest = sha256(payload)
    args.bundle_version, args.old_media_type, args.legacy_bundle, args.no_promise = "0.3", False, True, False
    s = sign_common(inst, args, payload, hashedrekord_body(digest), ("hashedrekord", "0.0.1"))
    annotations = {
        "dev.cosignproject.cosign/signature": b64(s.signature),
        "dev.sigstore.cosign/certificate": cert_pem(s.leaf).decode(),
        "dev.sigstore.cosign/chain": b"".join(cert_pem(c) for c in s.chain).decode(),
        "dev.sigstore.cosign/bundle": json.dumps(rekor_bundle(s.entry), separators=(",", ":")),
    }
    if s.tsr is not None:
        annotations["dev.sigstore.cosign/rfc3161timestamp"] = json.dumps({"SignedRFC3161Timestamp": b64(s.tsr)},
                                                                         separators=(",", ":"))
    out = Path(args.out_dir)
    write_json(out / "annotations.json", annotations)
    write_bytes(out / "signature.b64", annotations["dev.cosignproject.cosign/signature"].encode())
    write_bytes(out / "cert.pem", annotations["dev.sigstore.cosign/certificate"].encode())
    write_bytes(out / "chain.pem", annotations["dev.sigstore.cosign/chain"].encode())
    write_bytes(out / "rekor_bundle.json", annotations["dev.sigstore.cosign/bundle"].encode())
    write_json(out / "legacy_bundle.json", legacy_blob_bundle(s))
    files = ["annotations.json", "signature.b64", "cert.pem", "chain.pem", "rekor_bundle.json", "legacy_bundle.json"]
    if s.tsr is not None:
        write_bytes(out / "rfc3161timestamp.json", annotations["dev.sigstore.cosign/rfc3161timestamp"].encode())
        files.append("rfc3161timestamp.json")
    return summary(args, s, out_dir=str(out), files=files, payload_sha256=digest.hex(),
                   layer_media_type="application/vnd.dev.cosign.simplesigning.v1+json")


def cmd_simple_signing_payload(args) -> dict:
    payload = json.dumps({"critical": {"identity": {"docker-reference": args.ref},
                                       "image": {"docker-manifest-digest": args.digest},
                                       "type": "cosign container image signature"},
                          "optional": None}, separators=(",", ":")).encode()
    if args.out:
        write_bytes(Path(args.out), payload)
    return {"payload": payload.decode(), "sha256": sha256(payload).hex(), "out": args.out}


def cmd_mutations(_args) -> dict:
    return MUTATIONS


# ---------------------------------------------------------------------------------------------------------------
# CLI

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    sp = sub.add_parser("init", help="create a private instance in DIR")
    sp.add_argument("dir")
    sp.add_argument("--not-before", help="CA/log validity start (default: now - 1 day)")
    sp.add_argument("--days", type=int, default=3650, help="CA validity in days (default 3650)")
    sp.add_argument("--force", action="store_true", help="replace an existing instance")
    sp.set_defaults(func=cmd_init)

    def signing(sp, with_bundle=True):
        sp.add_argument("--identity", required=True, help="SAN: a URI if it contains ://, else an email")
        sp.add_argument("--issuer", required=True, help="OIDC issuer for the .1 and .8 extensions")
        sp.add_argument("--time", help="signing time (leaf notBefore), default now")
        sp.add_argument("--tsa", action="store_true", help="add an RFC 3161 timestamp of the signature")
        sp.add_argument("--tree-size", type=int, default=7, help="Merkle tree size (default 7)")
        sp.add_argument("--leaf-index", type=int, help="index of the entry in the tree (default size-3)")
        sp.add_argument("--mutate", action="append", choices=sorted(MUTATIONS), metavar="NAME",
                        help="deliberate defect (repeatable): " + ", ".join(sorted(MUTATIONS)))
        if with_bundle:
            sp.add_argument("--out", required=True, help="bundle path")
            sp.add_argument("--bundle-version", choices=["0.1", "0.2", "0.3"], default="0.3")
            sp.add_argument("--old-media-type", action="store_true",
                            help="v0.3 as application/vnd.dev.sigstore.bundle+json;version=0.3")
            sp.add_argument("--legacy-bundle", help="also write cosign 2's old blob bundle here")
            sp.add_argument("--no-promise", action="store_true",
                            help="omit the SET (inclusionPromise): then only the RFC 3161 timestamp gives the time")

    sp = sub.add_parser("sign-blob", help="keyless messageSignature bundle for ARTIFACT")
    sp.add_argument("dir")
    sp.add_argument("artifact")
    signing(sp)
    sp.set_defaults(func=cmd_sign_blob)

    sp = sub.add_parser("attest-blob", help="keyless DSSE (in-toto) bundle about ARTIFACT")
    sp.add_argument("dir")
    sp.add_argument("artifact")
    signing(sp)
    sp.add_argument("--predicate-type", default=DEFAULT_PREDICATE_TYPE)
    sp.add_argument("--predicate", help="JSON file with the predicate (default: cosign custom predicate)")
    sp.add_argument("--entry-kind", choices=["dsse", "intoto"], default="dsse",
                    help="Rekor entry type: dsse v0.0.1 (default) or intoto v0.0.2")
    sp.set_defaults(func=cmd_attest_blob)

    sp = sub.add_parser("sign-image-layer", help="cosign 2 .sig layer annotations for a simple-signing PAYLOAD")
    sp.add_argument("dir")
    sp.add_argument("payload")
    signing(sp, with_bundle=False)
    sp.add_argument("--out-dir", required=True)
    sp.set_defaults(func=cmd_sign_image_layer)

    sp = sub.add_parser("simple-signing-payload", help="write cosign's simple-signing payload")
    sp.add_argument("--ref", required=True, help="docker-reference, e.g. 127.0.0.1:5000/test/hello")
    sp.add_argument("--digest", required=True, help="sha256:<hex> of the signed manifest")
    sp.add_argument("--out")
    sp.set_defaults(func=cmd_simple_signing_payload)

    sp = sub.add_parser("mutations", help="list the mutation names")
    sp.set_defaults(func=cmd_mutations)

    args = p.parse_args(argv)
    result = args.func(args)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
