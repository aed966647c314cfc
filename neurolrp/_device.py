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
