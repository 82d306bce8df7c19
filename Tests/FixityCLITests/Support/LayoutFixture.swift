import Foundation
import Testing

/// Builds OCI image layouts with Python's tarfile, gzip and json — an independent writer — so
/// import is tested against images Fixity did not make, hostile ones included.
enum LayoutFixture {
    /// `layers`: each a list of members, `[type, name, extra]` with type `file` (extra: content),
    /// `dir`, `symlink` / `hardlink` (extra: target), `fifo`, `chardev`.
    /// `tamper`: `diff_id` (config names a wrong diff_id), `layer_digest` (a layer blob's bytes
    /// changed after its digest was taken), `media_type` (an unsupported layer type).
    static let script = #"""
        import gzip, hashlib, io, json, os, sys, tarfile
        spec = json.load(open(sys.argv[1]))
        out = sys.argv[2]
        os.makedirs(out + "/blobs/sha256")
        def blob(data):
            d = hashlib.sha256(data).hexdigest()
            open(out + "/blobs/sha256/" + d, "wb").write(data)
            return "sha256:" + d, len(data)
        layers, diff_ids = [], []
        for members in spec["layers"]:
            raw = io.BytesIO()
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
                for kind, name, extra in members:
                    i = tarfile.TarInfo(name)
                    i.mode = 0o755 if kind == "dir" else 0o644
                    data = None
                    if kind == "file":
                        data = extra.encode(); i.size = len(data)
                    elif kind == "setuid":
                        data = extra.encode(); i.size = len(data); i.mode = 0o6755
                    elif kind == "zeros":
                        data = bytes(int(extra)); i.size = len(data)
                    elif kind == "dir": i.type = tarfile.DIRTYPE
                    elif kind == "symlink": i.type = tarfile.SYMTYPE; i.linkname = extra
                    elif kind == "hardlink": i.type = tarfile.LNKTYPE; i.linkname = extra
                    elif kind == "fifo": i.type = tarfile.FIFOTYPE
                    elif kind == "chardev": i.type = tarfile.CHRTYPE; i.devmajor = 1; i.devminor = 3
                    t.addfile(i, io.BytesIO(data) if data is not None else None)
            tar = raw.getvalue()
            diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
            gz = gzip.compress(tar, mtime=0)
            d, n = blob(gz)
            if spec.get("tamper") == "layer_digest":
                open(out + "/blobs/sha256/" + d[7:], "wb").write(gz[:-8] + bytes(8))
            media = "application/vnd.oci.image.layer.v1.tar+zstd" if spec.get("tamper") == "media_type" else "application/vnd.oci.image.layer.v1.tar+gzip"
            layers.append({"mediaType": media, "digest": d, "size": n})
        if spec.get("tamper") == "diff_id": diff_ids[0] = "sha256:" + "0" * 64
        config = {"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": diff_ids}}
        cd, cn = blob(json.dumps(config).encode())
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn}, "layers": layers}
        md, mn = blob(json.dumps(manifest).encode())
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mn,
                   "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}, open(out + "/index.json", "w"))
        open(out + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
        print(md)
        """#

    /// Writes the layout at `sandbox.root/name`; returns its manifest digest.
    @discardableResult
    static func make(_ sandbox: Sandbox, name: String, layers: [[[String]]], tamper: String? = nil) throws -> String {
        var spec: [String: Any] = ["layers": layers]
        if let tamper { spec["tamper"] = tamper }
        try JSONSerialization.data(withJSONObject: spec).write(
            to: URL(fileURLWithPath: "\(sandbox.root)/\(name).spec.json"))
        try script.write(toFile: "\(sandbox.root)/make_layout.py", atomically: true, encoding: .utf8)
        return try sandbox.sh("python3 make_layout.py \(name).spec.json \(name)").stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
    }
}
