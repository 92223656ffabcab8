"""A tiny stand-in for the Hugging Face Hub, enough for ``hf_hub_download``.

``huggingface_hub`` (2.x) downloads a file in two requests to
``{HF_ENDPOINT}/{repo_id}/resolve/{revision}/{filename}``:

* ``HEAD``: needs ``X-Repo-Commit`` (the commit the revision points to),
  ``ETag`` (becomes the blob name in the cache) and ``Content-Length`` (the
  expected size). It would switch to Xet storage only if the response carried
  ``X-Xet-Hash`` plus a refresh route; this server never sends those, so the
  plain HTTP path is used even with ``hf_xet`` installed. Redirects are not
  needed: the file is served from the resolve URL itself.
* ``GET``: the bytes, with ``Content-Length``.

Errors use the Hub's ``X-Error-Code`` header (``RepoNotFound``,
``RevisionNotFound``, ``EntryNotFound``) so the client raises its usual
exceptions. Every request is recorded in ``FakeHub.requests``.

Run as a script (``python tests/backend/fake_hub.py '<json>'``) it is the child
process of the hub tests: it calls ``sam2_backend.load_model`` with the JSON
arguments under whatever ``HF_*`` environment the test gave it (huggingface_hub
reads those at import time) and prints one JSON line with the outcome.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

COMMIT_MAIN = "0123456789abcdef0123456789abcdef01234567"
COMMIT_V1 = "89abcdef0123456789abcdef0123456789abcdef"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


class FakeHub:
    """Serve ``files`` ({(repo_id, filename): local path}) at every known revision.

    ``revisions`` maps branch/tag names to commit hashes; a commit hash is a
    valid revision too.
    """

    def __init__(self, files: dict[tuple[str, str], Path], revisions: dict[str, str] | None = None):
        self.files = {key: Path(p) for key, p in files.items()}
        self.etags = {key: file_sha256(p) for key, p in self.files.items()}
        self.revisions = dict(revisions or {"main": COMMIT_MAIN, "v1": COMMIT_V1})
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    @property
    def endpoint(self) -> str:
        assert self._server is not None, "start() the hub first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            fake_hub = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port (later connections are refused)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- inspection
    def record(self, method: str, path: str) -> None:
        with self._lock:
            self.requests.append((method, path))

    def seen(self, method: str | None = None) -> list[str]:
        with self._lock:
            return [p for m, p in self.requests if method is None or m == method]

    def resolve(self, path: str):
        """(status, headers, file) for a /{repo}/resolve/{rev}/{file} path."""
        parts = urlsplit(path).path.lstrip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return 404, {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"}, None
        repo_id = f"{parts[0]}/{parts[1]}"
        revision = unquote(parts[3])
        filename = "/".join(parts[4:])
        if not any(r == repo_id for r, _ in self.files):
            return 404, {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"}, None
        if revision in self.revisions:
            commit = self.revisions[revision]
        elif revision in self.revisions.values():
            commit = revision
        else:
            return 404, {"X-Error-Code": "RevisionNotFound", "X-Error-Message": "Invalid rev id"}, None
        key = (repo_id, filename)
        if key not in self.files:
            return (
                404,
                {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found", "X-Repo-Commit": commit},
                None,
            )
        file = self.files[key]
        headers = {
            "X-Repo-Commit": commit,
            "ETag": f'"{self.etags[key]}"',
            "Content-Length": str(file.stat().st_size),
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
        }
        return 200, headers, file


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake_hub: FakeHub

    def log_message(self, format, *args) -> None:  # keep test output quiet
        pass

    def _respond(self, send_body: bool) -> None:
        self.fake_hub.record(self.command, self.path)
        status, headers, file = self.fake_hub.resolve(self.path)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if file is None:
            self.send_header("Content-Length", "0")
        self.end_headers()
        if send_body and file is not None:
            with open(file, "rb") as f:
                while chunk := f.read(1 << 20):
                    self.wfile.write(chunk)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def do_GET(self) -> None:
        self._respond(send_body=True)


def state_digest(model) -> str:
    """sha256 over a model's state dict (names, dtypes, shapes and values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()


def _child(args: dict) -> dict:
    """Body of the child process: one ``load_model`` call, reported as a dict."""
    import time

    from sam2_backend import load_model
    from sam2_backend.checkpoint import CheckpointError
    from sam2_backend.hub import CheckpointDownloadError

    sleeps: list[float] = []
    if args.pop("no_sleep", False):
        # huggingface_hub waits 1+2+4+8+8 s between retries when the Hub is unreachable;
        # record the waits instead of sleeping through them.
        time.sleep = sleeps.append

    name = args.pop("name")
    try:
        model = load_model(name, device="cpu", **args)
    except (CheckpointDownloadError, CheckpointError, FileNotFoundError, ValueError) as e:
        cause = e.__cause__
        return {
            "ok": False,
            "type": type(e).__name__,
            "message": str(e),
            "cause": None if cause is None else type(cause).__name__,
            "sleeps": sleeps,
        }
    return {
        "ok": True,
        "path": model.checkpoint_path,
        "config": model.config.name,
        "digest": state_digest(model),
        "sleeps": sleeps,
    }


if __name__ == "__main__":
    print("FAKE_HUB_RESULT " + json.dumps(_child(json.loads(sys.argv[1]))))
