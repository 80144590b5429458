"""mcutrain corrupt: list the image corruptions, draw a preview grid of them on dataset images, or
write corrupted images as the samples a model's trainer takes."""

import argparse

import numpy as np
from PIL import Image, ImageDraw

from mcutrain_host import adaptation_data, corruptions, datasets, model_file
from mcutrain_host.board import micropython
from mcutrain_host.commands import add_dataset_arguments, positive_int

# Preview layout, in pixels: tiles are enlarged so 28x28 images stay readable.
TILE_SCALE = 2
GAP = 2  # between the tiles of one image
GROUP_GAP = 8  # between images
LABEL_WIDTH = 110  # the corruption's name, left of its row
HEADER_HEIGHT = 14  # "clean 1 2 3 4 5" above the columns
COLUMNS = ("clean",) + tuple(str(s) for s in corruptions.SEVERITIES)
TINY = micropython.REPO / "models" / "tiny.mcut"


def add_parser(subparsers):
    p = subparsers.add_parser(
        "corrupt", help="list the image corruptions or preview them as a PNG grid",
        description="The 19 image corruptions of CIFAR-10-C (noise, blur, weather, digital), each at\n"
                    "severities 1 to 5, as mcutrain_host.corruptions.corrupt() applies them.\n"
                    "--list names them. --preview draws a PNG grid: one row per corruption and, for\n"
                    "each image, its clean version then severities 1 to 5. The same --seed gives the\n"
                    "same picture. --export writes the first --count images of the split, corrupted\n"
                    "(--corruption, default none), as a model's trainer takes them: per image its int8\n"
                    "input bytes, then one label byte, so that at a board's REPL\n"
                    "  d = open('x0.bin', 'rb').read(); t.step(d[:-1], d[-1:])\n"
                    "trains on it. docs/corruptions.md describes every corruption.",
        epilog="examples:\n"
               "  mcutrain corrupt --preview corruptions.png --count 4 --seed 1\n"
               "  mcutrain corrupt --list\n"
               "  mcutrain corrupt --export x0.bin --count 1 --model models/tiny.mcut",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    action = p.add_mutually_exclusive_group(required=True)
    action.add_argument("--list", action="store_true", help="print the corruptions, one a line, with what they do")
    action.add_argument("--preview", metavar="PNG", help="write the preview grid to this PNG file")
    action.add_argument("--export", metavar="FILE", help="write corrupted images as samples of --model to FILE")
    add_dataset_arguments(p, "test")
    p.add_argument("--count", type=positive_int, default=6,
                   help="images in the preview (one per class first) or the export (default: %(default)s)")
    p.add_argument("--model", default=str(TINY),
                   help="with --export: the int8 model whose input the samples are (default: the committed tiny)")
    p.add_argument("--corruption", default="none", choices=("none",) + corruptions.NAMES, metavar="NAME",
                   help="with --export: the corruption, none for clean images (default: %(default)s)")
    p.add_argument("--severity", type=int, default=5, choices=corruptions.SEVERITIES, metavar="1-5",
                   help="with --export: the corruption's severity (default: %(default)s)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed of the random corruptions (default: %(default)s)")
    p.set_defaults(run=run)


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def run(args):
    if args.list:
        width = max(map(len, corruptions.NAMES))
        for name in corruptions.NAMES:
            print(f"{name:{width}}  {corruptions.CORRUPTIONS[name].summary}")
        return 0
    images, labels = datasets.load(args.dataset, args.split, args.data_dir, args.resize)
    if args.export:
        return export(args, images[:args.count], labels[:args.count])
    chosen = images[first_of_each_class(labels)[:args.count]]
    preview(chosen, args.seed).save(args.preview, format="PNG")
    print(f"wrote {args.preview}: {len(corruptions.NAMES)} corruptions x severities 1-5 of {len(chosen)} "
          f"{args.dataset} {args.split} images (seed {args.seed})")
    return 0


def export(args, images, labels):
    description = model_file.read(args.model)
    if args.corruption != "none":
        images = corruptions.corrupt(images, args.corruption, args.severity, args.seed)
    inputs = adaptation_data.model_inputs(images, description)
    with open(args.export, "wb") as f:
        for x, y in zip(inputs, labels):
            f.write(x + bytes([int(y)]))
    corrupted = "clean" if args.corruption == "none" else f"{args.corruption} severity {args.severity}"
    print(f"wrote {args.export}: the first {len(inputs)} {args.dataset} {args.split} images, {corrupted}, as "
          f"samples of {len(inputs[0]) + 1} bytes ({len(inputs[0])} int8 inputs of {args.model}, then the label)")
    return 0


def first_of_each_class(labels):
    """Image indices, the first image of every class first (so a few images show several classes)."""
    firsts = np.sort(np.unique(labels, return_index=True)[1])
    return np.concatenate([firsts, np.setdiff1d(np.arange(len(labels)), firsts)])


def preview(images, seed):
    """The grid as a Pillow image: rows of corruptions; per image, clean then severities 1-5."""
    n, h, w, c = images.shape
    tile_h, tile_w = h * TILE_SCALE, w * TILE_SCALE
    group_w = len(COLUMNS) * tile_w + (len(COLUMNS) - 1) * GAP
    canvas = np.full((HEADER_HEIGHT + len(corruptions.NAMES) * (tile_h + GAP) - GAP,
                      LABEL_WIDTH + n * (group_w + GROUP_GAP) - GROUP_GAP, c), 255, np.uint8)
    for row, name in enumerate(corruptions.NAMES):
        versions = [images] + [corruptions.corrupt(images, name, s, seed) for s in corruptions.SEVERITIES]
        top = HEADER_HEIGHT + row * (tile_h + GAP)
        for column, version in enumerate(versions):
            for i, image in enumerate(version):
                left = LABEL_WIDTH + i * (group_w + GROUP_GAP) + column * (tile_w + GAP)
                canvas[top:top + tile_h, left:left + tile_w] = image.repeat(TILE_SCALE, 0).repeat(TILE_SCALE, 1)
    picture = Image.fromarray(canvas[..., 0] if c == 1 else canvas)
    draw = ImageDraw.Draw(picture)
    for row, name in enumerate(corruptions.NAMES):
        draw.text((2, HEADER_HEIGHT + row * (tile_h + GAP) + tile_h // 2 - 6), name, fill="black")
    for i in range(n):
        for column, title in enumerate(COLUMNS):
            draw.text((LABEL_WIDTH + i * (group_w + GROUP_GAP) + column * (tile_w + GAP) + 2, 1), title, fill="black")
    return picture
