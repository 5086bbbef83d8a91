#!/usr/bin/env python3
"""A stand-in for a registry with the OCI 1.1 referrers API, in front of a real one.

No registry that implements the referrers API installs here (the Debian registry, distribution
2.8, has none), so this proxy adds it to one: every request goes to the real registry unchanged,
except that
  - a manifest PUT that the registry accepts and that has a `subject` is recorded, and the answer
    carries `OCI-Subject: <subject digest>` (how a registry tells clients it indexes referrers,
    so they write no fallback tag);
  - `GET /v2/<name>/referrers/<digest>[?artifactType=T]` answers an OCI index of the recorded
    referrers of that digest in that repository (filtered by artifact type), as the
    distribution spec says.
Records live in memory: one test's registry.

Usage: referrers_registry.py PORT UPSTREAM_HOST:PORT
"""

import hashlib
import http.client
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

UPSTREAM = sys.argv[2]
REFERRERS = {}  # (repository, subject digest) -> [descriptor]
LOCK = threading.Lock()
REFERRERS_PATH = re.compile(r"^/v2/(.+)/referrers/(sha256:[0-9a-f]{64})$")
MANIFEST_PATH = re.compile(r"^/v2/(.+)/manifests/([^/]+)$")
INDEX = "application/vnd.oci.image.index.v1+json"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.command, self.path))

    def body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def answer(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def forward(self, body: bytes):
        conn = http.client.HTTPConnection(UPSTREAM, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        conn.request(self.command, self.path, body=body or None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, resp.getheaders(), data

    def referrers(self, repo, digest):
        wanted = parse_qs(urlsplit(self.path).query).get("artifactType", [None])[0]
        with LOCK:
            found = list(REFERRERS.get((repo, digest), []))
        if wanted:
            found = [d for d in found if d.get("artifactType") == wanted]
        index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": found}
        headers = [("Content-Type", INDEX)]
        if wanted:
            headers.append(("OCI-Filters-Applied", "artifactType"))
        self.answer(200, headers, json.dumps(index).encode())

    def handle_any(self):
        path = urlsplit(self.path).path
        m = REFERRERS_PATH.match(path)
        if m and self.command == "GET":
            return self.referrers(m.group(1), m.group(2))
        body = self.body()
        status, headers, data = self.forward(body)
        m = MANIFEST_PATH.match(path)
        if m and self.command == "PUT" and status == 201:
            try:
                manifest = json.loads(body)
            except ValueError:
                manifest = {}
            subject = manifest.get("subject") if isinstance(manifest, dict) else None
            if isinstance(subject, dict) and "digest" in subject:
                descriptor = {
                    "mediaType": manifest.get("mediaType") or self.headers.get("Content-Type"),
                    "digest": "sha256:" + hashlib.sha256(body).hexdigest(),
                    "size": len(body),
                }
                artifact = manifest.get("artifactType") or (manifest.get("config") or {}).get("mediaType")
                if artifact:
                    descriptor["artifactType"] = artifact
                if manifest.get("annotations"):
                    descriptor["annotations"] = manifest["annotations"]
                key = (m.group(1), subject["digest"])
                with LOCK:
                    entries = REFERRERS.setdefault(key, [])
                    if all(e["digest"] != descriptor["digest"] for e in entries):
                        entries.append(descriptor)
                headers = list(headers) + [("OCI-Subject", subject["digest"])]
        self.answer(status, headers, data)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
