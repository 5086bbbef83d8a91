"""Writes an OCI image layout of N named single-manifest images sharing one config blob:
the shape of a large `sigmirror save` or `skopeo sync` result, minus the layer bytes, so that
`load` is measured on its per-entry work.

Usage: python3 make_layout.py DIR N
"""

import hashlib
import json
import os
import sys


def main(root: str, count: int) -> None:
    blobs = os.path.join(root, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put(data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, digest), "wb") as f:
            f.write(data)
        return "sha256:" + digest

    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    config_digest = put(config)
    entries = []
    for i in range(count):
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": len(config)},
            "layers": [],
            "annotations": {"n": str(i)},
        }).encode()
        entries.append({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": put(manifest),
            "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name":
                            f"registry.bench/team/img-{i}:v1"},
        })
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2,
                   "mediaType": "application/vnd.oci.image.index.v1+json",
                   "manifests": entries}, f)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
