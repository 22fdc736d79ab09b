#!/usr/bin/env bash
# Builds the engine with AddressSanitizer and UndefinedBehaviorSanitizer and runs the test suite
# against it, in a virtual environment of its own under build/sanitizers (the normal install is
# left alone). Usage: bash scripts/sanitizers.sh [--thread] [pytest arguments]
# --thread builds with ThreadSanitizer instead; with Debian's libgomp, which is not instrumented,
# it reports false races at OpenMP's own barriers (see the README).
#
# The engine is a library loaded into an uninstrumented python, so the ASan runtime must be the
# first library the process loads: LD_PRELOAD names libasan, and libstdc++ beside it so that
# ASan's interceptors see C++ allocations made before the engine loads. Python itself leaks by
# design at exit, so leak detection is off; any other ASan report or UBSan diagnostic stops the
# run with a non-zero exit status.
set -euo pipefail
cd "$(dirname "$0")/.."
compiler=${CXX:-g++}
mode=address
if [ "${1:-}" = "--thread" ]; then mode=thread; shift; fi
if [ $mode = thread ]; then
  runtime=$("$compiler" -print-file-name=libtsan.so)
  flags="-fsanitize=thread -fno-omit-frame-pointer -g"
  link="-fsanitize=thread"
  options="TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1"
else
  runtime=$("$compiler" -print-file-name=libasan.so)
  flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g"
  link="-fsanitize=address,undefined"
  options="ASAN_OPTIONS=detect_leaks=0:abort_on_error=1"
fi
stdcxx=$("$compiler" -print-file-name=libstdc++.so)
[ -f "$runtime" ] || { echo "no $runtime for $compiler" >&2; exit 1; }
venv=build/sanitizers/$mode/venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet scikit-build-core pybind11 "cmeel-eigen>=3.4,<3.5" scipy-openblas32 \
  onednn-devel-cpu-gomp
"$venv/bin/python" -m pip install --quiet --no-build-isolation '.[test]' \
  -Cbuild-dir=build/sanitizers/$mode/build -Ccmake.build-type=RelWithDebInfo \
  -Ccmake.define.FNN_NATIVE=ON "-Ccmake.define.CMAKE_CXX_FLAGS=$flags" \
  "-Ccmake.define.CMAKE_SHARED_LINKER_FLAGS=$link"
# Test paths given as arguments replace the whole suite; they are read from the repository root.
tests=("$PWD/tests")
args=()
for arg in "$@"; do
  if [ -e "$arg" ]; then
    [ "${tests[0]}" = "$PWD/tests" ] && tests=()
    tests+=("$(realpath "$arg")")
  else
    args+=("$arg")
  fi
done
cd build/sanitizers  # import the installed, instrumented package, not the source tree
# tests/test_docs.py compares the numbers the documentation quotes with what the release build
# prints; this build rounds differently in the last bits (other flags), which long trainings
# amplify, so those comparisons are not run here.
env LD_PRELOAD="$runtime $stdcxx" "$options" UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$OLDPWD/$venv/bin/python" -m pytest -q -p no:cacheprovider --rootdir "$OLDPWD" \
  --ignore="$OLDPWD/tests/test_docs.py" "${tests[@]}" ${args[@]+"${args[@]}"}
