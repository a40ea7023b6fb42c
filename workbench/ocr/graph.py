"""PP-OCR's ONNX graphs with their per-layer arithmetic folded away, derived once and cached on disk.

Paddle2ONNX spells each PP-LCNetV3 block of the PP-OCRv4 detector and recogniser as a convolution followed by
eight elementwise passes over its output: a learnable scale and bias (``Mul``, ``Add`` by scalars), hard-swish
as ``Add 3 -> Clip 0..6 -> Mul -> Div 6``, and another scale and bias. ONNX Runtime fuses none of them (the
scalar comes first in ``Mul``, the hard-swish is not recognised), and each pass also moves the tensor out of and
back into its blocked layout: in benchmarks/ocr.py's pictures these passes were over half of both models' time.
``simplify`` rewrites the graph with the same arithmetic:

* a scalar ``Mul``/``Add`` right after a convolution goes into its weights and bias (``W*a``, ``B*a + b``);
* hard-swish becomes ``x * HardSigmoid(x; 1/6, 1/2)`` (two passes, the same function);
* a scalar ``Mul``/``Add`` right before an unpadded (1x1) convolution goes into its weights and bias
  (``W*a``, ``B + b * sum(W)``); before a padded one it stays, since the padding would change.

The result is checked against the original on a fixed input before it is used (``derived_model``) and cached
under ``ocr_cache_dir`` by the source file's hash, so stage workers build it once. Measured in
benchmarks/ocr.py (docs/benchmarks.md).
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Bumped when ``simplify`` changes, so a cached file made by an older rewrite is not reused.
REWRITE_VERSION = 1


def cache_dir(configured: str) -> Path:
    """Where derived model files live: ``configured``, else ``$XDG_CACHE_HOME/workbench/ocr`` (never the wheel,
    which may be read-only, nor a library)."""
    if configured:
        return Path(configured).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "workbench" / "ocr"


def simplify(model: Any) -> dict[str, int]:
    """Rewrite an ``onnx.ModelProto`` in place as described in the module docstring; returns how many nodes each
    rewrite removed (all zero for a graph without these patterns)."""
    from onnx import TensorProto, helper, numpy_helper

    g = model.graph
    kept = []
    for n in g.node:  # scalars held in Constant nodes become initializers, so they can be read and changed
        if n.op_type == "Constant" and len(n.attribute) == 1 and n.attribute[0].name == "value":
            t = TensorProto()
            t.CopyFrom(n.attribute[0].t)
            t.name = n.output[0]
            g.initializer.append(t)
        else:
            kept.append(n)
    del g.node[:]
    g.node.extend(kept)
    init = {t.name: t for t in g.initializer}
    graph_outputs = {o.name for o in g.output}

    def value(name: str) -> np.ndarray | None:
        return numpy_helper.to_array(init[name]) if name in init else None

    def scalar(name: str, equals: float | None = None) -> float | None:
        v = value(name)
        if v is None or v.size != 1 or (equals is not None and float(v.ravel()[0]) != equals):
            return None
        return float(v.ravel()[0])

    def put(name: str, array: np.ndarray) -> None:
        init[name].CopyFrom(numpy_helper.from_array(array.astype(np.float32), name))

    def links() -> tuple[dict[str, Any], dict[str, list[Any]]]:
        producer = {o: n for n in g.node for o in n.output}
        consumers: dict[str, list[Any]] = defaultdict(list)
        for n in g.node:
            for i in n.input:
                consumers[i].append(n)
        return producer, consumers

    def operand(node: Any, known: str) -> str:
        """The other input of a binary node."""
        return node.input[1] if node.input[0] == known else node.input[0]

    def replace_nodes(drop: set[int], insert: dict[int, list[Any]] | None = None) -> None:
        nodes = []
        for n in g.node:
            if insert and id(n) in insert:
                nodes += insert[id(n)]
            elif id(n) not in drop:
                nodes.append(n)
        del g.node[:]
        g.node.extend(nodes)

    counts = {"hardswish": 0, "after_conv": 0, "before_conv": 0}

    # Hard-swish: Add(x, 3) -> Clip(0, 6) -> Mul(x, .) -> Div(6)  =>  Mul(x, HardSigmoid(x; 1/6, 1/2))
    producer, consumers = links()
    drop: set[int] = set()
    insert: dict[int, list[Any]] = {}
    for clip in g.node:
        if clip.op_type != "Clip" or len(clip.input) != 3 or clip.input[0] not in producer:
            continue
        add = producer[clip.input[0]]
        if add.op_type != "Add" or len(consumers[add.output[0]]) != 1:
            continue
        x = next((i for i in add.input if scalar(operand(add, i), 3.0) is not None), None)
        if x is None or scalar(clip.input[1], 0.0) is None or scalar(clip.input[2], 6.0) is None:
            continue
        if len(consumers[clip.output[0]]) != 1:
            continue
        mul = consumers[clip.output[0]][0]
        if mul.op_type != "Mul" or sorted(mul.input) != sorted([x, clip.output[0]]) or \
                len(consumers[mul.output[0]]) != 1 or mul.output[0] in graph_outputs:
            continue
        div = consumers[mul.output[0]][0]
        if div.op_type != "Div" or div.input[0] != mul.output[0] or scalar(div.input[1], 6.0) is None:
            continue
        gate = f"{div.output[0]}__hardsigmoid"
        insert[id(add)] = [helper.make_node("HardSigmoid", [x], [gate], alpha=1 / 6, beta=0.5),
                           helper.make_node("Mul", [x, gate], [div.output[0]])]
        drop |= {id(clip), id(mul), id(div)}
        counts["hardswish"] += 2
    replace_nodes(drop, insert)

    uses = Counter(i for n in g.node for i in n.input)

    def own_weights(conv: Any) -> bool:
        return (conv.op_type == "Conv" and len(conv.input) == 3 and all(i in init for i in conv.input[1:])
                and uses[conv.input[1]] == 1 and uses[conv.input[2]] == 1)

    # A scalar Mul/Add after a convolution: into its weights and bias.
    producer, consumers = links()
    drop = set()
    for conv in g.node:
        if not own_weights(conv):
            continue
        out = conv.output[0]
        while out not in graph_outputs and len(consumers[out]) == 1:
            nxt = consumers[out][0]
            v = scalar(operand(nxt, out)) if nxt.op_type in ("Mul", "Add") and len(nxt.input) == 2 else None
            if v is None:
                break
            w, b = value(conv.input[1]), value(conv.input[2])
            if nxt.op_type == "Mul":
                put(conv.input[1], w * v)
                put(conv.input[2], b * v)
            else:
                put(conv.input[2], b + v)
            drop.add(id(nxt))
            conv.output[0] = out = nxt.output[0]
            counts["after_conv"] += 1
    replace_nodes(drop)

    # A chain of scalar Mul/Add right before an unpadded convolution: into its weights and bias.
    producer, consumers = links()
    drop = set()
    for conv in g.node:
        if not own_weights(conv):
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
        if any(attrs.get("pads", [])) or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID"):
            continue
        x, scale, shift, chain = conv.input[0], 1.0, 0.0, []
        while x in producer and x not in graph_outputs and len(consumers[x]) == 1:
            p = producer[x]
            if p.op_type not in ("Mul", "Add") or len(p.input) != 2 or id(p) in drop:
                break
            source = next((i for i in p.input if scalar(operand(p, i)) is not None and i not in init), None)
            if source is None:
                break
            v = scalar(operand(p, source))
            chain.append((p.op_type, v))
            drop.add(id(p))
            x = source
        if not chain:
            continue
        for op, v in reversed(chain):  # the input the convolution sees is scale * x + shift
            scale, shift = (scale * v, shift * v) if op == "Mul" else (scale, shift + v)
        w, b = value(conv.input[1]), value(conv.input[2])
        put(conv.input[2], b + shift * w.sum(axis=tuple(range(1, w.ndim))))
        put(conv.input[1], w * scale)
        conv.input[0] = x
        counts["before_conv"] += len(chain)
    replace_nodes(drop)

    used = {i for n in g.node for i in n.input}
    unused = [t for t in g.initializer if t.name not in used]
    for t in unused:
        g.initializer.remove(t)
    return counts


def _same_outputs(original: str, derived: str, input_shape: tuple[int, ...]) -> float:
    """Largest absolute difference between the two models' outputs on one fixed random input."""
    import onnxruntime as ort
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, input_shape).astype(np.float32)
    outs = []
    for path in (original, derived):
        opts = ort.SessionOptions()
        opts.log_severity_level = 4
        s = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        outs.append(s.run(None, {s.get_inputs()[0].name: x}))
    return max(float(np.abs(a - b).max()) for a, b in zip(*outs))


