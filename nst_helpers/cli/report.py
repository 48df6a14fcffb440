"""What the command line says about a run: its JSON figures, the line it ends with, and the
one line that says what would help when memory ran out (part of :mod:`nst_helpers.cli`).

Imports nothing of the package at module level, and nothing of the other ``cli_*`` modules.
"""

from __future__ import annotations

__all__ = ["precision_line", "summary", "done_line", "is_out_of_memory",
           "out_of_memory_advice"]


def precision_line(requested: str, used: str, device) -> str:
    """The line that says which precision the run uses (``used``: ``requested`` resolved)."""
    if requested != "auto":
        return f"precision: {used}"
    if device.type == "cpu":
        why = ("this CPU runs bfloat16 natively" if used == "bf16"
               else "this CPU has no native bfloat16")
        return f"precision: {used} (auto: {why})"
    return f"precision: {used} (auto)"


def summary(args, job, result, *, code: int, signal: str | None, notes: list[str]) -> dict:
    """The figures ``--json`` prints for a run that reached its end (or was stopped in it)."""
    history = result.history
    return {
        "output": str(job.output),
        # [width, height], as image files and viewers give it (PIL's .size); the package's
        # tensors are (..., height, width). Kept in this order: a field is never reordered.
        "size": [int(result.image.shape[-1]), int(result.image.shape[-2])],
        "steps": result.steps,
        "seconds": round(result.seconds, 3),
        "seconds_per_step": round(result.seconds_per_step, 4),
        "initial_content_loss": history["content"][0] if history["content"] else None,
        "initial_style_loss": history["style"][0] if history["style"] else None,
        # The losses of the image written, not of the last one evaluated.
        "content_loss": result.final_losses.get("content"),
        "style_loss": result.final_losses.get("style"),
        "total_loss": result.final_losses.get("total"),
        "style_weight": args.style_weight,
        "content_weight": args.content_weight,
        "device": str(job.device),
        "weights": args.weights,
        "peak_memory_mb": _peak_memory_mb(result),
        "interrupted": result.interrupted,
        "stopped_reason": result.stopped_reason,
        "styles": [str(src) for src in job.style_srcs],
        "style_blend": job.blend,  # as used: normalised to sum to 1
        "style_scale": job.style_scale,
        "preserve_color": args.preserve_color,
        "pooling": args.pooling,
        "precision": result.precision,  # "auto" resolved; fp32 if fp16 fell back
        "scales": job.sizes,
        "tile": args.tile,
        "content_layers": args.content_layers,
        "style_layers": args.style_layers,
        "style_layer_weights": args.style_layer_weights,
        "early_stop": args.early_stop,  # 0: off
        "stopped_early": result.stopped_early,
        "exit_code": code,
        "signal": signal or ("SIGINT" if result.interrupted else None),
        "notes": notes,
    }


def done_line(job, result) -> str:
    """The line a successful run ends with, on stdout."""
    width, height = int(result.image.shape[-1]), int(result.image.shape[-2])
    if result.stopped_early:
        return (f"wrote {job.output} ({width}x{height}, {result.steps} of {job.total_steps} "
                f"steps, {result.seconds:.1f} s; the loss had stopped falling)")
    return f"wrote {job.output} ({width}x{height}, {result.steps} steps, {result.seconds:.1f} s)"


def _peak_memory_mb(result) -> float:
    if result.peak_memory_mb is not None:
        return round(result.peak_memory_mb, 1)
    from ..engine.memory import peak_rss_bytes

    peak = peak_rss_bytes()
    return round(peak / 2**20, 1) if peak else float("nan")


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` (raised by a run) means the device ran out of memory."""
    if isinstance(err, MemoryError):
        return True
    import torch

    if isinstance(err, torch.cuda.OutOfMemoryError):
        return True
    text = str(err)
    return isinstance(err, RuntimeError) and (
        "out of memory" in text.lower() or "can't allocate memory" in text
        or "DefaultCPUAllocator" in text)


def out_of_memory_advice(device, size: int, tile: int | None) -> str:
    """One line: which of --tile, --size or the device would help."""
    smaller = max(64, size // 2)
    if tile is None:
        suggestion = max(64, min(512, size // 2) // 16 * 16)
        first = f"add --tile {suggestion} (the same result in less memory, about 2x slower)"
    else:
        first = f"use a smaller --tile (e.g. {max(64, tile // 2 // 16 * 16)})"
    where = "the CPU" if device.type == "cpu" else str(device)
    line = f"out of memory on {where} at --size {size}: {first}, or a smaller --size " \
           f"(e.g. {smaller})"
    if device.type != "cpu":
        line += ", or --device cpu (uses the computer's memory; much slower)"
    return line
