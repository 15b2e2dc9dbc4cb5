"""Build ulmlite and its compiled extension ulmlite._C (C++ always, CUDA when available or forced).

Environment:
  ULMLITE_CUDA=1   compile the CUDA sources even without a visible GPU (compiling needs none)
  ULMLITE_CUDA=0   skip CUDA
  (unset)          compile CUDA when torch has CUDA and nvcc is found
"""

import glob
import os
import re
import shutil
import sys
import sysconfig


def _find_cuda_home():
    """The toolkit folder. `nvcc` here may be a wrapper script (`exec /path/bin/nvcc "$@"`), so
    torch's guess (the wrapper's parent folder) can be wrong: follow the wrapper to the real nvcc."""
    if os.environ.get("CUDA_HOME"):
        return os.environ["CUDA_HOME"]
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        return None
    nvcc = os.path.realpath(nvcc)
    with open(nvcc, "rb") as f:
        head = f.read(4096)
    if head.startswith(b"#!"):
        match = re.search(rb"(/\S+/bin/nvcc)\b", head)
        if match:
            nvcc = os.path.realpath(match.group(1).decode())
    return os.path.dirname(os.path.dirname(nvcc))


# torch.utils.cpp_extension reads CUDA_HOME and the arch list when it is imported.
_cuda_home = _find_cuda_home()
if _cuda_home:
    os.environ["CUDA_HOME"] = _cuda_home
os.environ.setdefault("TORCH_CUDA_ARCH_LIST", "8.0;9.0+PTX")  # no GPU to ask: Ampere, Hopper, PTX for later GPUs

import torch  # noqa: E402
from setuptools import find_packages, setup  # noqa: E402
from torch.utils.cpp_extension import BuildExtension, CppExtension, CUDAExtension  # noqa: E402


def _want_cuda():
    flag = os.environ.get("ULMLITE_CUDA", "").strip()
    if flag == "0":
        return False
    have_nvcc = _cuda_home is not None and os.path.exists(os.path.join(_cuda_home, "bin", "nvcc"))
    if flag == "1":
        if not have_nvcc:
            sys.exit("ULMLITE_CUDA=1 but no nvcc was found: put nvcc on PATH or set CUDA_HOME")
        if torch.version.cuda is None:
            sys.exit("ULMLITE_CUDA=1 but this torch build has no CUDA")
        return True
    return have_nvcc and torch.version.cuda is not None


def _extension():
    here = os.path.dirname(os.path.abspath(__file__))
    csrc = os.path.join("csrc")
    cpp = sorted(glob.glob(os.path.join(csrc, "*.cpp")))
    # -fopenmp turns on the `#pragma omp` inside at::parallel_for (ATen's OpenMP build) in our loops.
    # Apple's clang has no -fopenmp: there the loops compile serial (still correct).
    openmp = [] if sys.platform == "darwin" else ["-fopenmp"]
    cxx_flags = ["-O3", *openmp]  # torch adds -std=c++20
    include_dirs = [os.path.join(here, "csrc")]
    if not _want_cuda():
        return CppExtension("ulmlite._C", cpp, include_dirs=include_dirs,
                            extra_compile_args={"cxx": cxx_flags}, extra_link_args=openmp)
    # pip's nvidia wheels carry the cuBLAS/cuSPARSE headers the system toolkit here lacks.
    cu13 = os.path.join(sysconfig.get_paths()["purelib"], "nvidia", "cu13", "include")
    if os.path.isdir(cu13):
        include_dirs.append(cu13)
    cu = sorted(glob.glob(os.path.join(csrc, "*.cu")))
    print(f"ulmlite: building CUDA sources {cu} for TORCH_CUDA_ARCH_LIST="
          f"{os.environ['TORCH_CUDA_ARCH_LIST']} with CUDA_HOME={_cuda_home}")
    return CUDAExtension("ulmlite._C", cpp + cu, include_dirs=include_dirs,
                         extra_compile_args={"cxx": cxx_flags, "nvcc": ["-O3"]},
                         extra_link_args=openmp)


setup(
    packages=find_packages(include=["ulmlite", "ulmlite.*"]),
    ext_modules=[_extension()],
    cmdclass={"build_ext": BuildExtension.with_options(use_ninja=True)},
)
