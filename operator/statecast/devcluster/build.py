"""Build the control plane binaries from their Go modules, cached by version.

Three Go modules ship with the package: ``gomod/kubernetes`` (``k8s.io/kubernetes``
with every staging module replaced by its matching ``v0.x.y``, plus etcd's server
module), ``gomod/kwok`` (KWOK needs newer ``k8s.io`` libraries than Kubernetes pins)
and ``gomod/helm`` (renders and lints the chart); a fourth, ``gomod/toxiproxy``
(Toxiproxy's server, for partitions and latency between agents), is built only when a
network proxy is asked for, and a fifth, ``gomod/linearizability`` (our checker program
around Porcupine), only when a chaos run checks linearizability. The binaries land in
``<cache>/bin/<module>-<version>-<hash of go.mod and go.sum>/`` outside the
repository, so a warm start finds them and builds nothing.

Errors: :class:`BuildError` when Go is missing or a build fails.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from statecast.devcluster.errors import BuildError

log = logging.getLogger(__name__)

GOMOD_DIR = Path(__file__).parent / "gomod"


@dataclass(frozen=True)
class GoModule:
    """One of our Go modules and the commands it builds (binary name -> package)."""

    directory: str
    root_module: str
    commands: dict[str, str]
    sources: tuple[str, ...] = ()
    """Files of our own in the module (a main package) that the cache key covers too."""

    @property
    def path(self) -> Path:
        """Directory holding the module's go.mod."""
        return GOMOD_DIR / self.directory

    def version(self) -> str:
        """The version of the root module this module requires (e.g. ``v1.37.2``)."""
        text = (self.path / "go.mod").read_text()
        pattern = rf"^\s*(?:require\s+)?{re.escape(self.root_module)} (v\S+)"
        match = re.search(pattern, text, re.MULTILINE)
        if not match:
            raise BuildError(f"{self.path / 'go.mod'} does not require {self.root_module}")
        return match.group(1)

    def cache_key(self) -> str:
        """Directory name in the cache: module, version and a hash of go.mod and go.sum."""
        digest = hashlib.sha256()
        for name in ("go.mod", "go.sum", *self.sources):
            digest.update((self.path / name).read_bytes())
        return f"{self.directory}-{self.version()}-{digest.hexdigest()[:10]}"


KUBERNETES = GoModule(
    "kubernetes",
    "k8s.io/kubernetes",
    {
        "etcd": "go.etcd.io/etcd/server/v3",
        "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
        "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
        "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
        "kubectl": "k8s.io/kubernetes/cmd/kubectl",
    },
)
KWOK = GoModule("kwok", "sigs.k8s.io/kwok", {"kwok": "sigs.k8s.io/kwok/cmd/kwok"})
HELM = GoModule("helm", "helm.sh/helm/v3", {"helm": "helm.sh/helm/v3/cmd/helm"})
MODULES = (KUBERNETES, KWOK, HELM)
#: Built only when asked for: the TCP proxy the fault-injection harness cuts and slows.
TOXIPROXY = GoModule(
    "toxiproxy",
    "github.com/Shopify/toxiproxy/v2",
    {"toxiproxy-server": "github.com/Shopify/toxiproxy/v2/cmd/server"},
)
#: Built only when asked for: the linearizability checker of ``statecast chaos --check
#: linearizability``, a main package of ours around Porcupine.
PORCUPINE = GoModule(
    "linearizability",
    "github.com/anishathalye/porcupine",
    {"statecast-porcupine": "."},
    sources=("main.go",),
)
ON_DEMAND = (TOXIPROXY, PORCUPINE)


def cache_root() -> Path:
    """Where built binaries are kept: ``$STATECAST_CACHE_DIR`` or ``~/.cache/statecast``."""
    if env := os.environ.get("STATECAST_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "statecast"


def bin_dir(module: GoModule) -> Path:
    """The cache directory holding ``module``'s binaries."""
    return cache_root() / "bin" / module.cache_key()


def binary(name: str) -> Path:
    """Path of a built binary by name (``kube-apiserver``, ``kwok``, ...)."""
    for module in (*MODULES, *ON_DEMAND):
        if name in module.commands:
            return bin_dir(module) / name
    raise KeyError(name)


def is_built(module: GoModule) -> bool:
    """Whether every binary of ``module`` is in the cache."""
    return all((bin_dir(module) / name).is_file() for name in module.commands)


def _go() -> str:
    found = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )
    if not found:
        raise BuildError("Go is not installed: the dev cluster builds its binaries with `go build`")
    return found


def _ldflags(module: GoModule) -> str:
    version = module.version()
    if module is not KUBERNETES:
        return "-s -w"
    major, minor = version.lstrip("v").split(".")[:2]
    flags = ["-s", "-w"]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {package}.gitVersion={version}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
            f"-X {package}.gitTreeState=clean",
            f"-X {package}.buildDate=1970-01-01T00:00:00Z",
        ]
    return " ".join(flags)


def build(module: GoModule, *, force: bool = False) -> Path:
    """Build ``module``'s binaries into the cache unless they are there; return the directory.

    A lock file serialises concurrent builds of the same cache.
    """
    target = bin_dir(module)
    if is_built(module) and not force:
        return target
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_built(module) and not force:
            return target
        go = _go()
        env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly"}
        staging = Path(tempfile.mkdtemp(prefix=f".{module.directory}-", dir=root))
        started = time.monotonic()
        try:
            for name, package in module.commands.items():
                log.info("event=build module=%s binary=%s", module.directory, name)
                result = subprocess.run(
                    [
                        go,
                        "build",
                        "-trimpath",
                        "-ldflags",
                        _ldflags(module),
                        "-o",
                        str(staging / name),
                        package,
                    ],
                    cwd=module.path,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if result.returncode != 0:
                    raise BuildError(f"go build {package} failed:\n{result.stderr[-4000:]}")
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        log.info(
            "event=built module=%s seconds=%.0f dir=%s",
            module.directory,
            time.monotonic() - started,
            target,
        )
    return target


def module_dir(directory: str, module: str) -> Path:
    """The source of ``module`` at the version ``gomod/<directory>/go.mod`` requires.

    Downloaded into Go's module cache (once) and checked against that ``go.sum``; used
    for files other projects publish in their modules (Prometheus Operator's CRDs).
    """
    import json

    result = subprocess.run(
        [_go(), "mod", "download", "-json", module],
        cwd=GOMOD_DIR / directory,
        env={**os.environ, "GOFLAGS": "-mod=readonly"},
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        info = json.loads(result.stdout)
    except ValueError:
        info = {}
    if result.returncode != 0 or "Dir" not in info:
        detail = info.get("Error") or result.stderr.strip()
        raise BuildError(f"go mod download {module} failed: {detail}")
    return Path(info["Dir"])


def build_all(*, force: bool = False) -> None:
    """Build every binary the dev cluster needs (reusing the cache)."""
    for module in MODULES:
        build(module, force=force)
