#!/bin/sh
# Runs the correctness section of itera_cuda_check with the real CUDA kernels executed by the CPU
# emulator (cuda_emu.h): no GPU needed. Usage (from the repository root):
#   cuda-kernels/bench/emu/run_emu_check.sh [BUILD_DIR]
# BUILD_DIR defaults to /tmp/itera-cuda-emu; needs g++, python3, the CUDA headers
# (CUDA_HOME, default /usr/local/cuda) and a built cpu-kernels library (built here if absent).
set -eu
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
OUT=${1:-/tmp/itera-cuda-emu}
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
mkdir -p "$OUT"
if [ ! -f "$OUT/cpu/libitera_cpu.a" ]; then
  cmake -S "$ROOT/cpu-kernels" -B "$OUT/cpu" -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build "$OUT/cpu" -j2 > /dev/null
fi
EMU="$ROOT/cuda-kernels/bench/emu"
CXX="g++ -std=c++17 -O1 -g -w -I$CUDA_HOME/include -I$ROOT/cuda-kernels/include -I$ROOT/cuda-kernels/src -I$ROOT/cpu-kernels/include"
OBJS=""
for k in elementwise ssm moe quant norm; do
  python3 "$EMU/emulate.py" "$ROOT/cuda-kernels/src/$k.cu" "$OUT/$k.emu.cpp"
  $CXX -include "$EMU/cuda_emu.h" -c "$OUT/$k.emu.cpp" -o "$OUT/$k.emu.o"
  OBJS="$OBJS $OUT/$k.emu.o"
done
$CXX -c "$EMU/cuda_emu.cpp" -o "$OUT/cuda_emu.o"
python3 "$EMU/emulate.py" "$ROOT/cuda-kernels/bench/itera_cuda_check.cu" "$OUT/check.emu.cpp"
$CXX -include "$EMU/cuda_emu.h" -DITERA_CHECK_EMU -DITERA_CHECK_EMU_HARNESS="\"$OUT/check.emu.cpp\"" \
  -c "$ROOT/cuda-kernels/bench/itera_cuda_check_hostmock.cpp" -o "$OUT/check_emu.o"
$CXX "$OUT/check_emu.o" $OBJS "$OUT/cuda_emu.o" "$OUT/cpu/libitera_cpu.a" -lpthread -o "$OUT/itera_cuda_check_emu"
# every check on the real kernel code, then the timing code on tiny shapes (figures meaningless)
"$OUT/itera_cuda_check_emu" --tiny --samples 2 --json "$OUT/itera_cuda_check_emu.json"
