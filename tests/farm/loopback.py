"""A real Ray cluster on 127.0.0.1 for tests and benchmarks: a head node and worker nodes,
each started with ``ray start`` inside a network namespace that has only loopback.

Outside such a namespace Ray advertises the machine's network address and probes an outside
one (see ``../shared/STACK-NOTES.md``). A ``sleep`` started by ``unshare -n`` holds the
namespace; every Ray process and every driver runs in it through ``nsenter``, so the cluster's
ports never clash with another cluster on the machine, and the processes of this cluster are
exactly those in the namespace: stopping it (or killing one node) signals them by id, never by
name. Needs root and the ``unshare``/``nsenter``/``ip`` commands.

Each node's processes carry ``DEEPSTUDIO_TEST_NODE=<name>`` in their environment, which is how
a test finds the processes of the node it kills. Token authentication (Ray's default for
``ray start``) uses a token made here and passed to every process in ``RAY_AUTH_TOKEN``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray"))


def cluster_unavailable() -> str | None:
    """Why a loopback cluster cannot run here (None when it can)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return "ray is not installed (pip install 'deepstudio[farm]')"
    if os.geteuid() != 0:
        return "a loopback cluster needs root (network namespaces)"
    if not all(shutil.which(c) for c in ("unshare", "nsenter", "ip")):
        return "unshare, nsenter and ip are needed"
    return None


class LoopbackCluster:
    """``nodes``: (name, CPU slots, cores to pin it to or None) per node, the head first."""

    def __init__(self, root: Path, nodes: list[tuple[str, int, list[int] | None]],
                 port: int = 6390, extra_env: dict[str, str] | None = None) -> None:
        self.root = root
        self.nodes = nodes
        self.port = port
        self.address = f"127.0.0.1:{port}"
        self._holder: subprocess.Popen | None = None
        self._netns = ""
        # Ray's sockets live under its temp folder, and a socket path may not exceed 107 bytes
        self._ray_dir = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
        self._env = {
            **os.environ, **(extra_env or {}),
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "tests")]),
            "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
            "RAY_USAGE_STATS_ENABLED": "0",
            "DEEPSTUDIO_CONFIG_DIR": str(root / "config"),
            "DEEPSTUDIO_CACHE_DIR": str(root / "cache"),
        }

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> LoopbackCluster:
        self._holder = subprocess.Popen(
            ["unshare", "-n", "sh", "-c", "ip link set lo up && exec sleep 86400"],
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until unshare has exec'd into the namespace
            self._netns = os.readlink(f"/proc/{self._holder.pid}/ns/net")
            if self._netns != os.readlink("/proc/self/ns/net"):
                break
            time.sleep(0.05)
        time.sleep(0.2)  # lo is up once sh has exec'd sleep
        try:
            for name, _, _ in self.nodes:
                self.start_node(name)
        except BaseException:
            self.stop()
            raise
        return self

    def start_node(self, name: str) -> None:
        _, cpus, cores = next(n for n in self.nodes if n[0] == name)
        head = name == self.nodes[0][0]
        command = [RAY, "start", "--node-ip-address=127.0.0.1", f"--num-cpus={cpus}",
                   "--num-gpus=0", "--disable-usage-stats"]
        if head:
            command += ["--head", f"--port={self.port}", "--include-dashboard=false",
                        f"--temp-dir={self._ray_dir}"]
        else:
            command += [f"--address={self.address}"]
        if cores is not None:
            command = ["taskset", "-c", ",".join(map(str, cores)), *command]
        done = self.run(command, env={**self._env, "DEEPSTUDIO_TEST_NODE": name},
                        capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            raise RuntimeError(f"ray start ({name}) failed:\n{done.stdout}\n{done.stderr}")

    def stop(self) -> None:
        """Kill every process of the namespace (the cluster, its drivers, the holder)."""
        for pid in self._pids():
            _kill(pid)
        if self._holder is not None:
            self._holder.kill()
            self._holder.wait()
        shutil.rmtree(self._ray_dir, ignore_errors=True)

    def __enter__(self) -> LoopbackCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- running in the namespace ---------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """The environment of drivers (the token, this repository on the path)."""
        return dict(self._env)

    def _prefix(self) -> list[str]:
        assert self._holder is not None, "start the cluster first"
        return ["nsenter", f"--net=/proc/{self._holder.pid}/ns/net"]

    def run(self, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("env", self._env)
        return subprocess.run([*self._prefix(), *argv], **kwargs)

    def popen(self, argv: list[str], **kwargs) -> subprocess.Popen:
        kwargs.setdefault("env", self._env)
        return subprocess.Popen([*self._prefix(), *argv], **kwargs)

    def deepstudio(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        """Run ``deepstudio ARGS`` as a driver in the namespace."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return self.run([sys.executable, "-m", "deepstudio", *args], **kwargs)

    # --- nodes and their processes --------------------------------------------------------

    def _pids(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if os.readlink(entry / "ns" / "net") == self._netns:
                        pids.append(int(entry.name))
                except OSError:
                    continue
        return pids

    def cpu_seconds(self) -> dict[int, float]:
        """CPU seconds (user + system) each process of the cluster has used so far."""
        tick = os.sysconf("SC_CLK_TCK")
        used = {}
        for pid in self._pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            used[pid] = (int(fields[11]) + int(fields[12])) / tick
        return used

    def node_pids(self, name: str) -> list[int]:
        """The processes of node ``name`` (its raylet, workers and their ffmpeg)."""
        tag = f"DEEPSTUDIO_TEST_NODE={name}".encode()
        found = []
        for pid in self._pids():
            try:
                if tag in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                    found.append(pid)
            except OSError:
                continue
        return found

    def kill_node(self, name: str) -> int:
        """SIGKILL every process of node ``name`` at once (a machine dying); returns how many."""
        pids = self.node_pids(name)
        for pid in pids:
            _kill(pid)
        return len(pids)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
