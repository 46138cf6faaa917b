#!/usr/bin/env python3
"""Renders Linkerd's own CRD chart (charts/linkerd-crds of the pinned linkerd2 module) with
real Helm (the helm-python-sdk package: Helm's Go SDK through ctypes) and prints the
manifests on stdout, ready for `kubectl apply -f -`.

    hack/linkerd/render-crds.py LINKERD2_MODULE_DIR > crds.yaml

LINKERD2_MODULE_DIR is the module's folder in Go's module cache (up.sh finds it with
`go list -m -f '{{.Dir}}' github.com/linkerd/linkerd2` in hack/modules/linkerd), so the CRDs
are always those of the release the controller was built from: no copy is kept here.
"""

import shutil
import sys
import tempfile
from pathlib import Path


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    module = Path(sys.argv[1])
    chart = module / "charts" / "linkerd-crds"
    partials = module / "charts" / "partials"
    for p in (chart / "Chart.yaml", partials / "Chart.yaml"):
        if not p.is_file():
            print(f"render-crds: {p} is missing: is {module} the linkerd2 module?", file=sys.stderr)
            return 2
    try:
        import helm_python
    except ImportError:
        print("render-crds: the helm-python-sdk package is missing: pip install helm-python-sdk", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="redline-linkerd-crds.") as tmp:
        # The chart names its `partials` dependency as file://../partials; Helm renders
        # dependencies from the chart's charts/ folder, which a release build fills with
        # `helm dependency build`. The module cache is read-only: copy both, then place
        # partials where Helm looks (the same result as `helm dependency build`).
        work = Path(tmp) / "linkerd-crds"
        shutil.copytree(chart, work)
        shutil.copytree(partials, work / "charts" / "partials")
        for f in work.rglob("*"):
            f.chmod(0o755 if f.is_dir() else 0o644)
        rendered = helm_python.Chart.load(str(work)).render(
            values={}, name="linkerd-crds", namespace="linkerd", is_install=True
        )
    docs = 0
    for name in sorted(rendered):
        body = rendered[name].strip()
        if not body or name.endswith("NOTES.txt"):
            continue
        print(f"---\n# Source: {name}\n{body}")
        docs += body.count("kind: CustomResourceDefinition")
    if docs == 0:
        print("render-crds: the chart rendered no CustomResourceDefinition", file=sys.stderr)
        return 1
    print(f"render-crds: {docs} CRDs from {chart}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
