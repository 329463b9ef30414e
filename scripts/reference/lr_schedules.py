#!/usr/bin/env python3
"""Learning rates of transformers' warmup schedules (reference for src/train/schedule.rs tests).

Run: python scripts/reference/lr_schedules.py   (needs torch and transformers)
"""
import torch
from transformers import get_cosine_schedule_with_warmup, get_linear_schedule_with_warmup

for name, make in (("cosine", get_cosine_schedule_with_warmup), ("linear", get_linear_schedule_with_warmup)):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1e-3)
    s = make(opt, 3, 10)
    lrs = []
    for _ in range(12):
        lrs.append(s.get_last_lr()[0])
        opt.step()
        s.step()
    print(name, [repr(x) for x in lrs])
