#!/usr/bin/env python3
"""A stand-in for Azure Key Vault keys and Microsoft Entra ID's client-credentials token endpoint,
written from their public REST references (Key Vault API 7.4; OAuth 2.0 v2.0 endpoint), for
sigmirror's azurekms:// tests: no emulator of Key Vault's key operations runs here, and Azure is
out of reach from the test machines.

Served over HTTPS (Key Vault accepts nothing else), in memory, real keys made with
`cryptography`:
  POST /TENANT/oauth2/v2.0/token   grant_type=client_credentials with client_id, client_secret and
                                   scope https://vault.azure.net/.default; two clients: "signer"
                                   (secret "signer-secret") and "reader" ("reader-secret", may
                                   get keys but not sign or create). Bad secret: 401 invalid_client.
  GET  /keys/NAME[/VERSION]?api-version=7.4   a key bundle {"key": JWK, "attributes"}
  POST /keys/NAME/create?api-version=7.4      {"kty": "EC"|"RSA", "crv", "key_size", "key_ops"}
  POST /keys/NAME/VERSION/sign?api-version=7.4  {"alg": ES256|ES384|ES512|RS256|PS256,
                                   "value": base64url digest} -> {"kid", "value"}
  Every Key Vault call needs "Authorization: Bearer <issued token>" (else 401 with Key Vault's
  WWW-Authenticate challenge) and an api-version (else 400).
  POST /admin/keys?name=N&kty=EC&crv=P-384 (or kty=RSA&size=3072)   test helper: create a key
Usage: azure_kv_standin.py PORT CERT KEY
"""
import base64, json, secrets, ssl, sys, threading, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

PORT = int(sys.argv[1])
HOST = f"127.0.0.1:{PORT}"
LOCK = threading.Lock()
CLIENTS = {"signer": ("signer-secret", True), "reader": ("reader-secret", False)}
TOKENS = {}   # token -> may write
KEYS = {}     # name -> list of (version, private key, kty)

CURVES = {"P-256": (ec.SECP256R1, 32), "P-384": (ec.SECP384R1, 48), "P-521": (ec.SECP521R1, 66)}
ALGS = {"ES256": hashes.SHA256, "ES384": hashes.SHA384, "ES512": hashes.SHA512,
        "RS256": hashes.SHA256, "PS256": hashes.SHA256}

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

def int_bytes(n, length=None):
    length = length or (n.bit_length() + 7) // 8
    return n.to_bytes(length, "big")

def jwk(name, version, private):
    kid = f"https://{HOST}/keys/{name}/{version}"
    public = private.public_key()
    if isinstance(private, ec.EllipticCurvePrivateKey):
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[private.curve.name]
        size = CURVES[crv][1]
        numbers = public.public_numbers()
        return {"kid": kid, "kty": "EC", "crv": crv, "key_ops": ["sign", "verify"],
                "x": b64url(int_bytes(numbers.x, size)), "y": b64url(int_bytes(numbers.y, size))}
    numbers = public.public_numbers()
    return {"kid": kid, "kty": "RSA", "key_ops": ["sign", "verify"],
            "n": b64url(int_bytes(numbers.n)), "e": b64url(int_bytes(numbers.e))}

def bundle(name, version, private):
    return {"key": jwk(name, version, private),
            "attributes": {"enabled": True, "recoveryLevel": "Recoverable+Purgeable"}}

def new_key(kty, crv=None, size=None):
    if kty in ("EC", "EC-HSM"):
        if crv not in CURVES:
            return None
        return ec.generate_private_key(CURVES[crv][0]())
    if kty in ("RSA", "RSA-HSM"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(size or 2048))
    return None

