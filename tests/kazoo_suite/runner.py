"""Run kazoo's own test suite, from the installed kazoo package, against Apache ZooKeeper or zkpy.

Theory of operation: kazoo's harness (kazoo/testing/harness.py, common.py) is configured only
through environment variables and only knows how to start servers as
`java ... QuorumPeerMain <zoo.cfg>`. We run `pytest --pyargs kazoo.tests` in a subprocess whose
PATH starts with tests/kazoo_suite/bin, where a `java` stand-in execs either the real java
(Apache ZooKeeper, from Debian's jars) or `bin/zkpy-server start-foreground <zoo.cfg>`, keeping
the pid so the harness can stop it. The harness variables are pinned here so that both servers
see exactly the same suite:

- ZOOKEEPER_CLASSPATH: Debian's zookeeper.jar (its manifest names most deps) plus the netty
  jars its manifest lacks but the harness's NettyServerCnxnFactory needs, plus log4j 1.2 and
  its slf4j binding, because the harness configures log4j to write <workdir>/zookeeper.log,
  which kazoo's conftest prints when a test fails. ZOOKEEPER_PATH is left unset: pointed at
  /usr/share/java its globs would pull in every jar there, several slf4j bindings included.
- ZOOKEEPER_VERSION: required by the harness (it parses it unconditionally); 3.8.0 selects
  its >= 3.5 config (4lw whitelist, reconfigEnabled, superDigest).
- ZOOKEEPER_PORT_OFFSET: a block of 10 ports per server, picked free on 127.0.0.1 below the
  ephemeral port range so client sockets cannot take them.
- CI, ZOOKEEPER_JAAS_AUTH, ZOOKEEPER_LOCAL_SESSION_RO, KRB5_TEST_ENV... are removed: with CI
  set, kazoo's tests trust ZOOKEEPER_VERSION instead of asking the server, and run test_build.

pytest runs in its own session (process group) with a private TMPDIR; the harness's server
processes inherit that group, so after pytest ends, or is killed at the deadline, one killpg
reaps any server left behind. Results come from pytest's junit XML; a test id is pytest's node id
relative to site-packages, e.g. `kazoo/tests/test_lock.py::TestSemaphore::test_basic`.

Several kazoo tests race a server restart against a 5 s wait, so on a loaded machine they fail
now and then against either server. Hence the baseline keeps only tests that passed in every
one of several Apache runs, and a regression counts only if it also fails a second, targeted run.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from xml.etree import ElementTree

from tests.support.servers import REPO_ROOT, ZKPY_SERVER, ZOOKEEPER_JAR

ServerKind = Literal["apache", "zkpy"]

SUITE_DIR = Path(__file__).resolve().parent
STAND_IN_BIN_DIR = SUITE_DIR / "bin"
BASELINE_STANDALONE = SUITE_DIR / "apache_baseline_standalone.txt"
BOOTSTRAP_SCRIPT = REPO_ROOT / "bin" / "lib" / "bootstrap.sh"

APACHE_CLASSPATH = ":".join(
    str(Path("/usr/share/java") / jar)
    for jar in (
        "zookeeper.jar",
        "netty-codec.jar",
        "netty-resolver.jar",
        "netty-transport-native-unix-common.jar",
        "slf4j-log4j12.jar",
        "log4j-1.2.jar",
        "servlet-api.jar",
    )
)
HARNESS_ZOOKEEPER_VERSION = "3.8.0"
DEFAULT_SUITE_TIMEOUT_S = 45 * 60
DEFAULT_TEST_TIMEOUT_S = 180
# Harness ports are port_offset + 10 * i + 0..4; stay below the ephemeral range (32768+).
PORT_OFFSET_RANGE = (21000, 32000)
PORTS_PER_SERVER = 10

INHERITED_VARS_DROPPED = (
    "CI",
    "ZOOKEEPER_PATH",
    "ZOOKEEPER_CLASSPATH",
    "ZOOKEEPER_VERSION",
    "ZOOKEEPER_PORT_OFFSET",
    "ZOOKEEPER_CLUSTER_SIZE",
    "ZOOKEEPER_OBSERVER_START_ID",
    "ZOOKEEPER_JAAS_AUTH",
    "ZOOKEEPER_LOCAL_SESSION_RO",
    "KRB5_TEST_ENV",
    "KRB5_CONFIG",
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
)


@dataclass(frozen=True)
class SuiteResult:
    """Outcome of one suite run. `failed_ids` holds failures and errors alike."""

    passed: int
    failed: int
    skipped: int
    errors: int
    failed_ids: tuple[str, ...]
    passed_ids: tuple[str, ...]
    duration_s: float
    timed_out: bool = False

    def summary_line(self) -> str:
        line = f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"
        return line + (f", {self.errors} errors" if self.errors else "")


def _ports_free(first_port: int, count: int) -> bool:
    for port in range(first_port, first_port + count):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def pick_port_offset(cluster_size: int) -> int:
    span = PORTS_PER_SERVER * cluster_size
    low, high = PORT_OFFSET_RANGE
    for _ in range(200):
        offset = random.randrange(low, high - span, PORTS_PER_SERVER)
        if _ports_free(offset, span):
            return offset
    raise RuntimeError(f"no free block of {span} loopback ports in {PORT_OFFSET_RANGE}")


def real_java() -> str | None:
    """java on PATH, skipping our stand-in in case PATH already holds it (it would exec itself)."""
    search_path = os.pathsep.join(
        entry
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry and Path(entry).resolve() != STAND_IN_BIN_DIR
    )
    return shutil.which("java", path=search_path)


def suite_environment(server: ServerKind, cluster_size: int, tmp_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in INHERITED_VARS_DROPPED}
    java = real_java()
    if server == "apache" and java is None:
        raise RuntimeError("java is not on PATH; Apache ZooKeeper cannot run")
    env.update(
        {
            "PATH": f"{STAND_IN_BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}",
            "ZKPY_KAZOO_SERVER": server,
            "ZKPY_KAZOO_REAL_JAVA": java or "",
            "ZKPY_SERVER_BIN": str(ZKPY_SERVER),
            "ZOOKEEPER_CLASSPATH": APACHE_CLASSPATH,
            "ZOOKEEPER_VERSION": HARNESS_ZOOKEEPER_VERSION,
            "ZOOKEEPER_CLUSTER_SIZE": str(cluster_size),
            "ZOOKEEPER_PORT_OFFSET": str(pick_port_offset(cluster_size)),
            "TMPDIR": str(tmp_dir),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.setdefault("ZKPY_LOG_FORMAT", "console")
    return env


def kazoo_site_dir() -> Path:
    """The directory holding the installed `kazoo` package; pytest's rootdir for the suite."""
    spec = importlib.util.find_spec("kazoo")
    if spec is None or spec.origin is None:
        raise RuntimeError("kazoo is not installed in this interpreter; use the project's venv")
    return Path(spec.origin).resolve().parent.parent


