"""What the PyTorch peers of `molt bench model` share (torch_gpt2.py, torch_t5.py): the run
switches, the timed training loop and the report lines that scripts/bench-cpu.sh and
scripts/bench-gpu.sh read.

  --device cpu|cuda  cuda: the current (first visible) GPU
  --bf16             autocast to bf16 around forward and loss; parameters, gradients and AdamW
                     moments stay fp32, as molt's bf16 compute keeps fp32 master weights
  --compile          torch.compile the model; the first warmup step compiles it, so give at
                     least one warmup step

On CUDA, AdamW is the fused kernel, the clock starts and stops after torch.cuda.synchronize(),
and peak_memory_bytes= is torch.cuda.max_memory_allocated(): what the caching allocator
handed out, the counterpart of molt's Backend::memory_usage (the CUDA context and cuBLAS
workspaces are in neither).
"""
import contextlib
import time

import torch


def add_run_args(parser):
    for name, default in [("steps", 10), ("warmup", 2), ("threads", 2)]:
        parser.add_argument("--" + name, type=int, default=default)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast, fp32 master weights")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")


def start(a):
    """Threads and seed as every peer sets them; exits with one message when the run asks for
    what this torch or machine lacks."""
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device cuda, but torch {torch.__version__} sees no CUDA device")
    if a.compile and not hasattr(torch, "compile"):
        raise SystemExit(f"--compile needs torch 2.0 or newer; this is torch {torch.__version__}")
    return torch.device(a.device)


def torch_at_least(major, minor):
    have = tuple(int(part) for part in torch.__version__.split("+")[0].split(".")[:2])
    return have >= (major, minor)


def _synchronize(a):
    if a.device == "cuda":
        torch.cuda.synchronize()


def train(a, model, loss_of):
    """AdamW steps on `model` (already on a.device): a.warmup untimed, then a.steps timed.
    loss_of(module) runs one forward pass and returns the mean loss. Returns the seconds of
    the timed steps and the last loss."""
    cuda = a.device == "cuda"
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1,
                            **({"fused": True} if cuda else {}))
    module = torch.compile(model) if a.compile else model

    def autocast():
        if a.bf16:
            return torch.autocast(device_type=a.device, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = loss_of(module)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    _synchronize(a)
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    _synchronize(a)
    return time.perf_counter() - t0, loss


def report(a, what, seconds, loss, tokens_per_step):
    """The peer's lines: one for people, then key=value lines for the scripts."""
    mode = "compiled" if a.compile else "eager"
    if a.device == "cuda":
        where = f"cuda ({torch.cuda.get_device_name()})"
    else:
        where = f"{torch.get_num_threads()} thread(s)"
    if a.bf16:
        where += ", bf16 autocast"
    print(f"pytorch {torch.__version__} {mode}{what}: {1e3 * seconds / a.steps:.1f} ms/step, "
          f"loss {loss:.4f}, {where}")
    if a.device == "cuda":
        print(f"peak_memory_bytes={torch.cuda.max_memory_allocated()}")
    print(f"tokens_per_s={a.steps * tokens_per_step / seconds:.1f}")