def derived_model(source: str | Path, folder: Path, probe_shape: tuple[int, ...],
                  tolerance: float = 1e-3) -> Path:
    """The simplified copy of ``source`` in ``folder`` (built the first time, atomically, so concurrent workers
    see a whole file or none), or ``source`` itself when nothing folds, ``onnx`` is missing, ``folder`` cannot be
    written, or the copy's outputs on a ``probe_shape`` input differ from the original's by more than
    ``tolerance`` (logged)."""
    source = Path(source)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    target = folder / f"{source.stem}.{digest}.simplified-v{REWRITE_VERSION}.onnx"
    if target.is_file():
        return target
    try:
        import onnx
    except ImportError:
        log.warning("onnx is not installed: the OCR models run unsimplified (slower); pip install onnx")
        return source
    model = onnx.load(str(source))
    counts = simplify(model)
    if not any(counts.values()):
        return source
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            candidate = Path(tmp) / target.name
            onnx.save(model, str(candidate))
            diff = _same_outputs(str(source), str(candidate), probe_shape)
            if diff > tolerance:
                log.warning("simplified %s differs from it by %.2g (> %g): using the original", source.name, diff,
                            tolerance)
                return source
            os.replace(candidate, target)
    except OSError as e:  # a read-only or full cache: slower, never stopped
        log.warning("cannot keep a simplified %s in %s (%s): using the original; set ocr_cache_dir to a "
                    "writable folder", source.name, folder, e)
        return source
    return target
