# Sourced by scripts/book and scripts/test: installs, on Debian, what the build needs when it
# is missing. DuckDB is compiled from source (a C++ compiler); the document-store chapters
# start a MongoDB-wire server from PyPI in a venv (Python 3 with venv).
#
# Installs into the tool's cache folder follow the protocol of src/install.rs, so the
# scripts and the tool never race each other: an flock on <cache>/<name>.lock, a look
# again once it is held, a build into a folder of this installer's own, a stamp file, an
# atomic rename. Only a folder holding the stamp counts as installed.

# The tool's cache folder (src/install.rs::cache_dir says the same).
auditbook_cache="${AUDITBOOK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/auditbook}"
mkdir -p "$auditbook_cache"
if ! command -v flock >/dev/null 2>&1; then # util-linux: essential on Debian, so rarely missing
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq util-linux >/dev/null
fi

apt_install() { # apt_install PACKAGE…: one apt at a time (two scripts at once would fight over dpkg's lock)
    (
        flock 9
        apt-get -o DPkg::Lock::Timeout=600 update -qq
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@" >/dev/null
    ) 9>"$auditbook_cache/apt.lock"
}

cached_venv() { # cached_venv NAME REQUIREMENT…: a venv at $auditbook_cache/NAME holding the pinned requirements
    local name="$1"; shift
    local dir="$auditbook_cache/$name"
    [ -f "$dir/.auditbook-installed" ] && return 0
    (
        flock 9
        [ -f "$dir/.auditbook-installed" ] && exit 0
        rm -rf "$auditbook_cache/.$name.partial-"*
        local partial="$auditbook_cache/.$name.partial-$$-$BASHPID"
        echo "installing $* into $dir (once per machine)" >&2
        python3 -m venv "$partial" || { echo "installing $name: \`python3 -m venv $partial\` failed (above)" >&2; exit 1; }
        "$partial/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$@" \
            || { echo "installing $name: \`pip install $*\` failed (above)" >&2; rm -rf "$partial"; exit 1; }
        echo "$*" >"$partial/.auditbook-installed"
        rm -rf "$dir"
        mv "$partial" "$dir"
    ) 9>"$auditbook_cache/$name.lock"
}

if ! command -v g++ >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1; then
    echo "installing the C/C++ toolchain DuckDB and the multilingual model's engine need (apt-get install g++ make; gcc brings OpenMP's libgomp)"
    apt_install g++ make
fi
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
    echo "installing python3 and venv (the document-store chapters' local server comes from PyPI)"
    apt_install python3 python3-venv
fi
if ! command -v protoc >/dev/null 2>&1; then
    echo "installing protoc (the Spark Connect client compiles Spark's protocol buffers: apt-get install protobuf-compiler)"
    apt_install protobuf-compiler
fi
