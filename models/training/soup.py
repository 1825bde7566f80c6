"""Average two ultralytics checkpoints of one lineage into one ("weight soup").

A model fine-tuned from another often sits in the same basin; the average of the two keeps most of what each
learned (here: close-up and low-resolution cigarettes) at no inference cost. Cigarette model 0.3.0 is one.

`python -m models.training.soup A.pt B.pt --out OUT.pt [--weight-a 0.5]`
"""

from __future__ import annotations

import argparse
import copy
from datetime import datetime
from pathlib import Path
from typing import Any

from autofine.errors import UserError
from autofine.hashing import sha256_file
from models.training.train import MODEL_KINDS, TrainResult, export_trained


def _load(path: Path) -> tuple[dict[str, Any], Any]:
    import torch

    if not path.is_file():
        raise UserError(f"checkpoint {path} not found; pass two ultralytics .pt files")
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    model = (checkpoint.get("ema") or checkpoint.get("model")) if isinstance(checkpoint, dict) else None
    if not isinstance(model, torch.nn.Module):
        raise UserError(f"{path} is not an ultralytics checkpoint (no `model`); pass a .pt from training")
    return checkpoint, model.float()


def average_checkpoints(a: Path, b: Path, out: Path, weight_a: float = 0.5) -> Path:
    """Write `weight_a * A + (1 - weight_a) * B` to `out`, shaped like a stripped ultralytics checkpoint.

    Floating-point tensors (weights, biases, BN running statistics) are averaged; integer ones (BN
    `num_batches_tracked`) are taken from A. The rest of the file is A's (train_args, names, ...), with a
    `soup` entry naming both sources.
    """
    from models.training.offline import prepare_offline_ultralytics

    prepare_offline_ultralytics()  # unpickling the model imports ultralytics
    import torch

    if not 0.0 <= weight_a <= 1.0:
        raise UserError(f"weight_a {weight_a} is not in [0, 1]; 0.5 is the uniform average")
    a, b, out = Path(a), Path(b), Path(out)
    checkpoint_a, model_a = _load(a)
    _checkpoint_b, model_b = _load(b)
    names_a, names_b = getattr(model_a, "names", None), getattr(model_b, "names", None)
    if names_a != names_b:
        raise UserError(
            f"{a.name} and {b.name} have different classes ({names_a} vs {names_b}); average one model's runs"
        )
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    missing = [key for key in state_a if key not in state_b] + [key for key in state_b if key not in state_a]
    if missing:
        raise UserError(
            f"{a.name} and {b.name} differ in layer {missing[0]!r} ({len(missing)} keys); "
            "average only checkpoints of the same architecture"
        )
    averaged = {}
    for key, value in state_a.items():
        other = state_b[key]
        if value.shape != other.shape:
            raise UserError(
                f"{a.name} and {b.name} differ in {key!r} ({tuple(value.shape)} vs {tuple(other.shape)}); "
                "average only checkpoints of the same architecture and class count"
            )
        averaged[key] = weight_a * value + (1.0 - weight_a) * other if value.is_floating_point() else value
    soup = copy.deepcopy(model_a)
    soup.load_state_dict(averaged)
    if hasattr(soup, "args"):
        soup.args = dict(soup.args)  # as ultralytics' strip_optimizer stores it
    if hasattr(soup, "criterion"):
        soup.criterion = None
    for parameter in soup.parameters():
        parameter.requires_grad = False

    result = dict(checkpoint_a)
    result.update(
        model=soup.half(),
        ema=None,
        optimizer=None,
        best_fitness=None,  # A's fitness and metrics do not describe the average
        train_metrics=None,
        train_results=None,
        updates=None,
        stopper=None,
        scaler=None,
        epoch=-1,
        date=datetime.now().astimezone().isoformat(),
        soup={
            "a": a.name,
            "b": b.name,
            "a_sha256": sha256_file(a),
            "b_sha256": sha256_file(b),
            "weight_a": weight_a,
        },
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(result, out)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="first checkpoint (its train_args and names are kept)")
    parser.add_argument("b", type=Path, help="second checkpoint, same architecture")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--weight-a", type=float, default=0.5, help="share of A in the average")
    parser.add_argument(
        "--export",
        choices=MODEL_KINDS,
        help="also export it as models/<kind>.onnx and record its sha256, as `autofine models train` does",
    )
    parser.add_argument("--imgsz", type=int, default=512, help="export input size (with --export)")
    args = parser.parse_args(argv)
    try:
        out = average_checkpoints(args.a, args.b, args.out, weight_a=args.weight_a)
        print(f"wrote {out}: {args.weight_a:g} × {args.a.name} + {1 - args.weight_a:g} × {args.b.name}")
        if args.export:
            onnx, digest = export_trained(TrainResult(args.export, out.parent, out), args.imgsz)
            print(f"exported {onnx} (sha256 {digest})")
    except UserError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
