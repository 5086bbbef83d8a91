#!/usr/bin/env python3
"""Minimal fake Kubernetes API server: core/v1 Secrets only (in-memory), enough for
kubectl (>=1.20) and client-go based tools (cosign k8s://) to create/get/update/list/delete secrets.
Accepts JSON or Kubernetes-protobuf request bodies for Secrets; always answers JSON (client-go accepts that).
NOT a real kube-apiserver (no validation beyond basics, no watch, no patch).
Usage: python3 fake_kube_secrets.py [PORT] [--token T] [--readonly-token R]
                                    [--tls-cert CERT --tls-key KEY [--client-ca CA]]
  (binds 127.0.0.1 only; stdlib only)
sigmirror's copy of the team recipe, extended for its tests (without options it behaves like the recipe):
  --token T           require "Authorization: Bearer T" (else 401 Unauthorized, as kube-apiserver)
  --readonly-token R  a second token that may only GET (writes get 403 Forbidden, like RBAC)
  --tls-cert/--tls-key  serve HTTPS;  --client-ca CA  also accept client certificates signed by CA
"""
import argparse, base64, json, re, ssl, sys, threading, uuid, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STORE = {}  # (ns, name) -> secret dict
LOCK = threading.Lock()
RV = [1]

def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

def status(code, reason, msg):
    return code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": msg, "reason": reason, "code": code}

RESOURCES = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": [
    {"name": "secrets", "singularName": "secret", "namespaced": True, "kind": "Secret",
     "verbs": ["create", "delete", "get", "list", "update"]},
    {"name": "namespaces", "singularName": "namespace", "namespaced": False, "kind": "Namespace",
     "verbs": ["get", "list"]}]}

# --- minimal protobuf decoding: client-go typed clients (kubectl create secret, cosign k8s://) POST/PUT
# Secrets as application/vnd.kubernetes.protobuf: b"k8s\0" + runtime.Unknown{1:TypeMeta, 2:raw Secret}.
def _varint(b, i):
    v = sh = 0
    while True:
        c = b[i]; i += 1; v |= (c & 0x7F) << sh; sh += 7
        if c < 0x80:
            return v, i

def _fields(b):
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            n, i = _varint(b, i); v = b[i:i + n]; i += n
        elif wt == 1:
            v = b[i:i + 8]; i += 8
        elif wt == 5:
            v = b[i:i + 4]; i += 4
        else:
            raise ValueError("unsupported wire type %d" % wt)
        yield f, v

def _map_entry(b):
    k = v = b""
    for f, x in _fields(b):
        if f == 1: k = x
        elif f == 2: v = x
    return k.decode(), v

def secret_from_protobuf(raw):
    if not raw.startswith(b"k8s\x00"):
        raise ValueError("missing k8s protobuf magic")
    inner = dict((f, v) for f, v in _fields(raw[4:]) if f == 2).get(2, b"")
    obj = {"metadata": {}, "data": {}}
    for f, v in _fields(inner):
        if f == 1:  # ObjectMeta
            for mf, mv in _fields(v):
                if mf == 1: obj["metadata"]["name"] = mv.decode()
                elif mf == 3: obj["metadata"]["namespace"] = mv.decode()
                elif mf in (11, 12):
                    k, val = _map_entry(mv)
                    obj["metadata"].setdefault("labels" if mf == 11 else "annotations", {})[k] = val.decode()
        elif f == 2:
            k, val = _map_entry(v); obj["data"][k] = base64.b64encode(val).decode()
        elif f == 3:
            obj["type"] = v.decode()
        elif f == 4:
            k, val = _map_entry(v); obj.setdefault("stringData", {})[k] = val.decode()
        elif f == 5:
            obj["immutable"] = bool(v)
    return obj

SECRET_PATH = re.compile(r"^/api/v1/namespaces/([a-z0-9-]+)/secrets(?:/([a-z0-9.-]+))?$")

AUTH = {"token": None, "readonly": None, "client_ca": False}

