"""Where the networks run: one resolution of ``device`` for training and explaining.

The model's device decides where training and explanation run; data go to
it one batch at a time, and everything handed back to the user is NumPy or
xarray on the CPU (see the design notes).
"""

import torch

#: What ``device`` accepts, for the messages.
DEVICES = "'auto', 'cpu', 'cuda', 'cuda:N' (N = GPU index) or a torch.device"


def check_device(device, what="device"):
    """The ``torch.device`` that ``device`` names; raise now if it is unusable here.

    Parameters
    ----------
    device : "auto" | str | torch.device | None
        ``"auto"`` (or None): CUDA when ``torch.cuda.is_available()``, else
        the CPU. ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a ``torch.device``.
    what : str
        How the messages name the argument.

    Returns
    -------
    device : torch.device

    Raises
    ------
    TypeError
        Not a string or ``torch.device``.
    ValueError
        A device torch does not know, a type other than CPU or CUDA, CUDA
        asked for on a machine without it, or a GPU index beyond those
        present.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, bool) or not isinstance(device, (str, torch.device)):
        raise TypeError(f"{what} must be {DEVICES}; got {device!r} ({type(device).__name__}).")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"{what}={device!r} is not a device; use {DEVICES}.") from None
    if dev.type == "cpu":
        return torch.device("cpu")  # "cpu:0" and "cpu" are one place
    if dev.type != "cuda":
        raise ValueError(f"{what}={device!r}: neurolrp runs on the CPU or on CUDA GPUs; use "
                         f"{DEVICES}.")
    if not torch.cuda.is_available():
        raise ValueError(
            f"{what}={device!r} asks for a CUDA GPU, but torch sees none here (no GPU, no "
            f"driver, or a CPU-only build of torch {torch.__version__}). Use device='cpu', or "
            "device='auto' to use a GPU only where one is present."
        )
    n = torch.cuda.device_count()
    if dev.index is not None and dev.index >= n:
        raise ValueError(f"{what}={device!r}: this machine has {n} CUDA GPU(s), numbered "
                         f"0 to {n - 1}.")
    return dev


def module_device(module):
    """The device of a network's parameters (or buffers); the CPU for a network with none."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


#: Trials per explained batch on the CPU. Measured on 2 cores (ShallowNet,
#: 64 x 640 samples, default composite): 71 / 76 / 77 / 55 / 52 / 47 trials/s
#: for batches of 8 / 16 / 32 / 64 / 128 / 256; larger batches leave the caches.
CPU_BATCH_SIZE = 32
#: Share of the GPU's free memory a batch may take.
GPU_MEMORY_SHARE = 0.5
#: Trials of the probe that measures a GPU batch's memory.
PROBE_TRIALS = 4


def batch_size_from_memory(free_bytes, bytes_per_trial, n_trials, share=GPU_MEMORY_SHARE):
    """The largest batch whose peak memory fits ``share`` of the free memory.

    Parameters
    ----------
    free_bytes : int
        Free device memory.
    bytes_per_trial : float
        Peak memory one trial adds to a pass (measured).
    n_trials : int
        Trials to explain: no batch is larger.
    share : float
        Share of the free memory a batch may take.

    Returns
    -------
    batch_size : int
        Between 1 and ``n_trials``.
    """
    if bytes_per_trial <= 0:
        return int(n_trials)
    return int(min(max(share * free_bytes // bytes_per_trial, 1), n_trials))


def auto_batch_size(device, n_trials, run_pass):
    """Trials per batch for ``explain(..., batch_size=None)``.

    On the CPU :data:`CPU_BATCH_SIZE`. On a GPU, one pass over
    :data:`PROBE_TRIALS` trials measures the peak memory a trial adds, and the
    batch takes :data:`GPU_MEMORY_SHARE` of the memory free now.

    Parameters
    ----------
    device : torch.device
    n_trials : int
    run_pass : callable
        ``run_pass(k)`` runs the method's pass over the first ``k`` trials.

    Returns
    -------
    batch_size : int
    """
    if device.type != "cuda":
        return min(CPU_BATCH_SIZE, n_trials)
    k = min(PROBE_TRIALS, n_trials)
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    run_pass(k)
    torch.cuda.synchronize(device)
    per_trial = (torch.cuda.max_memory_allocated(device) - base) / k
    free, _ = torch.cuda.mem_get_info(device)
    return batch_size_from_memory(free, per_trial, n_trials)
