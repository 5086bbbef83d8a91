#!/usr/bin/env python3
"""A stand-in for Google Cloud KMS, written from the public REST reference (cloudkms.googleapis.com
v1) and Google's OAuth 2.0 service-account flow, for sigmirror's gcpkms:// tests: no emulator of
Cloud KMS exists, and the real service cannot be reached from the test machines.

What it serves (in memory, real keys made with `cryptography`):
  POST /token                      OAuth 2.0 JWT-bearer grant: the assertion must be an RS256 JWT
                                   signed by the service account's key, iss = its client_email,
                                   aud = this token URI, a cloudkms or cloud-platform scope,
                                   iat/exp current; answers an access token.
  every /v1/... call               needs "Authorization: Bearer <a token it issued>" (else 401
                                   UNAUTHENTICATED); the read-only token may not sign or create
                                   (403 PERMISSION_DENIED), as an IAM role without signerVerifier.
  POST .../keyRings?keyRingId=R    create a key ring (409 ALREADY_EXISTS)
  GET  .../keyRings/R              a key ring (404 NOT_FOUND)
  POST .../cryptoKeys?cryptoKeyId=K   create an ASYMMETRIC_SIGN key with versionTemplate.algorithm
  GET  .../cryptoKeys/K            a key
  GET  .../cryptoKeys/K/cryptoKeyVersions      its versions
  POST .../cryptoKeyVersions/V     (not used)
  GET  .../cryptoKeyVersions/V/publicKey       {"pem", "algorithm", "pemCrc32c", "name"}
  POST .../cryptoKeyVersions/V:asymmetricSign  {"digest": {"sha256"|"sha384"|"sha512": b64}} ->
                                   {"signature", "name", "verifiedDigestCrc32c"}
  POST /admin/keys?name=KEYNAME&algorithm=ALG   test helper: create a key (and its ring)
  POST /admin/versions?key=KEYNAME             test helper: add a version (the latest enabled
                                   version is used when a reference names none)
Algorithms: EC_SIGN_P256_SHA256, EC_SIGN_P384_SHA384, RSA_SIGN_PKCS1_{2048,3072,4096}_SHA256,
RSA_SIGN_PSS_{2048,3072,4096}_SHA256, and EC_SIGN_SECP256K1_SHA256 (made, so that refusing it
can be tested).

Usage: gcp_kms_standin.py PORT CREDENTIALS_OUT READONLY_CREDENTIALS_OUT
  writes two service-account key files (type service_account, private_key, client_email,
  token_uri pointing here) and serves on 127.0.0.1:PORT over plain HTTP.
"""
import base64, json, re, secrets, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

PORT = int(sys.argv[1])
BASE = f"http://127.0.0.1:{PORT}"
TOKEN_URI = BASE + "/token"
LOCK = threading.Lock()
RINGS = set()
KEYS = {}      # key name -> {"algorithm", "versions": [private keys]}
TOKENS = {}    # token -> may write
ACCOUNTS = {}  # client_email -> (public key, may write)

def b64(data):
    return base64.b64encode(data).decode()

def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return str(crc ^ 0xFFFFFFFF)

def service_account(path, email, may_write):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ACCOUNTS[email] = (key.public_key(), may_write)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    with open(path, "w") as f:
        json.dump({"type": "service_account", "project_id": "standin", "private_key_id": "k1",
                   "private_key": pem, "client_email": email, "client_id": "1",
                   "token_uri": TOKEN_URI}, f)

def new_private(algorithm):
    if algorithm == "EC_SIGN_P256_SHA256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "EC_SIGN_P384_SHA384":
        return ec.generate_private_key(ec.SECP384R1())
    if algorithm == "EC_SIGN_SECP256K1_SHA256":
        return ec.generate_private_key(ec.SECP256K1())
    m = re.fullmatch(r"RSA_SIGN_(PKCS1|PSS)_(2048|3072|4096)_SHA256", algorithm)
    if m:
        return rsa.generate_private_key(public_exponent=65537, key_size=int(m.group(2)))
    return None