def pytest_command(
    junit_xml: Path,
    ini_path: Path,
    test_timeout_s: int,
    select: str | None,
    test_ids: Sequence[str] | None,
) -> list[str]:
    site_dir = kazoo_site_dir()
    targets = (
        [str(site_dir / test_id) for test_id in test_ids]
        if test_ids
        else ["--pyargs", "kazoo.tests"]
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        *targets,
        # Our own (empty) ini: the venv lives under the repo, so pytest would otherwise pick
        # up zkpy's pyproject.toml settings (testpaths, markers) as kazoo's.
        "-c",
        str(ini_path),
        # Node ids then read kazoo/tests/test_x.py::Class::test, whoever runs the suite.
        f"--rootdir={site_dir}",
        "-p",
        "no:cacheprovider",
        f"--timeout={test_timeout_s}",
        f"--junitxml={junit_xml}",
        "-q",
        "-rfE",
    ]
    if select:
        command += ["-k", select]
    return command


def _warm_zkpy_venv() -> None:
    """bin/ scripts rebuild the venv when pyproject.toml changed; do it before the clock runs."""
    subprocess.run(["bash", "-c", f'. "{BOOTSTRAP_SCRIPT}"'], check=True, timeout=900)


def _reap_process_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def junit_case_node_id(case: ElementTree.Element, site_dir: Path) -> str:
    """`kazoo/tests/test_lock.py::TestSemaphore::test_basic` from a junit <testcase>.

    The classname is dotted module path plus class; the module is its longest prefix that is a
    file under `site_dir`. (The xunit1 `file` attribute would not do: it names the file defining
    the method, test_client.py, also for TestGeventClient's inherited tests.)
    """
    parts = case.get("classname", "").split(".")
    name = case.get("name", "")
    for split_at in range(len(parts), 0, -1):
        module_file = "/".join(parts[:split_at]) + ".py"
        if (site_dir / module_file).is_file():
            return "::".join([module_file, *parts[split_at:], name])
    return "::".join([*parts, name])


