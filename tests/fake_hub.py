"""A small fake Hugging Face Hub server for offline upload/download tests.

It implements just the HTTP endpoints that `huggingface_hub` 2.x calls for `create_repo`,
`create_branch`, `create_commit` (preupload, NDJSON commit, LFS batch + basic PUT upload) and that
`hf_hub_download` / `from_pretrained` call to read a repo back (`resolve/<rev>/<path>`, model info,
tree listing, refs). Files live in a temporary folder; repositories, branches and commits in memory.

Use it with `HF_ENDPOINT=<hub.endpoint>` and `HF_HUB_DISABLE_XET=1` (otherwise `hf_xet` asks the
server for a Xet token, which this server does not implement):

    with FakeHub(tmp_path / "hub", token="hf_test") as hub:
        ...  # HfApi(endpoint=hub.endpoint, token="hf_test").create_repo("user/model")
        hub.files("user/model")  # {path: bytes} at the head of main

`hub.fail("commit", 500)` makes the next calls of one endpoint answer with that status, to test
error handling. Endpoint names: create_repo, validate_yaml, preupload, commit, branch, lfs_batch,
lfs_upload, resolve, info, tree, refs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

LFS_SIZE_THRESHOLD = 10 * 1024 * 1024  # the Hub stores files above 10 MB in LFS
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx", ".pkl", ".zip")
TYPE_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


@dataclass
class StoredFile:
    size: int
    sha256: str
    git_oid: str
    lfs: bool


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    branches: dict[str, str] = field(default_factory=dict)  # branch -> commit sha
    commits: dict[str, dict[str, StoredFile]] = field(default_factory=dict)  # sha -> {path: file}
    messages: dict[str, str] = field(default_factory=dict)  # sha -> commit summary


def _git_blob_oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class FakeHub:
    """Run the fake Hub on 127.0.0.1 (a free port) in a background thread; see the module docstring."""

    def __init__(self, root: str | Path, token: str | None = None):
        self.root = Path(root)
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        self.token = token
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, for debugging
        self.failures: dict[str, int] = {}
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- test helpers ----------------------------------------------------------------------
    def fail(self, endpoint: str, status: int) -> None:
        """Answer every later call of `endpoint` with HTTP `status` (until `clear_failures`)."""
        self.failures[endpoint] = status

    def clear_failures(self) -> None:
        self.failures.clear()

    def repo(self, repo_id: str, repo_type: str = "model") -> Repo:
        return self.repos[(repo_type, repo_id)]

    def files(self, repo_id: str, revision: str = "main", repo_type: str = "model") -> dict[str, bytes]:
        """The files of `repo_id` at `revision` (branch or commit sha) as {path: content}."""
        repo = self.repo(repo_id, repo_type)
        sha = repo.branches.get(revision, revision)
        return {path: self.blob(entry.sha256) for path, entry in repo.commits[sha].items()}

    def blob(self, sha256: str) -> bytes:
        return (self.root / "blobs" / sha256).read_bytes()

    # -- storage ---------------------------------------------------------------------------
    def store_blob(self, content: bytes) -> str:
        sha256 = hashlib.sha256(content).hexdigest()
        path = self.root / "blobs" / sha256
        if not path.exists():
            path.write_bytes(content)
        return sha256

    def has_blob(self, sha256: str) -> bool:
        return (self.root / "blobs" / sha256).exists()

    def new_commit(self, repo: Repo, branch: str, tree: dict[str, StoredFile], message: str) -> str:
        parent = repo.branches.get(branch, "")
        listing = json.dumps({path: entry.git_oid for path, entry in sorted(tree.items())})
        sha = hashlib.sha1(f"{parent}\n{listing}\n{message}\n{time.time_ns()}".encode()).hexdigest()
        repo.commits[sha] = tree
        repo.messages[sha] = message
        repo.branches[branch] = sha
        return sha


def _make_handler(hub: FakeHub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # keep pytest output clean
            pass

        # -- plumbing ----------------------------------------------------------------------
        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _send(self, status: int, payload=None, headers: dict | None = None, body: bytes | None = None):
            if body is None:
                body = json.dumps(payload if payload is not None else {}).encode()
                headers = {"Content-Type": "application/json", **(headers or {})}
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
            extra = dict(headers or {})
            if code:
                extra["X-Error-Code"] = code
            extra["X-Error-Message"] = message
            self._send(status, {"error": message}, headers=extra)

        def _authorized(self) -> bool:
            return hub.token is None or self.headers.get("Authorization") == f"Bearer {hub.token}"

        def _injected(self, endpoint: str) -> bool:
            status = hub.failures.get(endpoint)
            if status is None:
                return False
            self._body()  # drain the request so the client sees the response, not a reset
            self._error(status, f"Injected failure of the fake Hub's {endpoint} endpoint")
            return True

        def _find_repo(self, repo_type: str, repo_id: str, write: bool = False) -> Repo | None:
            repo = hub.repos.get((repo_type, repo_id))
            if repo is None or (repo.private and not self._authorized()):
                self._error(404, f"Repository {repo_id} not found", "RepoNotFound")
                return None
            if write and not self._authorized():
                self._error(401, "Invalid credentials in Authorization header")
                return None
            return repo

        def _resolve_rev(self, repo: Repo, revision: str) -> str | None:
            revision = unquote(revision)
            sha = repo.branches.get(revision, revision if revision in repo.commits else None)
            if sha is None:
                self._error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            return sha

        # -- dispatch ----------------------------------------------------------------------
        def _dispatch(self):
            path = urlsplit(self.path).path
            hub.requests.append((self.command, path))
            kind = r"(?P<type>model|dataset|space)s"
            repo = r"(?P<repo>[^/]+/[^/]+?)"
            routes = [
                ("POST", r"/api/repos/create", self.create_repo),
                ("POST", r"/api/validate-yaml", self.validate_yaml),
                ("POST", rf"/api/{kind}/{repo}/preupload/(?P<rev>[^/]+)", self.preupload),
                ("POST", rf"/api/{kind}/{repo}/commit/(?P<rev>[^/]+)", self.commit),
                ("POST", rf"/api/{kind}/{repo}/branch/(?P<branch>[^/]+)", self.create_branch),
                ("GET", rf"/api/{kind}/{repo}/refs", self.refs),
                ("GET", rf"/api/{kind}/{repo}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", self.tree),
                ("GET", rf"/api/{kind}/{repo}(?:/revision/(?P<rev>[^/]+))?", self.info),
                (
                    "POST",
                    r"/(?P<prefix>datasets/|spaces/)?(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/batch",
                    self.lfs_batch,
                ),
                ("PUT", r"/__lfs_upload/(?P<oid>[0-9a-f]{64})", self.lfs_upload),
                (
                    "GET",
                    r"/(?P<prefix>datasets/|spaces/)?(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)",
                    self.resolve,
                ),
            ]
            method = "GET" if self.command == "HEAD" else self.command
            for route_method, pattern, handler in routes:
                match = re.fullmatch(pattern, path)
                if route_method == method and match:
                    with hub.lock:
                        return handler(**{k: v for k, v in match.groupdict().items()})
            self._body()
            self._error(404, f"The fake Hub does not implement {self.command} {path}")

        do_GET = do_HEAD = do_POST = do_PUT = _dispatch

        # -- endpoints ---------------------------------------------------------------------
        def create_repo(self):
            if self._injected("create_repo"):
                return
            payload = json.loads(self._body() or b"{}")
            if not self._authorized():
                return self._error(401, "Invalid credentials in Authorization header")
            if not payload.get("organization"):
                return self._error(400, "The fake Hub needs a namespace: use 'user/name' repo ids")
            repo_type = payload.get("type") or "model"
            repo_id = f"{payload['organization']}/{payload['name']}"
            url = f"{hub.endpoint}/{TYPE_PREFIX[repo_type]}{repo_id}"
            if (repo_type, repo_id) in hub.repos:
                # Like the Hub, a 409 still carries the repo url: create_repo(exist_ok=True) returns it.
                message = f"You already created this {repo_type} repo"
                return self._send(409, {"error": message, "url": url}, headers={"X-Error-Message": message})
            repo = Repo(repo_type, repo_id, private=payload.get("visibility") == "private")
            hub.repos[(repo_type, repo_id)] = repo
            attributes = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
            entry = StoredFile(len(attributes), hub.store_blob(attributes), _git_blob_oid(attributes), lfs=False)
            hub.new_commit(repo, "main", {".gitattributes": entry}, "initial commit")
            self._send(200, {"url": url, "name": repo_id, "id": repo_id})

        def validate_yaml(self):
            if self._injected("validate_yaml"):
                return
            content = json.loads(self._body())["content"]
            match = re.match(r"^---\n(.*?)\n---\n", content, flags=re.S)
            try:
                metadata = yaml.safe_load(match.group(1)) if match else {}
            except yaml.YAMLError as err:
                return self._send(400, {"errors": [{"message": f"Invalid YAML in README.md: {err}"}]})
            if metadata is not None and not isinstance(metadata, dict):
                return self._send(400, {"errors": [{"message": "README.md metadata must be a mapping"}]})
            self._send(200, {"errors": [], "warnings": []})

        def preupload(self, type, repo, rev):
            if self._injected("preupload"):
                return
            files = json.loads(self._body())["files"]
            found = self._find_repo(type, repo, write=True)
            if found is None:
                return
            sha = self._resolve_rev(found, rev)
            if sha is None:
                return
            tree = found.commits[sha]
            answer = []
            for item in files:
                sample = base64.b64decode(item["sample"])
                lfs = item["size"] >= LFS_SIZE_THRESHOLD or b"\0" in sample or item["path"].endswith(LFS_SUFFIXES)
                existing = tree.get(item["path"])
                oid = None if existing is None else (existing.sha256 if existing.lfs else existing.git_oid)
                answer.append(
                    {"path": item["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid}
                )
            self._send(200, {"files": answer, "commitOid": sha})

        def lfs_batch(self, prefix, repo):
            if self._injected("lfs_batch"):
                return
            payload = json.loads(self._body())
            repo_type = {"datasets/": "dataset", "spaces/": "space"}.get(prefix or "", "model")
            if self._find_repo(repo_type, repo, write=True) is None:
                return
            objects = []
            for obj in payload["objects"]:
                entry = {"oid": obj["oid"], "size": obj["size"]}
                if not hub.has_blob(obj["oid"]):
                    entry["actions"] = {"upload": {"href": f"{hub.endpoint}/__lfs_upload/{obj['oid']}"}}
                objects.append(entry)
            self._send(
                200, {"transfer": "basic", "objects": objects}, headers={"Content-Type": "application/vnd.git-lfs+json"}
            )

        def lfs_upload(self, oid):
            if self._injected("lfs_upload"):
                return
            content = self._body()
            if hashlib.sha256(content).hexdigest() != oid:
                return self._error(400, f"LFS object does not match its oid {oid}")
            hub.store_blob(content)
            self._send(200, {})

        def commit(self, type, repo, rev):
            if self._injected("commit"):
                return
            lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
            found = self._find_repo(type, repo, write=True)
            if found is None:
                return
            branch = unquote(rev)
            if branch not in found.branches:
                return self._error(404, f"Invalid rev id: {branch}", "RevisionNotFound")
            header = next(line["value"] for line in lines if line["key"] == "header")
            tree = dict(found.commits[found.branches[branch]])
            for line in lines:
                key, value = line["key"], line["value"]
                if key == "file":
                    content = base64.b64decode(value["content"])
                    tree[value["path"]] = StoredFile(
                        len(content), hub.store_blob(content), _git_blob_oid(content), False
                    )
                elif key == "lfsFile":
                    if not hub.has_blob(value["oid"]):
                        return self._error(422, f"LFS object {value['oid']} of {value['path']} was never uploaded")
                    content = hub.blob(value["oid"])
                    tree[value["path"]] = StoredFile(len(content), value["oid"], _git_blob_oid(content), True)
                elif key == "deletedFile":
                    tree.pop(value["path"], None)
                elif key == "deletedFolder":
                    folder = value["path"].rstrip("/") + "/"
                    tree = {path: entry for path, entry in tree.items() if not path.startswith(folder)}
            sha = hub.new_commit(found, branch, tree, header["summary"])
            url = f"{hub.endpoint}/{TYPE_PREFIX[type]}{repo}/commit/{sha}"
            self._send(200, {"success": True, "commitOid": sha, "commitUrl": url, "hookOutput": ""})

        def create_branch(self, type, repo, branch):
            if self._injected("branch"):
                return
            payload = json.loads(self._body() or b"{}")
            found = self._find_repo(type, repo, write=True)
            if found is None:
                return
            branch = unquote(branch)
            if branch in found.branches:
                return self._error(409, f"Reference refs/heads/{branch} already exists")
            start = self._resolve_rev(found, payload.get("startingPoint") or "main")
            if start is None:
                return
            found.branches[branch] = start
            self._send(200, {})

        def refs(self, type, repo):
            if self._injected("refs"):
                return
            found = self._find_repo(type, repo)
            if found is None:
                return
            branches = [
                {"name": name, "ref": f"refs/heads/{name}", "targetCommit": sha} for name, sha in found.branches.items()
            ]
            self._send(200, {"branches": branches, "converts": [], "tags": [], "pullRequests": []})

        def info(self, type, repo, rev=None):
            if self._injected("info"):
                return
            found = self._find_repo(type, repo)
            if found is None:
                return
            sha = self._resolve_rev(found, rev or "main")
            if sha is None:
                return
            tree = found.commits[sha]
            siblings = [{"rfilename": path, "size": entry.size} for path, entry in sorted(tree.items())]
            self._send(
                200,
                {
                    "_id": repo,
                    "id": repo,
                    "modelId": repo,
                    "sha": sha,
                    "private": found.private,
                    "disabled": False,
                    "gated": False,
                    "tags": [],
                    "siblings": siblings,
                    "downloads": 0,
                    "likes": 0,
                    "createdAt": "2026-01-01T00:00:00.000Z",
                    "lastModified": "2026-01-01T00:00:00.000Z",
                },
            )

        def tree(self, type, repo, rev, path=None):
            if self._injected("tree"):
                return
            found = self._find_repo(type, repo)
            if found is None:
                return
            sha = self._resolve_rev(found, rev)
            if sha is None:
                return
            folder = (unquote(path).strip("/") + "/") if path else ""
            listing, folders = [], set()
            for file_path, entry in sorted(found.commits[sha].items()):
                if not file_path.startswith(folder):
                    continue
                rest = file_path[len(folder) :]
                if "/" in rest:
                    folders.add(folder + rest.split("/")[0])
                    continue
                item = {"type": "file", "oid": entry.git_oid, "size": entry.size, "path": file_path}
                if entry.lfs:
                    item["lfs"] = {"oid": entry.sha256, "size": entry.size, "pointerSize": 134}
                listing.append(item)
            if folder and not listing and not folders:
                return self._error(404, f"{folder} does not exist on {rev}", "EntryNotFound", {"X-Repo-Commit": sha})
            listing += [{"type": "directory", "oid": "0" * 40, "size": 0, "path": name} for name in sorted(folders)]
            self._send(200, listing)

        def resolve(self, prefix, repo, rev, path):
            if self._injected("resolve"):
                return
            repo_type = {"datasets/": "dataset", "spaces/": "space"}.get(prefix or "", "model")
            found = self._find_repo(repo_type, repo)
            if found is None:
                return
            sha = self._resolve_rev(found, rev)
            if sha is None:
                return
            entry = found.commits[sha].get(unquote(path))
            if entry is None:
                return self._error(404, f"Entry not found: {path}", "EntryNotFound", {"X-Repo-Commit": sha})
            headers = {"X-Repo-Commit": sha, "ETag": f'"{entry.git_oid}"', "Content-Type": "application/octet-stream"}
            if entry.lfs:
                headers.update({"X-Linked-Etag": f'"{entry.sha256}"', "X-Linked-Size": str(entry.size)})
            self._send(200, headers=headers, body=hub.blob(entry.sha256))

    return Handler