def kv_error(code, error_code, message):
    return code, {"error": {"code": error_code, "message": message}}

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def route(self, method):
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        with LOCK:
            result = self.dispatch(method, url.path, query, raw)
        self.reply(*result)

    def dispatch(self, method, path, query, raw):
        parts = [p for p in path.split("/") if p]
        if method == "POST" and parts[1:] == ["oauth2", "v2.0", "token"]:
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            if form.get("grant_type") != "client_credentials":
                return 400, {"error": "unsupported_grant_type"}
            client = CLIENTS.get(form.get("client_id"))
            if client is None or client[0] != form.get("client_secret"):
                return 401, {"error": "invalid_client",
                             "error_description": "AADSTS7000215: Invalid client secret provided."}
            if form.get("scope") != "https://vault.azure.net/.default":
                return 400, {"error": "invalid_scope",
                             "error_description": "AADSTS70011: The provided value for scope is not valid."}
            token = secrets.token_urlsafe(24)
            TOKENS[token] = client[1]
            return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                         "access_token": token}
        if parts[:2] == ["admin", "keys"]:
            private = new_key(query.get("kty"), query.get("crv"), query.get("size"))
            KEYS.setdefault(query["name"], []).append((uuid.uuid4().hex, private))
            return 200, {"created": query["name"]}
        if not parts or parts[0] != "keys":
            return kv_error(404, "NotFound", "no such API")
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        if token not in TOKENS:
            challenge = ('Bearer authorization="https://login.microsoftonline.com/tenant", '
                         'resource="https://vault.azure.net"')
            return 401, {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}}, [("WWW-Authenticate", challenge)]
        may_write = TOKENS[token]
        if query.get("api-version") != "7.4":
            return kv_error(400, "BadParameter", "The api-version is missing or not supported.")
        if method == "POST" and len(parts) == 3 and parts[2] == "create":
            if not may_write:
                return kv_error(403, "Forbidden", "The user, group or application does not have keys create permission on key vault.")
            request = json.loads(raw or b"{}")
            private = new_key(request.get("kty"), request.get("crv"), request.get("key_size"))
            if private is None:
                return kv_error(400, "BadParameter", "Unsupported key type or curve.")
            version = uuid.uuid4().hex
            KEYS.setdefault(parts[1], []).append((version, private))
            return 200, bundle(parts[1], version, private)
        versions = KEYS.get(parts[1]) if len(parts) >= 2 else None
        if not versions:
            return kv_error(404, "KeyNotFound", f"A key with (name/id) {parts[1] if len(parts) > 1 else ''} was not found in this key vault.")
        if method == "GET" and len(parts) in (2, 3):
            chosen = versions[-1] if len(parts) == 2 else next((v for v in versions if v[0] == parts[2]), None)
            if chosen is None:
                return kv_error(404, "KeyNotFound", "That key version was not found.")
            return 200, bundle(parts[1], chosen[0], chosen[1])
        if method == "POST" and len(parts) == 4 and parts[3] == "sign":
            if not may_write:
                return kv_error(403, "Forbidden", "The user, group or application does not have keys sign permission on key vault.")
            chosen = next((v for v in versions if v[0] == parts[2]), None)
            if chosen is None:
                return kv_error(404, "KeyNotFound", "That key version was not found.")
            request = json.loads(raw or b"{}")
            alg = request.get("alg")
            digest = b64url_decode(request.get("value", ""))
            private = chosen[1]
            if alg not in ALGS or len(digest) != ALGS[alg].digest_size:
                return kv_error(400, "BadParameter", "Invalid algorithm or digest length.")
            prehashed = utils.Prehashed(ALGS[alg]())
            if isinstance(private, ec.EllipticCurvePrivateKey):
                if not alg.startswith("ES"):
                    return kv_error(400, "BadParameter", "Key and signing algorithm are incompatible.")
                der = private.sign(digest, ec.ECDSA(prehashed))
                r, s = utils.decode_dss_signature(der)
                size = (private.curve.key_size + 7) // 8
                signature = int_bytes(r, size) + int_bytes(s, size)
            elif alg == "RS256":
                signature = private.sign(digest, padding.PKCS1v15(), prehashed)
            elif alg == "PS256":
                signature = private.sign(digest, padding.PSS(padding.MGF1(hashes.SHA256()), 32), prehashed)
            else:
                return kv_error(400, "BadParameter", "Key and signing algorithm are incompatible.")
            return 200, {"kid": f"https://{HOST}/keys/{parts[1]}/{parts[2]}", "value": b64url(signature)}
        return kv_error(404, "NotFound", f"no route for {method} {path}")

server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