def parse_junit(junit_xml: Path, duration_s: float, timed_out: bool) -> SuiteResult:
    root = ElementTree.parse(junit_xml).getroot()
    site_dir = kazoo_site_dir()
    passed: list[str] = []
    failed: list[str] = []
    skipped = 0
    errors = 0
    for case in root.iter("testcase"):
        test_id = junit_case_node_id(case, site_dir)
        outcomes = {child.tag for child in case}
        if "failure" in outcomes:
            failed.append(test_id)
        elif "error" in outcomes:
            errors += 1
            failed.append(test_id)
        elif "skipped" in outcomes:
            skipped += 1
        else:
            passed.append(test_id)
    return SuiteResult(
        passed=len(passed),
        failed=len(failed) - errors,
        skipped=skipped,
        errors=errors,
        failed_ids=tuple(sorted(failed)),
        passed_ids=tuple(sorted(passed)),
        duration_s=duration_s,
        timed_out=timed_out,
    )


def run_suite(
    server: ServerKind,
    cluster_size: int,
    junit_xml: Path,
    *,
    timeout_s: float = DEFAULT_SUITE_TIMEOUT_S,
    test_timeout_s: int = DEFAULT_TEST_TIMEOUT_S,
    select: str | None = None,
    test_ids: Sequence[str] | None = None,
    log_path: Path | None = None,
) -> SuiteResult:
    """Run kazoo.tests (or only `test_ids`, pytest node ids) against `server`.

    pytest's output goes to `log_path`, by default beside the junit XML.
    """
    if server == "apache" and not ZOOKEEPER_JAR.exists():
        raise RuntimeError(f"{ZOOKEEPER_JAR} is missing; install Debian's zookeeper package")
    if server == "zkpy":
        _warm_zkpy_venv()
    junit_xml = junit_xml.resolve()
    junit_xml.parent.mkdir(parents=True, exist_ok=True)
    junit_xml.unlink(missing_ok=True)
    log_path = log_path or junit_xml.with_suffix(".log")
    with tempfile.TemporaryDirectory(prefix="kazoo-suite-") as tmp:
        tmp_dir = Path(tmp)
        ini_path = tmp_dir / "pytest.ini"
        ini_path.write_text("[pytest]\n")
        env = suite_environment(server, cluster_size, tmp_dir)
        started = time.monotonic()
        timed_out = False
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                pytest_command(junit_xml, ini_path, test_timeout_s, select, test_ids),
                cwd=tmp_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                # SIGINT first: pytest then still writes the junit XML for what has run.
                os.killpg(process.pid, signal.SIGINT)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            finally:
                _reap_process_group(process.pid)
        duration_s = time.monotonic() - started
    if not junit_xml.exists():
        raise RuntimeError(f"pytest wrote no junit XML (exit {process.returncode}); see {log_path}")
    return parse_junit(junit_xml, duration_s, timed_out)


def confirm_regressions(
    server: ServerKind,
    cluster_size: int,
    candidate_ids: Sequence[str],
    junit_xml: Path,
    *,
    timeout_s: float = DEFAULT_SUITE_TIMEOUT_S,
    test_timeout_s: int = DEFAULT_TEST_TIMEOUT_S,
) -> list[str]:
    """Rerun `candidate_ids` once against `server`; return those that still do not pass."""
    if not candidate_ids:
        return []
    rerun = run_suite(
        server,
        cluster_size,
        junit_xml,
        timeout_s=timeout_s,
        test_timeout_s=test_timeout_s,
        test_ids=candidate_ids,
    )
    return sorted(set(candidate_ids) - set(rerun.passed_ids))


