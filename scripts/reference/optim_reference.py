#!/usr/bin/env python3
"""Reference numbers for src/train/optim/tests.rs and src/train/clip.rs: torch.optim.SGD over three
steps with fixed gradients, and torch.nn.utils.clip_grad_norm_.

Run: python scripts/reference/optim_reference.py   (needs torch)
"""
import torch

p0 = [0.5, -1.25, 2.0, 0.0]
grads = [[0.1, -0.2, 0.3, -0.4], [0.05, 0.5, -0.25, 1.0], [-0.3, 0.0, 0.7, 0.2]]
lrs = [0.1, 0.05, 0.02]
for cfg in (dict(momentum=0.0), dict(momentum=0.9, weight_decay=0.01), dict(momentum=0.9, dampening=0.1),
            dict(momentum=0.9, nesterov=True, weight_decay=0.01)):
    p = torch.nn.Parameter(torch.tensor(p0))
    opt = torch.optim.SGD([p], lr=lrs[0], **cfg)
    for g, lr in zip(grads, lrs):
        for group in opt.param_groups:
            group["lr"] = lr
        p.grad = torch.tensor(g)
        opt.step()
    print(cfg, [repr(float(x)) for x in p.detach()])

a = torch.nn.Parameter(torch.tensor([3.0, -4.0]))
b = torch.nn.Parameter(torch.tensor([[1.0, 2.0], [2.0, 0.5]]))
a.grad = torch.tensor([3.0, -4.0]); b.grad = torch.tensor([[1.0, 2.0], [2.0, 0.5]])
n = torch.nn.utils.clip_grad_norm_([a, b], max_norm=1.5)
print("clip total_norm", repr(float(n)), "a", [repr(float(x)) for x in a.grad], "b", [repr(float(x)) for x in b.grad.flatten()])
