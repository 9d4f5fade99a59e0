"""The pinned NVIDIA wheels of the hermetic CUDA toolkit (`--config=hermetic_cuda`).

CUDA 13.0 (nvcc 13.0.88, cudart 13.0.96, CCCL 3.0 from cccl 13.0.85): the versions of the local
toolkit these machines have (/usr/local/cuda-13.0 was assembled from the same wheels), so both
configurations compile the same code. Binaries built with it need an NVIDIA driver of the 580
branch or newer (CUDA 13.0's minimum, 580.65.06; the GPU machine runs 580.159.04); PTX it emits
(`compute_XX`) is JIT-compiled only by a driver at least as new as CUDA 13.0.

`file` is the wheel pip must fetch for x86_64 Linux (the only platform pinned); `sha256` is
checked by //third_party/cuda:cuda_wheels.py before anything is unpacked. To move to another
release: `pip download --no-deps --only-binary=:all: NAME==VERSION`, then `sha256sum` each file.
"""

CUDA_WHEELS_VERSION = "13.0"

CUDA_WHEELS = [
    {
        "file": "nvidia_cuda_nvcc-13.0.88-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        "name": "nvidia-cuda-nvcc",
        "sha256": "56fe502eb77625a12f25172caa3cdddb4e4c8ba2c8c17dba44b164761b380f03",
        "version": "13.0.88",
    },
    {
        "file": "nvidia_cuda_crt-13.0.88-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        "name": "nvidia-cuda-crt",
        "sha256": "2c8043c7c9e02492716426e9919fc78d2c5b3b2a7a768a88e952676b08aa55a4",
        "version": "13.0.88",
    },
    {
        "file": "nvidia_nvvm-13.0.88-py3-none-manylinux2010_x86_64.manylinux_2_12_x86_64.whl",
        "name": "nvidia-nvvm",
        "sha256": "c5f41ffeb6466944a026dfa5317d7d85355c119bbec279205d22f1869d1054e0",
        "version": "13.0.88",
    },
    {
        "file": "nvidia_cuda_runtime-13.0.96-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        "name": "nvidia-cuda-runtime",
        "sha256": "7f82250d7782aa23b6cfe765ecc7db554bd3c2870c43f3d1821f1d18aebf0548",
        "version": "13.0.96",
    },
    {
        "file": "nvidia_cuda_cccl-13.0.85-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        "name": "nvidia-cuda-cccl",
        "sha256": "e0da7ad981f3a8aff08241b5bfc1af868742a63e2762f53a5171c492ef242649",
        "version": "13.0.85",
    },
]