def read_baseline(path: Path = BASELINE_STANDALONE) -> list[str]:
    lines = path.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def write_baseline(results: Sequence[SuiteResult], cluster_size: int, path: Path) -> list[str]:
    """Write the ids that passed in every run of `results`; return them."""
    from importlib.metadata import version

    always_passed = set(results[0].passed_ids)
    for result in results[1:]:
        always_passed &= set(result.passed_ids)
    header = [
        (
            f"# kazoo {version('kazoo')} tests that passed against Apache ZooKeeper "
            f"({ZOOKEEPER_JAR}) in each of {len(results)} runs, "
            f"ZOOKEEPER_CLUSTER_SIZE={cluster_size}."
        ),
        *(f"# Run {n}: {result.summary_line()}." for n, result in enumerate(results, start=1)),
        "# Regenerate with:",
        (
            f"#   python -m tests.kazoo_suite.runner --server apache --cluster-size {cluster_size} "
            f"--write-baseline --runs {len(results)}"
        ),
    ]
    passing = sorted(always_passed)
    path.write_text("\n".join(header + passing) + "\n")
    return passing


def baseline_path(cluster_size: int) -> Path:
    if cluster_size == 1:
        return BASELINE_STANDALONE
    return SUITE_DIR / f"apache_baseline_cluster{cluster_size}.txt"


def _print_result(label: str, result: SuiteResult) -> None:
    late = " (suite timed out; partial)" if result.timed_out else ""
    print(f"{label}: {result.summary_line()} in {result.duration_s:.0f}s{late}", flush=True)
    for test_id in result.failed_ids:
        print(f"  FAILED {test_id}", flush=True)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=("apache", "zkpy"), default="zkpy")
    parser.add_argument("--cluster-size", type=int, default=1)
    parser.add_argument(
        "--compare",
        action="store_true",
        help="run apache, then zkpy; list tests passing on apache but not on zkpy (confirmed by a rerun)",
    )
    parser.add_argument(
        "--write-baseline",
        action="store_true",
        help="run apache --runs times; write the ids that passed every time to the baseline file",
    )
    parser.add_argument("--runs", type=int, default=1, help="apache runs for --write-baseline")
    parser.add_argument("--out-dir", type=Path, default=None, help="junit XML and logs go here")
    parser.add_argument("--timeout-s", type=float, default=DEFAULT_SUITE_TIMEOUT_S, help="per run")
    parser.add_argument(
        "--test-timeout-s", type=int, default=DEFAULT_TEST_TIMEOUT_S, help="per test"
    )
    parser.add_argument("-k", dest="select", default=None, help="pytest -k expression")
    args = parser.parse_args(argv)
    # A plain SIGTERM would skip run_suite's cleanup and orphan pytest and its servers.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)

    out_dir = args.out_dir or Path(tempfile.mkdtemp(prefix="kazoo-suite-results-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"results in {out_dir}", flush=True)

    def run(server: ServerKind, tag: str = "") -> SuiteResult:
        xml_path = out_dir / f"{server}-cluster{args.cluster_size}{tag}.xml"
        result = run_suite(
            server,
            args.cluster_size,
            xml_path,
            timeout_s=args.timeout_s,
            test_timeout_s=args.test_timeout_s,
            select=args.select,
        )
        _print_result(server, result)
        return result

    if args.write_baseline:
        results = [run("apache", f"-run{n}") for n in range(1, args.runs + 1)]
        path = baseline_path(args.cluster_size)
        passing = write_baseline(results, args.cluster_size, path)
        print(f"wrote {len(passing)} ids to {path}")
        return 0
    if args.compare:
        apache = run("apache")
        zkpy = run("zkpy")
        candidates = sorted(set(apache.passed_ids) - set(zkpy.passed_ids))
        regressions = confirm_regressions(
            "zkpy",
            args.cluster_size,
            candidates,
            out_dir / f"zkpy-cluster{args.cluster_size}-rerun.xml",
            timeout_s=args.timeout_s,
            test_timeout_s=args.test_timeout_s,
        )
        flaky = len(candidates) - len(regressions)
        print(
            f"pass on apache, not on zkpy (failed twice): {len(regressions)}; passed on rerun: {flaky}"
        )
        for test_id in regressions:
            print(f"  {test_id}")
        return 1 if regressions else 0
    result = run(args.server)
    return 0 if result.failed == 0 and result.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
