# Sourced by scripts/book and scripts/test: installs, on Debian, what the build needs when it
# is missing. DuckDB is compiled from source (a C++ compiler); the document-store chapters
# start a MongoDB-wire server from PyPI in a venv (Python 3 with venv).
apt_install() { # apt_install PACKAGE…
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
if ! command -v g++ >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1; then
    echo "installing the C++ toolchain DuckDB needs"
    apt_install g++ make
fi
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
    echo "installing python3 and venv (the document-store chapters' local server comes from PyPI)"
    apt_install python3 python3-venv
fi
