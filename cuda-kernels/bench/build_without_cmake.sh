#!/bin/sh
# Fallback build of itera_cuda_check for a GPU machine without CMake: nvcc and g++ only.
# Usage (from the repository root): cuda-kernels/bench/build_without_cmake.sh [OUT_DIR]
# then: OUT_DIR/itera_cuda_check --json OUT_DIR/itera_cuda_check.json
set -eu
OUT=${1:-build/cuda-nocmake}
NVCC=${NVCC:-/usr/local/cuda/bin/nvcc}
JOBS=${JOBS:-16}
mkdir -p "$OUT/cpu"
CPU=cpu-kernels
FLAGS="-std=c++17 -O3 -fPIC -fno-math-errno -ffp-contract=off -I$CPU/include -I$CPU/src"
AVX2="-mavx2 -mfma -mf16c"
AVX512="-mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512vnni -mavx512bf16 -mavx2 -mfma -mf16c"
# the CPU library (only its _ref objects end up in the program; the archive keeps OpenBLAS out)
for f in $CPU/src/*.cpp; do echo "g++ $FLAGS -c $f -o $OUT/cpu/$(basename $f).o"; done > "$OUT/cpu.jobs"
for f in $CPU/src/avx2/*.cpp; do echo "g++ $FLAGS $AVX2 -c $f -o $OUT/cpu/avx2_$(basename $f).o"; done >> "$OUT/cpu.jobs"
for f in $CPU/src/avx512/*.cpp; do echo "g++ $FLAGS $AVX512 -c $f -o $OUT/cpu/avx512_$(basename $f).o"; done >> "$OUT/cpu.jobs"
xargs -P "$JOBS" -I CMD sh -c CMD < "$OUT/cpu.jobs"
rm -f "$OUT/libitera_cpu.a"
ar rcs "$OUT/libitera_cpu.a" "$OUT"/cpu/*.o
# the CUDA kernels and the harness in one nvcc call (sm_90 SASS + compute_90 PTX)
"$NVCC" -std=c++17 -O3 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90 \
  -Icuda-kernels/include -I$CPU/include -Xcompiler -Wall \
  cuda-kernels/src/*.cu cuda-kernels/bench/itera_cuda_check.cu "$OUT/libitera_cpu.a" -lpthread \
  -o "$OUT/itera_cuda_check"
echo "built $OUT/itera_cuda_check"
