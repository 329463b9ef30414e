#!/usr/bin/env python3
"""Which activations autograd keeps for a LitGPT-style Llama block with LoRA on q and v.

Traces every tensor saved for backward (torch.autograd.graph.saved_tensors_hooks) in one
bf16 block with Llama-2-7B widths and prints the bytes per token, excluding parameters. This
is the inventory behind src/plan/memory/activations.rs; docs/memory.md compares it with the
seed's A100 measurements. CPU only; about a minute.

Run: python3 scripts/reference/saved_activations.py   (needs torch)
"""
try:
    import torch
    import torch.nn.functional as F
except ImportError:
    raise SystemExit("needs: pip install torch")

torch.manual_seed(0)
B, T, h, nh, i, r = 1, 64, 4096, 32, 11008, 8
hs = h // nh
dt = torch.bfloat16


def frozen(n_in, n_out):
    return torch.randn(n_out, n_in, dtype=dt) * 0.02


Wqkv, Wo, W1, W2, Wd = frozen(h, 3 * h), frozen(h, h), frozen(h, i), frozen(h, i), frozen(i, h)
n1, n2 = torch.ones(h, dtype=dt), torch.ones(h, dtype=dt)
A = (torch.randn(2 * r, h, dtype=dt) * 0.01).requires_grad_()
Bq = torch.zeros(h, r, dtype=dt).requires_grad_()
Bv = torch.zeros(h, r, dtype=dt).requires_grad_()
params = {t.untyped_storage().data_ptr() for t in (Wqkv, Wo, W1, W2, Wd, n1, n2, A, Bq, Bv)}

theta = 1.0 / (10000 ** (torch.arange(0, hs, 2).float() / hs))
ang = torch.outer(torch.arange(T).float(), theta).repeat(1, 2)
cos, sin = torch.cos(ang), torch.sin(ang)  # f32, as LitGPT's rope cache
params |= {cos.untyped_storage().data_ptr(), sin.untyped_storage().data_ptr()}  # shared buffers


def rms(x, w):  # LitGPT's RMSNorm: computed in f32
    dtype = x.dtype
    x = x.float()
    x_normed = x * torch.rsqrt(torch.mean(x * x, dim=-1, keepdim=True) + 1e-5)
    return (w * x_normed).to(dtype=dtype)


def rope(x):
    rotated = torch.cat((-x[..., hs // 2:], x[..., : hs // 2]), dim=-1)
    return ((x * cos) + (rotated * sin)).type_as(x)


def block(x):
    xn = rms(x, n1)
    after_a = F.linear(F.dropout(xn, 0.05), A)  # one dropout feeds the fused q,v adapter
    lq, lv = after_a.split(r, dim=-1)
    lora = torch.cat([lq @ Bq.T, torch.zeros(B, T, h, dtype=dt), lv @ Bv.T], dim=-1) * 2.0
    qkv = (F.linear(xn, Wqkv) + lora).view(B, T, nh, 3, hs).permute(0, 2, 3, 1, 4)
    q, k, v = (t.reshape(B, nh, T, hs) for t in qkv.split((1, 1, 1), dim=2))
    y = F.scaled_dot_product_attention(rope(q), rope(k), v, is_causal=True)
    x = F.linear(y.transpose(1, 2).reshape(B, T, h), Wo) + x
    xn2 = rms(x, n2)
    return F.linear(F.silu(F.linear(xn2, W1)) * F.linear(xn2, W2), Wd) + x


saved = {}


def pack(t):
    s = t.untyped_storage()
    if s.data_ptr() not in params:
        saved[s.data_ptr()] = (s.nbytes(), tuple(t.shape), str(t.dtype))
    return t


x0 = torch.randn(B, T, h, dtype=dt).requires_grad_()
with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
    block(x0)
total = 0
for nbytes, shape, dtype in sorted(saved.values(), reverse=True):
    if nbytes >= T:
        print(f"{nbytes / T:>10.0f} B/token  {dtype:<15} {shape}")
        total += nbytes
print(f"total {total / T:.0f} B/token per block; h={h} i={i}: 23h+6i = {23 * h + 6 * i} "
      "(CPU dropout keeps a bf16 mask: +h against CUDA's bool mask)")