def error(code, status, message):
    return code, {"error": {"code": code, "message": message, "status": status}}

def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

def check_assertion(assertion):
    try:
        header_b64, claims_b64, sig_b64 = assertion.split(".")
        header = json.loads(b64url_decode(header_b64))
        claims = json.loads(b64url_decode(claims_b64))
    except Exception:
        return None, "malformed JWT"
    if header.get("alg") != "RS256":
        return None, "alg must be RS256"
    account = ACCOUNTS.get(claims.get("iss"))
    if account is None:
        return None, "unknown service account"
    public, may_write = account
    try:
        public.verify(b64url_decode(sig_b64), f"{header_b64}.{claims_b64}".encode(),
                      padding.PKCS1v15(), hashes.SHA256())
    except Exception:
        return None, "invalid JWT signature"
    now = time.time()
    if claims.get("aud") != TOKEN_URI:
        return None, "aud must be the token URI"
    scopes = claims.get("scope", "").split()
    if not ({"https://www.googleapis.com/auth/cloudkms",
             "https://www.googleapis.com/auth/cloud-platform"} & set(scopes)):
        return None, "no Cloud KMS scope"
    if not (claims.get("iat", 0) - 300 <= now <= claims.get("exp", 0)):
        return None, "JWT not currently valid"
    return may_write, None

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def route(self, method):
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        raw = self.body()
        with LOCK:
            code, body = self.dispatch(method, url.path, query, raw)
        self.send(code, body)

    def dispatch(self, method, path, query, raw):
        if path == "/token" and method == "POST":
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
                return 400, {"error": "unsupported_grant_type"}
            may_write, why = check_assertion(form.get("assertion", ""))
            if why:
                return 400, {"error": "invalid_grant", "error_description": why}
            token = secrets.token_urlsafe(24)
            TOKENS[token] = may_write
            return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}
        if path == "/admin/keys":
            return self.create_key(query["name"], query["algorithm"], make_ring=True)
        if path == "/admin/versions":
            key = KEYS[query["key"]]
            key["versions"].append(new_private(key["algorithm"]))
            return 200, {"versions": len(key["versions"])}
        if not path.startswith("/v1/"):
            return error(404, "NOT_FOUND", "no such API")
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        if token not in TOKENS:
            return error(401, "UNAUTHENTICATED",
                         "Request had invalid authentication credentials.")
        may_write = TOKENS[token]
        name = path[4:]
        m = re.fullmatch(r"(projects/[^/]+/locations/[^/]+)/keyRings", name)
        if m and method == "POST":
            if not may_write:
                return error(403, "PERMISSION_DENIED", "Permission 'cloudkms.keyRings.create' denied")
            ring = f"{m.group(1)}/keyRings/{query.get('keyRingId')}"
            if ring in RINGS:
                return error(409, "ALREADY_EXISTS", f"KeyRing {ring} already exists.")
            RINGS.add(ring)
            return 200, {"name": ring}
        m = re.fullmatch(r"projects/[^/]+/locations/[^/]+/keyRings/[^/]+", name)
        if m and method == "GET":
            return (200, {"name": name}) if name in RINGS else error(404, "NOT_FOUND", f"KeyRing {name} not found.")
        m = re.fullmatch(r"(projects/[^/]+/locations/[^/]+/keyRings/[^/]+)/cryptoKeys", name)
        if m and method == "POST":
            if not may_write:
                return error(403, "PERMISSION_DENIED", "Permission 'cloudkms.cryptoKeys.create' denied")
            if m.group(1) not in RINGS:
                return error(404, "NOT_FOUND", f"KeyRing {m.group(1)} not found.")
            request = json.loads(raw or b"{}")
            if request.get("purpose") != "ASYMMETRIC_SIGN":
                return error(400, "INVALID_ARGUMENT", "purpose must be ASYMMETRIC_SIGN here")
            algorithm = request.get("versionTemplate", {}).get("algorithm", "")
            return self.create_key(f"{m.group(1)}/cryptoKeys/{query.get('cryptoKeyId')}", algorithm)
        m = re.fullmatch(r"(projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+)", name)
        if m and method == "GET":
            key = KEYS.get(name)
            if key is None:
                return error(404, "NOT_FOUND", f"CryptoKey {name} not found.")
            return 200, {"name": name, "purpose": "ASYMMETRIC_SIGN",
                         "versionTemplate": {"algorithm": key["algorithm"]}}
        m = re.fullmatch(r"(.+/cryptoKeys/[^/]+)/cryptoKeyVersions", name)
        if m and method == "GET":
            key = KEYS.get(m.group(1))
            if key is None:
                return error(404, "NOT_FOUND", f"CryptoKey {m.group(1)} not found.")
            return 200, {"cryptoKeyVersions": [
                {"name": f"{m.group(1)}/cryptoKeyVersions/{i + 1}", "state": "ENABLED",
                 "algorithm": key["algorithm"]} for i in range(len(key["versions"]))],
                "totalSize": len(key["versions"])}
        m = re.fullmatch(r"(.+/cryptoKeys/[^/]+)/cryptoKeyVersions/(\d+)(/publicKey|:asymmetricSign)", name)
        if m:
            key = KEYS.get(m.group(1))
            version = int(m.group(2))
            if key is None or not (1 <= version <= len(key["versions"])):
                return error(404, "NOT_FOUND", f"CryptoKeyVersion {name} not found.")
            private = key["versions"][version - 1]
            version_name = f"{m.group(1)}/cryptoKeyVersions/{version}"
            if m.group(3) == "/publicKey" and method == "GET":
                pem = private.public_key().public_bytes(
                    serialization.Encoding.PEM,
                    serialization.PublicFormat.SubjectPublicKeyInfo).decode()
                return 200, {"pem": pem, "algorithm": key["algorithm"],
                             "pemCrc32c": crc32c(pem.encode()), "name": version_name}
            if m.group(3) == ":asymmetricSign" and method == "POST":
                if not may_write:
                    return error(403, "PERMISSION_DENIED",
                                 "Permission 'cloudkms.cryptoKeyVersions.useToSign' denied")
                return self.sign(key["algorithm"], private, json.loads(raw or b"{}"), version_name)
        return error(404, "NOT_FOUND", f"no route for {method} {path}")

    def create_key(self, name, algorithm, make_ring=False):
        if name in KEYS:
            return error(409, "ALREADY_EXISTS", f"CryptoKey {name} already exists.")
        private = new_private(algorithm)
        if private is None:
            return error(400, "INVALID_ARGUMENT", f"unsupported algorithm {algorithm}")
        if make_ring:
            RINGS.add(name.rsplit("/cryptoKeys/", 1)[0])
        KEYS[name] = {"algorithm": algorithm, "versions": [private]}
        return 200, {"name": name, "purpose": "ASYMMETRIC_SIGN",
                     "versionTemplate": {"algorithm": algorithm}}

    def sign(self, algorithm, private, request, version_name):
        digests = request.get("digest", {})
        wanted = {"EC_SIGN_P256_SHA256": "sha256", "EC_SIGN_P384_SHA384": "sha384"}.get(
            algorithm, "sha256")
        if list(digests) != [wanted]:
            return error(400, "INVALID_ARGUMENT",
                         f"The requested algorithm {algorithm} requires a {wanted} digest.")
        digest = base64.b64decode(digests[wanted])
        hash_type = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384()}[wanted]
        prehashed = utils.Prehashed(hash_type)
        if algorithm.startswith("EC_"):
            signature = private.sign(digest, ec.ECDSA(prehashed))
        elif "_PSS_" in algorithm:
            signature = private.sign(digest, padding.PSS(padding.MGF1(hash_type), 32), prehashed)
        else:
            signature = private.sign(digest, padding.PKCS1v15(), prehashed)
        return 200, {"signature": b64(signature), "name": version_name,
                     "verifiedDigestCrc32c": False}

service_account(sys.argv[2], "signer@standin.iam.gserviceaccount.com", True)
service_account(sys.argv[3], "reader@standin.iam.gserviceaccount.com", False)
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
