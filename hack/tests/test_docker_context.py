"""The Docker build context, computed with Docker's own `.dockerignore` rules (docker-py's
`exclude_paths`, the implementation `docker build` clients share): it must hold every
workspace member, `Cargo.lock` and every file git tracks, and never a token file or a
kubeconfig.

Run: python -m pytest hack/tests -q
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

try:
    from docker.utils.build import exclude_paths
except ImportError:  # pragma: no cover - depends on the machine
    if os.environ.get("CI") == "true":
        raise
    pytest.skip(
        "docker-py is missing: the Docker build context test cannot run "
        "(install it with hack/install-deps.sh test, or pip install docker)",
        allow_module_level=True,
    )


def patterns(dockerignore: Path) -> list[str]:
    """`.dockerignore` lines as the Docker CLI reads them: comments and blanks dropped."""
    lines = (line.strip() for line in dockerignore.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def context(root: Path) -> set[str]:
    """The paths `docker build root` sends, relative and with `/` separators."""
    return set(exclude_paths(str(root), patterns(root / ".dockerignore"), "Dockerfile"))


@pytest.fixture(scope="module")
def real_context() -> set[str]:
    return context(ROOT)


def workspace_members() -> list[Path]:
    out = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1", "--offline"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    meta = json.loads(out)
    members = set(meta["workspace_members"])
    return [
        Path(p["manifest_path"]).parent.relative_to(ROOT)
        for p in meta["packages"]
        if p["id"] in members
    ]


def test_every_workspace_member_reaches_the_build(real_context):
    members = workspace_members()
    assert len(members) > 10, f"cargo metadata listed only {members}"
    for m in members:
        manifest = (m / "Cargo.toml").as_posix()
        assert manifest in real_context, f"{manifest} is not in the Docker build context"
        sources = [p for p in real_context if p.startswith(f"{m.as_posix()}/src/")]
        assert sources, f"no file of {m}/src is in the Docker build context"
    for top in ["Cargo.toml", "Cargo.lock", "Dockerfile", "remote-write/build.rs"]:
        assert top in real_context, f"{top} is not in the Docker build context"


def test_every_tracked_file_reaches_the_build(real_context):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked-files check needs git")
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split("\0")
    # A file deleted in the work tree but not yet in the index is not sent either.
    tracked = {t for t in tracked if t and (ROOT / t).is_file()}
    missing = sorted(tracked - real_context)
    assert not missing, f"tracked files left out of the build context: {missing[:20]}"


def test_secrets_and_build_output_stay_out_but_crates_named_target_stay_in(tmp_path):
    shutil.copy(ROOT / ".dockerignore", tmp_path / ".dockerignore")
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    planted = {
        # never sent
        "tokens.csv": False,
        "exporters/tokens/out/tokens.csv": False,
        "kubeconfig": False,
        "hack/cluster/run/admin.kubeconfig": False,
        "charts/my-kubeconfig.yaml": False,
        "target/release/redline": False,
        ".git/config": False,
        "exporters/chaos/__pycache__/x.pyc": False,
        # sent: a crate folder that happens to be called `target` (the reason the
        # ignore file says `/target/` and not `**/target/`), and ordinary sources
        "exporters/target/Cargo.toml": True,
        "exporters/target/src/lib.rs": True,
        "exporters/tokens/src/lib.rs": True,
        "hack/cluster/up.sh": True,
    }
    for rel in planted:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x\n")
    sent = context(tmp_path)
    wrong = {rel: want for rel, want in planted.items() if (rel in sent) != want}
    assert not wrong, f"in the context (True) or out of it (False), wanted: {wrong}"
