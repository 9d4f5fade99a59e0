"""Bit packing, layout v2 and the torch reference of libmarlin's packers (torch, any device).

The one module both sides need: marlin.quant (quantizers and their checkpoint layouts) and
prepare_weights' reference packer (`packer="reference"`). It imports neither, so they do not
import each other. The public names are re-exported by marlin.quant.
"""

from __future__ import annotations

import functools

import torch

AWQ_PACK_ORDER = (0, 2, 4, 6, 1, 3, 5, 7)  # nibble slot i holds column AWQ_PACK_ORDER[i]
AWQ_REVERSE_ORDER = (0, 4, 1, 5, 2, 6, 3, 7)  # column c sits in nibble slot AWQ_REVERSE_ORDER[c]


# ---------------------------------------------------------------------------------------------
# bit packing helpers


def _to_int32(x: torch.Tensor) -> torch.Tensor:
    """int64 holding 32-bit patterns -> int32 with the same bits."""
    x = x & 0xFFFFFFFF
    return torch.where(x >= 2**31, x - 2**32, x).to(torch.int32)


def _shifts(n: int, bits: int, device) -> torch.Tensor:
    return torch.arange(n, device=device, dtype=torch.int64) * bits


def pack_along(codes: torch.Tensor, dim: int, bits: int, word_bits: int = 32) -> torch.Tensor:
    """Packs codes along `dim`, LSB first: word j holds codes [j*cpw, (j+1)*cpw)."""
    cpw = word_bits // bits
    codes = codes.to(torch.int64).movedim(dim, -1)
    shape = codes.shape
    if shape[-1] % cpw:
        raise ValueError(f"size {shape[-1]} is not a multiple of {cpw} codes per word")
    codes = codes.reshape(*shape[:-1], shape[-1] // cpw, cpw)
    words = (codes << _shifts(cpw, bits, codes.device)).sum(-1)
    words = _to_int32(words) if word_bits == 32 else words.to(torch.uint8)
    return words.movedim(-1, dim).contiguous()


def unpack_along(words: torch.Tensor, dim: int, bits: int, word_bits: int = 32) -> torch.Tensor:
    """Inverse of pack_along: int64 codes."""
    cpw = word_bits // bits
    w = words.to(torch.int64) & ((1 << word_bits) - 1)
    w = w.movedim(dim, -1)
    codes = (w.unsqueeze(-1) >> _shifts(cpw, bits, w.device)) & ((1 << bits) - 1)
    codes = codes.reshape(*w.shape[:-1], w.shape[-1] * cpw)
    return codes.movedim(-1, dim).contiguous()


def pack_awq(codes: torch.Tensor) -> torch.Tensor:
    """int 4-bit codes [R, N] -> int32 [R, N/8] in AWQ order."""
    r, n = codes.shape
    c = codes.to(torch.int64).reshape(r, n // 8, 8)
    slots = torch.tensor(AWQ_REVERSE_ORDER, device=codes.device, dtype=torch.int64)
    return _to_int32((c << (4 * slots)).sum(-1))


def unpack_awq(words: torch.Tensor) -> torch.Tensor:
    """int32 [R, N/8] in AWQ order -> int64 codes [R, N]."""
    r, nw = words.shape
    w = words.to(torch.int64) & 0xFFFFFFFF
    slots = torch.tensor(AWQ_REVERSE_ORDER, device=words.device, dtype=torch.int64)
    return ((w.unsqueeze(-1) >> (4 * slots)) & 0xF).reshape(r, nw * 8)


def pack_nibbles(codes: torch.Tensor) -> torch.Tensor:
    """4-bit codes [R, C] -> uint8 [R, C/2], low nibble = even column."""
    c = codes.to(torch.int64)
    return ((c[:, 0::2] & 0xF) | ((c[:, 1::2] & 0xF) << 4)).to(torch.uint8)


def unpack_nibbles(b: torch.Tensor) -> torch.Tensor:
    """uint8 [R, C/2] -> int64 codes [R, C] (low nibble = even column)."""
    x = b.view(torch.uint8).to(torch.int64)
    return torch.stack([x & 0xF, x >> 4], dim=-1).reshape(x.shape[0], x.shape[1] * 2)


# ---------------------------------------------------------------------------------------------
# layout v2 (design.md section 9, marlin/include/marlin/layout_v2.h) and reference packers

UNIT_K, UNIT_N = 16, 64  # one layout-v2 unit: 16 rows x 64 columns, 1024 codes


def unit_position(k: int, c: int, bits: int) -> int:
    """Position (0..1023) of code (k, c) inside its unit; layout_v2.h's unit_position."""
    j, g, t, hi, par = c // 8, c % 8, (k % 8) // 2, k // 8, k % 2
    lane = g * 4 + t
    if bits == 4:
        return (lane * 4 + j // 2) * 8 + 2 * (j % 2) + hi + 4 * par
    return (lane * 8 + j) * 4 + 2 * hi + par


@functools.cache
def _unit_order(bits: int) -> tuple[int, ...]:
    """order[position] = k * 64 + c: the unit's codes in storage order."""
    order = [0] * (UNIT_K * UNIT_N)
    for k in range(UNIT_K):
        for c in range(UNIT_N):
            order[unit_position(k, c, bits)] = k * UNIT_N + c
    return tuple(order)


def pack_marlin_v2(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """codes [K, N] -> int32 [K/16, N*16/pack]: row r = k-slab r, its N/64 units in order."""
    k, n = codes.shape
    if k % UNIT_K or n % UNIT_N:
        raise ValueError(f"K={k} must be a multiple of {UNIT_K} and N={n} a multiple of {UNIT_N}")
    pack = 32 // bits
    order = torch.tensor(_unit_order(bits), dtype=torch.int64, device=codes.device)
    units = codes.to(torch.int64).reshape(k // UNIT_K, UNIT_K, n // UNIT_N, UNIT_N)
    units = units.permute(0, 2, 1, 3).reshape(k // UNIT_K, n // UNIT_N, UNIT_K * UNIT_N)
    stored = units[:, :, order].reshape(k // UNIT_K, n // UNIT_N, -1, pack)
    words = (stored << _shifts(pack, bits, codes.device)).sum(-1)
    return _to_int32(words.reshape(k // UNIT_K, n * UNIT_K // pack))


def unpack_marlin_v2(b: torch.Tensor, bits: int, size_k: int, size_n: int) -> torch.Tensor:
    """Inverse of pack_marlin_v2: int64 codes [K, N]."""
    pack = 32 // bits
    w = (b.to(torch.int64) & 0xFFFFFFFF).reshape(size_k // UNIT_K, size_n // UNIT_N, -1, 1)
    stored = ((w >> _shifts(pack, bits, b.device)) & ((1 << bits) - 1)).reshape(
        size_k // UNIT_K, size_n // UNIT_N, UNIT_K * UNIT_N
    )
    order = torch.tensor(_unit_order(bits), dtype=torch.int64, device=b.device)
    units = torch.empty_like(stored)
    units[:, :, order] = stored
    units = units.reshape(size_k // UNIT_K, size_n // UNIT_N, UNIT_K, UNIT_N).permute(0, 2, 1, 3)
    return units.reshape(size_k, size_n)


def decode_code_source(
    data: torch.Tensor,
    word_bits: int,
    code_bits: int,
    packed_along_k: bool,
    n_major: bool,
    awq_order: bool,
    rows: int,
    size_n: int,
) -> torch.Tensor:
    """Codes [rows, N] (rows = K, or num_groups for zero points) of a marlin_code_source."""
    if word_bits == 8:
        data = data.view(torch.uint8)
    if awq_order:
        if packed_along_k or n_major or word_bits != 32 or code_bits != 4:
            raise ValueError("awq_order needs int32 words, 4-bit codes, packed along N, K-major")
        return unpack_awq(data.reshape(rows, size_n // 8))
    if word_bits == code_bits:
        codes = data.to(torch.int64) & ((1 << code_bits) - 1)
        return codes.reshape(size_n, rows).t() if n_major else codes.reshape(rows, size_n)
    # Storage is [N][K...] when n_major, else [K][N...]; the packed axis is K or N.
    if n_major:
        stor_dim = 1 if packed_along_k else 0
        codes = unpack_along(data, stor_dim, code_bits, word_bits)  # [N, K]
        return codes.reshape(size_n, rows).t()
    stor_dim = 0 if packed_along_k else 1
    return unpack_along(data, stor_dim, code_bits, word_bits).reshape(rows, size_n)


def reference_pack_weights(
    data: torch.Tensor,
    word_bits: int,
    code_bits: int,
    packed_along_k: bool,
    n_major: bool,
    awq_order: bool,
    perm: torch.Tensor | None,
    size_k: int,
    size_n: int,
) -> torch.Tensor:
    """What marlin_pack_weights computes: source codes -> layout v2 (rows permuted by perm)."""
    codes = decode_code_source(
        data, word_bits, code_bits, packed_along_k, n_major, awq_order, size_k, size_n
    )
    if perm is not None:
        codes = codes[perm.to(torch.int64)]
    return pack_marlin_v2(codes, code_bits)


def reference_pack_zero_points(
    data: torch.Tensor,
    word_bits: int,
    code_bits: int,
    packed_along_k: bool,
    n_major: bool,
    awq_order: bool,
    num_groups: int,
    size_n: int,
) -> torch.Tensor:
    """What marlin_pack_zero_points computes: int32 [G, N/pack], packed along N LSB first."""
    codes = decode_code_source(
        data, word_bits, code_bits, packed_along_k, n_major, awq_order, num_groups, size_n
    )
    return pack_along(codes, 1, code_bits)
