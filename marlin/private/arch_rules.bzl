"""Per-file arch rule: which `-gencode` targets a Marlin kernel file compiles for.

Kernel files come in families (design.md section 2): `sm75` (stage-2 copy path, Turing only),
`sm80` (16-bit and int8 activations, Ampere and newer), `sm89` (FP8 activations, which need the
sm_89 FP8 mma: Ada and consumer Blackwell). `family_gencode` maps the requested archs onto the
targets a file of that family needs; an empty result means the file compiles nothing.
"""

load(":flags.bzl", "VALID_CUDA_ARCHS")

KERNEL_FAMILIES = struct(
    GENERIC = "",
    SM75 = "sm75",
    SM80 = "sm80",
    SM89 = "sm89",
)

VALID_KERNEL_FAMILIES = [
    KERNEL_FAMILIES.GENERIC,
    KERNEL_FAMILIES.SM75,
    KERNEL_FAMILIES.SM80,
    KERNEL_FAMILIES.SM89,
]

def _sass(cc):
    return "arch=compute_{cc},code=sm_{cc}".format(cc = cc)

def _ptx(cc):
    return "arch=compute_{cc},code=compute_{cc}".format(cc = cc)

def _target(family, arch):
    """The gencode for one requested arch in one family, or None when it does not apply."""
    is_ptx = arch.startswith("compute_")
    cc = arch.split("_")[1]  # "80", "90a"
    major = int(cc.rstrip("a")) // 10
    if family == KERNEL_FAMILIES.GENERIC:
        return _ptx(cc) if is_ptx else _sass(cc)
    if family == KERNEL_FAMILIES.SM75:
        if cc != "75":
            return None
        return _ptx(cc) if is_ptx else _sass(cc)
    if family == KERNEL_FAMILIES.SM80:
        if major < 8:
            return None

        # sm_86/87/89 run sm_80 SASS (binary compatible within major 8); one sm_80 SASS serves all.
        if major == 8:
            cc = "80"
        return _ptx(cc) if is_ptx else _sass(cc)
    if family == KERNEL_FAMILIES.SM89:
        if cc not in ("89", "120"):
            return None
        return _ptx(cc) if is_ptx else _sass(cc)
    fail("unknown kernel family '{}'; valid: {}".format(family, ", ".join(VALID_KERNEL_FAMILIES)))

def family_gencode(family, requested_archs):
    """Returns the nvcc `-gencode` values for a kernel file of `family`.

    - `""` (generic `cuda_library`): every requested arch as is (`sm_XX` SASS, `compute_XX` PTX);
    - `sm75`: only `sm_75` / `compute_75`;
    - `sm80`: `sm_80/86/87/89` -> one `sm_80` SASS; `sm_90`, `sm_90a`, `sm_100`, `sm_120` their
      own SASS; `compute_80/86/87/89` -> `compute_80` PTX, `compute_90/100/120` their own PTX;
      `sm_75` / `compute_75` nothing;
    - `sm89`: `sm_89` and `sm_120` SASS, `compute_89` and `compute_120` PTX, nothing else.

    Args:
      family: one of `VALID_KERNEL_FAMILIES`.
      requested_archs: valid `--cuda_archs` values (see flags.bzl), any order.

    Returns:
      A deduplicated list like `["arch=compute_80,code=sm_80", "arch=compute_90,code=compute_90"]`,
      SASS first, ascending; empty when the family has no requested arch.
    """
    if family not in VALID_KERNEL_FAMILIES:
        fail("unknown kernel family '{}'; valid: {}".format(family, ", ".join(VALID_KERNEL_FAMILIES)))
    result = []
    for arch in VALID_CUDA_ARCHS:
        if arch not in requested_archs:
            continue
        target = _target(family, arch)
        if target != None and target not in result:
            result.append(target)
    return result
