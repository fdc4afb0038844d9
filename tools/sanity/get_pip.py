"""Stand-in for ansible-test's get-pip bootstrap script, using only the package registry.

ansible-test builds each sanity test's virtual environment without pip, then runs a cached
get-pip script (which it would otherwise download from a host outside the package
registries) as ``get_pip.py [pip options] pip==X.Y``. This stand-in does the same job with
the standard library's ensurepip (offline) and then installs the requested pip release from
PyPI, so every sanity requirement comes from the registry, pinned by ansible-test's own
requirement files. tools/sanity.sh puts it where ansible-test looks for its cached script.
"""

import subprocess
import sys


def main() -> None:
    args = sys.argv[1:]
    options = [arg for arg in args if arg.startswith("-") and arg not in ("--no-setuptools", "--no-wheel")]
    packages = [arg for arg in args if not arg.startswith("-")]
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([*pip, "install", "-q", *options, *packages], check=True)
    # ensurepip of Python 3.11 also brings setuptools, which get-pip leaves out when asked to.
    if "--no-setuptools" in args:
        subprocess.run([*pip, "uninstall", "-q", "-y", "setuptools"], check=False)


if __name__ == "__main__":
    main()