def authorize(handler):
    """None if the request may go on, else (code, Status) as kube-apiserver answers."""
    if not (AUTH["token"] or AUTH["readonly"] or AUTH["client_ca"]):
        return None
    header = handler.headers.get("Authorization") or ""
    user, readonly = None, False
    if AUTH["token"] and header == "Bearer " + AUTH["token"]:
        user = "admin"
    elif AUTH["readonly"] and header == "Bearer " + AUTH["readonly"]:
        user, readonly = "reader", True
    elif AUTH["client_ca"]:
        cert = handler.connection.getpeercert() if hasattr(handler.connection, "getpeercert") else None
        if cert:
            user = dict(x[0] for x in cert.get("subject", ())).get("commonName", "client")
    if user is None:
        return status(401, "Unauthorized", "Unauthorized")
    if readonly and handler.command != "GET":
        verb = {"POST": "create", "PUT": "update", "DELETE": "delete"}.get(handler.command, "patch")
        mm = SECRET_PATH.match(handler.path.split("?")[0])
        ns = mm.group(1) if mm else ""
        return status(403, "Forbidden", f'secrets is forbidden: User "{user}" cannot {verb} resource '
                      f'"secrets" in API group "" in the namespace "{ns}"')
    return None

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, fmt, *a):
        sys.stderr.write("fake-kube %s %s\n" % (self.command, self.path))
    def send(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def body(self):
        if "protobuf" in (self.headers.get("Content-Type") or ""):
            return secret_from_protobuf(self._raw)
        return json.loads(self._raw or b"{}")
    def route(self):
        path = self.path.split("?")[0]
        m = self.command
        if m == "GET" and path == "/version":
            return 200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0-fake", "platform": "linux/amd64"}
        if m == "GET" and path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"],
                         "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self.headers.get("Host", "")}]}
        if m == "GET" and path == "/apis":
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []}
        if m == "GET" and path == "/api/v1":
            return 200, RESOURCES
        mm = re.match(r"^/api/v1/namespaces/([a-z0-9-]+)$", path)
        if m == "GET" and mm:
            return 200, {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": mm.group(1)}, "status": {"phase": "Active"}}
        mm = SECRET_PATH.match(path)
        if not mm:
            return status(404, "NotFound", "the server could not find the requested resource")
        ns, name = mm.group(1), mm.group(2)
        with LOCK:
            if m == "GET" and name is None:
                items = [s for (n, _), s in sorted(STORE.items()) if n == ns]
                return 200, {"kind": "SecretList", "apiVersion": "v1", "metadata": {"resourceVersion": str(RV[0])}, "items": items}
            if m == "GET":
                s = STORE.get((ns, name))
                return (200, s) if s else status(404, "NotFound", f'secrets "{name}" not found')
            if m == "DELETE" and name:
                if STORE.pop((ns, name), None) is None:
                    return status(404, "NotFound", f'secrets "{name}" not found')
                return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}
            if m in ("POST", "PUT"):
                obj = self.body()
                meta = obj.setdefault("metadata", {})
                name = name or meta.get("name")
                if not name:
                    return status(422, "Invalid", "metadata.name is required")
                meta["name"], meta["namespace"] = name, ns
                data = obj.setdefault("data", {})
                for k, v in (obj.pop("stringData", None) or {}).items():
                    data[k] = base64.b64encode(v.encode()).decode()
                obj["type"] = obj.get("type") or "Opaque"; obj["kind"], obj["apiVersion"] = "Secret", "v1"
                exists = (ns, name) in STORE
                if m == "POST" and exists:
                    return status(409, "AlreadyExists", f'secrets "{name}" already exists')
                if m == "PUT" and not exists:
                    return status(404, "NotFound", f'secrets "{name}" not found')
                RV[0] += 1
                meta["resourceVersion"] = str(RV[0])
                meta.setdefault("uid", str(uuid.uuid4())); meta.setdefault("creationTimestamp", now())
                STORE[(ns, name)] = obj
                return (201 if m == "POST" else 200), obj
        return status(405, "MethodNotAllowed", "method not allowed")
    def handle_one(self):
        # always drain the request body (kubectl sends DeleteOptions on DELETE; keep-alive needs it consumed)
        self._raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            code, obj = authorize(self) or self.route()
        except Exception as e:  # keep the server alive
            code, obj = status(500, "InternalError", str(e))
        self.send(code, obj)
    do_GET = do_POST = do_PUT = do_DELETE = handle_one

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("port", nargs="?", type=int, default=6443)
    ap.add_argument("--token")
    ap.add_argument("--readonly-token")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--client-ca")
    args = ap.parse_args()
    AUTH.update(token=args.token, readonly=args.readonly_token, client_ca=bool(args.client_ca))
    server = ThreadingHTTPServer(("127.0.0.1", args.port), H)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.client_ca:
            ctx.load_verify_locations(args.client_ca)
            ctx.verify_mode = ssl.CERT_OPTIONAL
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.serve_forever()
