#!/usr/bin/env bash
# Builds the engine with AddressSanitizer and UndefinedBehaviorSanitizer and runs the test suite
# against it, in a virtual environment of its own under build/sanitizers (the normal install is
# left alone). Usage: bash scripts/sanitizers.sh [pytest arguments]
#
# The engine is a library loaded into an uninstrumented python, so the ASan runtime must be the
# first library the process loads: LD_PRELOAD names libasan, and libstdc++ beside it so that
# ASan's interceptors see C++ allocations made before the engine loads. Python itself leaks by
# design at exit, so leak detection is off; any other ASan report or UBSan diagnostic stops the
# run with a non-zero exit status.
set -euo pipefail
cd "$(dirname "$0")/.."
compiler=${CXX:-g++}
asan=$("$compiler" -print-file-name=libasan.so)
stdcxx=$("$compiler" -print-file-name=libstdc++.so)
[ -f "$asan" ] || { echo "no libasan.so for $compiler" >&2; exit 1; }
venv=build/sanitizers/venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet scikit-build-core pybind11 "cmeel-eigen>=3.4,<3.5" scipy-openblas32
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g"
"$venv/bin/python" -m pip install --quiet --no-build-isolation '.[test]' \
  -Cbuild-dir=build/sanitizers/build -Ccmake.build-type=RelWithDebInfo \
  -Ccmake.define.FNN_NATIVE=ON "-Ccmake.define.CMAKE_CXX_FLAGS=$flags" \
  "-Ccmake.define.CMAKE_SHARED_LINKER_FLAGS=-fsanitize=address,undefined"
cd build/sanitizers  # import the installed, instrumented package, not the source tree
LD_PRELOAD="$asan $stdcxx" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$OLDPWD/$venv/bin/python" -m pytest -q -p no:cacheprovider --rootdir "$OLDPWD" "$OLDPWD/tests" "$@"
