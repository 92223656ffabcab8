import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # SAM 2 on an image, in marimo

    Show a picture, click on things, and get their masks as numpy arrays; the cells that read the
    widget follow your clicks. This notebook uses a sample picture shipped with the package; pass
    any image path, array or PIL image instead, a list or folder of images (an image set), or a
    video file (a clip, with a timeline and tracking): all three work here as in Jupyter.

    Open it with `marimo edit examples/01_image_marimo.py` (or `marimo run` for the app view).
    It also runs as a plain script: `python examples/01_image_marimo.py`.

    The model comes from the environment variable `SAM2_MODEL` when it is set (a model name such as
    `"large"`, or the path of a downloaded `.pt` file), else `"sam2.1-hiera-tiny"`, which is
    downloaded once (~150 MB) into the Hugging Face cache. It runs on a CUDA GPU or Apple MPS if
    there is one, else on the CPU.
    """)
    return


@app.cell
def _():
    import json
    import os
    from pathlib import Path

    import marimo as mo
    from pycocotools import mask as mask_utils

    import sam2_backend as sb
    from sam2_widget import Sam2Widget
    from sam2_widget.samples import sample_image_path

    MODEL = os.environ.get("SAM2_MODEL", "sam2.1-hiera-tiny")
    model = sb.load_model(MODEL)
    print(f"{model.config.name} on {model.device}")

    OUT = Path("outputs")  # what this notebook saves goes here
    OUT.mkdir(exist_ok=True)
    return OUT, Sam2Widget, json, mask_utils, mo, model, sample_image_path


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Show the widget

    In the picture below: **left click** on a thing to segment it (a click adds a point to the
    selected object; the first click makes one), **right click** or **shift click** to mark
    background, **drag** to draw a box; click a point again to remove it; **Ctrl/Cmd-Z** undoes,
    **N** starts a new object, **?** lists every key.

    `mo.ui.anywidget` makes the widget a marimo UI element, `view`. Cells that name `view` re-run
    after each thing you do in the picture (once its masks are in) and read them; `widget` is the
    same widget under a name marimo does not watch, for cells that should run once.
    """)
    return


@app.cell
def _(Sam2Widget, mo, model, sample_image_path):
    widget = Sam2Widget(sample_image_path(), model=model)
    view = mo.ui.anywidget(widget)
    view  # noqa: B018 - a cell's last expression is what it shows
    return view, widget


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Click from Python

    Everything the mouse does, Python can do too. Coordinates are pixels of the original picture,
    x then y. Here: one click on the red ball, a box around the blue cube, and for the doughnut a
    click on the ring plus a background click in its hole. This cell uses `widget`, not `view`:
    named `view`, it would run again after every click in the picture and add these prompts again.
    """)
    return


@app.cell
def _(widget):
    ball = widget.add_object("ball")
    widget.add_points([[200, 250]], [1], obj_id=ball)

    cube = widget.add_object("cube")
    widget.add_box([340, 75, 470, 222], obj_id=cube)

    doughnut = widget.add_object("doughnut")
    widget.add_points([[258, 390], [300, 390]], [1, 0], obj_id=doughnut)  # 1: object, 0: background
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Masks, as you click

    `view.masks` holds the masks of the picture shown: `{object id: (H, W) bool array}`;
    `view.value` is marimo's value of the element, the widget's synced state (objects, prompts,
    status, ...). This cell names `view`, so it follows your clicks: press **N** in the picture
    for a new object, click the can, then look here.
    """)
    return


@app.cell
def _(mo, view):
    masks = view.masks
    names = {o["id"]: o["name"] for o in view.value["objects"]}
    rows = "\n".join(f"| {names[i]} | {m.sum()} | {m.shape[1]} x {m.shape[0]} |" for i, m in masks.items())
    mo.md(f"{len(view.value['prompts'])} prompts\n\n| object | pixels | size |\n|---|---|---|\n{rows}")
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Export

    `to_coco()` gives a COCO dict whose masks are compressed RLE, which `pycocotools` (and most
    training code) reads. `save()` writes a PNG label map per image. This cell uses `widget`, so
    it runs once: run it again to export what you clicked since.
    """)
    return


@app.cell
def _(OUT, json, mask_utils, widget):
    results = widget.results
    coco = results.to_coco()
    (OUT / "table_coco.json").write_text(json.dumps(coco))
    results.save(OUT / "table_labels")

    saved = results.masks(0)
    for ann in coco["annotations"]:  # the RLE decodes back to the same mask
        assert (mask_utils.decode(ann["segmentation"]) == saved[ann["obj_id"]]).all()
    print(len(coco["annotations"]), "masks written to", OUT / "table_coco.json")
    return


if __name__ == "__main__":
    app.run()
